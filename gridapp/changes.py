"""The change log that the sync pull reads: one row per write to a synced record.

A writer inserts its change rows without a number (``seq`` null, invisible to pulls) and the
numbers are given as the *last statements before commit* (``gridapp.db.before_commit``): one bump
of the counter row reserves a block, one ``UPDATE`` numbers the transaction's rows. So

- numbers follow commit order: writers serialise on the counter row only from their last
  statement to their commit, and a reader holding cursor C never later sees a commit ≤ C
  (DESIGN section 9: a sequence or an autoincrement id would let a late commit hide);
- the counter row is the last lock of every write path, whatever order a service's code calls
  ``record_change`` in: no lock-order deadlock between, say, a resident's tag change (which
  touches the household) and a visit (issue 15 item 7);
- a savepoint rolled back takes its change rows with it (they are real rows until numbered).

The counter row is created by migration 0401 (starting at 1), so a cold pull on an empty log
still hands out a real cursor and no two first writers race to insert it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from peewee import BigIntegerField, BooleanField, CharField, DateTimeField, IntegerField

from gridapp import sqlcache
from gridapp.db import (
    BaseModel,
    after_commit,
    before_commit,
    db,
    insert_rows,
    is_postgres,
    reserve_ids,
    utcnow,
)


class ChangeCounter(BaseModel):
    id = IntegerField(primary_key=True)
    value = BigIntegerField(default=0)


class Change(BaseModel):
    # Null until the writing transaction commits (see the module docstring).
    seq = BigIntegerField(unique=True, null=True)
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


# The changes every device sees (no grid, community, department or user): their own index, so a
# warm pull reads them by range instead of walking every change in the city since its cursor
# (which ``user_id IS NULL`` on the (user_id, seq) index did: issue 15, migration 0403).
EVERYONE = (
    Change.grid_id.is_null()
    & Change.community_id.is_null()
    & Change.department_id.is_null()
    & Change.user_id.is_null()
)
EVERYONE_INDEX = "change_everyone_seq"
Change.add_index(Change.seq, where=EVERYONE, name=EVERYONE_INDEX)


def change_keys(grid_id: Any, community_id: Any, department_id: Any, user_id: Any) -> set[str]:
    """Who may see a change, as keys: ``g``/``d``/``u`` and an id, ``e`` for the changes everyone
    sees, ``a`` for every change (what an admin sees): ``sync.service.visible_changes``'s
    ranges, for ``gridapp.sync.quiet``."""
    keys = {"a"}
    if grid_id is not None:
        keys.add(f"g{grid_id}")
    if department_id is not None:
        keys.add(f"d{department_id}")
    if user_id is not None:
        keys.add(f"u{user_id}")
    if grid_id is None and community_id is None and department_id is None and user_id is None:
        keys.add("e")
    return keys


# Called as ``fn(keys, last change number)`` after each transaction with change rows commits.
COMMITTED: list[Callable[[set[str], int], None]] = []


def _pending(database) -> list[int]:
    """[low id, high id] of this transaction's unnumbered change rows (per thread)."""
    state = database._state.__dict__
    return state.setdefault("gridapp_pending", [])


def _note(lo: int, hi: int, keys: set[str]) -> None:
    state = db.obj._state.__dict__
    state.setdefault("gridapp_change_keys", set()).update(keys)
    span = _pending(db.obj)
    if span:
        span[0], span[1] = min(span[0], lo), max(span[1], hi)
    else:
        span.extend((lo, hi))


def _bump(n: int) -> int:
    """Add ``n`` to the counter; returns the new value. The row exists from migration 0401; a
    database that lost it gets it back (ON CONFLICT: no race between first writers)."""
    for _ in range(2):
        cur = db.execute_sql(
            f"UPDATE change_counter SET value = value + {int(n)} WHERE id = 1 RETURNING value"
        )
        row = cur.fetchone()
        if row is not None:
            return row[0]
        db.execute_sql(  # (WHERE true: SQLite's parser needs it before ON CONFLICT)
            "INSERT INTO change_counter (id, value) SELECT 1, COALESCE(MAX(seq), 0) + 1"
            " FROM change WHERE true ON CONFLICT (id) DO NOTHING"
        )
    raise RuntimeError("change_counter row missing")


