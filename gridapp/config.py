"""Configuration from ``GRIDAPP_*`` environment variables, with secrets kept in the instance folder.

A secret is never a literal in the code: the first run generates one into the instance folder so a
fresh checkout is safe by default and several processes on one machine share it. At scale-out the
operator sets ``GRIDAPP_SECRET_KEY`` so every machine signs sessions with the same key.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE = ROOT / "instance"


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def instance_path() -> Path:
    return Path(os.environ.get("GRIDAPP_INSTANCE", str(DEFAULT_INSTANCE))).resolve()


def read_or_create_secret(folder: Path, name: str, nbytes: int = 32) -> str:
    """Return the secret stored in ``folder/name``, creating it (mode 0600) on first use.

    Creation uses O_EXCL so two processes starting together end up with the same secret.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if not path.exists():
        value = secrets.token_urlsafe(nbytes)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(value)
    return path.read_text().strip()


def translation_directories() -> list[Path]:
    """The core catalog plus one per feature (``gridapp/<feature>/translations``, also one level
    down: ``gridapp/notifications/wecom/translations``), merged at runtime, so features add
    their strings without touching a shared file."""
    base = ROOT / "gridapp"
    features = [*base.glob("*/translations"), *base.glob("*/*/translations")]
    return [base / "translations", *sorted(p for p in features if p.is_dir())]


def build_config(instance: Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole configuration as a dict; ``overrides`` (tests, CLI) win over the environment."""
    overrides = dict(overrides or {})
    instance = Path(overrides.pop("INSTANCE_PATH", instance))
    secret = os.environ.get("GRIDAPP_SECRET_KEY") or read_or_create_secret(instance, "secret_key")
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'gridapp.db'}"
    redis_url = os.environ.get("REDIS_URL") or None
    cfg: dict[str, Any] = {
        "SECRET_KEY": secret,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "HUEY_SQLITE_PATH": str(instance / "huey.db"),
        "HUEY_IMMEDIATE": False,
        "MEDIA_ROOT": str(instance / "media"),
        # Cookies: HttpOnly and SameSite always; Secure unless explicitly served over plain http
        # (the local demo on 127.0.0.1). Behind TLS in production keep the default.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # The cookie is re-signed and re-sent only when it changes (login, a rotated token),
        # not on every answer: its lifetime is the device session's longest, and the server
        # row decides anyway (gridapp/accounts/sessions.py). Re-signing was a tenth of a
        # ``/api/v1/me``.
        "SESSION_REFRESH_EACH_REQUEST": False,
        "SESSION_COOKIE_SECURE": _flag("GRIDAPP_SECURE_COOKIES", True),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _flag("GRIDAPP_SECURE_COOKIES", True),
        # Server-side session lifetimes (gridapp/accounts/sessions.py). The cookie of a
        # remembered or device session lives as long as the longest of them; the server decides.
        "WEB_SESSION_IDLE": dt.timedelta(hours=_int("GRIDAPP_WEB_SESSION_IDLE_HOURS", 2)),
        "WEB_SESSION_MAX": dt.timedelta(hours=_int("GRIDAPP_WEB_SESSION_MAX_HOURS", 12)),
        "REMEMBER_SESSION_IDLE": dt.timedelta(days=14),
        "REMEMBER_SESSION_MAX": dt.timedelta(days=30),
        "REMEMBER_ROTATE_EVERY": dt.timedelta(hours=1),
        "DEVICE_SESSION_IDLE": dt.timedelta(days=_int("GRIDAPP_DEVICE_SESSION_IDLE_DAYS", 45)),
        "DEVICE_SESSION_MAX": dt.timedelta(days=_int("GRIDAPP_DEVICE_SESSION_MAX_DAYS", 90)),
        "PERMANENT_SESSION_LIFETIME": dt.timedelta(
            days=_int("GRIDAPP_DEVICE_SESSION_MAX_DAYS", 90)
        ),
        # With Redis, each web process keeps the sessions it read for at most this long while
        # nothing they depend on is written anywhere (gridapp/accounts/authcache.py); 0: read
        # the session row on every request.
        "AUTH_CACHE_SECONDS": float(os.environ.get("GRIDAPP_AUTH_CACHE_SECONDS") or 60),
        "AUTH_CACHE_PREFIX": "gridapp:auth:",
        # With Redis, each web process also keeps what it read from the session cache for at
        # most this long, dropped the moment Redis says a key changed (gridapp/nearcache.py);
        # 0: every request asks Redis.
        "AUTH_CACHE_LOCAL_SECONDS": float(os.environ.get("GRIDAPP_AUTH_CACHE_LOCAL_SECONDS") or 10),
        # With Redis: how long a sync "nothing new" key lives unraised (gridapp/sync/quiet.py);
        # 0 turns the fast answer off.
        "SYNC_QUIET_SECONDS": float(os.environ.get("GRIDAPP_SYNC_QUIET_SECONDS") or 60),
        # Login throttling (gridapp/accounts/throttle.py): free failures before backoff, the
        # failure count that locks an account, for how long, and the per-address budget.
        "LOGIN_FREE_FAILURES": 5,
        "LOGIN_LOCK_FAILURES": 10,
        "LOGIN_LOCK_MINUTES": 15,
        "LOGIN_ADDRESS_FREE_FAILURES": 10,
        "LOGIN_WINDOW_MINUTES": 15,
        # A visit queued offline for hours must still replay: tokens are bound to the session,
        # not to a clock (DEPENDENCIES.md pitfall 5).
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_HEADERS": ["X-CSRFToken", "X-CSRF-Token"],
        "WTF_CSRF_SSL_STRICT": False,
        # Photos are up to 10 MB; leave room for the multipart envelope.
        "MAX_CONTENT_LENGTH": 12 * 1024 * 1024,
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "BABEL_TRANSLATION_DIRECTORIES": ";".join(str(d) for d in translation_directories()),
        "LANGUAGES": ["zh_CN", "en"],
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        # Redis down: each process counts in its own memory (limits per process instead of
        # shared) and goes back to Redis when it answers again, instead of failing the request.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        "RATELIMIT_HEADERS_ENABLED": True,
        "PROXY_FIX": _flag("GRIDAPP_PROXY_FIX", False),
        # Open311 GeoReport v2 (docs/open311.md): limits, the public URL discovery announces,
        # how far a request's lat/long may lie from the nearest placed building.
        "OPEN311_KEY_LIMIT": os.environ.get("GRIDAPP_OPEN311_KEY_LIMIT") or "60 per minute",
        "OPEN311_ADDRESS_LIMIT": os.environ.get("GRIDAPP_OPEN311_ADDRESS_LIMIT")
        or "120 per minute",
        "OPEN311_PUBLIC_URL": os.environ.get("GRIDAPP_OPEN311_PUBLIC_URL") or None,
        "OPEN311_CONTACT": os.environ.get("GRIDAPP_OPEN311_CONTACT") or "",
        "OPEN311_MAX_DISTANCE_M": float(os.environ.get("GRIDAPP_OPEN311_MAX_DISTANCE_M") or 300),
        # ``X-Query-Count`` on every answer: the statements the request sent (the morning
        # benchmark reads it; off in production, it tells a stranger about our queries).
        "QUERY_COUNT_HEADER": _flag("GRIDAPP_QUERY_COUNT", False),
        "TESTING": False,
    }
    cfg.update(overrides)
    return cfg
