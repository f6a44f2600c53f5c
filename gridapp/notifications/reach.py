"""Reachability: which channels can reach each user now, and whether Web Push really works.

Web Push can look fine to the server and still reach nobody: in mainland China Chrome's push
service (FCM) often accepts a message and never delivers it, and a subscription can fail or go
gone (DEPENDENCIES.md pitfall 10). So a device's push is judged by what came back, not by the
subscription existing:

- "working": the user has a subscription with no evidence against it (the service worker
  acknowledged recent pushes, or nothing was sent yet);
- "failing": every subscription's last finished delivery failed, or the server has been sending
  to it for days (``SILENT_AFTER``) and the service worker acknowledged none of it, or the last
  subscription was dropped as gone (404/410) recently;
- "none": no subscription at all.

The other channels say for themselves whom they can reach (``reachable(user_ids)``: bound to
企业微信, has a number...). A channel without ``reachable`` (console) reaches nobody here.
The rules are pure (``subscription_state``, ``webpush_state``, ``combine``) so they are tested
without a database; ``reach`` reads the rows for a batch of users with a few queries (H3's
overview asks about every worker at once).

Reachability is what the channels can do, not what the user chose: the policy and the user's
preferences decide what is actually sent.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from gridapp.notifications import channels as channel_registry
from gridapp.notifications.delivery import clock, in_ids
from gridapp.notifications.models import Delivery, Notification, PushSubscription

log = logging.getLogger("gridapp.notifications")

# How far back deliveries are read: older outcomes say little about the device today.
WINDOW = dt.timedelta(days=14)
# Pushes the service worker never acknowledged, the oldest sent this long ago: push is silent.
SILENT_AFTER = dt.timedelta(days=2)
# ... and at least this many of them (one lost message is not a broken phone).
SILENT_MIN = 2
FINISHED = ("sent", "failed", "gone")


class Reach(NamedTuple):
    webpush: str  # "working" | "failing" | "none"
    channels: tuple[str, ...]  # the channels that can reach the user now, in policy order
    best: str | None  # the first of them, or None: only the inbox when the app is open


class Sent(NamedTuple):
    """One finished push to a subscription, as the rules need it."""

    status: str  # sent | failed | gone
    sent_at: dt.datetime | None
    acked_at: dt.datetime | None  # the service worker's acknowledgment (delivery.delivered_at)


# ---- pure rules ----------------------------------------------------------------------------


def subscription_state(history: Sequence[Sent], now: dt.datetime) -> str:
    """ "working" or "failing" for one subscription, from its finished deliveries (oldest
    first). No history is "working": nothing speaks against a fresh subscription."""
    if not history:
        return "working"
    if history[-1].status in ("failed", "gone"):
        return "failing"
    acks = [h.acked_at for h in history if h.acked_at is not None]
    last_ack = max(acks) if acks else None
    unacked = [
        h.sent_at
        for h in history
        if h.status == "sent"
        and h.acked_at is None
        and h.sent_at is not None
        and (last_ack is None or h.sent_at > last_ack)
    ]
    if len(unacked) >= SILENT_MIN and min(unacked) <= now - SILENT_AFTER:
        return "failing"
    return "working"


def webpush_state(
    subscriptions: Mapping[int, Sequence[Sent]], recently_gone: bool, now: dt.datetime
) -> str:
    """The user's Web Push state: "working" when any device works, "failing" when they have
    devices and none works (or their last one was dropped as gone within ``WINDOW``), "none"
    when they never subscribed (or unsubscribed)."""
    if not subscriptions:
        return "failing" if recently_gone else "none"
    states = {subscription_state(h, now) for h in subscriptions.values()}
    return "working" if "working" in states else "failing"


def combine(webpush: str, others: Iterable[str]) -> Reach:
    """``Reach`` from the Web Push state and the other channels that reach the user (already
    in policy order); Web Push counts only when it is working."""
    found = (("webpush",) if webpush == "working" else ()) + tuple(
        c for c in others if c != "webpush"
    )
    return Reach(webpush, found, found[0] if found else None)


# ---- reading the rows ----------------------------------------------------------------------


def push_histories(
    user_ids: Sequence[int], now: dt.datetime
) -> tuple[dict[int, dict[int, list[Sent]]], set[int]]:
    """Per user, per current subscription, the finished pushes of the last ``WINDOW`` (oldest
    first); and the users whose pushes went gone in that window (their subscription was
    deleted)."""
    subs: dict[int, dict[int, list[Sent]]] = defaultdict(dict)
    for sid, uid in (
        PushSubscription.select(PushSubscription.id, PushSubscription.user)
        .where(in_ids(PushSubscription.user, user_ids))
        .tuples()
    ):
        subs[uid][sid] = []
    owner = {sid: uid for uid, m in subs.items() for sid in m}
    since = now - WINDOW
    if owner:
        q = (
            Delivery.select(
                Delivery.subscription,
                Delivery.status,
                Delivery.sent_at,
                Delivery.updated_at,
                Delivery.delivered_at,
            )
            .where(
                in_ids(Delivery.subscription, sorted(owner)),
                Delivery.channel == "webpush",
                Delivery.status.in_(FINISHED),
                Delivery.created_at >= since,
            )
            .order_by(Delivery.id)
            .tuples()
        )
        for sid, status, sent_at, updated_at, delivered_at in q:
            subs[owner[sid]][sid].append(Sent(status, sent_at or updated_at, delivered_at))
    # Gone subscriptions are deleted (their deliveries keep a NULL subscription): read who they
    # belonged to through the notification.
    gone = {
        uid
        for (uid,) in Delivery.select(Notification.recipient)
        .join(Notification)
        .where(
            in_ids(Notification.recipient, user_ids),
            Delivery.channel == "webpush",
            Delivery.status == "gone",
            Delivery.updated_at >= since,
        )
        .distinct()
        .tuples()
    }
    return subs, gone


def channel_reach(
    user_ids: Sequence[int], registry: Mapping[str, Any], order: Sequence[str]
) -> dict[int, list[str]]:
    """Per user, the channels other than Web Push whose ``reachable()`` includes them, in
    ``order`` (channels missing from ``order`` follow in registry order). A channel that fails
    to answer reaches nobody this time (logged), rather than failing the caller."""
    names = [n for n in order if n in registry] + [n for n in registry if n not in order]
    out: dict[int, list[str]] = defaultdict(list)
    for name in names:
        ch = registry[name]
        fn = getattr(ch, "reachable", None)
        if name == "webpush" or fn is None:
            continue
        try:
            found = set(fn(list(user_ids)))
        except Exception:  # noqa: BLE001  (a provider's outage must not break the inbox)
            log.exception("channel %s could not say whom it reaches", name)
            continue
        for uid in user_ids:
            if uid in found:
                out[uid].append(name)
    return out


def reach(
    user_ids: Iterable[int],
    now: dt.datetime | None = None,
    *,
    registry: Mapping[str, Any] | None = None,
) -> dict[int, Reach]:
    """For each user, ``Reach(webpush, channels, best)``: the Web Push state and the channels
    that can reach them now, in policy order. ``registry`` defaults to the app's channels."""
    ids = sorted({int(u) for u in user_ids})
    if not ids:
        return {}
    now = now or clock()
    if registry is None:
        registry = channel_registry.channels()
    order = tuple(getattr(channel_registry, "CHANNEL_NAMES", ())) or tuple(registry)
    subs, gone = push_histories(ids, now)
    others = channel_reach(ids, registry, order)
    return {
        uid: combine(webpush_state(subs.get(uid, {}), uid in gone, now), others.get(uid, ()))
        for uid in ids
    }


class Device(NamedTuple):
    """One of a user's subscriptions as the app shows it (``GET /notifications/reach``)."""

    id: int
    endpoint: str
    state: str  # "working" | "failing"
    last_sent_at: dt.datetime | None
    last_acknowledged_at: dt.datetime | None


def devices(user_id: int, now: dt.datetime | None = None) -> list[Device]:
    """The user's subscriptions with each one's state, so the app on a phone can tell whether
    *its own* push works (another phone of the same user may be the one that does)."""
    now = now or clock()
    subs, _gone = push_histories([user_id], now)
    histories = subs.get(user_id, {})
    endpoints = dict(
        PushSubscription.select(PushSubscription.id, PushSubscription.endpoint)
        .where(PushSubscription.user == user_id)
        .tuples()
    )
    out = []
    for sid in sorted(histories):
        h = histories[sid]
        sent = [x.sent_at for x in h if x.status == "sent" and x.sent_at is not None]
        acks = [x.acked_at for x in h if x.acked_at is not None]
        out.append(
            Device(
                sid,
                endpoints.get(sid, ""),
                subscription_state(h, now),
                max(sent) if sent else None,
                max(acks) if acks else None,
            )
        )
    return out
