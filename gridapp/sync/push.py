"""Push: ops applied in order, each exactly once, one transaction per batch.

Split from ``service`` (the pull): the batch's savepoints, the op claims and their stored
answers are this module's decisions.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

from peewee import IntegrityError, OperationalError
from pydantic import ValidationError

from gridapp import sqlcache
from gridapp.db import db, utcnow
from gridapp.errors import Conflict, Problem, pydantic_problem
from gridapp.org.models import User
from gridapp.scope import Scope
from gridapp.sync.hooks import CREATES, ENTITIES, OPS, OpContext, Retryable, serialize_rows
from gridapp.sync.models import SyncOp
from gridapp.sync.service import _touch
from gridapp.times import json_default

log = logging.getLogger(__name__)

TRANSIENT_ATTEMPTS = 4


def push(user: User, scope: Scope, ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Apply ``ops`` in order; one answer per op.

    The batch is one transaction: one commit and one numbering of its change rows (the change
    counter's lock, every writer's last) instead of one per op — the counter row was where a
    morning's pushes queued. Most batches apply whole, so they are first tried without a
    savepoint per op (two statements an op: a fifth of a visit's). If any op does not apply
    cleanly, that attempt is rolled back, having changed nothing, and the batch runs again with
    each op in a savepoint: an op that fails rolls back alone, as before. Nothing is answered
    before the commit; if the commit fails the request fails and the app sends the batch again
    (ops are idempotent). If even the transaction cannot begin (a locked SQLite), each op tries
    on its own as before."""
    answers = _push_whole(user, scope, ops)
    if answers is not None:
        return answers
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


class _NotWhole(Exception):
    """An op of the batch needs its own savepoint (unknown type, or its claim is held)."""


def _push_whole(user: User, scope: Scope, ops: list[dict[str, Any]]) -> list | None:
    """The batch in one transaction without savepoints, or None (rolled back, nothing written:
    run it op by op). Any failure of any op ends this attempt, including ones the op-by-op run
    answers (a conflict, a rejection): they are rare, and there each gets its answer."""
    ctx = OpContext(user=user, scope=scope)
    try:
        with db.atomic():
            if any(op["type"] not in OPS for op in ops):
                raise _NotWhole("unknown op")
            batch = _Batch(_claim_all(ctx, ops))
            answers = []
            for op in ops:
                ctx.new_client_ref = None
                answers.append(_apply_once(ctx, op, OPS[op["type"]], batch))
            _finish_all(ctx, batch.finished)
            _touch(user)
    except Exception as exc:  # rolled back: the op-by-op run decides every answer
        log.debug("sync push: whole batch not applied (%s); op by op", type(exc).__name__)
        return None
    return answers


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
    values = {"user": ctx.user.id, "op_id": op["op_id"], "type": op["type"], "at": utcnow()}
    cursor = sqlcache.execute(("sync-op-claim",), _claim_query, values)
    return bool(cursor.rowcount)


def _claim_query(v: dict[str, Any]):
    return (
        SyncOp.insert(
            user=v["user"],
            op_id=v["op_id"],
            type=v["type"],
            status="pending",
            result="{}",
            created_at=v["at"],
        )
        .on_conflict_ignore()
        .as_rowcount()
    )


CLAIMS_CACHED = 50  # batch sizes whose claim statement is kept (the app sends up to 50 ops)


@dataclass
class _Batch:
    """A whole batch's claims (the op ids this request inserted) and the answers to store."""

    claimed: set[str]
    finished: list[tuple[str, tuple[str, str, str] | None, dict[str, Any]]] = field(
        default_factory=list
    )


def _claim_all(ctx: OpContext, ops: list[dict[str, Any]]) -> set[str]:
    """``_claim`` for every op of a whole batch in one statement (two round trips an op were a
    fifth of a visit's): the op ids it inserted. An op already there (a replay, or a concurrent
    request's, waited for on the unique key) is not among them and is answered from its row."""
    if not ops:
        return set()
    values: dict[str, Any] = {"user": ctx.user.id, "at": utcnow()}
    for i, op in enumerate(ops):
        values[f"op_id_{i}"], values[f"type_{i}"] = op["op_id"], op["type"]
    n = len(ops)
    if n <= CLAIMS_CACHED:  # built once per batch size (gridapp/sqlcache.py)
        cursor = sqlcache.execute(("sync-op-claims", n), lambda v: _claims_query(v, n), values)
    else:
        cursor = db.execute(_claims_query(values, n))
    return {op_id for (op_id,) in cursor.fetchall()}


