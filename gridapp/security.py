"""Response headers every page and API answer carries, and the one safe-redirect helper.

- ``safe_target``: a redirect target taken from input (``next``, a form field, the Referer) is
  used only if it is a path on this site. Browsers strip tabs and newlines from URLs and treat
  ``\\`` as ``/``, so ``/\\t/evil.example`` or ``/\\\\evil.example`` would otherwise leave the site.
- ``register_security_headers``: CSP without inline script (every script is a static file;
  ``<script type="application/json">`` data blocks are not executed), no framing, no
  referrer to other sites, camera and geolocation for this origin only (the app takes photos and
  GPS fixes), HSTS whenever cookies are marked Secure (the site is served over TLS), and
  ``Cache-Control: no-store`` on what names people (``_private``).
"""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlsplit

from flask import Flask, Response, g, request

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        # Inline style attributes remain in a few console templates (no script can run from
        # them); everything else comes from our own stylesheets.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "media-src 'self' blob:",
        "worker-src 'self'",
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
PERMISSIONS = (
    "camera=(self), geolocation=(self), microphone=(), payment=(), usb=(), "
    "serial=(), bluetooth=(), midi=(), display-capture=()"
)


def _bad_char(ch: str) -> bool:
    return ch == "\\" or ord(ch) < 0x21 or ord(ch) == 0x7F or unicodedata.category(ch)[0] in "ZC"


def safe_target(target: object) -> str | None:
    """``target`` if it is a path on this site, else None. Refuses anything a browser could
    read as another origin, also after one more round of percent-decoding."""
    if not isinstance(target, str) or not target or len(target) > 2000:
        return None
    for candidate in (target, unquote(target)):
        if any(_bad_char(ch) for ch in candidate):
            return None
        if not candidate.startswith("/") or candidate.startswith("//"):
            return None
        parts = urlsplit(candidate)
        if parts.scheme or parts.netloc:
            return None
    return target


def safe_redirect_target(target: object, fallback: str) -> str:
    return safe_target(target) or fallback


def same_site_referrer() -> str | None:
    """The Referer's path and query when it points at this host (for "back to where I was")."""
    ref = request.referrer
    if not ref:
        return None
    parts = urlsplit(ref)
    if parts.netloc != request.host:
        return None
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return safe_target(path)


def register_security_headers(app: Flask) -> None:
    defaults = [
        ("Content-Security-Policy", CSP),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("Permissions-Policy", PERMISSIONS),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    ]
    hsts = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    lowered = [(name.lower(), name, value) for name, value in defaults]
    secure = [*lowered, (hsts[0].lower(), *hsts)]

    @app.after_request
    def _headers(resp: Response) -> Response:
        # A view may set its own (a page with a looser CSP); the rest are added in one pass
        # (seven ``setdefault`` calls each scanned the headers: 4 % of a ``/api/v1/me``).
        present = {key.lower() for key, _ in resp.headers.items()}
        wanted = secure if app.config.get("SESSION_COOKIE_SECURE") else lowered
        resp.headers.extend([(name, value) for low, name, value in wanted if low not in present])
        if "cache-control" not in present and _private(resp):
            resp.headers["Cache-Control"] = "no-store"
        return resp


def _private(resp: Response) -> bool:
    """An answer no browser or proxy may keep (ASVS 8.2.1): every JSON answer (an API answer
    names people, or says who is logged in) and every page a logged-in user was shown (the
    console's lists and reveals). A view that may be kept says so itself: a photo, a static file,
    a public feed. ``g._login_user`` is flask-login's: set only when the request asked who is
    logged in, so asking here never costs an anonymous request a session lookup."""
    if resp.mimetype in JSON_TYPES:
        return True
    user = g.get("_login_user")
    return user is not None and user.is_authenticated


JSON_TYPES = frozenset({"application/json", "application/problem+json"})
