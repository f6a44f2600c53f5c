"""Care schedules: tag intervals → each household's next visit due, and the due-visits list.

A household's ``visit_interval_days`` and ``next_visit_due`` are derived columns, refreshed here
whenever a resident's tags, a tag's interval or the last visit change, so "what is due" is one
indexed range scan on ``(grid_id, next_visit_due)``. Refreshing them does not bump the row's
``version``: they are computed by the server, never edited by a client, so an offline edit of the
address must not turn into a conflict because a visit was logged meanwhile. The change log still
records them so devices pull the new due date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from flask_babel import gettext as _
from peewee import fn

from gridapp.audit import write_audit
from gridapp.changes import record_change, record_changes
from gridapp.db import db, is_postgres, utcnow
from gridapp.errors import Forbidden, NotFound, ValidationFailed
from gridapp.org.models import User
from gridapp.registry.models import CareTag, Household, Resident, ResidentTag
from gridapp.registry.rules import household_interval, next_visit_due
from gridapp.scope import Scope, scope_for


def refresh_schedules(household_ids: Iterable[int], *, changed: Iterable[int] = ()) -> int:
    """Recompute interval and due date of these households; record a change for each that moved
    and for each in ``changed`` (the caller changed it already: one change row, not two).

    Must run inside the caller's transaction. Returns how many households changed.
    """
    ids = sorted(set(household_ids))
    must = set(changed)
    changes: list[dict[str, Any]] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        mins = dict(
            ResidentTag.select(Resident.household, fn.MIN(CareTag.interval_days))
            .join(Resident)
            .switch(ResidentTag)
            .join(CareTag)
            .where(
                Resident.household.in_(chunk),
                Resident.deleted == False,  # noqa: E712
                CareTag.is_active == True,  # noqa: E712
            )
            .group_by(Resident.household)
            .tuples()
        )
        rows = (
            Household.select(
                Household.id,
                Household.grid,
                Household.last_visit_at,
                Household.created_at,
                Household.visit_interval_days,
                Household.next_visit_due,
            )
            .where(Household.id.in_(chunk))
            .order_by(Household.id)
        )
        if is_postgres():
            # Locked before reading, in id order: a visit committing meanwhile (which locks its
            # household first) is waited for and its last_visit_at read, not overwritten.
            rows = rows.for_update()
        for h in rows:
            interval = household_interval([mins.get(h.id) or 0])
            due = next_visit_due(h.last_visit_at, h.created_at, interval)
            if interval == h.visit_interval_days and due == h.next_visit_due:
                if h.id in must:
                    changes.append({"entity": "household", "entity_id": h.id, "grid_id": h.grid_id})
                continue
            Household.update(visit_interval_days=interval, next_visit_due=due).where(
                Household.id == h.id
            ).execute()
            changes.append({"entity": "household", "entity_id": h.id, "grid_id": h.grid_id})
    record_changes(changes)
    return len(changes)


def list_care_tags(include_inactive: bool = False) -> list[CareTag]:
    query = CareTag.select().order_by(CareTag.sort, CareTag.id)
    if not include_inactive:
        query = query.where(CareTag.is_active == True)  # noqa: E712
    return list(query)


def _require_admin(actor: User) -> None:
    if actor.role != "admin":
        raise Forbidden(_("Only an administrator may change this."))


def save_care_tag(
    actor: User, tag_id: int | None, fields: dict[str, Any], *, ip: str = ""
) -> CareTag:
    """Create (``tag_id=None``) or edit a care tag (admin). Changing the interval or switching a
    tag off reschedules every household that has a resident with the tag."""
    _require_admin(actor)
    if "interval_days" in fields and not 1 <= int(fields["interval_days"]) <= 3650:
        raise ValidationFailed("interval_days", _("The interval must be 1 to 3650 days."))
    with db.atomic():
        if tag_id is None:
            for key in ("code", "name", "interval_days"):
                if not fields.get(key):
                    raise ValidationFailed(key, _("This field is required."))
            _check_unique(CareTag, fields, None)
            tag = CareTag.create(**fields)
            before = None
        else:
            tag = CareTag.get_or_none(CareTag.id == tag_id)
            if tag is None:
                raise NotFound()
            _check_unique(CareTag, fields, tag_id)
            before = (tag.interval_days, tag.is_active)
            for key, value in fields.items():
                setattr(tag, key, value)
            tag.save()
        record_change("care_tag", tag.id)  # every device mirrors the tags
        if before is not None and before != (tag.interval_days, tag.is_active):
            affected = (
                Resident.select(Resident.household)
                .join(ResidentTag)
                .where(ResidentTag.tag == tag.id)
                .distinct()
                .tuples()
            )
            refresh_schedules(h for (h,) in affected)
        write_audit(actor.id, "admin.care_tag", "care_tag", tag.id, ip=ip, detail=fields)
    return tag


def _check_unique(model: Any, fields: dict[str, Any], own_id: int | None) -> None:
    for key in ("code", "name"):
        if key not in fields:
            continue
        clash = model.select().where(getattr(model, key) == fields[key])
        if own_id is not None:
            clash = clash.where(model.id != own_id)
        if clash.exists():
            raise ValidationFailed(key, _("This value is already in use."))


PER_GRID_MAX = 200


def _due_households(grids: list[int] | None, cutoff: dt.datetime, limit: int) -> list[Household]:
    """Most overdue first. For a worker's or a community's grids, one ordered range scan per
    grid on ``(grid_id, next_visit_due)`` merged here: a single ``grid_id IN (…) ORDER BY
    next_visit_due`` let SQLite walk the city-wide ``next_visit_due`` index instead."""
    base = Household.deleted == False  # noqa: E712
    if grids is None or len(grids) > PER_GRID_MAX:
        query = Household.select().where(base, Household.next_visit_due <= cutoff)
        if grids is not None:
            query = query.where(Household.grid.in_(grids))
        return list(query.order_by(Household.next_visit_due, Household.id).limit(limit))
    top: list[int] = []
    for start in range(0, len(grids), 100):
        top = _merge_due(top, grids[start : start + 100], cutoff, limit)
    if not top:
        return []
    rows = {h.id: h for h in Household.select().where(Household.id.in_(top))}
    return [rows[i] for i in top]


def _merge_due(top: list[int], grids: list[int], cutoff: dt.datetime, limit: int) -> list[int]:
    """Ids of the ``limit`` most overdue households of ``grids`` (plus the ids in ``top``): one
    statement, a UNION ALL of per-grid ordered index scans (one round trip, not one per grid)."""
    ph, n = db.param, int(limit)
    parts = [
        f"SELECT * FROM (SELECT id, next_visit_due FROM household WHERE grid_id = {ph} "
        f"AND next_visit_due <= {ph} AND deleted = {ph} ORDER BY next_visit_due, id "
        f"LIMIT {n}) AS g{i}"
        for i in range(len(grids))
    ]
    params: list[Any] = [v for g in grids for v in (g, cutoff, False)]
    if top:
        marks = ", ".join(ph for _ in top)
        parts.append(f"SELECT id, next_visit_due FROM household WHERE id IN ({marks})")
        params.extend(top)
    sql = " UNION ALL ".join(parts) + f" ORDER BY 2, 1 LIMIT {n}"
    return [row[0] for row in db.execute_sql(sql, params).fetchall()]


def due_visits(
    actor: User,
    *,
    grid_id: int | None = None,
    within_days: int = 0,
    limit: int = 200,
    now: dt.datetime | None = None,
    scope: Scope | None = None,
) -> list[dict[str, Any]]:
    """Households in the actor's scope whose next visit is due within ``within_days`` (0: due
    or overdue now), most overdue first. Each item carries ``overdue_days`` and the care tags
    that set its interval. Ordered range scans on the ``(grid_id, next_visit_due)`` index."""
    scope = scope or scope_for(actor)
    now = now or utcnow()
    cutoff = now + dt.timedelta(days=within_days)
    if grid_id is not None:
        if not scope.sees_grid(grid_id):
            raise NotFound()
        grids: list[int] | None = [grid_id]
    else:
        grids = sorted(scope.grid_ids) if scope.grid_ids is not None else None
    households = _due_households(grids, cutoff, limit)
    tags: dict[int, list[str]] = {}
    if households:
        rows = (
            ResidentTag.select(Resident.household, CareTag.name)
            .join(Resident)
            .switch(ResidentTag)
            .join(CareTag)
            .where(
                Resident.household.in_([h.id for h in households]),
                Resident.deleted == False,  # noqa: E712
            )
            .order_by(CareTag.sort)
            .tuples()
        )
        for hid, name in rows:
            if name not in tags.setdefault(hid, []):
                tags[hid].append(name)
    return [
        {
            "household_id": h.id,
            "grid_id": h.grid_id,
            "building_id": h.building_id,
            "address": h.address,
            "unit": h.unit,
            "room": h.room,
            "last_visit_at": h.last_visit_at,
            "next_visit_due": h.next_visit_due,
            "visit_interval_days": h.visit_interval_days,
            "overdue_days": (now - h.next_visit_due).days,
            "care_tags": tags.get(h.id, []),
        }
        for h in households
    ]