@before_commit
def number_changes(database) -> None:
    """Give this transaction's change rows their numbers; the last statements before commit.

    Ids ``lo..hi`` hold our rows and maybe other transactions' rows: those are either committed
    (numbered already) or uncommitted (invisible to us), so ``seq IS NULL`` picks exactly ours.
    Reserving the whole span keeps the numbers unique (gaps are harmless to cursors)."""
    state = database._state.__dict__
    span = state.pop("gridapp_pending", None)
    keys = state.pop("gridapp_change_keys", set())
    if not span:
        return
    lo, hi = span
    last = _bump(hi - lo + 1)
    offset = last - hi
    Change.update(seq=Change.id + offset).where(
        Change.id.between(lo, hi) & Change.seq.is_null()
    ).execute()
    # Once committed, the sync's "nothing new" keys rise to ``last`` (gridapp/sync/quiet.py).
    for listener in COMMITTED:
        after_commit(lambda fn=listener: fn(keys, last))


def record_change(
    entity: str,
    entity_id: int | str,
    *,
    grid_id: int | None = None,
    community_id: int | None = None,
    department_id: int | None = None,
    user_id: int | None = None,
    deleted: bool = False,
) -> None:
    """Log that ``entity``/``entity_id`` changed (or was deleted / left a scope). Must run in
    the writing transaction; the row gets its number when that transaction commits."""
    if not db.in_transaction():
        raise RuntimeError("record_change() must be called inside db.atomic()")
    cid = Change.insert(
        seq=None,
        entity=entity,
        entity_id=str(entity_id),
        grid_id=grid_id,
        community_id=community_id,
        department_id=department_id,
        user_id=user_id,
        deleted=deleted,
    ).execute()
    _note(cid, cid, change_keys(grid_id, community_id, department_id, user_id))


def current_seq() -> int:
    row = ChangeCounter.get_or_none(ChangeCounter.id == 1)
    return row.value if row else 0


FEW = 200  # up to this many change rows go in as one multi-row INSERT
_OPTIONAL = {
    "grid_id": None,
    "community_id": None,
    "department_id": None,
    "user_id": None,
    "deleted": False,
}


CACHED_ROWS = 2  # up to this many, the INSERT is built once per shape (the usual write's)


def _few_query(v: dict[str, Any], n: int):
    rows = [
        {"seq": None, "at": v["at"]}
        | {k: v[f"{k}_{i}"] for k in ("entity", "entity_id", *_OPTIONAL)}
        for i in range(n)
    ]
    query = Change.insert_many(rows)
    return query.returning(Change.id) if is_postgres() else query


def record_changes(entries: list[dict]) -> None:
    """``record_change`` for several records in one statement (a visit and its household, a
    batch's matters); an import's thousands get their ids reserved in one call and go in with
    ``insert_rows``. Each entry holds ``entity``, ``entity_id`` and the optional keyword
    arguments of ``record_change``."""
    if not entries:
        return
    if not db.in_transaction():
        raise RuntimeError("record_changes() must be called inside db.atomic()")
    keys: set[str] = set()
    for e in entries:
        keys |= change_keys(
            e.get("grid_id"), e.get("community_id"), e.get("department_id"), e.get("user_id")
        )
    if len(entries) <= FEW:  # one INSERT of them all, not a reservation and then an insert
        rows = [
            {
                "seq": None,
                "entity": e["entity"],
                "entity_id": str(e["entity_id"]),
                **{k: e.get(k, default) for k, default in _OPTIONAL.items()},
                "deleted": bool(e.get("deleted", False)),  # as the column keeps it
            }
            for e in entries
        ]
        if len(rows) <= CACHED_ROWS:
            # Built once per shape (gridapp/sqlcache.py): a visit and its household, five a push.
            flat = {f"{k}_{i}": v for i, row in enumerate(rows) for k, v in row.items()}
            flat["at"] = utcnow()
            key = ("changes-few", len(rows), *sqlcache.types_of(flat))
            cursor = sqlcache.execute(key, lambda v: _few_query(v, len(rows)), flat)
        else:
            query = Change.insert_many(rows)
            cursor = db.execute(query.returning(Change.id) if is_postgres() else query)
        if is_postgres():
            ids = [r[0] for r in cursor.fetchall()]
            _note(min(ids), max(ids), keys)
        else:  # one writer at a time: the statement's rows have the rowids up to the last
            last = cursor.lastrowid
            _note(last - len(rows) + 1, last, keys)
        return
    ids = reserve_ids(Change, len(entries))
    now = utcnow()
    columns = ["id", "seq", "entity", "entity_id", "grid_id", "community_id", "department_id"]
    columns += ["user_id", "deleted", "at"]
    rows = [
        (
            ids[i],
            None,
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
    _note(min(ids), max(ids), keys)
