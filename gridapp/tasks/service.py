"""Task verbs; each takes the acting user first and runs in one transaction.

- ``assign_task(actor, *, title, target, description="", due_at=None, priority=0,
  worker_id=None, grid_ids=(), community_id=None, household_id=None, matter_id=None)
  -> AssignResult`` — ``target`` is "worker" (one task), "grids" (one task per worker of the
  grids, grouped as a campaign) or "community" (a campaign over every grid of the community).
- ``transition_task(actor, task_id, action, *, version, note="", reason="", photo_ids=(),
  assignee_id=None) -> Task`` — accept/start/return/done by the assignee, verify/reject/reassign
  by a supervisor; 403 role, 409 stale/illegal (with ``current``), 422 missing field.
- ``my_work(actor, now=None, horizon_days=3) -> list[dict]`` — the worker's tasks merged with
  households due for a care visit, most urgent first.
- ``list_tasks(actor, ...)``, ``get_task(actor, id)``, ``campaign_progress(actor, id)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _

from gridapp.changes import record_change
from gridapp.db import db, utcnow
from gridapp.errors import Conflict, Forbidden, NotFound, ValidationFailed
from gridapp.matters import people
from gridapp.matters.models import Matter
from gridapp.notifications.service import notify
from gridapp.org.models import Grid, User, UserGrid
from gridapp.registry.models import Household
from gridapp.scope import Scope, in_scope, scope_for
from gridapp.tasks import states
from gridapp.tasks.models import Campaign, Task, TaskEvent

WARN_FRACTION = 0.8

# Called as ``fn(task, actor)`` inside the transaction of a task's ``done`` (from the console,
# the API or a synced outbox alike): features whose work is done through a task (an at-home
# appointment) finish their own record with it, or roll the task back by raising.
DONE_LISTENERS: list[Callable[[Task, User], None]] = []

# Called as ``fn(tasks, scope)`` for the rows the app mirrors (a pull's page, an op's answer):
# features that give a task more to show (an at-home booking's masked phone, and whether this
# user may reveal it) return ``{task_id: {field: value}}`` for the tasks that are theirs.
ROW_EXTRAS: list[Callable[[list[Task], Scope], dict[int, dict[str, Any]]]] = []


def add_row_extras(tasks: list[Task], scope: Scope) -> None:
    """Each task's extra fields as ``task._extra`` (one statement per feature, not per task)."""
    by_id = {}
    for t in tasks:
        t._extra = {}
        by_id[t.id] = t
    for fn in ROW_EXTRAS if tasks else ():
        for task_id, extra in fn(tasks, scope).items():
            by_id[task_id]._extra.update(extra)


@dataclass
class AssignResult:
    task_ids: list[int] = field(default_factory=list)
    campaign_id: int | None = None


def task_query(scope: Scope):
    q = Task.select()
    if scope.role == "admin":
        return q
    if scope.role == "grid_worker":
        return q.where(Task.assignee == scope.user_id)
    if scope.role == "supervisor":
        return in_scope(q, Task.grid, scope)
    return q.where(False)


def get_task(actor: User, task_id: int, scope: Scope | None = None) -> Task:
    row = task_query(scope or scope_for(actor)).where(Task.id == task_id).first()
    if row is None:
        raise NotFound()
    return row


def list_tasks(
    actor: User,
    *,
    state: str | None = None,
    campaign_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Task]:
    q = task_query(scope_for(actor))
    if state:
        q = q.where(Task.state == state)
    if campaign_id:
        q = q.where(Task.campaign == campaign_id)
    return list(q.order_by(Task.id.desc()).limit(limit).offset(offset))


def task_dict(task: Task) -> dict[str, Any]:
    from gridapp.tasks.schemas import TaskOut

    return TaskOut.of(task).model_dump(mode="json")


def _alarms(task: Task, now: dt.datetime) -> None:
    if task.due_at and task.state in states.WORKER_OPEN_STATES:
        span = max((task.due_at - now).total_seconds(), 0)
        task.warn_at = now + dt.timedelta(seconds=span * WARN_FRACTION)
        task.overdue_at = task.due_at
    else:
        task.warn_at = task.overdue_at = None


