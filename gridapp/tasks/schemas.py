"""API models for tasks. Datetimes go out as UTC with ``Z`` and come in with an offset
(gridapp.times)."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, Field

from gridapp.times import DateTimeIn, UtcDateTime


class AssignIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=4000)
    target: Literal["worker", "grids", "community"]
    worker_id: int | None = None
    grid_ids: list[int] = Field(default_factory=list, max_length=200)
    community_id: int | None = None
    due_at: DateTimeIn | None = None
    priority: int = Field(default=0, ge=0, le=2)
    household_id: int | None = None
    matter_id: int | None = None


class AssignOut(BaseModel):
    task_ids: list[int]
    campaign_id: int | None
    count: int


class TaskTransitionIn(BaseModel):
    action: Literal["accept", "start", "return", "done", "verify", "reject", "reassign"]
    version: int
    note: str = Field(default="", max_length=4000)
    reason: str = Field(default="", max_length=2000)
    photo_ids: list[str] = Field(default_factory=list, max_length=9)
    assignee_id: int | None = None


class TaskQuery(BaseModel):
    state: str | None = None
    campaign_id: int | None = None
    limit: int = Field(default=100, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class TaskOut(BaseModel):
    id: int
    title: str
    description: str
    priority: int
    due_at: UtcDateTime | None
    state: str
    assignee_id: int
    grid_id: int | None
    campaign_id: int | None
    household_id: int | None
    matter_id: int | None
    result_note: str
    photo_ids: list[str]
    return_reason: str
    created_at: UtcDateTime
    done_at: UtcDateTime | None
    version: int

    @classmethod
    def of(cls, t) -> TaskOut:
        return cls(
            id=t.id,
            title=t.title,
            description=t.description,
            priority=t.priority,
            due_at=t.due_at,
            state=t.state,
            assignee_id=t.assignee_id,
            grid_id=t.grid_id,
            campaign_id=t.campaign_id,
            household_id=t.household_id,
            matter_id=t.matter_id,
            result_note=t.result_note,
            photo_ids=json.loads(t.photo_ids or "[]"),
            return_reason=t.return_reason,
            created_at=t.created_at,
            done_at=t.done_at,
            version=t.version,
        )


class WorkItem(BaseModel):
    kind: Literal["task", "visit"]
    id: int
    title: str
    due_at: UtcDateTime | None
    overdue: bool
    priority: int
    state: str
    grid_id: int | None
    household_id: int | None
    version: int | None


class GridProgress(BaseModel):
    grid_id: int
    grid_name: str
    total: int
    complete: int
    by_state: dict[str, int]


class CampaignOut(BaseModel):
    id: int
    title: str
    kind: str
    total: int
    complete: int
    grids: list[GridProgress]
