"""Pure delivery rules: quiet hours, retry backoff, Retry-After, VAPID audience, Topic, payload
size, subscription validation. Standard library only, tested without an app.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

# RFC 8291 §4: a push message body is at most 4096 bytes; the aes128gcm header with the
# sender's public key takes 86 bytes, the AEAD tag 16 and the padding delimiter 1, so the
# plaintext may be at most 3,993 bytes. webpush 1.0.6 does not check (DEPENDENCIES.md pitfall 3).
MAX_PLAINTEXT = 3993

# Types that wake the device at once (RFC 8030 §5.3 Urgency).
HIGH_URGENCY_TYPES = frozenset(
    {"task.assigned", "matter.dispatched", "matter.assigned", "matter.escalated"}
)

RETRYABLE = frozenset({429, 500, 502, 503, 504})
GONE = frozenset({404, 410})


# ---- quiet hours -------------------------------------------------------------------------


def parse_hhmm(value: str) -> int:
    """'22:00' → minutes after midnight (0..1439); raises ValueError."""
    hh, _, mm = value.strip().partition(":")
    h, m = int(hh), int(mm or 0)
    if not (0 <= h < 24 and 0 <= m < 60):
        raise ValueError(value)
    return h * 60 + m


def format_hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def quiet_release(
    now_utc: dt.datetime, start_min: int, end_min: int, tz: str = "Asia/Shanghai"
) -> dt.datetime | None:
    """When ``now_utc`` (naive UTC) falls inside the daily quiet window [start, end) of the
    user's time zone, return the naive-UTC moment the window ends; otherwise None.

    A window may cross midnight (22:00–07:00). start == end means no quiet hours.
    """
    if start_min == end_min:
        return None
    zone = ZoneInfo(tz)
    local = now_utc.replace(tzinfo=dt.UTC).astimezone(zone)
    minute = local.hour * 60 + local.minute
    if start_min < end_min:
        inside = start_min <= minute < end_min
        end_day = local.date()
    else:
        inside = minute >= start_min or minute < end_min
        end_day = local.date() + dt.timedelta(days=1) if minute >= start_min else local.date()
    if not inside:
        return None
    end_local = dt.datetime.combine(end_day, dt.time(end_min // 60, end_min % 60), tzinfo=zone)
    return end_local.astimezone(dt.UTC).replace(tzinfo=None)


# ---- retries -------------------------------------------------------------------------------


def parse_retry_after(value: str | None, now_utc: dt.datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return max(0.0, (when - now_utc).total_seconds())


def backoff_delay(
    attempt: int,
    retry_after: float | None = None,
    *,
    base: float = 30.0,
    cap: float = 3600.0,
    retry_after_cap: float = 86400.0,
) -> float:
    """Seconds before attempt ``attempt + 1``: exponential (base·2^(attempt-1), capped), or what
    the push service asked for with Retry-After when it said so (capped at a day)."""
    if retry_after is not None:
        return min(max(retry_after, 1.0), retry_after_cap)
    return min(base * (2 ** max(attempt - 1, 0)), cap)


@dataclass(frozen=True)
class Verdict:
    status: str  # sent | retry | gone | failed
    delay: float | None = None


def judge(
    status_code: int | None,
    attempts: int,
    max_attempts: int,
    retry_after: float | None = None,
    *,
    base: float = 30.0,
) -> Verdict:
    """What to do after an attempt: ``status_code`` None means a network error or timeout."""
    if status_code is not None and 200 <= status_code < 300:
        return Verdict("sent")
    if status_code in GONE:
        return Verdict("gone")
    if status_code is None or status_code in RETRYABLE:
        if attempts >= max_attempts:
            return Verdict("failed")
        return Verdict("retry", backoff_delay(attempts, retry_after, base=base))
    return Verdict("failed")


# ---- message headers and payload -----------------------------------------------------------


_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")
_audiences: dict[str, str] = {}


def audience(endpoint: str) -> str:
    """The VAPID ``aud`` claim: the origin of the push resource, port included when it is not
    the scheme's default (webpush 1.0.6 drops it: pitfall 3). Memoised per scheme://netloc
    prefix (a fan-out asks it for every message, to a handful of push services)."""
    m = _ORIGIN.match(endpoint)
    if m is None:
        return _audience(endpoint)
    prefix = m.group()
    found = _audiences.get(prefix)
    if found is None:
        found = _audience(prefix)
        if len(_audiences) < 1000:
            _audiences[prefix] = found
    return found


def _audience(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    default = {"https": 443, "http": 80}.get(parts.scheme)
    if port is not None and port != default:
        return f"{parts.scheme}://{host}:{port}"
    return f"{parts.scheme}://{host}"


def topic(kind: str, subject: str = "") -> str:
    """A Topic header (RFC 8030 §5.4: ≤32 characters of the URL-safe base64 alphabet) so a newer
    message about the same thing replaces an undelivered older one."""
    digest = hashlib.sha256(f"{kind}|{subject}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:32]


def urgency(kind: str, urgent: bool) -> str:
    return "high" if urgent or kind in HIGH_URGENCY_TYPES else "normal"


def dump(data: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, as the payload is sent (without the size limit of build_payload)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _fit(data: dict[str, Any], key: str, limit: int) -> bool:
    """Shorten ``data[key]`` (binary search on characters, adding '…') until the whole JSON fits."""
    text = data[key]
    lo, hi = 0, len(text)
    best = None
    while lo <= hi:
        mid = (lo + hi) // 2
        data[key] = text[:mid].rstrip() + "…" if mid < len(text) else text
        if len(dump(data)) <= limit:
            best = data[key]
            lo = mid + 1
        else:
            hi = mid - 1
    data[key] = best if best is not None else ""
    return len(dump(data)) <= limit


def build_payload(data: dict[str, Any], limit: int = MAX_PLAINTEXT) -> bytes:
    """Serialise the push message as compact UTF-8 JSON of at most ``limit`` bytes: the body is
    shortened first (it is in the inbox in full), then the title; the result stays valid JSON."""
    raw = dump(data)
    if len(raw) <= limit:
        return raw
    data = {**data, "truncated": True}
    for key in ("body", "title", "link"):
        if isinstance(data.get(key), str) and _fit(data, key, limit):
            return dump(data)
    raise ValueError("payload cannot fit")


# ---- subscriptions ---------------------------------------------------------------------------


def b64url_decode(value: str) -> bytes:
    value = value.strip()
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def endpoint_problem(endpoint: str, allow_local_http: bool) -> str | None:
    """Why ``endpoint`` is not an acceptable push resource, or None."""
    if len(endpoint) > 2000:
        return "too long"
    parts = urlsplit(endpoint)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and allow_local_http and parts.hostname in {"127.0.0.1", "localhost"}:
        return None
    return "must be an https URL"


def key_problem(p256dh: str, auth: str) -> tuple[str, str] | None:
    """(field, reason) when the subscription keys are malformed, else None: p256dh is an
    uncompressed P-256 point (65 bytes, 0x04 first), auth a 16-byte secret."""
    try:
        point = b64url_decode(p256dh)
    except (ValueError, TypeError):
        return ("keys.p256dh", "not base64url")
    if len(point) != 65 or point[0] != 4:
        return ("keys.p256dh", "must be a 65-byte uncompressed P-256 point")
    try:
        secret = b64url_decode(auth)
    except (ValueError, TypeError):
        return ("keys.auth", "not base64url")
    if len(secret) != 16:
        return ("keys.auth", "must be 16 bytes")
    return None
