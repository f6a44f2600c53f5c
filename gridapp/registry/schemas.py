"""Registry API models (pydantic). Phones and ID numbers in every *Out model are masked."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gridapp.api import Patch
from gridapp.times import UtcDateTime

Gender = Literal["M", "F", ""]


class BuildingOut(BaseModel):
    id: int
    version: int
    grid_id: int
    name: str
    address: str
    updated_at: UtcDateTime


class BuildingNew(BaseModel):
    grid_id: int
    name: str = Field(min_length=1, max_length=100)
    address: str = Field("", max_length=200)


class HouseholdOut(BaseModel):
    id: int
    version: int
    grid_id: int
    building_id: int
    unit: str
    room: str
    address: str
    phone: str
    notes: str
    last_visit_at: UtcDateTime | None
    visit_interval_days: int
    next_visit_due: UtcDateTime | None
    updated_at: UtcDateTime


class ResidentOut(BaseModel):
    id: int
    version: int
    grid_id: int
    household_id: int
    name: str
    gender: str
    birth_year: int | None
    phone: str
    id_number: str
    relation: str
    notes: str
    tags: list[str]
    updated_at: UtcDateTime


class HouseholdDetail(HouseholdOut):
    residents: list[ResidentOut]


class HouseholdNew(BaseModel):
    building_id: int
    unit: str = Field("", max_length=20)
    room: str = Field("", max_length=20)
    address: str = Field("", max_length=200)
    phone: str = Field("", max_length=20)
    notes: str = ""


class HouseholdEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int
    building_id: int | None = None
    unit: str | None = Field(None, max_length=20)
    room: str | None = Field(None, max_length=20)
    address: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=20)
    notes: str | None = None


class ResidentNew(BaseModel):
    household_id: int
    name: str = Field(min_length=1, max_length=50)
    gender: Gender = ""
    birth_year: int | None = Field(None, ge=1880, le=2100)
    phone: str = Field("", max_length=20)
    id_number: str = Field("", max_length=18)
    relation: str = Field("", max_length=20)
    notes: str = ""
    tags: list[str] = []


class ResidentEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int
    household_id: int | None = None
    name: str | None = Field(None, min_length=1, max_length=50)
    gender: Gender | None = None
    birth_year: int | None = Field(None, ge=1880, le=2100)
    phone: str | None = Field(None, max_length=20)
    id_number: str | None = Field(None, max_length=18)
    relation: str | None = Field(None, max_length=20)
    notes: str | None = None
    tags: list[str] | None = None


class VersionIn(BaseModel):
    version: int


class ResidentQuery(BaseModel):
    grid_id: int | None = None
    household_id: int | None = None
    q: str | None = Field(None, max_length=50)
    tag: str | None = None
    limit: int = Field(100, ge=1, le=2000)
    offset: int = Field(0, ge=0)


class HouseholdQuery(BaseModel):
    grid_id: int | None = None
    building_id: int | None = None
    limit: int = Field(100, ge=1, le=2000)
    offset: int = Field(0, ge=0)


class GridQuery(BaseModel):
    grid_id: int | None = None


class RevealIn(BaseModel):
    reason: str = Field("", max_length=200)


class RevealOut(BaseModel):
    id: int
    phone: str
    id_number: str | None = None


class CareTagOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    name: str
    interval_days: int
    sort: int
    is_active: bool


class CareTagNew(BaseModel):
    code: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")
    name: str = Field(min_length=1, max_length=40)
    interval_days: int = Field(ge=1, le=3650)
    sort: int = 0
    is_active: bool = True


class CareTagEdit(Patch):
    name: str | None = Field(None, min_length=1, max_length=40)
    interval_days: int | None = Field(None, ge=1, le=3650)
    sort: int | None = None
    is_active: bool | None = None


class DueQuery(BaseModel):
    grid_id: int | None = None
    within_days: int = Field(0, ge=0, le=365)
    limit: int = Field(200, ge=1, le=2000)


class DueVisitOut(BaseModel):
    household_id: int
    grid_id: int
    building_id: int
    address: str
    unit: str
    room: str
    last_visit_at: UtcDateTime | None
    next_visit_due: UtcDateTime
    visit_interval_days: int
    overdue_days: int
    care_tags: list[str]


class ImportResult(BaseModel):
    rows: int
    buildings_created: int
    households_created: int
    residents_created: int
    residents_updated: int
    ignored_columns: list[str]


class ExportQuery(BaseModel):
    grid_id: int | None = None
    community_id: int | None = None
    format: Literal["xlsx", "csv"] = "xlsx"
