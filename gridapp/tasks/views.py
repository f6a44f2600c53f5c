"""JSON API for tasks: thin views over ``gridapp.tasks.service``."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint
from flask_login import current_user

from gridapp.api import current_scope, endpoint
from gridapp.tasks import service
from gridapp.tasks.schemas import (
    AssignIn,
    AssignOut,
    CampaignOut,
    TaskOut,
    TaskQuery,
    TaskTransitionIn,
    WorkItem,
)

bp = Blueprint("tasks_api", __name__, url_prefix="/api/v1")
CONFLICTS = {403: "Role may not", 404: "Not found", 409: "Stale version or illegal transition"}


def naive_utc(value: dt.datetime | None) -> dt.datetime | None:
    """Aware times are converted; naive ones are taken as UTC already."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


@endpoint(
    bp,
    "/tasks",
    methods=["POST"],
    body=AssignIn,
    response=AssignOut,
    status=201,
    roles=("supervisor", "admin"),
    tags=["tasks"],
)
def assign(body: AssignIn):
    """Assign a task to one worker, every worker of some grids, or a whole community."""
    res = service.assign_task(
        current_user._get_current_object(),
        title=body.title,
        description=body.description,
        target=body.target,
        worker_id=body.worker_id,
        grid_ids=body.grid_ids,
        community_id=body.community_id,
        due_at=naive_utc(body.due_at),
        priority=body.priority,
        household_id=body.household_id,
        matter_id=body.matter_id,
    )
    return AssignOut(task_ids=res.task_ids, campaign_id=res.campaign_id, count=len(res.task_ids))


@endpoint(bp, "/tasks", query=TaskQuery, response=list[TaskOut], tags=["tasks"])
def list_tasks(query: TaskQuery):
    """Tasks in scope (a worker's own; a supervisor's grids)."""
    rows = service.list_tasks(
        current_user._get_current_object(),
        state=query.state,
        campaign_id=query.campaign_id,
        limit=query.limit,
        offset=query.offset,
    )
    return [TaskOut.of(t) for t in rows]


@endpoint(bp, "/tasks/mine", response=list[WorkItem], roles=("grid_worker",), tags=["tasks"])
def my_work():
    """The worker's list: open tasks and households due for a care visit, most urgent first."""
    return service.my_work(current_user._get_current_object())


@endpoint(bp, "/tasks/<int:task_id>", response=TaskOut, tags=["tasks"])
def get_task(task_id: int):
    """One task."""
    return TaskOut.of(
        service.get_task(current_user._get_current_object(), task_id, current_scope())
    )


@endpoint(
    bp,
    "/tasks/<int:task_id>/transition",
    methods=["POST"],
    body=TaskTransitionIn,
    response=TaskOut,
    tags=["tasks"],
    responses=CONFLICTS,
)
def transition(task_id: int, body: TaskTransitionIn):
    """Move a task (accept/start/return/done by the worker; verify/reject/reassign by a
    supervisor); ``version`` is the one the client saw."""
    t = service.transition_task(
        current_user._get_current_object(),
        task_id,
        body.action,
        version=body.version,
        note=body.note,
        reason=body.reason,
        photo_ids=body.photo_ids,
        assignee_id=body.assignee_id,
    )
    return TaskOut.of(t)


@endpoint(
    bp,
    "/campaigns/<int:campaign_id>",
    response=CampaignOut,
    roles=("supervisor", "admin"),
    tags=["tasks"],
)
def campaign(campaign_id: int):
    """A campaign's completion per grid."""
    return service.campaign_progress(current_user._get_current_object(), campaign_id)


def init_app(app) -> None:
    app.register_blueprint(bp)
