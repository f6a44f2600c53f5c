"""Pull (change-cursor with tombstones, cold snapshot) and push (ordered, idempotent ops).

Cursors are opaque strings. A warm cursor is a change number: changes are numbered in commit
order (gridapp.changes), and the pull reads the counter *before* it reads the log, so every
change ≤ that number has committed and the next cursor never skips a late commit. A cold cursor
``s<snap>:<entity index>:<last key>`` pages through the scope's rows in key order; rows that
change meanwhile come again in the warm pull from ``snap``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from gridapp import sqlcache
from gridapp.accounts import authcache
from gridapp.changes import EVERYONE, EVERYONE_INDEX, Change, ChangeCounter, current_seq
from gridapp.db import db, is_postgres, utcnow
from gridapp.errors import ValidationFailed
from gridapp.org.models import User
from gridapp.scope import Scope
from gridapp.sqlcache import statement
from gridapp.sync import quiet
from gridapp.sync.hooks import ENTITIES, serialize_rows

log = logging.getLogger(__name__)


def scope_epoch(scope: Scope) -> str:
    """Changes when the set of grids (or department/role) a user sees changes."""
    grids = "*" if scope.grid_ids is None else ",".join(map(str, sorted(scope.grid_ids)))
    raw = f"{scope.role}|{grids}|{scope.department_id or ''}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Cursor:
    seq: int  # warm: changes after this; cold: the snapshot's change number
    cold: bool = False
    entity_index: int = 0
    after: str | None = None
    at: int | None = None  # server time (unix s) of the pull: windows are aged from here
    # Warm only: before this time (unix s) nothing in the scope's windows ages out, so "nothing
    # new" may be answered from Redis (gridapp/sync/quiet.py).
    quiet: int | None = None
    # With ``quiet``: the scope's "nothing new" keys, so that the next pull reads them in its
    # session's round trip (``quiet.cursor_riders``); only a guess, checked against the scope.
    hint: str | None = None

    def encode(self) -> str:
        head = f"{self.seq}.{self.at}" if self.at is not None else str(self.seq)
        if not self.cold:
            if self.at is None or not self.quiet:
                return head
            return f"{head}.{self.quiet}.{self.hint}" if self.hint else f"{head}.{self.quiet}"
        return f"s{head}:{self.entity_index}:{self.after or ''}"


MAX_INT64 = 2**63 - 1
MAX_UNIX_S = 253402300799  # 9999-12-31T23:59:59Z: the last second a datetime can hold


def _seq_at(raw: str) -> tuple[int, int | None]:
    seq, _, at = raw.partition(".")
    return int(seq), (int(at) if at else None)


def _warm_cursor(raw: str) -> Cursor:
    parts = raw.split(".")
    if len(parts) > 4 or (len(parts) == 4 and quiet.hint_keys(parts[3]) is None):
        raise ValueError(raw)
    seq, at = int(parts[0]), (int(parts[1]) if len(parts) > 1 else None)
    until = int(parts[2]) if len(parts) > 2 else None
    return Cursor(seq, at=at, quiet=until, hint=parts[3] if len(parts) == 4 else None)


def parse_cursor(raw: str | None) -> Cursor | None:
    """None for a cold start (absent or "0"). A warm cursor is ``<seq>.<unix time>``, with
    ``.<unix time>`` more when nothing in the windows ages out before it (``Cursor.quiet``; a
    device that forges one only delays its own aging until its scope next changes), and then
    ``.<keys>`` (``Cursor.hint``). A bare ``<seq>`` from an older server is still read; it just
    ages nothing out."""
    if raw in (None, "", "0"):
        return None
    try:
        if raw.startswith("s"):
            head, index, after = raw[1:].split(":", 2)
            seq, at = _seq_at(head)
            cur = Cursor(seq, True, int(index), after or None, at)
        else:
            cur = _warm_cursor(raw)
    except ValueError:
        raise ValidationFailed("query.cursor", "malformed cursor") from None
    # Numbers a database column holds (a cursor is read straight into the warm pull's one
    # statement: a 20-digit "seq" must be a 422, not an integer overflow in the driver).
    if not 0 <= cur.seq <= MAX_INT64 or any(
        t is not None and not 0 <= t <= MAX_UNIX_S for t in (cur.at, cur.quiet)
    ):
        raise ValidationFailed("query.cursor", "malformed cursor")
    if cur.cold and not 0 <= cur.entity_index <= MAX_INT64:
        raise ValidationFailed("query.cursor", "malformed cursor")
    return cur


def _now_s() -> int:
    return int(utcnow().replace(tzinfo=dt.UTC).timestamp())


def _from_s(at: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(at, dt.UTC).replace(tzinfo=None)


SYNC_STAMP_EVERY = dt.timedelta(minutes=1)


def _touch(user: User) -> None:
    """Record when the device last synced; at most once a minute, so a warm pull stays a read
    (on SQLite every write waits for the single writer)."""
    now = utcnow()
    if user.last_sync_at and now - user.last_sync_at < SYNC_STAMP_EVERY:
        return
    # One statement, no transaction around it (BEGIN and COMMIT would be two more round trips),
    # built once (``gridapp.sqlcache``: building it cost more than sending it).
    sqlcache.execute(("sync-stamp",), _stamp_query, {"id": user.id, "at": now})
    user.last_sync_at = now
    authcache.note_stamp(user, last_sync_at=now)


def _stamp_query(v: dict[str, Any]):
    return User.update(last_sync_at=v["at"]).where(User.id == v["id"])


def pull(user: User, scope: Scope, cursor: str | None, limit: int, epoch: str | None) -> dict:
    out = pull_page(scope, cursor, limit, epoch)
    if not out["more"]:
        _touch(user)
    return out


def pull_page(scope: Scope, cursor: str | None, limit: int, epoch: str | None) -> dict:
    """One page of a pull from ``cursor``: cold, warm, or "nothing new" from Redis."""
    current_epoch = scope_epoch(scope)
    cur = parse_cursor(cursor)
    if cursor and epoch and epoch != current_epoch:
        # The user's grids changed: the device drops its rows and pulls afresh (outbox kept).
        return _answer(current_epoch, "0", more=True, resync=True)
    if cur is None or cur.cold:
        return _cold(scope, cur, limit, current_epoch)
    missing: list[str] = []
    if cur.at is not None and cur.quiet and _now_s() < cur.quiet:
        unchanged, missing = quiet.nothing_new(scope, cur.seq)
        if unchanged:  # the answer the log would give: the same cursor, nothing in it
            cur = dataclasses.replace(cur, hint=quiet.hint(scope))
            return _answer(current_epoch, cur.encode(), more=False)
    return _warm(scope, cur.seq, limit, current_epoch, cur.at, missing)


def _answer(epoch: str, cursor: str, *, more: bool, resync: bool = False, rows=(), tombs=()):
    return {
        "epoch": epoch,
        "cursor": cursor,
        "more": more,
        "resync": resync,
        "rows": list(rows),
        "tombstones": list(tombs),
    }


def _cold(scope: Scope, cur: Cursor | None, limit: int, epoch: str) -> dict:
    snap = cur.seq if cur else current_seq()
    at = cur.at if cur and cur.at is not None else _now_s()
    index = cur.entity_index if cur else 0
    after = cur.after if cur else None
    names = [n for n, spec in ENTITIES.items() if spec.snapshot is not None]
    rows: list[dict[str, Any]] = []
    while index < len(names) and len(rows) < limit:
        spec = ENTITIES[names[index]]
        want = limit - len(rows)
        batch = spec.snapshot(scope, after, want)
        for data in serialize_rows(spec.name, batch):
            rows.append({"entity": spec.name, "id": str(data["id"]), "data": data})
        if len(batch) < want:
            index, after = index + 1, None
        else:
            after = spec.key(batch[-1])
    if index < len(names):
        return _answer(epoch, Cursor(snap, True, index, after, at).encode(), more=True, rows=rows)
    # Snapshot done; anything that changed since ``snap`` (and anything that aged out of a
    # window since ``at``, the time of the first page) follows as warm pages.
    return _answer(epoch, Cursor(snap, at=at).encode(), more=current_seq() > snap, rows=rows)


GRID_BRANCHES = 16  # up to this many grids, one range each


def visible_changes(scope: Scope) -> list:
    """The change-log conditions for this scope, one per index: my grids, my department, me, and
    the changes everyone sees. The warm pull reads each by its own (column, seq) range: one
    ``OR`` of them let the planner walk every change in the city since the cursor (issue 15)."""
    if scope.grid_ids is None:
        return [True]
    conds = [Change.user_id == scope.user_id]
    if len(scope.grid_ids) <= GRID_BRANCHES:
        # One range per grid: an ``IN`` of two grids cannot come out of the (grid_id, seq)
        # index in seq order, so for its LIMIT the planner walked every change by seq instead.
        conds.extend(Change.grid_id == gid for gid in sorted(scope.grid_ids))
    else:  # a street's supervisor: their grids are much of the log anyway
        conds.append(Change.grid_id.in_(sorted(scope.grid_ids)))
    if scope.department_id:
        conds.append(Change.department_id == scope.department_id)
    conds.append(EVERYONE)
    return conds


def _aged_queries(scope: Scope, lo: dt.datetime, hi: dt.datetime) -> list[tuple[str, Any]]:
    """(entity, query of ids) for rows that left a window (a year of visits, 30 days of closed
    items…) between the device's last pull (``lo``) and this one (``hi``): no change-log row
    marks that, time does."""
    return [
        (spec.name, spec.aged(scope, lo, hi)) for spec in ENTITIES.values() if spec.aged is not None
    ]


def _warm_statement(role: str, aging: bool, horizon: bool):
    """Builds the warm pull's one statement from plain values (so ``gridapp.sqlcache`` can build
    it once per shape): the change counter, the scope's changes after ``after`` up to the
    counter (at most ``limit``, in order), with ``aging`` the ids that aged out, and with
    ``horizon`` one row per entity where something ages out before ``quiet``."""

    def build(v: dict[str, Any]) -> tuple[str, list]:
        scope = Scope(
            v["user_id"],
            role,
            v["grid_ids"],
            v["community_ids"],
            street_id=v["street_id"],
            department_id=v["department_id"],
        )
        counter = ChangeCounter.select(ChangeCounter.value).where(ChangeCounter.id == 1)
        parts, params = [], []

        def add(template: str, query, index: str | None = None) -> None:
            sql, args = query.sql()
            if index:  # SQLite only: with no statistics it picks (user_id, seq) for IS NULL
                table = 'FROM "change" AS "t1"'
                assert sql.count(table) == 1
                sql = sql.replace(table, f'{table} INDEXED BY "{index}"')
            parts.append(template.format(sql))
            params.extend(args)

        add("SELECT 0, value, NULL, NULL, NULL FROM ({}) AS q0", counter)
        # Each visible range in order, at most ``limit`` rows each: the first ``limit`` of their
        # union (a change seen through two ranges comes twice) are the page.
        for i, cond in enumerate(visible_changes(scope)):
            changes = (
                Change.select(Change.seq, Change.entity, Change.entity_id, Change.deleted)
                .where((Change.seq > v["after"]) & (Change.seq <= counter) & cond)
                .order_by(Change.seq)
                .limit(v["limit"])
            )
            index = EVERYONE_INDEX if cond is EVERYONE and not is_postgres() else None
            add(f"SELECT 1, seq, entity, entity_id, deleted FROM ({{}}) AS q{i}", changes, index)
        if aging:
            for i, (name, query) in enumerate(_aged_queries(scope, v["lo"], v["hi"])):
                assert name.isidentifier()  # an entity name from code, written into the SQL
                add(
                    f"SELECT 2, NULL, '{name}', CAST(a{i}.id AS TEXT), NULL FROM ({{}}) AS a{i}",
                    query,
                )
        if horizon:
            for i, (name, query) in enumerate(_aged_queries(scope, v["hi"], v["quiet"])):
                add(f"SELECT 3, NULL, '{name}', NULL, NULL FROM ({{}}) AS h{i}", query.limit(1))
        return " UNION ALL ".join(parts), params

    return build


def _warm_read(
    scope: Scope, after: int, limit: int, since: int | None, until: int, horizon: int | None
) -> tuple[int, list[tuple[int, str, str, bool]], list[dict[str, str]], bool]:
    """The change counter, the scope's changes after ``after`` (up to the counter, at most
    ``limit``, in order) and the aged ids, in ONE statement (a round trip each was most of a
    warm pull's time under load). One statement reads one snapshot, so every change up to the
    counter it returns has committed: the guarantee that reading the counter first gave."""
    aging = since is not None and since < until
    values = {
        "quiet": _from_s(horizon) if horizon else None,
        "after": after,
        "limit": limit,
        "user_id": scope.user_id,
        "grid_ids": scope.grid_ids,
        "community_ids": scope.community_ids,
        "street_id": scope.street_id,
        "department_id": scope.department_id,
        "lo": _from_s(since) if aging else None,
        "hi": _from_s(until) if aging or horizon else None,
    }
    key = (
        "warm",
        scope.role,
        aging,
        bool(horizon),
        *(None if v is None else len(v) for v in (scope.grid_ids, scope.community_ids)),
        scope.street_id is None,
        scope.department_id is None,
    )
    sql, params = statement(key, _warm_statement(scope.role, aging, bool(horizon)), values)
    snap = 0
    found: dict[int, tuple[int, str, str, bool]] = {}
    aged: list[dict[str, str]] = []
    soon = False
    for kind, seq, entity, entity_id, deleted in db.execute_sql(sql, params).fetchall():
        if kind == 0:
            snap = seq
        elif kind == 1:
            found[seq] = (seq, entity, entity_id, bool(deleted))
        elif kind == 2:
            aged.append({"entity": entity, "id": entity_id})
        else:
            soon = True
    return snap, sorted(found.values())[:limit], aged, soon


def _warm(
    scope: Scope,
    after: int,
    limit: int,
    epoch: str,
    at: int | None = None,
    missing: list[str] | None = None,
) -> dict:
    now = _now_s()
    horizon = now + quiet.HORIZON if quiet.active() else None
    snap, changes, aged, soon = _warm_read(scope, after, limit, at, now, horizon)
    # Keys found absent: none of their changes lies in (after, snap] if none was found, so
    # ``after`` bounds them; otherwise the counter does.
    quiet.fill(missing or [], snap if changes else min(after, snap))
    until = None if soon else horizon  # what the next pull may answer from Redis, and until when
    if after >= snap:
        return _answer(
            epoch,
            Cursor(
                after, at=now if aged or at is None else at, quiet=until, hint=quiet.hint(scope)
            ).encode(),
            more=False,
            tombs=aged,
        )
    full = len(changes) >= limit
    next_cursor = changes[-1][0] if full else snap
    latest: dict[tuple[str, str], bool] = {}
    for _seq, entity, entity_id, deleted in changes:
        if entity in ENTITIES:
            latest.pop((entity, entity_id), None)
            latest[(entity, entity_id)] = deleted
    # Aging first: a row that changed meanwhile comes below as a row (or tombstone) anyway.
    for t in [] if full else aged:
        latest.setdefault((t["entity"], t["id"]), True)
    by_entity: dict[str, list[str]] = {}
    for (entity, entity_id), deleted in latest.items():
        if not deleted:
            by_entity.setdefault(entity, []).append(entity_id)
    rows, seen = [], set()
    for entity, ids in by_entity.items():
        spec = ENTITIES[entity]
        for data in serialize_rows(entity, spec.load(ids, scope)):
            seen.add((entity, str(data["id"])))
            rows.append({"entity": entity, "id": str(data["id"]), "data": data})
    tombs = [{"entity": e, "id": i} for (e, i) in latest if (e, i) not in seen]
    cursor = Cursor(
        next_cursor,
        at=at if full else now,
        quiet=None if full else until,
        hint=quiet.hint(scope),
    )
    return _answer(epoch, cursor.encode(), more=full, rows=rows, tombs=tombs)
