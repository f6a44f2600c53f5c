"""The staff's service desk: the day's bookings of a community, the 取号 queue (arrival order),
arrived / called / handled / no-show with the result, and at-home services sent to the
resident's grid worker as a task (its ``done`` marks the booking handled).

- ``day_view(actor, community_id, day) -> dict`` (scoped; names and phones masked)
- ``act(actor, booking_id, action, *, version=None, result="") -> Booking``
- ``call_next(actor, community_id, day=None) -> Booking`` (409 ``queue_empty``)
- ``send_to_worker(actor, booking_id, worker_id=None) -> Booking`` (``tasks.service.assign_task``;
  the grid's least busy worker unless the desk chose one, ``grid_workers``)
- ``on_task_done(task, actor)`` — registered with the tasks feature
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import gettext as _
from peewee import SQL, fn

from gridapp.appointments import rules
from gridapp.appointments.models import ApptService, Booking
from gridapp.appointments.service import _event, move, queue_number
from gridapp.db import db, utcnow
from gridapp.errors import Conflict, Forbidden, NotFound, ValidationFailed
from gridapp.masking import mask_name, mask_phone
from gridapp.org.models import Community, User
from gridapp.scope import Scope, scope_for
from gridapp.textrules import has_control
from gridapp.times import local_day_start_utc, local_text, local_today

STAFF = ("supervisor", "admin")


def _staff_scope(actor: User) -> Scope:
    if actor.role not in STAFF:
        raise Forbidden(_("Your role may not do this."))
    return scope_for(actor)


def communities(actor: User) -> list[Community]:
    scope = _staff_scope(actor)
    q = Community.select().order_by(Community.id)
    cond = scope.community_condition(Community.id)
    if cond is not True:
        q = q.where(cond)
    return list(q)


def default_community(actor: User, community_id: int | None) -> int:
    scope = _staff_scope(actor)
    if community_id is not None:
        if not scope.sees_community(community_id):
            raise NotFound()
        return community_id
    first = communities(actor)
    if not first:
        raise NotFound()
    return first[0].id


def get_booking(actor: User, booking_id: int) -> Booking:
    scope = _staff_scope(actor)
    b = Booking.get_or_none(Booking.id == booking_id)
    if b is None or not scope.sees_community(b.community_id):
        raise NotFound()
    return b


def row(b: Booking, service: ApptService, actor_role: str = "supervisor") -> dict[str, Any]:
    return {
        "id": b.id,
        "version": b.version,
        "service_id": service.id,
        "service": service.name,
        "place": service.place,
        "starts_at": b.starts_at,
        "state": b.state,
        "name": mask_name(b.name),
        "phone": mask_phone(b.phone),
        "address": b.address,
        "arrived_at": b.arrived_at,
        "called_at": b.called_at,
        "handled_at": b.handled_at,
        "result": b.result,
        "rating": b.rating,
        "task_id": b.task_id,
        "actions": rules.staff_actions(b.state, service.place),
        "can_send": service.place == "home" and b.state == "booked" and not b.task_id,
    }


def day_bookings(actor: User, community_id: int, day: dt.date) -> list[Booking]:
    scope = _staff_scope(actor)
    if not scope.sees_community(community_id):
        raise NotFound()
    return list(
        Booking.select(Booking, ApptService)
        .join(ApptService)
        .where(
            Booking.community == community_id,
            Booking.starts_at >= local_day_start_utc(day),
            Booking.starts_at < local_day_start_utc(day, True),
        )
        .order_by(Booking.starts_at, Booking.id)
    )


def day_view(actor: User, community_id: int, day: dt.date | None = None) -> dict[str, Any]:
    """The day's bookings by slot, the waiting queue (arrived, in arrival order) and counts."""
    day = day or local_today()
    rows = day_bookings(actor, community_id, day)
    waiting = sorted((b for b in rows if b.state == "arrived"), key=lambda b: (b.arrived_at, b.id))
    serving = [b for b in rows if b.state == "serving"]
    numbers = {b.id: n for n, b in enumerate(sorted(
        (b for b in rows if b.arrived_at), key=lambda b: (b.arrived_at, b.id)), start=1)}  # fmt: skip
    items = []
    workers: dict[int, list[dict[str, Any]]] = {}  # per grid, for the at-home rows to send
    for b in rows:
        item = row(b, b.service, actor.role)
        item["queue_no"] = numbers.get(b.id)
        if item["can_send"] and b.grid_id:
            if b.grid_id not in workers:
                workers[b.grid_id] = [
                    {"id": u.id, "name": u.display_name or u.username, "open": n}
                    for u, n in grid_workers(b.grid_id)
                ]
            item["workers"] = workers[b.grid_id]
        items.append(item)
    return {
        "day": day,
        "community_id": community_id,
        "bookings": items,
        "waiting": [numbers[b.id] for b in waiting],
        "serving": [
            {
                "id": b.id,
                "queue_no": numbers[b.id],
                "name": mask_name(b.name),
                "service": b.service.name,
            }
            for b in serving
        ],  # fmt: skip
        "counts": rules.count_states(b.state for b in rows),
    }


