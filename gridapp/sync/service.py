"""Pull (change-cursor with tombstones, cold snapshot) and push (ordered, idempotent ops).

Cursors are opaque strings. A warm cursor is a change number: changes are numbered in commit
order (gridapp.changes), and the pull reads the counter *before* it reads the log, so every
change ≤ that number has committed and the next cursor never skips a late commit. A cold cursor
``s<snap>:<entity index>:<last key>`` pages through the scope's rows in key order; rows that
change meanwhile come again in the warm pull from ``snap``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from peewee import IntegrityError, OperationalError
from pydantic import ValidationError

from gridapp.accounts import authcache
from gridapp.changes import Change, ChangeCounter, current_seq
from gridapp.db import db, utcnow
from gridapp.errors import Conflict, Problem, ValidationFailed, pydantic_problem
from gridapp.org.models import User
from gridapp.scope import Scope
from gridapp.sqlcache import statement
from gridapp.sync.hooks import CREATES, ENTITIES, OPS, OpContext, Retryable, serialize_rows
from gridapp.sync.models import SyncOp
from gridapp.times import json_default

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

    def encode(self) -> str:
        head = f"{self.seq}.{self.at}" if self.at is not None else str(self.seq)
        if not self.cold:
            return head
        return f"s{head}:{self.entity_index}:{self.after or ''}"


MAX_INT64 = 2**63 - 1
MAX_UNIX_S = 253402300799  # 9999-12-31T23:59:59Z: the last second a datetime can hold


def _seq_at(raw: str) -> tuple[int, int | None]:
    seq, _, at = raw.partition(".")
    return int(seq), (int(at) if at else None)


def parse_cursor(raw: str | None) -> Cursor | None:
    """None for a cold start (absent or "0"). A warm cursor is ``<seq>.<unix time>`` (a bare
    ``<seq>`` from an older server is still read; it just ages nothing out)."""
    if raw in (None, "", "0"):
        return None
    try:
        if raw.startswith("s"):
            head, index, after = raw[1:].split(":", 2)
            seq, at = _seq_at(head)
            cur = Cursor(seq, True, int(index), after or None, at)
        else:
            seq, at = _seq_at(raw)
            cur = Cursor(seq, at=at)
    except ValueError:
        raise ValidationFailed("query.cursor", "malformed cursor") from None
    # Numbers a database column holds (a cursor is read straight into the warm pull's one
    # statement: a 20-digit "seq" must be a 422, not an integer overflow in the driver).
    if not 0 <= cur.seq <= MAX_INT64 or (cur.at is not None and not 0 <= cur.at <= MAX_UNIX_S):
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
    # One statement, no transaction around it (BEGIN and COMMIT would be two more round trips).
    User.update(last_sync_at=now).where(User.id == user.id).execute()
    user.last_sync_at = now
    authcache.note_stamp(user, last_sync_at=now)


def pull(user: User, scope: Scope, cursor: str | None, limit: int, epoch: str | None) -> dict:
    current_epoch = scope_epoch(scope)
    cur = parse_cursor(cursor)
    if cursor and epoch and epoch != current_epoch:
        # The user's grids changed: the device drops its rows and pulls afresh (outbox kept).
        return _answer(current_epoch, "0", more=True, resync=True)
    if cur is None or cur.cold:
        out = _cold(scope, cur, limit, current_epoch)
    else:
        out = _warm(scope, cur.seq, limit, current_epoch, cur.at)
    if not out["more"]:
        _touch(user)
    return out


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


def visible_changes(scope: Scope):
    """The change-log condition for this scope: my grids, my department, me, or global."""
    if scope.grid_ids is None:
        return True
    cond = Change.user_id == scope.user_id
    if scope.grid_ids:
        cond |= Change.grid_id.in_(sorted(scope.grid_ids))
    if scope.department_id:
        cond |= Change.department_id == scope.department_id
    cond |= (
        Change.grid_id.is_null()
        & Change.community_id.is_null()
        & Change.department_id.is_null()
        & Change.user_id.is_null()
    )
    return cond


def _aged_queries(scope: Scope, lo: dt.datetime, hi: dt.datetime) -> list[tuple[str, Any]]:
    """(entity, query of ids) for rows that left a window (a year of visits, 30 days of closed
    items…) between the device's last pull (``lo``) and this one (``hi``): no change-log row
    marks that, time does."""
    return [
        (spec.name, spec.aged(scope, lo, hi)) for spec in ENTITIES.values() if spec.aged is not None
    ]


def _warm_statement(role: str, aging: bool):
    """Builds the warm pull's one statement from plain values (so ``gridapp.sqlcache`` can build
    it once per shape): the change counter, the scope's changes after ``after`` up to the
    counter (at most ``limit``, in order), and, with ``aging``, the ids that aged out."""

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
        changes = (
            Change.select(Change.seq, Change.entity, Change.entity_id, Change.deleted)
            .where((Change.seq > v["after"]) & (Change.seq <= counter) & visible_changes(scope))
            .order_by(Change.seq)
            .limit(v["limit"])
        )
        parts, params = [], []

        def add(template: str, query) -> None:
            sql, args = query.sql()
            parts.append(template.format(sql))
            params.extend(args)

        add("SELECT 0, value, NULL, NULL, NULL FROM ({}) AS q0", counter)
        add("SELECT 1, seq, entity, entity_id, deleted FROM ({}) AS q1", changes)
        if aging:
            for i, (name, query) in enumerate(_aged_queries(scope, v["lo"], v["hi"])):
                assert name.isidentifier()  # an entity name from code, written into the SQL
                add(
                    f"SELECT 2, NULL, '{name}', CAST(a{i}.id AS TEXT), NULL FROM ({{}}) AS a{i}",
                    query,
                )
        return " UNION ALL ".join(parts), params

    return build


def _warm_read(
    scope: Scope, after: int, limit: int, since: int | None, until: int
) -> tuple[int, list[tuple[int, str, str, bool]], list[dict[str, str]]]:
    """The change counter, the scope's changes after ``after`` (up to the counter, at most
    ``limit``, in order) and the aged ids, in ONE statement (a round trip each was most of a
    warm pull's time under load). One statement reads one snapshot, so every change up to the
    counter it returns has committed: the guarantee that reading the counter first gave."""
    aging = since is not None and since < until
    values = {
        "after": after,
        "limit": limit,
        "user_id": scope.user_id,
        "grid_ids": scope.grid_ids,
        "community_ids": scope.community_ids,
        "street_id": scope.street_id,
        "department_id": scope.department_id,
        "lo": _from_s(since) if aging else None,
        "hi": _from_s(until) if aging else None,
    }
    key = (
        "warm",
        scope.role,
        aging,
        *(None if v is None else len(v) for v in (scope.grid_ids, scope.community_ids)),
        scope.street_id is None,
        scope.department_id is None,
    )
    sql, params = statement(key, _warm_statement(scope.role, aging), values)
    snap = 0
    rows: list[tuple[int, str, str, bool]] = []
    aged: list[dict[str, str]] = []
    for kind, seq, entity, entity_id, deleted in db.execute_sql(sql, params).fetchall():
        if kind == 0:
            snap = seq
        elif kind == 1:
            rows.append((seq, entity, entity_id, bool(deleted)))
        else:
            aged.append({"entity": entity, "id": entity_id})
    rows.sort()
    return snap, rows, aged


def _warm(scope: Scope, after: int, limit: int, epoch: str, at: int | None = None) -> dict:
    now = _now_s()
    snap, changes, aged = _warm_read(scope, after, limit, at, now)
    if after >= snap:
        return _answer(
            epoch,
            Cursor(after, at=now if aged or at is None else at).encode(),
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
    cursor = Cursor(next_cursor, at=at if full else now)
    return _answer(epoch, cursor.encode(), more=full, rows=rows, tombs=tombs)


# ---- push ---------------------------------------------------------------------------------

TRANSIENT_ATTEMPTS = 4


def push(user: User, scope: Scope, ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Apply ``ops`` in order; one answer per op.

    The batch is one transaction and each op a savepoint in it: an op that fails rolls back
    alone, as before, while the batch pays one commit and one numbering of its change rows
    (the change counter's lock, every writer's last) instead of one per op — the counter row
    was where a morning's pushes queued. Nothing is answered before the commit; if the commit
    fails the request fails and the app sends the batch again (ops are idempotent). If even
    the transaction cannot begin (a locked SQLite), each op tries on its own as before."""
    ctx = OpContext(user=user, scope=scope)
    batch = db.atomic()
    try:
        batch.__enter__()
    except OperationalError:
        batch = None
    try:
        results = [apply_op(ctx, op) for op in ops]
        _touch(user)
    except BaseException as exc:
        if batch is not None:
            batch.__exit__(type(exc), exc, exc.__traceback__)
        raise
    if batch is not None:
        batch.__exit__(None, None, None)
    return results


def current_row(scope: Scope, entity: str | None, row_id: str | None) -> dict[str, Any] | None:
    """The row as a pull would send it now (None if out of scope or gone: the pull carries the
    tombstone). A ``duplicate`` answer carries this, never the row as it was at first apply,
    so a replay cannot roll the phone back (issue 15 item 3)."""
    spec = ENTITIES.get(entity or "")
    if spec is None or row_id is None:
        return None
    found = serialize_rows(entity, spec.load([str(row_id)], scope))
    return found[0] if found else None


def _stored(ctx: OpContext, op_id: str) -> dict[str, Any] | None:
    row = SyncOp.get_or_none((SyncOp.user == ctx.user.id) & (SyncOp.op_id == op_id))
    if row is None or row.status == "pending":
        return None
    first = json.loads(row.result)
    answer = {**first, "status": "duplicate", "first_status": first["status"]}
    if first["status"] == "applied":
        answer["row"] = current_row(ctx.scope, first.get("entity"), first.get("id"))
    return answer


class _Claimed(Exception):
    """The op's row exists but its answer could not be read yet: try again."""


def _claim(ctx: OpContext, op: dict[str, Any]) -> bool:
    """The op's first write: its (user, op_id) row; False if the row is there already (the op
    was seen before: answer from it). A concurrent request with the same op waits on this
    unique key until the first commits, then finds it (issue 15 item 5d). Doing this instead of
    reading first saves a round trip per new op."""
    inserted = (
        SyncOp.insert(
            user=ctx.user.id, op_id=op["op_id"], type=op["type"], status="pending", result="{}"
        )
        .on_conflict_ignore()
        .as_rowcount()
        .execute()
    )
    return bool(inserted)


def _finish(ctx: OpContext, op_id: str, answer: dict[str, Any]) -> None:
    entity, client_id, server_id = ctx.new_client_ref or ("", "", "")
    SyncOp.update(
        status=answer["status"],
        entity=entity,
        client_id=client_id,
        server_id=server_id,
        result=json.dumps(answer, ensure_ascii=False, default=json_default),
    ).where((SyncOp.user == ctx.user.id) & (SyncOp.op_id == op_id)).execute()


def _store_rejection(ctx: OpContext, op: dict[str, Any], answer: dict[str, Any]) -> dict:
    """Only permanent causes get here. A rejected create keeps its client id, so ops naming it
    are rejected too instead of waiting for it forever."""
    payload = op.get("payload") or {}
    entity = CREATES.get(op["type"], "")
    client_id = payload.get("client_id") if entity else ""
    client_id = client_id if isinstance(client_id, str) and len(client_id) <= 64 else ""
    try:
        with db.atomic():
            SyncOp.create(
                user=ctx.user.id,
                op_id=op["op_id"],
                type=op["type"],
                status="rejected",
                entity=entity if client_id else "",
                client_id=client_id,
                result=json.dumps(answer, ensure_ascii=False, default=json_default),
            )
    except IntegrityError:
        return _stored(ctx, op["op_id"]) or answer
    return answer


def apply_op(ctx: OpContext, op: dict[str, Any]) -> dict[str, Any]:
    """One op, exactly once. Transient failures (a concurrent request with the same op or
    record, a deadlock, a serialization failure, a locked SQLite) are retried here and, if they
    persist, answered ``retry``: never stored, so the app's next attempt can still apply it."""
    op_id = op["op_id"]
    handler = OPS.get(op["type"])
    for attempt in range(TRANSIENT_ATTEMPTS):
        if handler is None:
            previous = _stored(ctx, op_id)
            if previous is not None:
                return previous
            # Not stored: a server that learns the type later can still apply a retry.
            return _rejected(op_id, Problem(f"unknown operation {op['type']}", code="unknown_op"))
        ctx.new_client_ref = None
        try:
            with db.atomic():
                if not _claim(ctx, op):  # seen before (nothing written here)
                    previous = _stored(ctx, op_id)
                    if previous is None:
                        raise _Claimed(op_id)
                    return previous
                entity, row = handler(ctx, op.get("payload") or {}, op.get("base_version"))
                data = serialize_rows(entity, [row])[0] if row is not None else None
                answer = {
                    "op_id": op_id,
                    "status": "applied",
                    "entity": entity,
                    "id": str(data["id"]) if data else None,
                    "row": data,
                }
                _finish(ctx, op_id, answer)
            return answer
        except (IntegrityError, OperationalError, _Claimed) as exc:
            _forget(ctx)
            log.info("sync op %s: transient %s, attempt %d", op_id, type(exc).__name__, attempt)
            time.sleep(0.02 * (attempt + 1) * (1 + random.random()))
            continue
        except Retryable as exc:
            _forget(ctx)
            return {"op_id": op_id, "status": "retry", "problem": exc.to_dict()}
        except Conflict as exc:
            _forget(ctx)
            previous = _stored(ctx, op_id)  # the same op committed meanwhile
            if previous is not None:
                return previous
            body = exc.to_dict()
            current = body.pop("current", None)
            return {"op_id": op_id, "status": "conflict", "current": current, "problem": body}
        except (Problem, ValidationError) as exc:
            _forget(ctx)
            problem = pydantic_problem(exc) if isinstance(exc, ValidationError) else exc
            return _store_rejection(ctx, op, _rejected(op_id, problem))
        except Exception:
            # A bug must not sink the batch or be remembered: later ops still run, and a retry
            # after the fix applies this one.
            log.exception("sync op %s (%s) failed", op_id, op["type"])
            _forget(ctx)
            return _rejected(op_id, Problem("server error", status=500, code="server_error"))
    previous = _stored(ctx, op_id)
    if previous is not None:
        return previous
    problem = Problem("busy, try again", status=503, code="retry")
    return {"op_id": op_id, "status": "retry", "problem": problem.to_dict()}


def _forget(ctx: OpContext) -> None:
    """A rolled-back op created nothing: drop the client id it registered."""
    if ctx.new_client_ref:
        ctx.created.pop(ctx.new_client_ref[:2], None)
        ctx.new_client_ref = None


def _rejected(op_id: str, problem: Problem) -> dict[str, Any]:
    return {"op_id": op_id, "status": "rejected", "problem": problem.to_dict()}
