"""Visit verbs: ``log_visit`` (idempotent by client UUID), reads, and the service catalogue."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import uuid
from typing import Any

from flask_babel import gettext as _
from peewee import IntegrityError, fn

from gridapp import sqlcache
from gridapp.audit import write_audit
from gridapp.changes import record_change, record_changes
from gridapp.db import db, is_postgres, utcnow
from gridapp.errors import Conflict, Forbidden, NotFound, ValidationFailed
from gridapp.org.models import User
from gridapp.photos.models import Photo
from gridapp.photos.service import attach_photos
from gridapp.registry.care import _check_unique
from gridapp.registry.models import CareTag, Household, Resident, ResidentTag
from gridapp.registry.rules import household_interval, next_visit_due
from gridapp.scope import Scope, get_scoped, in_scope, scope_for
from gridapp.visits.models import MODES, ServiceItem, Visit

VISIT_ROLES = ("grid_worker", "supervisor", "admin")
MODE_ALIASES = {"入户": "home", "电话": "phone", "微信": "wechat", "偶遇": "street"}
CLOCK_SKEW = dt.timedelta(minutes=10)


def visit_dict(v: Visit, photo_ids: list[str] | None = None) -> dict[str, Any]:
    if photo_ids is None:
        photo_ids = [
            p
            for (p,) in Photo.select(Photo.id)
            .where(Photo.owner_type == "visit", Photo.owner_id == v.id, Photo.grid_id == v.grid_id)
            .order_by(Photo.created_at, Photo.id)
            .tuples()
        ]
    return {
        "id": v.id,
        "worker_id": v.worker_id,
        "household_id": v.household_id,
        "grid_id": v.grid_id,
        "visited_at": v.visited_at,
        "mode": v.mode,
        "lat": v.lat,
        "lon": v.lon,
        "accuracy": v.accuracy,
        "notes": v.notes,
        "resident_ids": v.resident_id_list,
        "services": v.service_list,
        "photo_ids": photo_ids,
        "created_at": v.created_at,
    }


def _naive_utc(value: dt.datetime | None) -> dt.datetime:
    if value is None:
        return utcnow()
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _validate(household: Household, data: dict[str, Any]) -> dict[str, Any]:
    mode = MODE_ALIASES.get(data.get("mode") or "home", data.get("mode") or "home")
    if mode not in MODES:
        raise ValidationFailed("mode", _("Unknown visit mode."))
    visited_at = _naive_utc(data.get("visited_at"))
    if visited_at > utcnow() + CLOCK_SKEW:
        raise ValidationFailed("visited_at", _("The visit time lies in the future."))
    lat, lon = data.get("lat"), data.get("lon")
    if (lat is None) != (lon is None):
        raise ValidationFailed("lat", _("Give both latitude and longitude, or neither."))
    if lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValidationFailed("lat", _("The GPS position is out of range."))
    resident_ids = list(dict.fromkeys(int(r) for r in data.get("resident_ids") or []))
    if resident_ids:
        members = {
            i
            for (i,) in Resident.select(Resident.id)
            .where(Resident.household == household.id, Resident.id.in_(resident_ids))
            .tuples()
        }
        for i, rid in enumerate(resident_ids):
            if rid not in members:
                raise ValidationFailed(
                    f"resident_ids.{i}", _("This resident does not live in the household.")
                )
    services = list(dict.fromkeys(data.get("services") or []))
    if services:
        known = {
            c
            for (c,) in ServiceItem.select(ServiceItem.code)
            .where(ServiceItem.code.in_(services))
            .tuples()
        }
        for i, code in enumerate(services):
            if code not in known:
                raise ValidationFailed(f"services.{i}", _("Unknown service."))
    return {
        "mode": mode,
        "visited_at": visited_at,
        "lat": lat,
        "lon": lon,
        "accuracy": data.get("accuracy") if lat is not None else None,
        "notes": (data.get("notes") or "").strip(),
        "resident_ids": json.dumps(resident_ids),
        "services": json.dumps(services, ensure_ascii=False),
    }


def log_visit(
    actor: User, visit_id: str, data: dict[str, Any], *, scope: Scope | None = None
) -> tuple[Visit, bool]:
    """Store a visit made (possibly offline) by ``actor``; returns ``(visit, created)``.

    ``visit_id`` is the client's UUID. ``data`` keys: household_id (required), visited_at
    (datetime; aware or naive UTC; default now), mode (home/phone/wechat/street or 入户/电话/
    微信/偶遇), lat, lon, accuracy, notes, resident_ids, services (catalogue codes), photo_ids.
    Replaying the same id returns the stored visit with ``created=False`` and changes nothing;
    the same id for another household is a ``Conflict``. Logging updates the household's
    last_visit_at (the latest of all visits, whatever order they arrive in) and next_visit_due.
    """
    if actor.role not in VISIT_ROLES:
        raise Forbidden(_("Your role may not log visits."))
    scope = scope or scope_for(actor)
    try:
        visit_id = str(uuid.UUID(str(visit_id)))
    except ValueError:
        raise ValidationFailed("id", _("The id must be a UUID.")) from None
    try:
        household = _household_for_visit(data.get("household_id"), scope)
        fields = _validate(household, data)
    except (NotFound, ValidationFailed):
        # A replay of a stored visit is answered with it even if it would not validate now.
        existing = _replay(visit_id, data, scope)
        if existing is not None:
            return existing, False
        raise
    visit = Visit(id=visit_id, worker=actor.id, household=household.id, grid=household.grid_id)
    for name, value in fields.items():
        setattr(visit, name, value)
    # Inside a caller's transaction (a sync op) no savepoint of our own: two round trips per
    # visit saved. The insert is the replay check (one round trip, not a read before it): a
    # visit already stored under this id inserts nothing and is answered as it is.
    nested = db.in_transaction()
    try:
        with contextlib.nullcontext() if nested else db.atomic():
            inserted = sqlcache.execute(
                ("visit-insert", *sqlcache.types_of(visit.__data__)), _insert_query, visit.__data__
            ).rowcount
            if not inserted:
                existing = _replay(visit_id, data, scope)
                if existing is None:  # SQLite's OR IGNORE also skips other constraints
                    raise IntegrityError(f"visit {visit_id} not stored")
                return existing, False
            attached = attach_photos(
                actor, data.get("photo_ids") or [], "visit", visit_id, household.grid_id
            )
            if attached is not None:  # the answer's photo ids, without asking again
                visit._photo_ids = attached
            changes = [{"entity": "visit", "entity_id": visit_id, "grid_id": household.grid_id}]
            if _reschedule(household, fields["visited_at"]):
                changes.append(
                    {"entity": "household", "entity_id": household.id, "grid_id": household.grid_id}
                )
            record_changes(changes)
    except IntegrityError:
        if nested:
            raise
        # The same visit arriving twice at once: the other request stored it.
        existing = _replay(visit_id, data, scope)
        if existing is None:
            raise
        return existing, False
    return visit, True


def _household_query(household_id: Any, grid_ids: frozenset[int] | None):
    tag_interval = (
        ResidentTag.select(fn.MIN(CareTag.interval_days))
        .join(Resident)
        .switch(ResidentTag)
        .join(CareTag)
        .where(
            Resident.household == Household.id,
            Resident.deleted == False,  # noqa: E712
            CareTag.is_active == True,  # noqa: E712
        )
    )
    query = in_scope(
        Household.select(Household, tag_interval.alias("tag_interval")).where(
            Household.id == household_id
        ),
        Household.grid,
        Scope(0, "", grid_ids, None),
    )
    return query.for_update(of=Household) if is_postgres() else query


def _household_for_visit(household_id: Any, scope: Scope) -> Household:
    """The visited household, in scope, with the shortest interval among its residents' care
    tags (``tag_interval``), in one statement. On PostgreSQL the row is locked until the visit
    commits, so two visits to one household (two workers, or a replay racing its original)
    cannot both move ``last_visit_at`` from the same stale value: the second reads the first's.
    It is the first lock a visit takes (the change counter is every writer's last). Built once
    per scope shape (``gridapp.sqlcache``): building it was a seventh of the web workers' time
    in the morning benchmark, five visits a push."""
    if isinstance(household_id, int) and not isinstance(household_id, bool):
        grids = scope.grid_ids
        found = sqlcache.fetch(
            ("visit-household", grids is None, len(grids or ())),
            lambda v: _household_query(
                v["household_id"], None if v["grids"] is None else frozenset(v["grids"])
            ),
            {"household_id": household_id, "grids": None if grids is None else sorted(grids)},
        )
        household = found[0] if found else None
    else:  # not an id a household can have: the query as written (no statement to cache)
        household = _household_query(household_id, scope.grid_ids).first()
    if household is None or household.deleted:
        raise NotFound()
    return household


def _reschedule(household: Household, visited_at: dt.datetime) -> bool:
    """Move the household's last visit and due date for a visit made at ``visited_at``; one
    UPDATE, or none when neither moves (a visit older than the last one). Returns whether the
    row changed (its change row then goes with the visit's)."""
    last = household.last_visit_at
    if last is None or visited_at > last:
        last = visited_at
    interval = household_interval([household.tag_interval or 0])
    due = next_visit_due(last, household.created_at, interval)
    moved = {
        "last_visit_at": last,
        "visit_interval_days": interval,
        "next_visit_due": due,
    }
    moved = {k: v for k, v in moved.items() if getattr(household, k) != v}
    if not moved:
        return False
    values = {**moved, "id": household.id}
    sqlcache.execute(("household-reschedule", *sqlcache.types_of(values)), _moved_query, values)
    return True


def _insert_query(v: dict[str, Any]):
    return Visit.insert(v).on_conflict_ignore().as_rowcount()


def _moved_query(v: dict[str, Any]):
    moved = {k: value for k, value in v.items() if k != "id"}
    return Household.update(**moved).where(Household.id == v["id"])


def _replay(visit_id: str, data: dict[str, Any], scope: Scope) -> Visit | None:
    existing = Visit.get_or_none(Visit.id == visit_id)
    if existing is None:
        return None
    if not scope.sees_grid(existing.grid_id):
        raise NotFound()
    if data.get("household_id") not in (None, existing.household_id):
        raise Conflict(
            _("This visit id is already used for another household."),
            code="visit_id_reused",
            current=visit_dict(existing),
        )
    return existing


def list_visits(
    actor: User,
    *,
    grid_id: int | None = None,
    household_id: int | None = None,
    limit: int = 50,
    before: dt.datetime | None = None,
    scope: Scope | None = None,
) -> list[dict[str, Any]]:
    scope = scope or scope_for(actor)
    query = Visit.select()
    if grid_id is not None:
        if not scope.sees_grid(grid_id):
            raise NotFound()
        query = query.where(Visit.grid == grid_id)
    if household_id is not None:
        get_scoped(Household, household_id, scope)
        query = query.where(Visit.household == household_id)
    if before is not None:
        query = query.where(Visit.visited_at < _naive_utc(before))
    query = in_scope(query, Visit.grid, scope).order_by(Visit.visited_at.desc()).limit(limit)
    return [visit_dict(v) for v in query]


def get_visit(actor: User, visit_id: str, *, scope: Scope | None = None) -> dict[str, Any]:
    scope = scope or scope_for(actor)
    return visit_dict(get_scoped(Visit, str(visit_id), scope))


def list_service_items(include_inactive: bool = False) -> list[ServiceItem]:
    query = ServiceItem.select().order_by(ServiceItem.sort, ServiceItem.id)
    if not include_inactive:
        query = query.where(ServiceItem.is_active == True)  # noqa: E712
    return list(query)


def save_service_item(
    actor: User, item_id: int | None, fields: dict[str, Any], *, ip: str = ""
) -> ServiceItem:
    """Create (``item_id=None``) or edit a service-pack entry (admin only, audited)."""
    if actor.role != "admin":
        raise Forbidden(_("Only an administrator may change this."))
    with db.atomic():
        if item_id is None:
            for key in ("code", "name"):
                if not fields.get(key):
                    raise ValidationFailed(key, _("This field is required."))
            _check_unique(ServiceItem, fields, None)
            item = ServiceItem.create(**fields)
        else:
            item = ServiceItem.get_or_none(ServiceItem.id == item_id)
            if item is None:
                raise NotFound()
            _check_unique(ServiceItem, fields, item_id)
            for key, value in fields.items():
                setattr(item, key, value)
            item.save()
        record_change("service", item.id)  # every device mirrors the catalogue
        write_audit(actor.id, "admin.service_item", "service_item", item.id, ip=ip, detail=fields)
    return item
