"""Where features plug into sync: entities the device mirrors, and operations it may push.

``register_entity("household", serializer, loader, snapshot=...)``: ``loader(ids, scope)`` returns
the rows among ``ids`` that the scope may see (anything missing becomes a tombstone);
``snapshot(scope, after, limit)`` returns the scope's rows with key > ``after`` in key order (the
cold pull pages through it); ``serializer(row)`` gives the device's JSON (personal numbers masked).

``register_op("visit.create", handler)``: ``handler(ctx, payload, base_version)`` runs inside the
op's own transaction and returns ``(entity, row)``; it raises ``Conflict(current=...)`` for a
stale ``base_version`` and other ``Problem``s to reject.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from peewee import Model

from gridapp.errors import Problem, ValidationFailed
from gridapp.org.models import User
from gridapp.scope import Scope


@dataclass(frozen=True)
class EntitySpec:
    name: str
    serialize: Callable[[Any], dict[str, Any]]
    load: Callable[[list[str], Scope], list[Any]]
    snapshot: Callable[[Scope, str | None, int], list[Any]] | None = None
    key: Callable[[Any], str] = lambda row: str(row.id)
    # Batch preparation before serialising (e.g. fetch residents' tags in one query).
    prepare: Callable[[list[Any]], None] | None = None
    # The serializer takes plain dicts keyed by field name (``Model.__data__`` or ``.dicts()``
    # rows): building a model object per row was most of a cold pull's time.
    dict_rows: bool = False
    # For an entity mirrored within a time window (visits of the last year, closed tasks of the
    # last 30 days…): ``aged(scope, since, until)`` gives a query selecting only the ids of rows
    # in the scope that left the window between the two times, so a warm pull tombstones them
    # (the cold pull, loader and this must apply one window rule). A query, not a list: the warm
    # pull sends every entity's in one statement with the change-log read.
    aged: Callable[[Scope, Any, Any], Any] | None = None


ENTITIES: dict[str, EntitySpec] = {}
OPS: dict[str, Callable[..., tuple[str, Any]]] = {}
# Ops that create a record under ``payload.client_id``: entity name (a rejected create is
# remembered, so an op naming ``c:<client id>`` is rejected for good instead of retried).
CREATES: dict[str, str] = {}


class Retryable(Problem):
    """A cause that a later retry can remove (e.g. a ``c:`` reference whose create has not
    arrived yet): answered ``retry``, never stored as the op's final answer."""


def register_entity(
    name: str,
    serializer: Callable[[Any], dict[str, Any]],
    loader: Callable[[list[str], Scope], list[Any]],
    *,
    snapshot: Callable[[Scope, str | None, int], list[Any]] | None = None,
    key: Callable[[Any], str] | None = None,
    prepare: Callable[[list[Any]], None] | None = None,
    dict_rows: bool = False,
    aged: Callable[[Scope, Any, Any], Any] | None = None,
) -> None:
    default_key = (lambda row: str(row["id"])) if dict_rows else (lambda row: str(row.id))
    ENTITIES[name] = EntitySpec(
        name, serializer, loader, snapshot, key or default_key, prepare, dict_rows, aged
    )


def register_op(
    type_: str, handler: Callable[..., tuple[str, Any]], *, creates: str | None = None
) -> None:
    OPS[type_] = handler
    if creates:
        CREATES[type_] = creates


def as_dict(row: Model) -> dict[str, Any]:
    """A model row as the plain dict a ``dict_rows`` serializer takes (foreign keys as ids)."""
    return {name: row.__data__.get(name) for name in row._meta.fields}


def serialize_rows(entity: str, rows: list[Any]) -> list[dict[str, Any]]:
    spec = ENTITIES[entity]
    if spec.dict_rows:
        rows = [as_dict(r) if isinstance(r, Model) else r for r in rows]
    if spec.prepare and rows:
        spec.prepare(rows)
    return [spec.serialize(r) for r in rows]


@dataclass
class OpContext:
    """What a handler needs: the acting user, their scope, and client-id → server-id mapping."""

    user: User
    scope: Scope
    created: dict[tuple[str, str], str] = field(default_factory=dict)
    # Set by a handler that created a record under a client id (stored with the op's result).
    new_client_ref: tuple[str, str, str] | None = None

    def remember(self, entity: str, client_id: str, server_id: Any) -> None:
        self.created[(entity, client_id)] = str(server_id)
        self.new_client_ref = (entity, client_id, str(server_id))

    def resolve(self, entity: str, ref: Any, field_name: str) -> str:
        """A record reference: a server id, or ``"c:<client_id>"`` for one created offline."""
        if isinstance(ref, str) and ref.startswith("c:"):
            client_id = ref[2:]
            if (entity, client_id) in self.created:
                return self.created[(entity, client_id)]
            from gridapp.sync.models import SyncOp

            rows = list(
                SyncOp.select(SyncOp.server_id).where(
                    (SyncOp.user == self.user.id)
                    & (SyncOp.entity == entity)
                    & (SyncOp.client_id == client_id)
                )
            )
            applied = [r.server_id for r in rows if r.server_id]
            if applied:
                self.created[(entity, client_id)] = applied[0]
                return applied[0]
            if rows:  # its create was rejected for good: so is this op
                raise ValidationFailed(field_name, f"the {entity} {client_id} was rejected")
            # Not arrived yet (the outbox's per-op backoff can reorder): retry later.
            raise Retryable(
                f"unknown client id {client_id}",
                status=409,
                code="unknown_client_id",
                field=field_name,
            )
        if ref is None or ref == "":
            raise ValidationFailed(field_name, "missing reference")
        return str(ref)
