"""Pure rules of one-stop appointments (standard library only): opening hours and slots, the
booking state machine, booking codes and the resident's form checks.

Times here are naive *local* (Asia/Shanghai) datetimes: a slot is "Tuesday 09:30–10:00 at the
hall". The service converts to naive UTC for storage (``gridapp.matters.deadlines.to_utc``).

Opening hours are per weekday (0 = Monday): a list of ``[start, end, capacity]`` windows, each
cut into slots of the service's ``slot_minutes``. A day opens only when the working-day
calendar says it is a working day (the same calendar deadlines count on): an official holiday
on a Wednesday is closed, and a make-up Saturday (调休) opens with Monday's hours unless the
service has Saturday hours of its own.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud at the counter
CODE_LENGTH = 10  # 31^10 ≈ 8e14: unguessable at the public pages' rate limits
NAME_MAX = 20
ADDRESS_MAX = 100
NOTE_MAX = 300
RESULT_MAX = 1000
BOOK_AHEAD_DAYS = 14
MAX_SLOTS_PER_DAY = 48
CAPACITY_MAX = 50
PLACES = ("hall", "home")
RATINGS = ("满意", "基本满意", "不满意")
SATISFIED = ("满意", "基本满意")
TARGET_SATISFACTION = 0.95  # the seed's figure (桃源数智社区) supervisors compare with

MOBILE = re.compile(r"1[3-9]\d{9}")
LANDLINE = re.compile(r"0\d{2,3}-?\d{7,8}")
TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")

IsWorking = Callable[[dt.date], bool]
Hours = dict[int, list[tuple[str, str, int]]]

# ---- the state machine ---------------------------------------------------------------------
# booked → arrived → serving → handled; booked/arrived → no_show; booked → cancelled (the
# resident); an at-home booking is handled by its grid worker's task (booked → handled).
STATES = ("booked", "arrived", "serving", "handled", "no_show", "cancelled")
OPEN_STATES = frozenset({"booked", "arrived", "serving"})
TRANSITIONS: dict[tuple[str, str], str] = {
    ("booked", "arrive"): "arrived",
    ("booked", "no_show"): "no_show",
    ("booked", "cancel"): "cancelled",
    ("booked", "handle"): "handled",  # at home (the worker's task) or handled without a queue
    ("arrived", "call"): "serving",
    ("arrived", "handle"): "handled",
    ("arrived", "no_show"): "no_show",
    ("serving", "handle"): "handled",
    ("serving", "no_show"): "no_show",
}
STAFF_ACTIONS = ("arrive", "call", "handle", "no_show")
ACTIONS = tuple(sorted({a for (_s, a) in TRANSITIONS}))


def target(state: str, action: str) -> str | None:
    return TRANSITIONS.get((state, action))


def staff_actions(state: str, place: str) -> list[str]:
    """What the day view offers for a booking (an at-home one is handled by its task)."""
    if place == "home":
        return [a for a in ("no_show",) if target(state, a)]
    return [a for a in STAFF_ACTIONS if target(state, a)]


# ---- opening hours and slots ---------------------------------------------------------------


@dataclass(frozen=True)
class SlotTime:
    starts: dt.datetime  # naive local
    ends: dt.datetime
    capacity: int


def parse_hours(raw: dict) -> Hours:
    """Validate opening hours ``{"0": [["09:00", "11:30", 4], ...], ...}``; raises ValueError
    with the failing key ("3.1") in its first argument and a reason in its second."""
    if not isinstance(raw, dict):
        raise ValueError("hours", "not an object")
    out: Hours = {}
    for key, windows in raw.items():
        try:
            day = int(key)
        except (TypeError, ValueError):
            raise ValueError(str(key), "weekday must be 0-6") from None
        if not 0 <= day <= 6 or not isinstance(windows, list) or len(windows) > 6:
            raise ValueError(str(key), "weekday must be 0-6 with at most 6 windows")
        parsed = []
        for i, w in enumerate(windows):
            where = f"{day}.{i}"
            if not isinstance(w, (list, tuple)) or len(w) != 3:
                raise ValueError(where, "a window is [start, end, capacity]")
            start, end, cap = w
            if not (isinstance(start, str) and TIME.fullmatch(start)):
                raise ValueError(where, "start must be HH:MM")
            if not (isinstance(end, str) and TIME.fullmatch(end)) or end <= start:
                raise ValueError(where, "end must be HH:MM after start")
            if not isinstance(cap, int) or isinstance(cap, bool) or not 1 <= cap <= CAPACITY_MAX:
                raise ValueError(where, f"capacity must be 1-{CAPACITY_MAX}")
            parsed.append((start, end, cap))
        parsed.sort()
        for a, b in zip(parsed, parsed[1:], strict=False):
            if b[0] < a[1]:
                raise ValueError(f"{day}", "windows overlap")
        if parsed:
            out[day] = parsed
    return out


def hours_text(hours: Hours) -> dict[int, str]:
    """``{0: "09:00–11:30, 14:00–17:00"}`` for the catalogue page."""
    return {d: ", ".join(f"{s}–{e}" for s, e, _c in ws) for d, ws in sorted(hours.items())}


def _hm(day: dt.date, text: str) -> dt.datetime:
    h, m = text.split(":")
    return dt.datetime.combine(day, dt.time(int(h), int(m)))


def day_windows(hours: Hours, day: dt.date, is_working: IsWorking) -> list[tuple[str, str, int]]:
    """The windows open on ``day``: none on a rest day (holiday or weekend); a make-up
    workday on a weekend without its own hours uses Monday's."""
    if not is_working(day):
        return []
    windows = hours.get(day.weekday(), [])
    if not windows and day.weekday() >= 5:
        windows = hours.get(0, [])
    return windows