def _record(task: Task, previous_assignee: int | None = None) -> None:
    record_change("task", task.id, user_id=task.assignee_id, grid_id=task.grid_id)
    if previous_assignee and previous_assignee != task.assignee_id:
        record_change("task", task.id, user_id=previous_assignee, deleted=True)


def _workers(grid_ids: Sequence[int]) -> list[tuple[int, int]]:
    """(worker id, grid id) for each active worker of the grids, one row per worker."""
    rows = (
        UserGrid.select(UserGrid.user, UserGrid.grid)
        .join(User, on=(UserGrid.user == User.id))
        .where(
            UserGrid.grid.in_(list(grid_ids)),
            User.role == "grid_worker",
            User.is_active == True,  # noqa: E712
        )
        .order_by(UserGrid.grid, UserGrid.user)
        .tuples()
    )
    seen: dict[int, int] = {}
    for uid, gid in rows:
        seen.setdefault(uid, gid)
    return list(seen.items())


def _targets(
    actor: User, scope: Scope, target: str, worker_id, grid_ids, community_id
) -> tuple[list[tuple[int, int]], int | None]:
    if target == "worker":
        if not worker_id:
            raise ValidationFailed("worker_id", _("Choose a worker."))
        grids = [
            g
            for (g,) in UserGrid.select(UserGrid.grid)
            .join(User, on=(UserGrid.user == User.id))
            .where(UserGrid.user == worker_id, User.role == "grid_worker", User.is_active == True)  # noqa: E712
            .order_by(UserGrid.grid)
            .tuples()
            if scope.sees_grid(g)
        ]
        if not grids:
            raise ValidationFailed("worker_id", _("Unknown worker."))
        return [(int(worker_id), grids[0])], None
    if target == "grids":
        ids = list(dict.fromkeys(int(g) for g in grid_ids or ()))
        if not ids:
            raise ValidationFailed("grid_ids", _("Choose at least one grid."))
        for i, g in enumerate(ids):
            if not scope.sees_grid(g):
                raise ValidationFailed(f"grid_ids.{i}", _("Unknown grid."))
        community = Grid.get_by_id(ids[0]).community_id
        return _workers(ids), community
    if target == "community":
        if not community_id or not scope.sees_community(int(community_id)):
            raise ValidationFailed("community_id", _("Unknown community."))
        ids = [g for (g,) in Grid.select(Grid.id).where(Grid.community == community_id).tuples()]
        return _workers(ids), int(community_id)
    raise ValidationFailed("target", _("Unknown target."))


def assign_task(
    actor: User,
    *,
    title: str,
    target: str,
    description: str = "",
    due_at: dt.datetime | None = None,
    priority: int = 0,
    worker_id: int | None = None,
    grid_ids: Sequence[int] = (),
    community_id: int | None = None,
    household_id: int | None = None,
    matter_id: int | None = None,
) -> AssignResult:
    """Create one task per targeted worker (a campaign when more than one worker is meant)."""
    if actor.role not in ("supervisor", "admin"):
        raise Forbidden(_("Your role may not do this."))
    title = (title or "").strip()
    if not title:
        raise ValidationFailed("title", _("A title is required."))
    if priority not in states.PRIORITIES:
        raise ValidationFailed("priority", _("Unknown priority."))
    scope = scope_for(actor)
    now = utcnow()
    if due_at is not None and due_at <= now:
        raise ValidationFailed("due_at", _("The due time must be in the future."))
    if household_id is not None:
        hh = Household.get_or_none(Household.id == household_id, Household.deleted == False)  # noqa: E712
        if hh is None or not scope.sees_grid(hh.grid_id):
            raise ValidationFailed("household_id", _("Unknown household."))
    if matter_id is not None:
        m = Matter.get_or_none(Matter.id == matter_id)
        if m is None or not scope.sees_grid(m.grid_id):
            raise ValidationFailed("matter_id", _("Unknown matter."))
    with db.atomic():
        workers, community = _targets(actor, scope, target, worker_id, grid_ids, community_id)
        if not workers:
            raise ValidationFailed("target", _("No grid worker is assigned there."))
        result = AssignResult()
        if target != "worker":
            result.campaign_id = Campaign.create(
                title=title,
                description=description,
                kind=target,
                community=community,
                created_by=actor.id,
                due_at=due_at,
                priority=priority,
                created_at=now,
            ).id
        for uid, gid in workers:
            task = Task(
                title=title,
                description=description or "",
                priority=priority,
                due_at=due_at,
                assignee=uid,
                grid=gid,
                campaign=result.campaign_id,
                household=household_id,
                matter=matter_id,
                created_by=actor.id,
                created_at=now,
                updated_at=now,
            )
            _alarms(task, now)
            task.save(force_insert=True)
            TaskEvent.create(
                task=task.id,
                actor=actor.id,
                action="assign",
                from_state="",
                to_state="assigned",
                at=now,
            )
            _record(task)
            notify(
                [uid],
                "task.assigned",
                _("New task: %(t)s", t=title),
                description[:200],
                f"/tasks/{task.id}",
                urgent=priority >= 2,
            )
            result.task_ids.append(task.id)
    return result


