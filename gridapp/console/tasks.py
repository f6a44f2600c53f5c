"""Task pages: assign (one worker, several grids, a community campaign), follow progress,
verify done tasks, campaign completion per grid. Moves go through ``assign_task`` and
``transition_task``; the offered moves come from the task state machine."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from peewee import JOIN

from gridapp.api import current_scope
from gridapp.console import lists, svgchart, xlsx
from gridapp.console.blueprint import bp
from gridapp.console.guard import SUPERVISORS, actor, roles_required
from gridapp.db import utcnow
from gridapp.errors import NotFound, Problem, ValidationFailed
from gridapp.org.models import Community, Grid, User, UserGrid
from gridapp.tasks import service as tsvc
from gridapp.tasks import states as tstates
from gridapp.tasks.models import Campaign, Task, TaskEvent
from gridapp.times import local_to_utc, naive_utc

TASK_STATE_NAMES = {
    "assigned": _l("Assigned"),
    "accepted": _l("Accepted"),
    "in_progress": _l("In progress"),
    "done": _l("Done"),
    "verified": _l("Verified"),
    "returned": _l("Returned"),
}
TASK_ACTION_NAMES = {
    "assign": _l("Assign"),
    "accept": _l("Accept"),
    "start": _l("Start"),
    "return": _l("Return"),
    "done": _l("Done"),
    "verify": _l("Verify"),
    "reject": _l("Send back to redo"),
    "reassign": _l("Reassign"),
}
PRIORITY_NAMES = {0: _l("Normal"), 1: _l("High"), 2: _l("Urgent")}


def _names(d: dict) -> dict:
    return {k: str(v) for k, v in d.items()}


def filtered_tasks(scope) -> Any:
    q = tsvc.task_query(scope)
    state = lists.arg("state")
    now = utcnow()
    if state == "open":
        q = q.where(Task.state.in_(sorted(tstates.OPEN_STATES)))
    elif state == "complete":
        q = q.where(Task.state.in_(("done", "verified")))
    elif state in tstates.STATES:
        q = q.where(Task.state == state)
    if lists.arg("due") == "overdue":
        q = q.where(Task.state.not_in(("done", "verified")), Task.due_at < now)
    elif lists.arg("due") == "on_time":
        q = q.where(
            Task.state.in_(("done", "verified")),
            Task.due_at.is_null() | (Task.done_at <= Task.due_at),
        )
    elif lists.arg("due") == "late":
        q = q.where(Task.state.in_(("done", "verified")), Task.done_at > Task.due_at)
    for name, field in (
        ("grid", Task.grid),
        ("campaign", Task.campaign),
        ("worker", Task.assignee),
    ):
        value = lists.int_arg(name)
        if value is not None:
            q = q.where(field == value)
    community = lists.int_arg("community")
    if community is not None:
        q = q.where(Task.grid.in_(Grid.select(Grid.id).where(Grid.community == community)))
    street = lists.int_arg("street")
    if street is not None:
        q = q.where(
            Task.grid.in_(Grid.select(Grid.id).join(Community).where(Community.street == street))
        )
    text = lists.arg("q")
    if text:
        q = q.where(Task.title.contains(text))
    return q


def _assign_context() -> dict[str, Any]:
    scope = current_scope()
    grids = Grid.select(Grid, Community).join(Community)
    grids = grids.where(scope.grid_condition(Grid.id)) if scope.grid_ids is not None else grids
    grids = list(grids.order_by(Community.name, Grid.sort, Grid.id))
    workers = (
        User.select(User.id, User.display_name, Grid.name.alias("grid_name"))
        .join(UserGrid, on=(UserGrid.user == User.id))
        .join(Grid, on=(UserGrid.grid == Grid.id))
        .where(User.role == "grid_worker", User.is_active == True)  # noqa: E712
        .order_by(Grid.community, Grid.sort, User.display_name)
    )
    if scope.grid_ids is not None:
        workers = workers.where(Grid.id.in_(sorted(scope.grid_ids) or [0]))
    communities = Community.select().order_by(Community.name)
    if scope.community_ids is not None:
        communities = communities.where(Community.id.in_(sorted(scope.community_ids) or [0]))
    return {
        "grids": grids,
        "workers": list(workers.objects()),
        "communities": list(communities),
        "priorities": _names(PRIORITY_NAMES),
    }


def _grid_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {
        g: f"{c} {n}"
        for g, n, c in Grid.select(Grid.id, Grid.name, Community.name)
        .join(Community)
        .where(Grid.id.in_(sorted(ids)))
        .tuples()
    }


def _user_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(User.select(User.id, User.display_name).where(User.id.in_(sorted(ids))).tuples())


def _tasks_page(error: Problem | None = None):
    listing = lists.paginate(
        filtered_tasks(current_scope()),
        {
            "due": Task.due_at,
            "created": Task.created_at,
            "state": Task.state,
            "priority": Task.priority,
        },
        "created",
        True,
        tiebreak=Task.id,
    )
    campaigns = list(_campaigns().limit(10))
    return render_template(
        "console/tasks/list.html",
        listing=listing,
        grid_names=_grid_names({t.grid_id for t in listing.rows if t.grid_id}),
        user_names=_user_names({t.assignee_id for t in listing.rows}),
        state_names=_names(TASK_STATE_NAMES),
        campaigns=campaigns,
        error=error,
        form=request.form,
        now=utcnow(),
        export_url=url_for("console.tasks_export", **request.args),
        **_assign_context(),
    ), (error.status if error else 200)


def _campaigns():
    """Campaigns with at least one task in the caller's scope, newest first."""
    scope = current_scope()
    sub = tsvc.task_query(scope).select(Task.campaign).where(Task.campaign.is_null(False))
    return Campaign.select().where(Campaign.id.in_(sub)).order_by(Campaign.id.desc())


