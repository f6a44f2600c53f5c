"""Display helpers registered as Jinja filters: times in Asia/Shanghai, percentages."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_time(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Stored naive UTC → Asia/Shanghai text."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    return value.replace(tzinfo=dt.UTC).astimezone(SHANGHAI).strftime(fmt)


def local_date_to_utc(value: dt.date, end: bool = False) -> dt.datetime:
    """Start (or end) of a Shanghai calendar day, as naive UTC, for date filters."""
    day = dt.datetime.combine(value, dt.time.min, tzinfo=SHANGHAI)
    if end:
        day += dt.timedelta(days=1)
    return day.astimezone(dt.UTC).replace(tzinfo=None)


def percent(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.0f}%"


def register(app) -> None:
    app.add_template_filter(local_time, "localtime")
    app.add_template_filter(percent, "percent")