def transition_task(
    actor: User,
    task_id: int,
    action: str,
    *,
    version: int,
    note: str = "",
    reason: str = "",
    photo_ids: Sequence[str] = (),
    assignee_id: int | None = None,
) -> Task:
    """Move a task; see the module docstring for who may do what. Nothing is written on error."""
    with db.atomic():
        scope = scope_for(actor)
        task = get_task(actor, task_id, scope)
        if action not in states.ACTIONS:
            raise ValidationFailed("action", _("Unknown action."))
        if not states.role_may(action, actor.role, task.assignee_id == actor.id):
            raise Forbidden(
                _("Your role may not %(action)s this task.", action=action), code="role"
            )
        if version != task.version:
            raise Conflict(
                _("This task changed since you loaded it; reload it."),
                code="stale",
                current=task_dict(task),
            )
        to = states.target(task.state, action)
        if to is None:
            raise Conflict(
                _(
                    "A task that is %(state)s cannot be %(action)s.",
                    state=task.state,
                    action=action,
                ),
                code="illegal_transition",
                field="action",
                current=task_dict(task),
            )
        fields = {"note": note, "reason": reason, "assignee_id": assignee_id}
        missing = states.missing(action, fields)
        if missing:
            raise ValidationFailed(
                missing, _("This action needs %(field)s.", field=missing), code="missing"
            )
        ids = people.check_photos(photo_ids, actor=actor, scope=scope, grid_id=task.grid_id)
        now = utcnow()
        before, previous = task.state, task.assignee_id
        task.state = to
        if action == "done":
            task.result_note, task.done_at = note.strip(), now
            task.photo_ids = people.dumps(people.loads(task.photo_ids) + ids)
            people.attach_photos(ids, "task", task.id, grid_id=task.grid_id)
        elif action in ("return", "reject"):
            task.return_reason = reason.strip()
        elif action == "reassign":
            _targets(actor, scope, "worker", assignee_id, (), None)
            task.assignee = int(assignee_id)
            task.return_reason = ""
        _alarms(task, now) if action in ("reassign", "reject") else None
        if to not in states.WORKER_OPEN_STATES:
            task.warn_at = task.overdue_at = None
        n = (
            Task.update(
                state=task.state,
                assignee=task.assignee_id,
                result_note=task.result_note,
                photo_ids=task.photo_ids,
                return_reason=task.return_reason,
                done_at=task.done_at,
                warn_at=task.warn_at,
                overdue_at=task.overdue_at,
                version=version + 1,
                updated_at=now,
            )
            .where(Task.id == task.id, Task.version == version)
            .execute()
        )
        if n != 1:
            raise Conflict(
                _("This task changed since you loaded it; reload it."),
                code="stale",
                current=task_dict(Task.get_by_id(task.id)),
            )
        task.version, task.updated_at = version + 1, now
        TaskEvent.create(
            task=task.id,
            actor=actor.id,
            action=action,
            from_state=before,
            to_state=to,
            note=(note or reason).strip(),
            at=now,
        )
        _record(task, previous)
        if action == "done":
            for listener in DONE_LISTENERS:
                listener(task, actor)
        link = f"/tasks/{task.id}"
        if action == "return" and task.created_by_id:
            notify(
                [task.created_by_id],
                "task.returned",
                _("Task sent back: %(t)s", t=task.title),
                reason[:200],
                link,
            )
        elif action == "reassign":
            notify(
                [task.assignee_id],
                "task.assigned",
                _("New task: %(t)s", t=task.title),
                task.description[:200],
                link,
            )
        elif action == "reject":
            notify(
                [task.assignee_id],
                "task.returned",
                _("Task not accepted: %(t)s", t=task.title),
                reason[:200],
                link,
            )
    return task


