"""One time model for everything that leaves the server or is shown to a person.

- **Stored**: naive UTC (``db.utcnow``); every column and every service works in it.
- **Sent** (API bodies, sync rows, stored sync answers, exports' metadata): RFC 3339 in UTC with
  ``Z``, to the millisecond when there is a fraction (``2026-12-03T10:00:00Z``,
  ``2026-12-03T10:00:00.250Z``), so JavaScript's ``new Date(s)`` reads it exactly on every
  browser (three fraction digits at most: ECMAScript's own format). Dates stay dates
  (``2026-12-03``). ``UtcDateTime`` is the pydantic type of every datetime in a response model;
  ``iso_utc`` / ``json_default`` serve the hand-built dicts and ``json.dumps`` calls.
- **Received**: ``DateTimeIn`` takes only datetimes with an offset (any offset; converted to
  naive UTC for the services). One without an offset is ambiguous (a phone's local time? UTC?)
  and is refused with a 422 naming the field, never guessed.
- **Shown**: Asia/Shanghai, through ``local_text`` (the ``localtime`` Jinja filter) everywhere a
  page, an export, a poster or a message renders a time.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

UTC = dt.UTC
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
LOCAL_TZ_NAME = "Asia/Shanghai"
EXAMPLE = "2026-12-03T10:00:00Z"


def as_utc(value: dt.datetime) -> dt.datetime:
    """An aware UTC datetime; a naive one is taken as the stored naive UTC it is."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def naive_utc(value: dt.datetime | None) -> dt.datetime | None:
    """What a column stores: naive UTC (an aware value converted, a naive one kept)."""
    if value is not None and value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def iso_utc(value: dt.datetime | dt.date | None) -> str | None:
    """The wire format: ``2026-12-03T10:00:00Z`` (``.sss`` only when there are milliseconds)."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        return value.isoformat()
    v = as_utc(value)
    text = f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}"
    ms = v.microsecond // 1000
    return f"{text}.{ms:03d}Z" if ms else text + "Z"


def json_default(value: Any) -> Any:
    """``json.dumps(..., default=json_default)``: datetimes on the wire format, anything else
    (UUIDs, decimals) as text, as ``default=str`` did."""
    if isinstance(value, dt.date):
        return iso_utc(value)
    return str(value)


def to_local(value: dt.datetime) -> dt.datetime:
    """Stored (naive UTC) or aware → aware Asia/Shanghai."""
    return as_utc(value).astimezone(LOCAL_TZ)


def local_naive(value: dt.datetime | None) -> dt.datetime | None:
    """Asia/Shanghai wall-clock time without a zone (spreadsheets have no time zones: the
    column header says which zone it is)."""
    return None if value is None else to_local(value).replace(tzinfo=None)


def local_text(value: dt.datetime | dt.date | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """How a person reads a time anywhere the server renders one: Asia/Shanghai."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, dt.datetime):
        return value.isoformat()
    return to_local(value).strftime(fmt)


def local_today() -> dt.date:
    """Today's date in Asia/Shanghai (the server's own clock runs in UTC: before 08:00 there,
    its ``date.today()`` is still yesterday)."""
    return dt.datetime.now(LOCAL_TZ).date()


def local_to_utc(value: dt.datetime) -> dt.datetime:
    """A naive Asia/Shanghai wall-clock time (a form's datetime-local field) → naive UTC."""
    return value.replace(tzinfo=LOCAL_TZ).astimezone(UTC).replace(tzinfo=None)


def local_day_start_utc(day: dt.date, end: bool = False) -> dt.datetime:
    """Start (or, with ``end``, the end) of an Asia/Shanghai calendar day, as naive UTC."""
    start = dt.datetime.combine(day, dt.time.min, tzinfo=LOCAL_TZ)
    if end:
        start += dt.timedelta(days=1)
    return start.astimezone(UTC).replace(tzinfo=None)


def _require_offset(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise PydanticCustomError(
            "timezone_aware",
            "give the time with its offset, e.g. {example}",
            {"example": EXAMPLE},
        )
    return naive_utc(value)


_SCHEMA = {"type": "string", "format": "date-time", "examples": [EXAMPLE]}

# A datetime leaving the server: validated from the stored naive UTC, sent as ``iso_utc``.
UtcDateTime = Annotated[
    dt.datetime,
    AfterValidator(as_utc),
    PlainSerializer(iso_utc, return_type=str, when_used="json"),
    WithJsonSchema(_SCHEMA),
]

# A datetime arriving: an offset is required (422 naming the field without one); the service
# gets naive UTC.
DateTimeIn = Annotated[dt.datetime, AfterValidator(_require_offset), WithJsonSchema(_SCHEMA)]