def act(
    actor: User,
    booking_id: int,
    action: str,
    *,
    version: int | None = None,
    result: str = "",
) -> Booking:
    """A staff action on one booking: arrive, call, handle (with the result), no_show."""
    if action not in rules.STAFF_ACTIONS:
        raise ValidationFailed("action", _("Unknown action."))
    result = (result or "").strip()
    if len(result) > rules.RESULT_MAX or has_control(result):
        raise ValidationFailed("result", _("At most %(n)d characters.", n=rules.RESULT_MAX))
    with db.atomic():
        b = get_booking(actor, booking_id)
        if action not in rules.staff_actions(b.state, b.service.place) and rules.target(
            b.state, action
        ):
            raise Conflict(
                _("An at-home service is done through the grid worker's task."),
                code="at_home",
                field="action",
            )
        now = utcnow()
        fields: dict[str, Any] = {}
        if action == "arrive":
            fields["arrived_at"] = now
        elif action == "call":
            fields["called_at"] = now
        elif action == "handle":
            fields.update(handled_at=now, handled_by=actor.id, result=result)
            if b.arrived_at is None:
                fields["arrived_at"] = now
        return move(b, action, actor, note=result, version=version, **fields)


def call_next(actor: User, community_id: int, day: dt.date | None = None) -> Booking:
    """Call the first arrival still waiting (取号 order)."""
    day = day or local_today()
    with db.atomic():
        waiting = [b for b in day_bookings(actor, community_id, day) if b.state == "arrived"]
        if not waiting:
            raise Conflict(_("Nobody is waiting."), code="queue_empty")
        first = min(waiting, key=lambda b: (b.arrived_at, b.id))
        return move(first, "call", actor, called_at=utcnow())


def grid_workers(grid_id: int) -> list[tuple[User, int]]:
    """The grid's active grid workers with their open tasks, fewest first (then by id): a grid
    has several workers, and the one to send an at-home service to is the least busy one,
    unless the desk chooses another."""
    from gridapp.org.models import UserGrid
    from gridapp.tasks.models import Task
    from gridapp.tasks.states import WORKER_OPEN_STATES

    open_tasks = Task.select(fn.COUNT(Task.id)).where(
        Task.assignee == User.id, Task.state.in_(sorted(WORKER_OPEN_STATES))
    )
    rows = (
        User.select(User, open_tasks.alias("open_tasks"))
        .join(UserGrid, on=(UserGrid.user == User.id))
        .where(UserGrid.grid == grid_id, User.role == "grid_worker", User.is_active == True)  # noqa: E712
        .order_by(SQL("open_tasks"), User.id)
    )
    return [(u, int(u.open_tasks or 0)) for u in rows]


def send_to_worker(actor: User, booking_id: int, worker_id: int | None = None) -> Booking:
    """An at-home booking becomes a task for a worker of its grid (the tasks feature's verb,
    so it syncs to the app and is done offline like any task): ``worker_id`` when the desk
    chose one (it must work that grid), else the grid's least busy worker."""
    from gridapp.tasks.service import assign_task

    with db.atomic():
        b = get_booking(actor, booking_id)
        service = b.service
        if service.place != "home" or b.state != "booked" or b.task_id:
            raise Conflict(
                _("Only a booked at-home service can be sent to a grid worker."),
                code="illegal_transition",
            )
        candidates = [u for u, _n in grid_workers(b.grid_id)] if b.grid_id else []
        if worker_id is not None:
            worker = next((u for u in candidates if u.id == worker_id), None)
            if worker is None:
                raise ValidationFailed("worker_id", _("Choose a grid worker of this grid."))
        elif not candidates:
            raise ValidationFailed("grid_id", _("No grid worker is assigned there."))
        else:
            worker = candidates[0]
        due = max(b.slot.ends_at, utcnow() + dt.timedelta(hours=1))
        desc = _(
            "At-home service %(s)s for %(n)s (%(p)s), %(a)s, %(t)s.",
            s=service.name,
            n=mask_name(b.name),
            p=mask_phone(b.phone),
            a=b.address,
            t=local_text(b.starts_at),
        )
        res = assign_task(
            actor,
            title=_("At-home service: %(s)s", s=service.name),
            target="worker",
            worker_id=worker.id,
            description=desc,
            due_at=due,
            priority=1,
        )
        task_id = res.task_ids[0]
        Booking.update(task=task_id, version=b.version + 1, updated_at=utcnow()).where(
            Booking.id == b.id
        ).execute()
        _event(b, "send", b.state, b.state, actor, worker.display_name)
    return Booking.get_by_id(b.id)


def on_task_done(task: Any, actor: User) -> None:
    """The worker finished the at-home task: the booking is handled, with the task's note as
    its result (same transaction as the task's ``done``)."""
    b = Booking.get_or_none(Booking.task == task.id)
    if b is None or b.state not in rules.OPEN_STATES:
        return
    now = utcnow()
    move(
        b,
        "handle",
        actor,
        note=task.result_note,
        handled_at=now,
        handled_by=actor.id,
        result=task.result_note,
        arrived_at=b.arrived_at or now,
        called_at=b.called_at or now,
    )


__all__ = [
    "act",
    "call_next",
    "day_view",
    "grid_workers",
    "send_to_worker",
    "on_task_done",
    "queue_number",
]