def _claims_query(v: dict[str, Any], n: int):
    rows = [
        {
            "user": v["user"],
            "op_id": v[f"op_id_{i}"],
            "type": v[f"type_{i}"],
            "status": "pending",
            "result": "{}",
            "created_at": v["at"],
        }
        for i in range(n)
    ]
    return SyncOp.insert_many(rows).on_conflict_ignore().returning(SyncOp.op_id)


def _stored_json(answer: dict[str, Any]) -> str:
    """An answer as its ``sync_op`` row keeps it, to be given again to a replay."""
    return json.dumps(answer, ensure_ascii=False, default=json_default)


def _finish_all(
    ctx: OpContext, finished: list[tuple[str, tuple[str, str, str] | None, dict[str, Any]]]
) -> None:
    """``_finish`` for every applied op of a whole batch in one UPDATE (SQLite 3.33+ and
    PostgreSQL both take ``UPDATE … FROM``). Written out: peewee's ``VALUES`` list names its
    columns as ``AS v(a, b)``, which SQLite does not take."""
    if not finished:
        return
    p = db.obj.param
    one = ", ".join(
        f"{p} AS {name}" for name in ("op_id", "status", "entity", "client_id", "server_id")
    )
    values = " UNION ALL ".join([f"SELECT {one}, {p} AS result"] * len(finished))
    sql = (
        'UPDATE "sync_op" SET "status" = v.status, "entity" = v.entity, '
        '"client_id" = v.client_id, "server_id" = v.server_id, "result" = v.result '
        f'FROM ({values}) AS v WHERE "sync_op"."user_id" = {p} AND "sync_op"."op_id" = v.op_id'
    )
    params: list[Any] = []
    for op_id, ref, answer in finished:
        entity, client_id, server_id = ref or ("", "", "")
        params += [op_id, answer["status"], entity, client_id, str(server_id), _stored_json(answer)]
    cursor = db.execute_sql(sql, [*params, ctx.user.id])
    if cursor.rowcount != len(finished):  # each was claimed by this transaction
        raise IntegrityError(f"sync_op answers stored {cursor.rowcount} of {len(finished)}")


def _finish(ctx: OpContext, op_id: str, answer: dict[str, Any]) -> None:
    entity, client_id, server_id = ctx.new_client_ref or ("", "", "")
    values = {
        "status": answer["status"],
        "entity": entity,
        "client_id": client_id,
        "server_id": str(server_id),
        "result": _stored_json(answer),
        "user": ctx.user.id,
        "op_id": op_id,
    }
    sqlcache.execute(("sync-op-finish",), _finish_query, values)


def _finish_query(v: dict[str, Any]):
    return SyncOp.update(
        status=v["status"],
        entity=v["entity"],
        client_id=v["client_id"],
        server_id=v["server_id"],
        result=v["result"],
    ).where((SyncOp.user == v["user"]) & (SyncOp.op_id == v["op_id"]))


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
                result=_stored_json(answer),
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
                answer = _apply_once(ctx, op, handler)
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


def _apply_once(
    ctx: OpContext, op: dict[str, Any], handler: Any, batch: _Batch | None = None
) -> dict[str, Any]:
    """The op's writes and its answer, inside the caller's transaction or savepoint (with
    ``batch``, a whole batch's: claimed and answered for all ops at once)."""
    op_id = op["op_id"]
    if batch is not None:
        claimed = op_id in batch.claimed
        batch.claimed.discard(op_id)  # the same op twice in a batch: the second is a replay
    else:
        claimed = _claim(ctx, op)
    if not claimed:  # seen before (nothing written here)
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
    if batch is not None:
        batch.finished.append((op_id, ctx.new_client_ref, answer))
    else:
        _finish(ctx, op_id, answer)
    return answer


def _forget(ctx: OpContext) -> None:
    """A rolled-back op created nothing: drop the client id it registered."""
    if ctx.new_client_ref:
        ctx.created.pop(ctx.new_client_ref[:2], None)
        ctx.new_client_ref = None


def _rejected(op_id: str, problem: Problem) -> dict[str, Any]:
    return {"op_id": op_id, "status": "rejected", "problem": problem.to_dict()}
