"""``GET /api/v1/notifications/reach`` (how messages reach me) and ``POST
/api/v1/notifications/<id>/received`` (the service worker's acknowledgment of a push). Thin:
parse, call ``selfcheck``, return."""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user
from pydantic import BaseModel, Field

from gridapp.api import endpoint
from gridapp.notifications import selfcheck
from gridapp.times import UtcDateTime

api = Blueprint("notifications_reach_api", __name__, url_prefix="/api/v1")


class ReceivedIn(BaseModel):
    delivery_id: int | None = Field(
        None, ge=1, le=2**63 - 1, description='the push payload\'s "d", when it carries one'
    )


class ReceivedOut(BaseModel):
    notification_id: int
    recorded: int = Field(description="deliveries this call marked delivered (0 on a repeat)")


class ChannelOut(BaseModel):
    name: str = Field(description='"webpush", "wecom", "sms"')
    label: str = Field(description="as shown to the user, personal numbers masked")


class DeviceOut(BaseModel):
    id: int
    endpoint: str
    state: str = Field(description='"working" | "failing"')
    last_sent_at: UtcDateTime | None = None
    last_acknowledged_at: UtcDateTime | None = None


class AdviceOut(BaseModel):
    code: str = Field(description='"push_failing" | "push_off" | "no_channel"')
    text: str


class ReachOut(BaseModel):
    webpush: str = Field(description='"working" | "failing" | "none"')
    devices: list[DeviceOut]
    channels: list[ChannelOut] = Field(description="channels that reach me now, in policy order")
    best: str | None
    instead: ChannelOut | None = Field(description="the channel that reaches me without push")
    summary: str
    advice: list[AdviceOut]


@endpoint(api, "/notifications/reach", response=ReachOut, tags=["notifications"])
def my_reach():
    """Which channels reach me now: the Web Push state of my devices, what reaches me instead
    when push does not, and what to do about it."""
    return selfcheck.describe(current_user._get_current_object())


@endpoint(
    api,
    "/notifications/<int:notification_id>/received",
    methods=["POST"],
    body=ReceivedIn,
    response=ReceivedOut,
    tags=["notifications"],
)
def received(notification_id: int, body: ReceivedIn):
    """The service worker received this notification's push (its acknowledgment; repeats
    change nothing). 404 for another user's notification or delivery."""
    n = selfcheck.acknowledge(current_user._get_current_object(), notification_id, body.delivery_id)
    return {"notification_id": notification_id, "recorded": n}
