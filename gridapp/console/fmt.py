"""Display helpers registered as Jinja filters: times in Asia/Shanghai (``gridapp.times``, the
one helper every rendered time goes through), percentages."""

from __future__ import annotations

from gridapp.times import local_day_start_utc, local_text

local_time = local_text


def local_date_to_utc(value, end: bool = False):
    """Start (or end) of a Shanghai calendar day, as naive UTC, for date filters."""
    return local_day_start_utc(value, end)


def percent(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.0f}%"


def register(app) -> None:
    app.add_template_filter(local_text, "localtime")
    app.add_template_filter(percent, "percent")
