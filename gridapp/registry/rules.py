"""Pure registry rules: ID numbers, phones, care-tag lists and the care schedule.

Standard library only, so they are tested on their own (tests/registry/test_rules.py).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

# Every household is visited at least twice a year (DESIGN section 3).
DEFAULT_INTERVAL_DAYS = 180

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")
_MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
# Landline: area code 0 + 2–3 digits, then a 7–8 digit number (separators removed).
_LANDLINE_RE = re.compile(r"^0\d{2,3}\d{7,8}$")
_LOCAL_RE = re.compile(r"^[2-9]\d{6,7}$")
_TAG_SPLIT = re.compile(r"[、，,;；/\s]+")


def id_check_digit(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def parse_id_number(value: str) -> tuple[str, int, str] | None:
    """Validate an 18-character resident ID; return ``(normalised, birth_year, gender)``.

    ``None`` when the format, the birth date or the check digit is wrong. Gender follows from the
    17th digit (odd: male "M", even: female "F").
    """
    value = (value or "").strip().upper()
    if not _ID_RE.match(value):
        return None
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return None
    if born.year < 1880 or born > dt.date.today():
        return None
    if id_check_digit(value[:17]) != value[17]:
        return None
    return value, born.year, "M" if int(value[16]) % 2 else "F"


def normalise_phone(value: str) -> str | None:
    """An 11-digit mobile (``13812345678``) or a landline (``0351-1234567``, ``1234567``).

    Returns the digits (landlines keep one dash after the area code) or ``None`` if invalid.
    Spaces, dashes, brackets and a +86 prefix are accepted on input.
    """
    raw = re.sub(r"[\s\-()（）]", "", value or "")
    if raw.startswith("+86"):
        raw = raw[3:]
    elif raw.startswith("0086"):
        raw = raw[4:]
    if _MOBILE_RE.match(raw):
        return raw
    if _LANDLINE_RE.match(raw):
        area = 3 if raw[1] in "12" else 4  # 010, 02x are three digits; others four
        return f"{raw[:area]}-{raw[area:]}"
    if _LOCAL_RE.match(raw):
        return raw
    return None


def phone_tail(phone: str) -> str:
    digits = re.sub(r"\D", "", phone or "")
    return digits[-4:]


def split_tags(value: str) -> list[str]:
    """``独居老人、高龄，低保`` → ``["独居老人", "高龄", "低保"]`` (order kept, duplicates dropped)."""
    out: list[str] = []
    for part in _TAG_SPLIT.split(value or ""):
        part = part.strip()
        if part and part not in out:
            out.append(part)
    return out


def household_interval(tag_intervals: Iterable[int], default: int = DEFAULT_INTERVAL_DAYS) -> int:
    """The shortest interval among the residents' care tags, never longer than the default."""
    return min([default, *(int(i) for i in tag_intervals if i and i > 0)])


def next_visit_due(
    last_visit_at: dt.datetime | None, created_at: dt.datetime, interval_days: int
) -> dt.datetime:
    """Due ``interval_days`` after the last visit; a household never visited is due at once
    (from the day it was registered), so new households appear on the worker's list."""
    if last_visit_at is None:
        return created_at
    return last_visit_at + dt.timedelta(days=interval_days)


def parse_birth_year(value: object, this_year: int | None = None) -> int | None:
    """Birth year from an Excel cell: a date, ``1950``, ``1950-03-01``, ``1950年3月``, ``19500301``."""
    this_year = this_year or dt.date.today().year
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        year = value.year
    else:
        text = str(value).strip()
        if isinstance(value, float) and value.is_integer():
            text = str(int(value))
        m = re.match(r"^(\d{4})(?:$|[-/.年]|\d{4}$|\d{2}$)", text)
        if not m:
            return None
        year = int(m.group(1))
    if 1880 <= year <= this_year:
        return year
    return None


GENDERS = {"男": "M", "女": "F", "m": "M", "f": "F", "male": "M", "female": "F"}


def parse_gender(value: object) -> str | None:
    text = str(value or "").strip().lower()
    if not text:
        return ""
    return GENDERS.get(text)
