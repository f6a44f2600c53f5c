"""API models for matters. Datetimes go out as UTC with ``Z`` (gridapp.times); a dispatch
deadline is a local date."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from gridapp.matters import states
from gridapp.times import UtcDateTime, iso_utc

Action = Literal[
    "triage",
    "dispatch",
    "accept",
    "return",
    "progress",
    "resolve",
    "verify",
    "reject",
    "close",
    "rate",
    "reopen",
    "escalate",
]


class MatterIn(BaseModel):
    grid_id: int
    text: str = Field(min_length=1, max_length=4000)
    title: str = Field(default="", max_length=200)
    contact_phone: str = Field(default="", max_length=20)
    photo_ids: list[str] = Field(default_factory=list, max_length=9)
    urgent: bool = False


class ContactRevealIn(BaseModel):
    reason: str = Field(default="", max_length=200)


class ContactRevealOut(BaseModel):
    id: int
    contact_phone: str


class TransitionIn(BaseModel):
    action: Action
    version: int
    note: str = Field(default="", max_length=4000)
    reason: str = Field(default="", max_length=2000)
    result: str = Field(default="", max_length=4000)
    category: str | None = Field(default=None, max_length=10)
    department_ids: list[int] = Field(default_factory=list, max_length=10)
    rating: str | None = Field(default=None, max_length=10)
    photo_ids: list[str] = Field(default_factory=list, max_length=9)
    # dispatch only: a local (Asia/Shanghai) date replacing the rule's deadline
    deadline: dt.date | None = None


class RatingIn(BaseModel):
    rating: str = Field(max_length=10)
    note: str = Field(default="", max_length=1000)
    # the rating key issued to the resident's browser with the tracking link at report time
    key: str = Field(default="", max_length=200)


class MatterQuery(BaseModel):
    state: str | None = None
    category: str | None = None
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0)


class QueueQuery(BaseModel):
    limit: int = Field(default=100, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class MatterOut(BaseModel):
    id: int
    code: str
    source: str
    grid_id: int
    community_id: int
    title: str
    text: str
    state: str
    category: str | None
    suggested_category: str | None = None
    urgent: bool
    level: int
    result: str
    rating: str | None
    photo_ids: list[str]
    deadline_at: UtcDateTime | None
    created_at: UtcDateTime
    closed_at: UtcDateTime | None
    version: int

    @classmethod
    def of(cls, m) -> MatterOut:
        return cls(
            id=m.id,
            code=m.code,
            source=m.source,
            grid_id=m.grid_id,
            community_id=m.community_id,
            title=m.title,
            text=m.text,
            state=m.state,
            category=m.category,
            suggested_category=m.suggested_category,
            urgent=m.urgent,
            level=m.level,
            result=m.result,
            rating=m.rating,
            photo_ids=json.loads(m.photo_ids or "[]"),
            deadline_at=m.deadline_at,
            created_at=m.created_at,
            closed_at=m.closed_at,
            version=m.version,
        )


class PartOut(BaseModel):
    department_id: int
    department_name: str
    state: str
    lead: bool
    note: str
    result: str


EVENT_TIME_KEYS = ("due", "deadline_at", "rule_deadline_at")


class EventOut(BaseModel):
    at: UtcDateTime
    actor_id: int | None
    actor_name: str
    actor_role: str
    action: str
    from_state: str
    to_state: str
    department_id: int | None
    note: str
    photo_ids: list[str]
    data: dict

    @field_validator("data")
    @classmethod
    def _times_with_offset(cls, data: dict) -> dict:
        """The times an event's data holds go out like every other (events written before the
        time model hold naive UTC text such as "2026-12-03 10:00:00")."""
        for key in EVENT_TIME_KEYS:
            value = data.get(key)
            if isinstance(value, str) and value:
                with contextlib.suppress(ValueError):
                    data[key] = iso_utc(dt.datetime.fromisoformat(value))
        return data


class MatterDetail(MatterOut):
    contact_phone: str  # masked (138****1234); see contact_revealable
    # The caller handles this matter and may reveal the full number (``privacy``).
    contact_revealable: bool = False
    parts: list[PartOut]
    timeline: list[EventOut]
    # What the caller may do now (``service.allowed_actions``); a missing reason etc. still 422s.
    allowed_actions: list[str] = Field(default_factory=list)


class ReportedOut(BaseModel):
    matter: MatterOut
    tracking_code: str


class Suggestion(BaseModel):
    categories: list[dict]
    departments: list[dict]
    learned_from: int


class PublicEvent(BaseModel):
    at: UtcDateTime  # the page shows it in Asia/Shanghai
    text: str


class PublicView(BaseModel):
    code: str
    status: str
    status_text: str
    category: str | None
    reply: str
    rating: str | None
    can_rate: bool
    can_subscribe: bool
    timeline: list[PublicEvent]


class RuleIn(BaseModel):
    category: str = Field(pattern="^(" + "|".join(states.CATEGORIES) + ")$")
    community_id: int | None = None
    department_id: int | None = None
    amount: int = Field(ge=1, le=365 * 24)
    unit: Literal["workdays", "hours"] = "workdays"
    progress_every: int | None = Field(default=None, ge=1, le=60)


class RuleOut(RuleIn):
    id: int


class CalendarDayIn(BaseModel):
    day: dt.date
    is_working: bool
    note: str = Field(default="", max_length=200)


class CalendarDayDeleted(BaseModel):
    deleted: dt.date


class CalendarDayOut(CalendarDayIn):
    id: int