def slots_for_day(
    hours: Hours, slot_minutes: int, day: dt.date, is_working: IsWorking
) -> list[SlotTime]:
    out: list[SlotTime] = []
    step = dt.timedelta(minutes=max(5, slot_minutes))
    for start, end, cap in day_windows(hours, day, is_working):
        at, stop = _hm(day, start), _hm(day, end)
        while at + step <= stop and len(out) < MAX_SLOTS_PER_DAY:
            out.append(SlotTime(at, at + step, cap))
            at += step
    return out


def slot_at(
    hours: Hours, slot_minutes: int, starts: dt.datetime, is_working: IsWorking
) -> SlotTime | None:
    """The slot beginning at local ``starts``, if the hours and calendar offer one."""
    for s in slots_for_day(hours, slot_minutes, starts.date(), is_working):
        if s.starts == starts:
            return s
    return None


def bookable_days(today: dt.date, ahead: int = BOOK_AHEAD_DAYS) -> list[dt.date]:
    return [today + dt.timedelta(days=i) for i in range(ahead + 1)]


# ---- codes and the resident's form ----------------------------------------------------------


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(raw: str | None) -> str:
    """A code as typed on a phone: full-width, spaces, dashes, lower case all accepted."""
    value = unicodedata.normalize("NFKC", raw or "")
    return re.sub(r"[\s\-_]", "", value).upper()[:16]


def format_code(code: str) -> str:
    """``ABCDE-FGHJK``: easier to read out and copy."""
    return f"{code[:5]}-{code[5:]}" if len(code) == CODE_LENGTH else code


def normalise_phone(raw: str | None) -> str:
    return re.sub(r"[\s\u3000]", "", unicodedata.normalize("NFKC", raw or ""))


def phone_ok(phone: str) -> bool:
    return bool(MOBILE.fullmatch(phone) or LANDLINE.fullmatch(phone))


def clean_name(raw: str | None) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", raw or "")).strip()


# ---- figures --------------------------------------------------------------------------------


@dataclass
class ServiceFigures:
    bookings: int = 0
    handled: int = 0
    no_show: int = 0
    cancelled: int = 0
    waits: list[float] | None = None
    ratings: dict[str, int] | None = None

    @property
    def no_show_rate(self) -> float | None:
        due = self.handled + self.no_show
        return self.no_show / due if due else None

    @property
    def mean_wait_minutes(self) -> float | None:
        return sum(self.waits) / len(self.waits) if self.waits else None

    @property
    def rated(self) -> int:
        return sum((self.ratings or {}).values())

    @property
    def satisfaction(self) -> float | None:
        r = self.ratings or {}
        return sum(r.get(k, 0) for k in SATISFIED) / self.rated if self.rated else None


def wait_minutes(arrived: dt.datetime | None, started: dt.datetime | None) -> float | None:
    """Arrival → the start of handling (called to the counter, else handled), in minutes."""
    if arrived is None or started is None or started < arrived:
        return None
    return (started - arrived).total_seconds() / 60


def count_states(states: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in states:
        out[s] = out.get(s, 0) + 1
    return out
