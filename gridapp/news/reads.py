"""Read counts without personal data: a public reader is ``sha256(day's salt, address,
browser)`` cut to 32 hex digits, an app reader ``sha256(day's salt, "u", user id)``; one row per
item, day, kind and visitor (a repeat is ignored). The salt is random per Asia/Shanghai day and
deleted when the day is over (``drop_old_salts``), so yesterday's hashes can no longer be
recomputed from an address — by anyone."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from gridapp.db import db, is_postgres
from gridapp.news.models import NewsRead, NewsSalt
from gridapp.notifications.delivery import insert_ignore


def _day(day: dt.date):
    """A date as the driver takes it (sqlite3's default date adapter is deprecated)."""
    return day if is_postgres() else day.isoformat()


def salt_for(day: dt.date) -> str:
    row = NewsSalt.get_or_none(NewsSalt.day == day)
    if row is not None:
        return row.salt
    with db.atomic():
        insert_ignore(NewsSalt, ("day", "salt"), [(_day(day), secrets.token_hex(32))])
    return NewsSalt.get(NewsSalt.day == day).salt


def visitor_hash(day: dt.date, *parts: str) -> str:
    raw = "\x1f".join([salt_for(day), *parts]).encode()
    return hashlib.sha256(raw).hexdigest()[:32]


def count_read(item_id: int, day: dt.date, kind: str, *parts: str) -> bool:
    """Count one read (once per visitor a day); returns whether it was new."""
    visitor = visitor_hash(day, *parts)
    with db.atomic():
        new = insert_ignore(
            NewsRead, ("item_id", "day", "kind", "visitor"), [(item_id, _day(day), kind, visitor)],
            returning=("id",),
        )  # fmt: skip
    return bool(new)


def drop_old_salts(today: dt.date) -> int:
    with db.atomic():
        return NewsSalt.delete().where(NewsSalt.day < today).execute()
