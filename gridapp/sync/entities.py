"""The registry's and inbox's entities and operations, plugged into sync.

Features that land later register theirs the same way (see ``hooks``); the registry handlers
here edit through an optimistic ``version`` check, so a stale edit is a conflict with the
server's row, never a silent overwrite.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gridapp.api import check_ranges
from gridapp.db import in_ids, utcnow
from gridapp.errors import Conflict, ValidationFailed
from gridapp.masking import mask_id_number, mask_phone
from gridapp.notifications.models import Notification
from gridapp.notifications.service import mark_read
from gridapp.org.models import Grid
from gridapp.registry import service as registry
from gridapp.registry.models import Building, CareTag, Household, Resident, ResidentTag
from gridapp.scope import Scope, in_scope
from gridapp.sqlcache import fetch
from gridapp.sync.hooks import OpContext, as_dict, register_entity, register_op
from gridapp.times import iso_utc

INBOX_DAYS = 60


iso = iso_utc  # every datetime a device gets: UTC with ``Z`` (gridapp.times)


def int_ids(ids: list[str]) -> list[int]:
    return [int(i) for i in ids if str(i).isdigit()]


def after_int(after: str | None) -> int:
    return int(after) if after else 0


# ---- serializers (phones and ID numbers masked) ---------------------------------------------


def grid_out(g: Grid) -> dict[str, Any]:
    return {"id": g.id, "name": g.name, "community_id": g.community_id}


def building_out(b: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": b["id"],
        "grid_id": b["grid"],
        "name": b["name"],
        "address": b["address"],
        "version": b["version"],
    }


def household_out(h: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": h["id"],
        "grid_id": h["grid"],
        "building_id": h["building"],
        "unit": h["unit"],
        "room": h["room"],
        "address": h["address"],
        "phone": mask_phone(h["phone"]),
        "notes": h["notes"],
        "last_visit_at": iso(h["last_visit_at"]),
        "next_visit_due": iso(h["next_visit_due"]),
        "visit_interval_days": h["visit_interval_days"],
        "version": h["version"],
    }


def attach_tags(residents: list[dict[str, Any]]) -> None:
    tags: dict[int, list[str]] = {r["id"]: [] for r in residents}
    query = (
        ResidentTag.select(ResidentTag.resident, CareTag.code)
        .join(CareTag)
        .where(in_ids(ResidentTag.resident, tags))
        .tuples()
    )
    for rid, code in query:
        tags[rid].append(code)
    for r in residents:
        r["_tags"] = sorted(tags[r["id"]])


def resident_out(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": r["id"],
        "grid_id": r["grid"],
        "household_id": r["household"],
        "name": r["name"],
        "name_pinyin": r["name_pinyin"],
        "name_initials": r["name_initials"],
        "gender": r["gender"],
        "birth_year": r["birth_year"],
        "phone": mask_phone(r["phone"]),
        "phone_tail": r["phone_tail"],
        "id_number": mask_id_number(r["id_number"]),
        "relation": r["relation"],
        "notes": r["notes"],
        "tags": r.get("_tags", []),
        "version": r["version"],
    }


def care_tag_out(t: CareTag) -> dict[str, Any]:
    return {"id": t.id, "code": t.code, "name": t.name, "interval_days": t.interval_days}


def notification_out(n: Notification) -> dict[str, Any]:
    return {
        "id": n.id,
        "type": n.type,
        "title": n.title,
        "body": n.body,
        "link": n.link,
        "urgent": n.urgent,
        "created_at": iso(n.created_at),
        "read_at": iso(n.read_at),
    }


# ---- loaders and snapshots ------------------------------------------------------------------


def grid_scoped(model: Any, *, soft_delete: bool = True):
    """(loader, snapshot) for a table with a ``grid`` column, read through the scope. Rows come
    as dicts of the columns the device needs (timestamps it does not show are not parsed)."""
    skip = {"created_at", "updated_at", "deleted"}
    columns = [f for f in model._meta.sorted_fields if f.name not in skip]

    def base(scope: Scope):
        q = in_scope(model.select(*columns), model.grid, scope)
        return q.where(model.deleted == False) if soft_delete else q  # noqa: E712

    def load(ids: list[str], scope: Scope) -> list[Any]:
        return list(base(scope).where(in_ids(model.id, int_ids(ids))).dicts())

    def page(v: dict[str, Any]):
        q = base(Scope(0, "", v["grids"], None)).where(model.id > v["after"])
        return q.order_by(model.id).limit(v["limit"]).dicts()

    def snapshot(scope: Scope, after: str | None, limit: int) -> list[Any]:
        # Built once per table and number of grids (gridapp/sqlcache.py): a cold pull builds
        # one a table and page, and building them was a tenth of it.
        grids = scope.grid_ids
        key = ("snapshot", model._meta.table_name, None if grids is None else len(grids))
        return fetch(key, page, {"after": after_int(after), "limit": limit, "grids": grids})

    return load, snapshot


def _grids(scope: Scope):
    q = Grid.select()
    return q if scope.grid_ids is None else q.where(Grid.id.in_(sorted(scope.grid_ids) or [0]))


def _inbox(scope: Scope):
    since = utcnow() - dt.timedelta(days=INBOX_DAYS)
    return Notification.select().where(
        (Notification.recipient == scope.user_id) & (Notification.created_at >= since)
    )


def register_builtin_entities() -> None:
    register_entity(
        "grid",
        grid_out,
        lambda ids, scope: list(_grids(scope).where(Grid.id.in_(int_ids(ids)))),
        snapshot=lambda scope, after, limit: list(
            _grids(scope).where(Grid.id > after_int(after)).order_by(Grid.id).limit(limit)
        ),
    )
    register_entity(
        "care_tag",
        care_tag_out,
        lambda ids, scope: list(
            CareTag.select().where(CareTag.id.in_(int_ids(ids)) & CareTag.is_active)
        ),
        snapshot=lambda scope, after, limit: list(
            CareTag.select()
            .where(CareTag.is_active & (CareTag.id > after_int(after)))
            .order_by(CareTag.id)
            .limit(limit)
        ),
    )
    for name, model, out in (
        ("building", Building, building_out),
        ("household", Household, household_out),
        ("resident", Resident, resident_out),
    ):
        load, snapshot = grid_scoped(model)
        register_entity(
            name,
            out,
            load,
            snapshot=snapshot,
            prepare=attach_tags if model is Resident else None,
            dict_rows=True,
        )

    def aged_inbox(scope: Scope, lo: dt.datetime, hi: dt.datetime):
        span = dt.timedelta(days=INBOX_DAYS)
        return Notification.select(Notification.id).where(
            (Notification.recipient == scope.user_id)
            & (Notification.created_at >= lo - span)
            & (Notification.created_at < hi - span)
        )

    register_entity(
        "notification",
        notification_out,
        lambda ids, scope: list(_inbox(scope).where(Notification.id.in_(int_ids(ids)))),
        aged=aged_inbox,
        snapshot=lambda scope, after, limit: list(
            _inbox(scope)
            .where(Notification.id > after_int(after))
            .order_by(Notification.id)
            .limit(limit)
        ),
    )


# ---- operations -----------------------------------------------------------------------------


class HouseholdChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit: str | None = Field(None, max_length=20)
    room: str | None = Field(None, max_length=20)
    address: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=20)
    notes: str | None = Field(None, max_length=2000)


class NotificationRead(BaseModel):
    id: int


class HouseholdUpdate(BaseModel):
    id: int
    changes: HouseholdChanges


class ResidentFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=50)
    gender: str | None = Field(None, pattern="^[MF]?$")
    birth_year: int | None = Field(None, ge=1900, le=2100)
    phone: str | None = Field(None, max_length=20)
    relation: str | None = Field(None, max_length=20)
    notes: str | None = Field(None, max_length=2000)
    tags: list[str] | None = Field(None, max_length=20)


class ResidentUpdate(BaseModel):
    id: int | str
    changes: ResidentFields


class ResidentCreate(ResidentFields):
    client_id: str = Field(min_length=1, max_length=64)
    household: int | str
    name: str = Field(min_length=1, max_length=50)


def _require_version(base_version: int | None) -> int:
    if base_version is None:
        raise ValidationFailed("base_version", "an edit must say which version it was based on")
    return base_version


def _our_conflict(exc: Conflict, model: Any, row_id: Any, out) -> Conflict:
    """The registry's 409, with the current row in the device's shape."""
    current = model.get_or_none(model.id == row_id)
    data = serialize_rows_for(current, out) if current is not None else None
    return Conflict(exc.detail, code=exc.code or "stale_version", current=data)


def serialize_rows_for(row: Any, out) -> dict[str, Any]:
    data = as_dict(row)
    if isinstance(row, Resident):
        attach_tags([data])
    return out(data)


def household_update(ctx: OpContext, payload: dict, base_version: int | None):
    body = HouseholdUpdate.model_validate(payload)
    check_ranges(body)
    version = _require_version(base_version)
    changes = body.changes.model_dump(exclude_none=True)
    try:
        registry.update_household(ctx.user, body.id, version, changes, scope=ctx.scope)
    except Conflict as exc:
        raise _our_conflict(exc, Household, body.id, household_out) from None
    return "household", Household.get_by_id(body.id)


def resident_update(ctx: OpContext, payload: dict, base_version: int | None):
    body = ResidentUpdate.model_validate(payload)
    check_ranges(body)
    version = _require_version(base_version)
    rid = int(ctx.resolve("resident", body.id, "payload.id"))
    changes = body.changes.model_dump(exclude_none=True)
    try:
        registry.update_resident(ctx.user, rid, version, changes, scope=ctx.scope)
    except Conflict as exc:
        raise _our_conflict(exc, Resident, rid, resident_out) from None
    return "resident", Resident.get_by_id(rid)


def resident_create(ctx: OpContext, payload: dict, base_version: int | None):
    body = ResidentCreate.model_validate(payload)
    check_ranges(body)
    hid = int(ctx.resolve("household", body.household, "payload.household"))
    data = body.model_dump(exclude_none=True, exclude={"client_id", "household"})
    created = registry.create_resident(ctx.user, {**data, "household_id": hid}, scope=ctx.scope)
    ctx.remember("resident", body.client_id, created["id"])
    return "resident", Resident.get_by_id(created["id"])


def notification_read(ctx: OpContext, payload: dict, base_version: int | None):
    body = NotificationRead.model_validate(payload)
    check_ranges(body)
    return "notification", mark_read(ctx.user, body.id)


def register_builtin_ops() -> None:
    register_op("household.update", household_update)
    register_op("resident.update", resident_update)
    register_op("resident.create", resident_create, creates="resident")
    register_op("notification.read", notification_read)
