"""What the app tells a worker about their own notifications: whether Web Push reaches their
phones, which channel reaches them instead, and the service worker's acknowledgment of a push.

Thin over ``reach`` and ``receipts``; the HTTP layer is ``reach_views``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _

from gridapp.errors import NotFound
from gridapp.masking import mask_phone
from gridapp.notifications import receipts
from gridapp.notifications.models import Delivery, Notification
from gridapp.notifications.reach import devices, reach
from gridapp.org.models import User


def acknowledge(
    actor: User, notification_id: int, delivery_id: int | None = None, at: dt.datetime | None = None
) -> int:
    """The service worker received the push of ``notification_id`` (one of ``actor``'s): mark
    its Web Push delivery delivered (``delivery_id`` from the payload's ``d``; without it, every
    push of this notification that went out, since the device is unknown). Idempotent; returns
    how many deliveries this call marked. 404 for someone else's notification or delivery, so
    nobody can acknowledge a push that was not theirs."""
    owned = Notification.select(Notification.id).where(
        Notification.id == notification_id, Notification.recipient == actor.id
    )
    if not owned.exists():
        raise NotFound(_("No such notification."))
    q = Delivery.select(Delivery.id).where(
        Delivery.notification == notification_id, Delivery.channel == "webpush"
    )
    if delivery_id is not None:
        ids = [r[0] for r in q.where(Delivery.id == delivery_id).tuples()]
        if not ids:
            raise NotFound(_("No such delivery."), field="delivery_id")
    else:
        ids = [
            r[0]
            for r in q.where(Delivery.status == "sent", Delivery.delivered_at.is_null()).tuples()
        ]
    return sum(1 for i in ids if receipts.mark_delivered(i, at))


def channel_label(name: str, user: User) -> str:
    """How a channel is named to its user: 企业微信 / 短信 138****1234 / app notifications."""
    if name == "webpush":
        return _("Notifications on your phone (Web Push)")
    if name == "wecom":
        return _("WeCom app messages")
    if name == "sms":
        phone = mask_phone(user.phone)
        return _("Text messages to %(phone)s", phone=phone) if phone else _("Text messages")
    return name


def describe(
    actor: User, now: dt.datetime | None = None, *, registry: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``GET /api/v1/notifications/reach``: the Web Push state (and each device's), the channels
    that reach ``actor`` now, the one that reaches them when push does not, and advice."""
    r = reach([actor.id], now, registry=registry)[actor.id]
    chans = [{"name": c, "label": channel_label(c, actor)} for c in r.channels]
    instead = next((c for c in chans if c["name"] != "webpush"), None)
    working = r.webpush == "working"
    if working and instead:
        summary = _(
            "Push reaches your phone; when it does not, messages come by %(channel)s.",
            channel=instead["label"],
        )
    elif working:
        summary = _("Push reaches your phone. No other channel is set up for you.")
    elif instead:
        summary = _(
            "Push does not reach you: messages come by %(channel)s.", channel=instead["label"]
        )
    else:
        summary = _(
            "No channel reaches you: new messages wait in the inbox and are seen only when "
            "the app is open."
        )
    # Each piece of advice with a code, so the app can leave out what does not apply to the
    # phone it runs on (no "turn push on" on a browser without push).
    advice = []
    if r.webpush == "failing":
        advice.append(
            {
                "code": "push_failing",
                "text": _(
                    "Push messages to your phone were not confirmed for days: the push service "
                    "may be unreachable from here. Open the app regularly; it refreshes itself."
                ),
            }
        )
    elif r.webpush == "none":
        advice.append(
            {
                "code": "push_off",
                "text": _("Turn on push notifications in Settings if your phone offers them."),
            }
        )
    if instead is None:
        advice.append(
            {
                "code": "no_channel",
                "text": _(
                    "Ask your supervisor to bind your WeCom account or to record your mobile "
                    "number, so urgent messages reach you when the app is closed."
                ),
            }
        )
    return {
        "webpush": r.webpush,
        "devices": [d._asdict() for d in devices(actor.id, now)],
        "channels": chans,
        "best": r.best,
        "instead": instead,
        "summary": summary,
        "advice": advice,
    }
