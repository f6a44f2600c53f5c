"""JSON bodies of the tracking page's push endpoints (what ``PushSubscription.toJSON()`` gives)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from gridapp.times import UtcDateTime


class PushKeysIn(BaseModel):
    p256dh: str = Field(min_length=1, max_length=100)
    auth: str = Field(min_length=1, max_length=40)


class FollowIn(BaseModel):
    """``subscription.toJSON()`` as the browser gives it (``expirationTime`` is ignored)."""

    endpoint: str = Field(min_length=8, max_length=2000)
    # The browser's name; milliseconds since 1970, up to the last one a datetime holds.
    expirationTime: int | None = Field(None, ge=0, le=253_402_300_799_999)  # noqa: N815
    keys: PushKeysIn


class UnfollowIn(BaseModel):
    endpoint: str = Field(min_length=8, max_length=2000)


class FollowOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    endpoint: str
    created_at: UtcDateTime
    last_success_at: UtcDateTime | None = None
