"""Deadline arithmetic, pure (standard library only): working days on a given calendar, or plain
hours for urgent matters, and the 80 % warning point.

Times given and returned are naive *local* (Asia/Shanghai) datetimes: a working day is a local
calendar day. The service converts from and to naive UTC (``to_local``/``to_utc``).
``is_working`` is any ``date → bool`` (the official Chinese calendar with admin overrides, see
``gridapp.matters.calendar``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
WARN_FRACTION = 0.8

# Defaults from DESIGN section 6: (amount, unit, progress report every N working days).
DEFAULT_RULES: dict[str, tuple[int, str, int | None]] = {
    "个事": (3, "workdays", None),
    "社事": (7, "workdays", None),
    "专事": (5, "workdays", None),
    "难事": (15, "workdays", 5),
}
URGENT_HOURS = 24

IsWorking = Callable[[dt.date], bool]


def weekday_calendar(day: dt.date) -> bool:
    """Monday–Friday: the fallback where the official calendar of a year is unknown."""
    return day.weekday() < 5


def to_local(utc_naive: dt.datetime) -> dt.datetime:
    return utc_naive.replace(tzinfo=dt.UTC).astimezone(LOCAL_TZ).replace(tzinfo=None)


def to_utc(local_naive: dt.datetime) -> dt.datetime:
    return local_naive.replace(tzinfo=LOCAL_TZ).astimezone(dt.UTC).replace(tzinfo=None)


def add_working_days(start: dt.datetime, days: float, is_working: IsWorking) -> dt.datetime:
    """``start`` plus ``days`` working days (local time).

    Whole days step to the next working day keeping the time of day, so a matter dispatched on
    Friday 10:00 with 1 working day is due Monday 10:00 (or later across a holiday; a make-up
    Saturday counts). A fractional remainder is added as hours within the working day it lands
    in, rolling over non-working days.
    """
    if days < 0:
        raise ValueError("days must be >= 0")
    whole = int(days)
    frac = days - whole
    current = start
    counted = 0
    guard = 0
    while counted < whole:
        current += dt.timedelta(days=1)
        guard += 1
        if guard > 3660:
            raise ValueError("no working day found within ten years")
        if is_working(current.date()):
            counted += 1
    if frac:
        current += dt.timedelta(days=frac)
        while not is_working(current.date()):
            current += dt.timedelta(days=1)
    return current


@dataclass(frozen=True)
class Deadline:
    start: dt.datetime
    warn_at: dt.datetime
    due_at: dt.datetime


def compute(
    start_local: dt.datetime,
    amount: int,
    unit: str,
    is_working: IsWorking,
    warn_fraction: float = WARN_FRACTION,
) -> Deadline:
    """The deadline and its warning point for ``amount`` ``unit`` ("workdays" or "hours")."""
    if amount <= 0:
        raise ValueError("amount must be positive")
    if unit == "hours":
        due = start_local + dt.timedelta(hours=amount)
        warn = start_local + dt.timedelta(hours=amount * warn_fraction)
        return Deadline(start_local, warn, due)
    if unit != "workdays":
        raise ValueError(f"unknown unit {unit!r}")
    due = add_working_days(start_local, amount, is_working)
    warn = add_working_days(start_local, amount * warn_fraction, is_working)
    return Deadline(start_local, min(warn, due), due)


# A deadline set by hand (a triager overriding the rule) is the end of a local calendar day, at
# most this far ahead.
MAX_SET_DAYS = 366
END_OF_DAY = dt.time(23, 59)


def set_deadline_problem(day: dt.date, now_local: dt.datetime) -> str | None:
    """Why ``day`` cannot be a deadline set by hand at local time ``now_local``: "past" (its
    end has gone by), "too_far", or None when it may (today included)."""
    if dt.datetime.combine(day, END_OF_DAY) <= now_local:
        return "past"
    if day > now_local.date() + dt.timedelta(days=MAX_SET_DAYS):
        return "too_far"
    return None


def due_on(
    start_local: dt.datetime, day: dt.date, warn_fraction: float = WARN_FRACTION
) -> Deadline:
    """A deadline set by hand: due at the end of local ``day``, warned at ``warn_fraction`` of
    the wall-clock time from ``start_local`` (the rule's working days do not apply)."""
    due = dt.datetime.combine(day, END_OF_DAY)
    if due <= start_local:
        raise ValueError("the deadline must be after the start")
    return Deadline(start_local, start_local + (due - start_local) * warn_fraction, due)


def fraction_elapsed(deadline: Deadline, now_local: dt.datetime) -> float:
    """Wall-clock share of the deadline used up (for display; 1.0 = due)."""
    total = (deadline.due_at - deadline.start).total_seconds()
    if total <= 0:
        return 1.0
    return (now_local - deadline.start).total_seconds() / total
