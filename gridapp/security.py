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
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Flask, g, has_request_context, request

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
    app.wsgi_app = SecurityHeaders(app.wsgi_app, app)  # type: ignore[method-assign]


class SecurityHeaders:
    """WSGI middleware adding the headers to the plain list every response hands
    ``start_response``, whatever made it (a view, an error handler, Werkzeug's routing). An
    ``after_request`` hook doing the same through Werkzeug's ``Headers`` (each value validated
    again, each name looked up by scanning) cost 13 µs a request against 2 here. A view may set
    its own (a page with a looser CSP, a photo's ``Cache-Control``): those are kept.
    ``start_response`` runs while Flask's request context is still pushed, so ``g`` is the
    request's."""

    def __init__(self, wsgi_app: Any, app: Flask) -> None:
        self.wsgi_app = wsgi_app
        self.config = app.config
        defaults = [
            ("Content-Security-Policy", CSP),
            ("X-Frame-Options", "DENY"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "same-origin"),
            ("Permissions-Policy", PERMISSIONS),
            ("Cross-Origin-Opener-Policy", "same-origin"),
        ]
        hsts = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        self.plain = [(name.lower(), (name, value)) for name, value in defaults]
        self.secure = [*self.plain, (hsts[0].lower(), hsts)]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _ in headers}
            wanted = self.secure if self.config.get("SESSION_COOKIE_SECURE") else self.plain
            headers.extend([header for low, header in wanted if low not in present])
            if "cache-control" not in present and _private(headers):
                headers.append(("Cache-Control", "no-store"))
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start)


def _private(headers: list[tuple[str, str]]) -> bool:
    """An answer no browser or proxy may keep (ASVS 8.2.1): every JSON answer (an API answer
    names people, or says who is logged in) and every page a logged-in user was shown (the
    console's lists and reveals). A view that may be kept says so itself: a static file, a
    public feed (a photo may not: its own view answers ``no-store``). ``g._login_user`` is
    flask-login's: set only when the request asked who is logged in, so asking here never costs
    an anonymous request a session lookup."""
    for name, value in headers:
        if name.lower() == "content-type":
            if value.split(";", 1)[0].strip().lower() in JSON_TYPES:
                return True
            break
    if not has_request_context():
        return False
    user = g.get("_login_user")
    return user is not None and user.is_authenticated


JSON_TYPES = frozenset({"application/json", "application/problem+json"})
