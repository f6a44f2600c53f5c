"""China's working-day calendar: the `holidays` package (official holidays and make-up
workdays, 调休), overridden by the admin's ``CalendarDay`` rows, and Monday–Friday with a logged
warning for a year whose official schedule the package does not know yet (the State Council
publishes it late in the year before)."""

from __future__ import annotations

import datetime as dt
import functools
import logging

import holidays

from gridapp.matters.deadlines import IsWorking, weekday_calendar

log = logging.getLogger(__name__)
_warned_years: set[int] = set()


@functools.lru_cache(maxsize=1)
def last_known_year() -> int:
    """The last year for which the package carries China's 调休 schedule."""
    try:
        from holidays.countries.china import ChinaStaticHolidays

        return max(ChinaStaticHolidays.special_public_holidays)
    except Exception:  # pragma: no cover - a future package layout
        return dt.date.today().year


@functools.lru_cache(maxsize=16)
def _official(year: int):
    return holidays.country_holidays("CN", years=year)


def official_is_working(day: dt.date) -> bool:
    if day.year > last_known_year():
        if day.year not in _warned_years:
            _warned_years.add(day.year)
            log.warning(
                "China's official calendar for %s is unknown to the holidays package: "
                "counting Monday-Friday (an admin can add the year's days)",
                day.year,
            )
        return weekday_calendar(day)
    return _official(day.year).is_working_day(day)


def working_calendar(start: dt.date, span_days: int = 120) -> IsWorking:
    """A ``date → bool`` for deadlines starting at ``start``: admin overrides in
    [start, start + span) are read once; beyond that the official calendar alone."""
    from gridapp.matters.models import CalendarDay

    end = start + dt.timedelta(days=span_days)
    overrides = {
        d: w
        for d, w in CalendarDay.select(CalendarDay.day, CalendarDay.is_working)
        .where(CalendarDay.day.between(start, end))
        .tuples()
    }

    def is_working(day: dt.date) -> bool:
        if day in overrides:
            return bool(overrides[day])
        return official_is_working(day)

    return is_working
