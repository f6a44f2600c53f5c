"""The change log that the sync pull reads: one row per write to a synced record.

Change numbers come from a single counter row bumped *inside the writing transaction*. Writers
serialise on that row, so numbers are handed out in commit order and a reader holding cursor C
can never later see a commit with a number ≤ C (DESIGN section 9: a sequence or an
autoincrement id would let a late commit hide behind an advanced cursor).
"""

from __future__ import annotations

from peewee import BigIntegerField, BooleanField, CharField, DateTimeField, IntegerField

from gridapp.db import BaseModel, db, insert_rows, utcnow


class ChangeCounter(BaseModel):
    id = IntegerField(primary_key=True)
    value = BigIntegerField(default=0)


class Change(BaseModel):
    seq = BigIntegerField(unique=True)
    entity = CharField(max_length=40)
    entity_id = CharField(max_length=64)
    # Who may see the change: a grid, a community, a department or one user (any may be null).
    grid_id = IntegerField(null=True)
    community_id = IntegerField(null=True)
    department_id = IntegerField(null=True)
    user_id = IntegerField(null=True)
    deleted = BooleanField(default=False)
    at = DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("grid_id", "seq"), False),
            (("community_id", "seq"), False),
            (("department_id", "seq"), False),
            (("user_id", "seq"), False),
            (("entity", "entity_id"), False),
        )


def next_change_seq() -> int:
    """Take the next change number; must run inside the caller's write transaction."""
    if not db.in_transaction():
        raise RuntimeError("next_change_seq() must be called inside db.atomic()")
    updated = (
        ChangeCounter.update(value=ChangeCounter.value + 1).where(ChangeCounter.id == 1).execute()
    )
    if not updated:
        ChangeCounter.insert(id=1, value=1).execute()
        return 1
    return ChangeCounter.get_by_id(1).value


def record_change(
    entity: str,
    entity_id: int | str,
    *,
    grid_id: int | None = None,
    community_id: int | None = None,
    department_id: int | None = None,
    user_id: int | None = None,
    deleted: bool = False,
) -> int:
    """Log that ``entity``/``entity_id`` changed (or was deleted / left a scope); returns its seq."""
    seq = next_change_seq()
    Change.create(
        seq=seq,
        entity=entity,
        entity_id=str(entity_id),
        grid_id=grid_id,
        community_id=community_id,
        department_id=department_id,
        user_id=user_id,
        deleted=deleted,
    )
    return seq


def current_seq() -> int:
    row = ChangeCounter.get_or_none(ChangeCounter.id == 1)
    return row.value if row else 0


def record_changes(entries: list[dict]) -> int:
    """Bulk ``record_change`` for imports: one counter bump reserves a block of numbers, the rows
    go in with ``insert_many``. Each entry holds ``entity``, ``entity_id`` and the optional
    keyword arguments of ``record_change``. Returns the last seq (0 when ``entries`` is empty)."""
    if not entries:
        return 0
    if not db.in_transaction():
        raise RuntimeError("record_changes() must be called inside db.atomic()")
    n = len(entries)
    updated = (
        ChangeCounter.update(value=ChangeCounter.value + n).where(ChangeCounter.id == 1).execute()
    )
    if not updated:
        ChangeCounter.insert(id=1, value=n).execute()
        last = n
    else:
        last = ChangeCounter.get_by_id(1).value
    now = utcnow()
    columns = ["seq", "entity", "entity_id", "grid_id", "community_id", "department_id"]
    columns += ["user_id", "deleted", "at"]
    rows = [
        (
            last - n + 1 + i,
            e["entity"],
            str(e["entity_id"]),
            e.get("grid_id"),
            e.get("community_id"),
            e.get("department_id"),
            e.get("user_id"),
            bool(e.get("deleted", False)),
            now,
        )
        for i, e in enumerate(entries)
    ]
    insert_rows(Change, columns, rows)
    return last
