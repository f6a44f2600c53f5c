"""API models of one-stop appointments (staff operations). Datetimes go out as UTC with ``Z``
(gridapp.times); names and phones are masked."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from gridapp.times import UtcDateTime


class ServiceOut(BaseModel):
    id: int
    version: int
    community_id: int
    name: str
    description: str
    materials: list[str]
    place: Literal["hall", "home"]
    location: str
    duration_minutes: int
    slot_minutes: int
    hours: dict[str, list[tuple[str, str, int]]]
    active: bool


class ServiceQuery(BaseModel):
    community_id: int | None = None


class ServiceIn(BaseModel):
    community_id: int | None = None
    version: int | None = None
    name: str = Field(min_length=1, max_length=60)
    description: str = Field(default="", max_length=1000)
    materials: list[str] = Field(default_factory=list, max_length=20)
    place: Literal["hall", "home"] = "hall"
    location: str = Field(default="", max_length=100)
    duration_minutes: int = Field(default=15, ge=5, le=480)
    slot_minutes: int = Field(default=30, ge=5, le=240)
    hours: dict[str, list[tuple[str, str, int]]] = Field(default_factory=dict)
    active: bool = True
    sort: int = Field(default=0, ge=0, le=1000)


class DayQuery(BaseModel):
    community_id: int | None = None
    day: dt.date | None = None


class BookingOut(BaseModel):
    id: int
    version: int
    service_id: int
    service: str
    place: str
    starts_at: UtcDateTime
    state: str
    name: str
    phone: str
    address: str
    arrived_at: UtcDateTime | None
    called_at: UtcDateTime | None
    handled_at: UtcDateTime | None
    result: str
    rating: str | None
    task_id: int | None
    queue_no: int | None = None
    actions: list[str]


class DayOut(BaseModel):
    day: dt.date
    community_id: int
    bookings: list[BookingOut]
    waiting: list[int]
    counts: dict[str, int]


class ActIn(BaseModel):
    action: Literal["arrive", "call", "handle", "no_show"]
    version: int | None = None
    result: str = Field(default="", max_length=1000)


class PhoneRevealIn(BaseModel):
    reason: str = Field(default="", max_length=200)


class PhoneRevealOut(BaseModel):
    id: int
    phone: str


class CallNextIn(BaseModel):
    community_id: int | None = None


class StatRow(BaseModel):
    name: str
    service_id: int | None = None
    place: str | None = None
    bookings: int
    handled: int
    no_show: int
    cancelled: int
    no_show_rate: float | None
    mean_wait_minutes: float | None
    rated: int
    ratings: dict[str, int]
    satisfaction: float | None


class StatsOut(BaseModel):
    rows: list[StatRow]
    total: StatRow
    days: int
    target: float


class StatsQuery(BaseModel):
    community_id: int | None = None
    days: int = Field(default=90, ge=1, le=366)
