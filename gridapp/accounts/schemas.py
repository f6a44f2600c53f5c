from __future__ import annotations

from pydantic import BaseModel, Field


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class GridRef(BaseModel):
    id: int
    name: str
    community_id: int


class MeOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    locale: str
    community_id: int | None
    street_id: int | None
    department_id: int | None
    grids: list[GridRef]
    csrf_token: str


class CsrfOut(BaseModel):
    csrf_token: str


class LocaleIn(BaseModel):
    locale: str = Field(pattern=r"^(zh_CN|en)$")
