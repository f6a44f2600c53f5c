from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class PullQuery(BaseModel):
    cursor: str | None = Field(None, max_length=200)
    limit: int = Field(500, ge=1, le=2000)
    epoch: str | None = Field(None, max_length=64)


class Row(BaseModel):
    entity: str
    id: str
    data: dict[str, Any]


class Tombstone(BaseModel):
    entity: str
    id: str


class PullOut(BaseModel):
    epoch: str
    cursor: str
    more: bool
    resync: bool
    rows: list[Row]
    tombstones: list[Tombstone]


class OpIn(BaseModel):
    op_id: str = Field(min_length=8, max_length=64)
    type: str = Field(min_length=1, max_length=40)
    payload: dict[str, Any] = Field(default_factory=dict)
    base_version: int | None = None


class PushIn(BaseModel):
    ops: list[OpIn] = Field(max_length=200)


class OpResult(BaseModel):
    op_id: str
    # ``retry``: a transient cause (a reference whose create has not arrived, a busy database);
    # not stored, the app sends the op again later.
    status: Literal["applied", "duplicate", "conflict", "rejected", "retry"]
    first_status: str | None = None
    entity: str | None = None
    id: str | None = None
    row: dict[str, Any] | None = None
    current: dict[str, Any] | None = None
    problem: dict[str, Any] | None = None


class PushOut(BaseModel):
    results: list[OpResult]