def campaign_progress(actor: User, campaign_id: int) -> dict[str, Any]:
    """Completion of a campaign per grid (done and verified count as complete)."""
    campaign = Campaign.get_or_none(Campaign.id == campaign_id)
    if campaign is None:
        raise NotFound()
    from peewee import fn

    q = (
        task_query(scope_for(actor))
        .select(Task.grid, Task.state, fn.COUNT(Task.id))
        .where(Task.campaign == campaign_id)
        .group_by(Task.grid, Task.state)
    )
    grids: dict[int, dict[str, int]] = {}
    for gid, state, n in q.tuples():
        grids.setdefault(gid, {})[state] = n
    if not grids:
        raise NotFound()
    names = dict(Grid.select(Grid.id, Grid.name).where(Grid.id.in_(list(grids))).tuples())
    rows = []
    for gid, by_state in sorted(grids.items()):
        total = sum(by_state.values())
        complete = by_state.get("done", 0) + by_state.get("verified", 0)
        rows.append(
            {
                "grid_id": gid,
                "grid_name": names.get(gid, ""),
                "total": total,
                "complete": complete,
                "by_state": by_state,
            }
        )
    total = sum(r["total"] for r in rows)
    complete = sum(r["complete"] for r in rows)
    return {
        "id": campaign.id,
        "title": campaign.title,
        "kind": campaign.kind,
        "total": total,
        "complete": complete,
        "grids": rows,
    }


def my_work(
    actor: User, now: dt.datetime | None = None, horizon_days: int = 3, limit: int = 200
) -> list[dict[str, Any]]:
    """The worker's list: open tasks assigned to them and households in their grids due for a
    care visit within ``horizon_days``, most urgent first (overdue, then soonest due, then
    priority). Each item: kind ("task"|"visit"), id, title, due_at, overdue, priority, state,
    grid_id, household_id, version (None for visits)."""
    if actor.role != "grid_worker":
        raise Forbidden(_("Your role may not do this."))
    now = now or utcnow()
    horizon = now + dt.timedelta(days=horizon_days)
    items: list[dict[str, Any]] = [
        {"kind": "task", **row}
        for row in Task.select(
            Task.id,
            Task.title,
            Task.due_at,
            Task.priority,
            Task.state,
            Task.grid.alias("grid_id"),
            Task.household.alias("household_id"),
            Task.version,
        )
        .where(Task.assignee == actor.id, Task.state.in_(sorted(states.WORKER_OPEN_STATES)))
        .order_by(Task.due_at, Task.id)
        .limit(limit)
        .dicts()
    ]
    grid_ids = UserGrid.select(UserGrid.grid).where(UserGrid.user == actor.id)
    template = _("Care visit: %(a)s", a="\x00")
    for hid, address, unit, room, due, gid in (
        Household.select(
            Household.id,
            Household.address,
            Household.unit,
            Household.room,
            Household.next_visit_due,
            Household.grid,
        )
        .where(
            Household.grid.in_(grid_ids),
            Household.next_visit_due <= horizon,
            Household.deleted == False,  # noqa: E712
        )
        .order_by(Household.next_visit_due)
        .limit(limit)
        .tuples()
    ):
        label = address or "-".join(x for x in (unit, room) if x)
        items.append(
            {
                "kind": "visit",
                "id": hid,
                "title": template.replace("\x00", label),
                "due_at": due,
                "priority": 1,
                "state": "due",
                "grid_id": gid,
                "household_id": hid,
                "version": None,
            }
        )
    far = dt.datetime.max
    for it in items:
        it["overdue"] = bool(it["due_at"] and it["due_at"] < now)
    items.sort(
        key=lambda it: (
            not it["overdue"],
            it["due_at"] or far,
            -it["priority"],
            it["kind"],
            it["id"],
        )
    )
    return items[:limit]
