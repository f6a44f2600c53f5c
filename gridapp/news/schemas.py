"""JSON bodies of the news API (times in with an offset, out as UTC ``Z``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from gridapp.api import Patch
from gridapp.times import DateTimeIn, UtcDateTime


class NewsIn(BaseModel):
    community_id: int
    kind: Literal["news", "policy"] = "news"
    title: str = Field(min_length=1, max_length=200)
    body: str = Field("", max_length=20_000)
    publish_at: DateTimeIn | None = Field(None, description="UTC or with offset; default now")
    expires_at: DateTimeIn | None = None
    pinned: bool = False


class NewsPatch(Patch):
    version: int = Field(ge=1)
    kind: Literal["news", "policy"] | None = None
    title: str | None = Field(None, min_length=1, max_length=200)
    body: str | None = Field(None, max_length=20_000)
    publish_at: DateTimeIn | None = None
    expires_at: DateTimeIn | None = None
    pinned: bool | None = None
    withdrawn: bool | None = None


class VersionIn(BaseModel):
    version: int = Field(ge=1)


class AttachmentOut(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int


class NewsOut(BaseModel):
    id: int
    community_id: int
    kind: str
    title: str
    body: str
    body_html: str
    publish_at: UtcDateTime
    expires_at: UtcDateTime | None = None
    pinned: bool
    withdrawn: bool
    status: Literal["scheduled", "published", "expired", "withdrawn"]
    version: int
    created_at: UtcDateTime
    updated_at: UtcDateTime
    image_ids: list[str]
    attachments: list[AttachmentOut]
    reads_web: int
    reads_app: int


class NewsListQuery(BaseModel):
    community_id: int | None = None
    page: int = Field(1, ge=1, le=10_000)


class NewsList(BaseModel):
    items: list[NewsOut]
    page: int
