"""Request and response models of the notifications API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from gridapp.times import UtcDateTime


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    type: str
    title: str
    body: str
    link: str
    urgent: bool
    created_at: UtcDateTime
    read_at: UtcDateTime | None = None
    announcement_id: int | None = None


class InboxQuery(BaseModel):
    page: int = Field(1, ge=1, le=10_000)
    per_page: int = Field(20, ge=1, le=100)
    unread: bool = False


class InboxOut(BaseModel):
    items: list[NotificationOut]
    page: int
    per_page: int
    total: int
    unread: int


class UnreadOut(BaseModel):
    unread: int


class ReadAllOut(BaseModel):
    updated: int


class PushKeyOut(BaseModel):
    key: str = Field(description="applicationServerKey: base64url of the uncompressed P-256 point")


class SubscriptionKeys(BaseModel):
    p256dh: str = Field(min_length=1, max_length=100)
    auth: str = Field(min_length=1, max_length=40)


class SubscriptionIn(BaseModel):
    """Exactly what ``PushSubscription.toJSON()`` gives in the browser."""

    endpoint: str = Field(min_length=8, max_length=2000)
    # The browser's name; milliseconds since 1970, up to the last one a datetime holds.
    expirationTime: int | None = Field(None, ge=0, le=253_402_300_799_999)  # noqa: N815
    keys: SubscriptionKeys


class UnsubscribeIn(BaseModel):
    endpoint: str = Field(min_length=8, max_length=2000)


class SubscriptionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    endpoint: str
    user_agent: str
    created_at: UtcDateTime
    expiration_time: UtcDateTime | None = None
    last_success_at: UtcDateTime | None = None


class PreferenceIO(BaseModel):
    type: str = Field(min_length=1, max_length=40, description='a notification type, or "*"')
    channel: str = Field(min_length=1, max_length=20)
    enabled: bool


class QuietHoursIO(BaseModel):
    enabled: bool = True
    start: str = Field("22:00", pattern=r"^\d{1,2}:\d{2}$")
    end: str = Field("07:00", pattern=r"^\d{1,2}:\d{2}$")
    timezone: str = Field("Asia/Shanghai", max_length=40)


class SettingsIn(BaseModel):
    preferences: list[PreferenceIO] | None = Field(None, max_length=200)
    quiet_hours: QuietHoursIO | None = None


class SettingsOut(BaseModel):
    channels: list[str]
    available: list[str] = Field(
        default_factory=list, description="channels this deployment has configured"
    )
    allowed: dict[str, list[str]] = Field(
        default_factory=dict,
        description="per type (and '*'), the channels the escalation policy offers: "
        "only these may be turned on",
    )
    types: list[str]
    preferences: list[PreferenceIO]
    quiet_hours: QuietHoursIO


class AnnouncementIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    body: str = Field("", max_length=5000)
    link: str = Field("", max_length=300)
    urgent: bool = False
    community_id: int | None = None
    grid_ids: list[int] | None = Field(None, max_length=200)


class AnnouncementOut(BaseModel):
    id: int
    title: str
    body: str
    link: str
    urgent: bool
    community_id: int | None
    grid_ids: list[int]
    status: str
    created_at: UtcDateTime
    finished_at: UtcDateTime | None
    recipients: int
    read: int


class PageQuery(BaseModel):
    page: int = Field(1, ge=1, le=10_000)
    per_page: int = Field(20, ge=1, le=100)
