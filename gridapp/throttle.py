"""Upload throttles per user and per address (Flask-Limiter's storage: process memory alone,
Redis when ``REDIS_URL`` is set, so every process counts together).

Checked by the service-facing views (API and console alike) before an upload is decoded or
parsed. The defaults leave room for an outbox replaying a day of photos after a dead zone,
and for many phones behind one carrier NAT address; they stop a loop or a script.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _

from gridapp.errors import Problem

DEFAULTS = {
    "photo": ("200 per 10 minutes", "600 per 10 minutes"),
    "roster": ("10 per 10 minutes", "30 per 10 minutes"),
}


def _limits(kind: str) -> tuple[str, str]:
    user, address = DEFAULTS[kind]
    cfg = current_app.config
    return (
        cfg.get(f"UPLOAD_LIMIT_{kind.upper()}_USER") or user,
        cfg.get(f"UPLOAD_LIMIT_{kind.upper()}_ADDRESS") or address,
    )


def throttle_upload(kind: str, user_id: int | None, address: str) -> None:
    """Count one upload of ``kind`` ("photo", "roster"); a 429 Problem past either limit."""
    from limits import parse

    from gridapp.extensions import limiter

    if not limiter.enabled:  # RATELIMIT_ENABLED off: no limits at all (uploads too), not a 500
        return
    per_user, per_address = _limits(kind)
    checks = [(parse(per_address), ("upload", kind, "addr", address or "-"))]
    if user_id is not None:
        checks.insert(0, (parse(per_user), ("upload", kind, "user", str(user_id))))
    for item, keys in checks:
        if not limiter.limiter.hit(item, *keys):
            raise Problem(
                _("Too many uploads; try again in a few minutes."),
                status=429,
                title=_("Too many requests"),
                field="file",
                code="upload_throttled",
            )


def read_upload(upload) -> bytes:
    """The uploaded file's bytes, its spooled temporary file closed at once (not at garbage
    collection: a large upload is a file descriptor until then)."""
    try:
        return upload.read()
    finally:
        upload.close()