@bp.route("/tasks")
@roles_required(*SUPERVISORS)
def tasks():
    return _tasks_page()


def _due(value: str) -> dt.datetime | None:
    """A datetime-local field (Asia/Shanghai) → naive UTC."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        local = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed("due_at", _("Give a date and time.")) from None
    return naive_utc(local) if local.tzinfo is not None else local_to_utc(local)


@bp.route("/tasks/assign", methods=["POST"])
@roles_required(*SUPERVISORS)
def tasks_assign():
    f = request.form
    target = f.get("target", "worker")
    try:
        result = tsvc.assign_task(
            actor(),
            title=f.get("title", ""),
            description=f.get("description", ""),
            target=target,
            due_at=_due(f.get("due_at", "")),
            priority=lists.form_int("priority", 0),
            worker_id=lists.form_int("worker_id") if target == "worker" else None,
            grid_ids=lists.form_ids("grid_ids") if target == "grids" else [],
            community_id=lists.form_int("community_id") if target == "community" else None,
        )
    except Problem as exc:
        return _tasks_page(exc)
    flash(_("%(n)s task(s) assigned.", n=len(result.task_ids)))
    if result.campaign_id:
        return redirect(url_for("console.campaign", campaign_id=result.campaign_id))
    return redirect(url_for("console.task", task_id=result.task_ids[0]))


@bp.route("/tasks.xlsx")
@roles_required(*SUPERVISORS)
def tasks_export():
    q = filtered_tasks(current_scope()).order_by(Task.created_at.desc(), Task.id.desc())
    rows = list(q.limit(xlsx.MAX_ROWS))
    grids = _grid_names({t.grid_id for t in rows if t.grid_id})
    users = _user_names({t.assignee_id for t in rows})
    names = _names(TASK_STATE_NAMES)
    return xlsx.send(
        "tasks",
        [
            _("Title"),
            _("Worker"),
            _("Grid"),
            _("State"),
            *(xlsx.time_header(h) for h in (_("Due"), _("Done"), _("Created"))),
        ],
        (
            [
                t.title,
                users.get(t.assignee_id, ""),
                grids.get(t.grid_id, ""),
                names.get(t.state, t.state),
                xlsx.local(t.due_at),
                xlsx.local(t.done_at),
                xlsx.local(t.created_at),
            ]
            for t in rows
        ),
        actor=actor(),
        ip=request.remote_addr or "",
        filters=request.args.to_dict(),
    )


def available_task_actions(task: Task) -> list[str]:
    """The moves the task state machine allows the current user now."""
    me = actor()
    return [
        a
        for a in tstates.ACTIONS
        if tstates.role_may(a, me.role, task.assignee_id == me.id) and tstates.target(task.state, a)
    ]


def _task_page(task_id: int, error: Problem | None = None):
    task = tsvc.get_task(actor(), task_id, current_scope())
    events = list(
        TaskEvent.select(TaskEvent, User)
        .join(User, JOIN.LEFT_OUTER, on=(TaskEvent.actor == User.id))
        .where(TaskEvent.task == task.id)
        .order_by(TaskEvent.at, TaskEvent.id)
    )
    return render_template(
        "console/tasks/detail.html",
        t=task,
        events=events,
        available=available_task_actions(task),
        grid_name=_grid_names({task.grid_id} if task.grid_id else set()).get(task.grid_id, ""),
        assignee=User.get_by_id(task.assignee_id),
        state_names=_names(TASK_STATE_NAMES),
        action_names=_names(TASK_ACTION_NAMES),
        priorities=_names(PRIORITY_NAMES),
        photos=[str(p) for p in json.loads(task.photo_ids or "[]")],
        workers=_assign_context()["workers"],
        error=error,
        now=utcnow(),
    ), (error.status if error else 200)


@bp.route("/tasks/<int:task_id>")
@roles_required(*SUPERVISORS)
def task(task_id: int):
    return _task_page(task_id)


@bp.route("/tasks/<int:task_id>/act", methods=["POST"])
@roles_required(*SUPERVISORS)
def task_act(task_id: int):
    f = request.form
    action = f.get("action", "")
    try:
        tsvc.transition_task(
            actor(),
            task_id,
            action,
            version=lists.form_int("version", -1),
            note=f.get("note", ""),
            reason=f.get("reason", ""),
            assignee_id=lists.form_int("assignee_id"),
        )
    except Problem as exc:
        return _task_page(task_id, exc)
    flash(_("%(action)s: done.", action=str(TASK_ACTION_NAMES.get(action, action))))
    return redirect(url_for("console.task", task_id=task_id))


@bp.route("/campaigns/<int:campaign_id>")
@roles_required(*SUPERVISORS)
def campaign(campaign_id: int):
    if not _campaigns().where(Campaign.id == campaign_id).exists():
        raise NotFound()
    progress = tsvc.campaign_progress(actor(), campaign_id)
    bars = [
        svgchart.Bar(
            g["grid_name"],
            (g["complete"] / g["total"] * 100) if g["total"] else 0,
            href=url_for("console.tasks", campaign=campaign_id, grid=g["grid_id"]),
            text=f"{g['complete']}/{g['total']}",
        )
        for g in progress["grids"]
    ]
    return render_template(
        "console/tasks/campaign.html",
        c=Campaign.get_by_id(campaign_id),
        progress=progress,
        chart=svgchart.bar_chart(
            bars, title=_("Completion per grid"), max_value=100, chart_id="chart-campaign"
        ),
        state_names=_names(TASK_STATE_NAMES),
    )
