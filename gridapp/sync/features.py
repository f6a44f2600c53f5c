"""Sync plug-ins for the visits, photos, tasks and matters features: their entities (what the
device mirrors) and operations (what it may push), each calling that feature's service verb.

Each block registers only when its feature package is present, so sync runs on a branch
without them; the verbs do the validation, scoping, change logging and notifications.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from typing import Any

from peewee import JOIN
from pydantic import BaseModel, Field

from gridapp import sqlcache
from gridapp.api import check_ranges
from gridapp.db import in_ids, utcnow
from gridapp.scope import Scope, in_scope
from gridapp.sync.entities import after_int, int_ids, iso
from gridapp.sync.hooks import OpContext, register_entity, register_op
from gridapp.times import DateTimeIn, naive_utc

VISIT_HISTORY_DAYS = 365
CLOSED_ITEMS_DAYS = 30
CATEGORY_NAMES = {
    "individual": "个事",
    "community": "社事",
    "special": "专事",
    "difficult": "难事",
}


def available(*modules: str) -> bool:
    try:
        return all(importlib.util.find_spec(m) is not None for m in modules)
    except ModuleNotFoundError:  # the parent package is missing
        return False


def own_photos(
    ctx: OpContext, photo_ids: list[str], named_by: tuple[str, str] | None = None
) -> list[str]:
    """The referenced photos that have arrived: a record never waits for a failed upload (the
    photo joins its record when it arrives, if the owner's feature supports that).
    ``named_by=(owner_type, owner_id)`` adds the user's photos uploaded naming the new record
    (e.g. ``("matter", "c:<client id>")``) that the op's list left out."""
    from gridapp.photos.models import Photo

    ids = [str(p) for p in photo_ids][:9]
    cond = Photo.id.in_(ids) if ids else None
    if named_by is not None:
        named = (Photo.owner_type == named_by[0]) & (Photo.owner_id == named_by[1])
        cond = named if cond is None else (cond | named)
    if cond is None:
        return []
    found = [
        p
        for (p,) in Photo.select(Photo.id)
        .where(cond, Photo.uploader == ctx.user.id)
        .order_by(Photo.created_at, Photo.id)
        .tuples()
    ]
    extra = [p for p in found if p not in ids]
    return ([p for p in ids if p in found] + extra)[:9]


# ---- visits and the service catalogue --------------------------------------------------------


class VisitIn(BaseModel):
    id: str = Field(min_length=1, max_length=36)
    household_id: int
    mode: str = "home"
    resident_ids: list[int] = Field(default_factory=list, max_length=50)
    services: list[str] = Field(default_factory=list, max_length=50)
    notes: str = Field("", max_length=4000)
    photo_ids: list[str] = Field(default_factory=list, max_length=9)
    visited_at: DateTimeIn | None = None
    lat: float | None = None
    lon: float | None = None
    accuracy: float | None = None


def register_visits() -> None:
    from gridapp.photos.models import Photo
    from gridapp.visits.models import ServiceItem, Visit
    from gridapp.visits.service import list_service_items, log_visit

    def attach_photo_ids(visits: list[Visit]) -> None:
        # A visit this request created knows its photos already (``attach_photos``).
        visits = [v for v in visits if not hasattr(v, "_photo_ids")]
        if not visits:
            return
        found: dict[str, list[str]] = {v.id: [] for v in visits}
        grids = {v.id: v.grid_id for v in visits}
        if len(found) == 1:  # a push's answer for one visit: built once (gridapp/sqlcache.py)
            q = sqlcache.execute(("visit-photos",), _photos_of_one, {"owner": visits[0].id})
        else:
            q = _photos_of(in_ids(Photo.owner_id, found))
        for owner, pid, grid_id in q:
            if grid_id == grids[owner]:  # attached to it, not merely naming it
                found[owner].append(pid)
        for v in visits:
            v._photo_ids = found[v.id]

    def _photos_of(owner_is):
        return (
            Photo.select(Photo.owner_id, Photo.id, Photo.grid_id)
            .where(Photo.owner_type == "visit", owner_is)
            .order_by(Photo.created_at, Photo.id)
            .tuples()
        )

    def _photos_of_one(v: dict[str, Any]):
        return _photos_of(Photo.owner_id == v["owner"])

    def visit_out(v: Visit) -> dict[str, Any]:
        return {
            "id": v.id,
            "worker_id": v.worker_id,
            "household_id": v.household_id,
            "grid_id": v.grid_id,
            "visited_at": iso(v.visited_at),
            "mode": v.mode,
            "lat": v.lat,
            "lon": v.lon,
            "accuracy": v.accuracy,
            "notes": v.notes,
            "resident_ids": v.resident_id_list,
            "services": v.service_list,
            "photo_ids": getattr(v, "_photo_ids", []),
        }

    # One window rule for cold pulls, warm pulls and aging: a year of visits.
    def visits(scope: Scope):
        since = utcnow() - dt.timedelta(days=VISIT_HISTORY_DAYS)
        return in_scope(Visit.select(), Visit.grid, scope).where(Visit.visited_at >= since)

    def aged_visits(scope: Scope, lo: dt.datetime, hi: dt.datetime):
        span = dt.timedelta(days=VISIT_HISTORY_DAYS)
        return in_scope(Visit.select(Visit.id), Visit.grid, scope).where(
            (Visit.visited_at >= lo - span) & (Visit.visited_at < hi - span)
        )

    register_entity(
        "visit",
        visit_out,
        lambda ids, scope: list(visits(scope).where(in_ids(Visit.id, ids))),
        snapshot=lambda scope, after, limit: list(
            visits(scope).where(Visit.id > (after or "")).order_by(Visit.id).limit(limit)
        ),
        prepare=attach_photo_ids,
        aged=aged_visits,
    )

    def service_out(s: ServiceItem) -> dict[str, Any]:
        return {"id": s.id, "code": s.code, "name": s.name, "sort": s.sort}

    register_entity(
        "service",
        service_out,
        lambda ids, scope: list(
            ServiceItem.select().where(ServiceItem.id.in_(int_ids(ids)) & ServiceItem.is_active)
        ),
        snapshot=lambda scope, after, limit: [
            s for s in list_service_items() if s.id > after_int(after)
        ][:limit],
        key=lambda s: str(s.id),
    )

    def visit_create(ctx: OpContext, payload: dict, base_version: int | None):
        body = VisitIn.model_validate(payload)
        check_ranges(body)
        data = body.model_dump(exclude={"id"})
        data["visited_at"] = naive_utc(body.visited_at)
        data["photo_ids"] = own_photos(ctx, body.photo_ids)
        visit, _created = log_visit(ctx.user, body.id, data, scope=ctx.scope)
        return "visit", visit

    register_op("visit.create", visit_create)


# ---- tasks -------------------------------------------------------------------------------------


class TaskTransition(BaseModel):
    id: int
    action: str = Field(min_length=1, max_length=20)
    note: str = Field("", max_length=4000)
    reason: str = Field("", max_length=4000)
    photo_ids: list[str] = Field(default_factory=list, max_length=9)


def register_tasks() -> None:
    from gridapp.tasks import states
    from gridapp.tasks.models import Task
    from gridapp.tasks.service import add_row_extras, task_dict, task_query, transition_task

    def tasks(scope: Scope):
        since = utcnow() - dt.timedelta(days=CLOSED_ITEMS_DAYS)
        return task_query(scope).where(
            Task.state.in_(sorted(states.OPEN_STATES)) | (Task.updated_at >= since)
        )

    def aged_tasks(scope: Scope, lo: dt.datetime, hi: dt.datetime):
        span = dt.timedelta(days=CLOSED_ITEMS_DAYS)
        return (
            task_query(scope)
            .select(Task.id)
            .where(
                Task.state.not_in(sorted(states.OPEN_STATES))
                & (Task.updated_at >= lo - span)
                & (Task.updated_at < hi - span)
            )
        )

    def with_actions(rows: list[Task], scope: Scope) -> list[Task]:
        """What this user may do to each task now (the app offers these and no other)."""
        for t in rows:
            t._allowed = states.allowed(t.state, scope.role, t.assignee_id == scope.user_id)
        add_row_extras(rows, scope)  # e.g. an at-home booking's masked phone (appointments)
        return rows

    def task_out(t: Task) -> dict[str, Any]:
        return {
            **task_dict(t),
            **getattr(t, "_extra", {}),
            "allowed_actions": getattr(t, "_allowed", []),
        }

    register_entity(
        "task",
        task_out,
        lambda ids, scope: with_actions(list(tasks(scope).where(Task.id.in_(int_ids(ids)))), scope),
        snapshot=lambda scope, after, limit: with_actions(
            list(tasks(scope).where(Task.id > after_int(after)).order_by(Task.id).limit(limit)),
            scope,
        ),
        aged=aged_tasks,
    )

    def task_transition(ctx: OpContext, payload: dict, base_version: int | None):
        body = TaskTransition.model_validate(payload)
        check_ranges(body)
        if base_version is None:
            from gridapp.errors import ValidationFailed

            raise ValidationFailed("base_version", "a task update must name its version")
        task = transition_task(
            ctx.user,
            body.id,
            body.action,
            version=base_version,
            note=body.note,
            reason=body.reason or (body.note if body.action == "return" else ""),
            photo_ids=own_photos(ctx, body.photo_ids),
        )
        return "task", with_actions([task], ctx.scope)[0]

    register_op("task.transition", task_transition)


# ---- matters -----------------------------------------------------------------------------------


class MatterReport(BaseModel):
    client_id: str = Field(min_length=1, max_length=64)
    grid_id: int
    title: str = Field("", max_length=200)
    description: str = Field(min_length=1, max_length=4000)
    category: str | None = None  # the worker's suggestion; triage decides
    household_id: int | None = None
    contact_phone: str = Field("", max_length=20)  # the resident's; report_matter checks it
    photo_ids: list[str] = Field(default_factory=list, max_length=9)
    urgent: bool = False


class MatterTransition(BaseModel):
    id: int
    action: str = Field(min_length=1, max_length=20)
    note: str = Field("", max_length=4000)
    reason: str = Field("", max_length=2000)
    result: str = Field("", max_length=4000)
    rating: str | None = Field(None, max_length=10)  # rate: the reporting worker's rating
    photo_ids: list[str] = Field(default_factory=list, max_length=9)


def register_matters() -> None:
    from gridapp.errors import Problem, ValidationFailed
    from gridapp.matters.contact import may_reveal_contact, shown_contact
    from gridapp.matters.models import Matter, MatterEvent
    from gridapp.matters.service import (
        add_photos,
        allowed_actions,
        matter_dict,
        matter_query,
        report_matter,
        transition_matter,
    )
    from gridapp.org.models import User
    from gridapp.photos.models import Photo
    from gridapp.photos.service import owner_lock, register_claim
    from gridapp.sync.models import SyncOp

    def attach_timelines(matters: list[Matter]) -> None:
        events: dict[int, list[dict[str, Any]]] = {m.id: [] for m in matters}
        q = (
            MatterEvent.select(MatterEvent, User.display_name)
            .join(User, JOIN.LEFT_OUTER, on=(MatterEvent.actor == User.id))
            .where(in_ids(MatterEvent.matter, events))
            .order_by(MatterEvent.at, MatterEvent.id)
        )
        for ev in q.objects():
            events[ev.matter_id].append(
                {
                    "at": iso(ev.at),
                    "action": ev.action,
                    "from_state": ev.from_state,
                    "to_state": ev.to_state,
                    "actor_role": ev.actor_role,
                    "actor_name": getattr(ev, "display_name", "") or "",
                    "note": ev.note,
                    "photo_ids": json.loads(ev.photo_ids or "[]"),
                }
            )
        for m in matters:
            m._timeline = events[m.id]

    def matter_out(m: Matter) -> dict[str, Any]:
        return {
            **matter_dict(m),
            "timeline": getattr(m, "_timeline", []),
            "allowed_actions": getattr(m, "_allowed", []),
            # masked only; the app reveals the full number online, for one view, never mirrored
            "contact_phone": shown_contact(m),
            "contact_revealable": getattr(m, "_revealable", False),
        }

    def matters(scope: Scope):
        since = utcnow() - dt.timedelta(days=CLOSED_ITEMS_DAYS)
        return matter_query(scope).where((Matter.state != "closed") | (Matter.updated_at >= since))

    def aged_matters(scope: Scope, lo: dt.datetime, hi: dt.datetime):
        span = dt.timedelta(days=CLOSED_ITEMS_DAYS)
        return (
            matter_query(scope)
            .select(Matter.id)
            .where(
                (Matter.state == "closed")
                & (Matter.updated_at >= lo - span)
                & (Matter.updated_at < hi - span)
            )
        )

    def with_actions(rows: list[Matter], scope: Scope, user: User | None = None) -> list[Matter]:
        """``allowed_actions`` for this user on each matter (the rule stays in the service)."""
        if rows:
            user = user or User.get_by_id(scope.user_id)
            for m in rows:
                m._allowed = allowed_actions(user, m, scope)
                m._revealable = may_reveal_contact(user, m, scope)
        return rows

    register_entity(
        "matter",
        matter_out,
        lambda ids, scope: with_actions(
            list(matters(scope).where(Matter.id.in_(int_ids(ids)))), scope
        ),
        aged=aged_matters,
        snapshot=lambda scope, after, limit: with_actions(
            list(
                matters(scope).where(Matter.id > after_int(after)).order_by(Matter.id).limit(limit)
            ),
            scope,
        ),
        prepare=attach_timelines,
    )

    def matter_report(ctx: OpContext, payload: dict, base_version: int | None):
        body = MatterReport.model_validate(payload)
        check_ranges(body)
        text = body.description.strip()
        # The worker's suggestion preselects the triage form (a person decides); it is not
        # pasted into the resident-facing description.
        raw = body.category or ""
        suggested = CATEGORY_NAMES.get(raw) or (raw if raw in CATEGORY_NAMES.values() else None)
        # Against a concurrent upload of one of its photos (see ``photos.service.owner_lock``).
        owner_lock(ctx.user.id)
        matter = report_matter(
            ctx.user,
            source="worker",
            grid_id=body.grid_id,
            text=text,
            title=body.title,
            contact_phone=body.contact_phone,
            photo_ids=own_photos(ctx, body.photo_ids, ("matter", f"c:{body.client_id}")),
            urgent=body.urgent,
            suggested_category=suggested or None,
        )
        ctx.remember("matter", body.client_id, matter.id)
        return "matter", with_actions([matter], ctx.scope, ctx.user)[0]

    register_op("matter.report", matter_report, creates="matter")

    def matter_transition(ctx: OpContext, payload: dict, base_version: int | None):
        """A handler's move from the field (accept, progress, resolve, return, …): whatever
        ``transition_matter`` allows this user; triage and dispatch stay in the console."""
        body = MatterTransition.model_validate(payload)
        check_ranges(body)
        if base_version is None:
            raise ValidationFailed("base_version", "a matter update must name its version")
        matter = transition_matter(
            ctx.user,
            body.id,
            body.action,
            version=base_version,
            note=body.note,
            reason=body.reason,
            result=body.result,
            rating=body.rating,
            photo_ids=own_photos(ctx, body.photo_ids),
        )
        return "matter", with_actions([matter], ctx.scope, ctx.user)[0]

    register_op("matter.transition", matter_transition)

    def claim_matter_photo(user: User, photo: Photo) -> bool:
        """A photo uploaded after its matter: the outbox names the matter by the client id it
        was reported under (``"c:<client id>"``, resolved through the stored op) or by its id."""
        ref = photo.owner_id
        if ref.startswith("c:"):
            row = SyncOp.get_or_none(
                (SyncOp.user == user.id)
                & (SyncOp.entity == "matter")
                & (SyncOp.client_id == ref[2:])
                & (SyncOp.status == "applied")
            )
            ref = row.server_id if row is not None else ""
        if not ref.isdigit():
            return False  # its matter has not arrived (or was rejected): it waits, private
        try:
            return bool(add_photos(user, int(ref), [photo.id]))
        except Problem:
            return False  # not a matter this user may add to: the photo stays theirs alone

    register_claim("matter", claim_matter_photo)


def register_feature_plugins() -> None:
    if available("gridapp.visits.service", "gridapp.photos.service"):
        register_visits()
    if available("gridapp.tasks.service"):
        register_tasks()
    if available("gridapp.matters.service"):
        register_matters()
