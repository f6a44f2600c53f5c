"""Visit API models."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from gridapp.api import Patch
from gridapp.times import DateTimeIn, UtcDateTime


class VisitIn(BaseModel):
    id: uuid.UUID
    household_id: int
    visited_at: DateTimeIn | None = None
    mode: str = Field("home", max_length=10)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    accuracy: float | None = Field(None, ge=0)
    notes: str = Field("", max_length=5000)
    resident_ids: list[int] = Field([], max_length=50)
    services: list[str] = Field([], max_length=50)
    photo_ids: list[uuid.UUID] = Field([], max_length=20)


class VisitOut(BaseModel):
    id: str
    worker_id: int
    household_id: int
    grid_id: int
    visited_at: UtcDateTime
    mode: str
    lat: float | None
    lon: float | None
    accuracy: float | None
    notes: str
    resident_ids: list[int]
    services: list[str]
    photo_ids: list[str]
    created_at: UtcDateTime


class VisitQuery(BaseModel):
    grid_id: int | None = None
    household_id: int | None = None
    before: DateTimeIn | None = None
    limit: int = Field(50, ge=1, le=500)


class ServiceItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    name: str
    sort: int
    is_active: bool


class ServiceItemNew(BaseModel):
    code: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")
    name: str = Field(min_length=1, max_length=40)
    sort: int = 0
    is_active: bool = True


class ServiceItemEdit(Patch):
    name: str | None = Field(None, min_length=1, max_length=40)
    sort: int | None = None
    is_active: bool | None = None
