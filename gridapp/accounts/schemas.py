from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    # Keep me logged in (a persistent cookie, 30 days at most, token rotated on use).
    remember: bool = False
    # The installed app's login: a long-lived device session an offline outbox can rely on.
    device: bool = False


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


class SessionOut(BaseModel):
    id: int
    kind: str
    remember: bool
    current: bool
    user_id: int
    username: str
    user_agent: str
    ip: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime


class RevokedOut(BaseModel):
    revoked: int


class OkOut(BaseModel):
    ok: bool
