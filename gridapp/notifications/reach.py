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
企业微信, has a number...). A channel without ``reachable`` reaches nobody here, nor does
``console`` (a log line).
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

from peewee import Case, Select, fn

from gridapp.db import db
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
# Judged apart (webpush: by outcomes and acknowledgments), or reaching no person (console: a
# log line, although its ``reachable`` says everyone for the escalation's sake).
NOT_A_PERSON = frozenset({"webpush", "console"})


class Reach(NamedTuple):
    webpush: str  # "working" | "failing" | "none"
    channels: tuple[str, ...]  # the channels that can reach the user now, in policy order
    best: str | None  # the first of them, or None: only the inbox when the app is open


class Sent(NamedTuple):
    """One finished push to a subscription, as the rules need it."""

    status: str  # sent | failed | gone
    sent_at: dt.datetime | None
    acked_at: dt.datetime | None  # the service worker's acknowledgment (delivery.delivered_at)


class Health(NamedTuple):
    """What the rules need of one subscription's recent pushes (a few SQL aggregates)."""

    last_status: str | None  # the latest finished delivery's status; None: nothing sent yet
    last_sent_at: dt.datetime | None
    last_ack: dt.datetime | None  # the latest service-worker acknowledgment
    unacked: int  # pushes sent after ``last_ack`` (or ever) that were never acknowledged
    oldest_unacked: dt.datetime | None


# ---- pure rules ----------------------------------------------------------------------------


def summarise(history: Sequence[Sent]) -> Health:
    """``Health`` of a subscription from its finished deliveries (oldest first): what the SQL
    in ``push_health`` computes, spelled out (the tests' reference)."""
    if not history:
        return Health(None, None, None, 0, None)
    acks = [h.acked_at for h in history if h.acked_at is not None]
    last_ack = max(acks) if acks else None
    sent = [h.sent_at for h in history if h.status == "sent" and h.sent_at is not None]
    unacked = [
        h.sent_at
        for h in history
        if h.status == "sent"
        and h.acked_at is None
        and h.sent_at is not None
        and (last_ack is None or h.sent_at > last_ack)
    ]
    return Health(
        history[-1].status,
        max(sent) if sent else None,
        last_ack,
        len(unacked),
        min(unacked) if unacked else None,
    )


def health_state(h: Health, now: dt.datetime) -> str:
    """ "working" or "failing" for one subscription. Nothing sent yet is "working": nothing
    speaks against a fresh subscription."""
    if h.last_status in ("failed", "gone"):
        return "failing"
    silent_since = h.oldest_unacked if h.unacked >= SILENT_MIN else None
    if silent_since is not None and silent_since <= now - SILENT_AFTER:
        return "failing"
    return "working"


def subscription_state(history: Sequence[Sent], now: dt.datetime) -> str:
    """``health_state`` of a history of finished deliveries (oldest first)."""
    return health_state(summarise(history), now)


def webpush_state(
    subscriptions: Mapping[int, Sequence[Sent] | Health], recently_gone: bool, now: dt.datetime
) -> str:
    """The user's Web Push state: "working" when any device works, "failing" when they have
    devices and none works (or their last one was dropped as gone within ``WINDOW``), "none"
    when they never subscribed (or unsubscribed)."""
    if not subscriptions:
        return "failing" if recently_gone else "none"
    states = {
        health_state(h if isinstance(h, Health) else summarise(h), now)
        for h in subscriptions.values()
    }
    return "working" if "working" in states else "failing"


def combine(webpush: str, others: Iterable[str]) -> Reach:
    """``Reach`` from the Web Push state and the other channels that reach the user (already
    in policy order); Web Push counts only when it is working."""
    found = (("webpush",) if webpush == "working" else ()) + tuple(
        c for c in others if c != "webpush"
    )
    return Reach(webpush, found, found[0] if found else None)


# ---- reading the rows ----------------------------------------------------------------------


def _time(value: Any) -> dt.datetime | None:
    """An aggregate's datetime (SQLite gives MIN/MAX of a datetime column back as text)."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


def push_health(
    user_ids: Sequence[int], now: dt.datetime
) -> tuple[dict[int, dict[int, Health]], set[int]]:
    """Per user, per current subscription, the ``Health`` of the last ``WINDOW``'s pushes; and
    the users whose pushes went gone in that window (their subscription was deleted).

    Aggregated in SQL (one windowed, grouped query and a look-up of the latest rows' status,
    whatever the number of pushes): reading every
    delivery row cost ten times the database's own work in peewee's per-value conversion
    (bench/reach.py)."""
    subs: dict[int, dict[int, Health]] = defaultdict(dict)
    owner: dict[int, int] = {}
    for sid, uid in (
        PushSubscription.select(PushSubscription.id, PushSubscription.user)
        .where(in_ids(PushSubscription.user, user_ids))
        .tuples()
    ):
        owner[sid] = uid
        subs[uid][sid] = Health(None, None, None, 0, None)
    since = now - WINDOW

    def recent():
        return (
            in_ids(Delivery.subscription, sorted(owner)),
            Delivery.channel == "webpush",
            Delivery.status.in_(FINISHED),
            Delivery.created_at >= since,
        )

    if owner:
        # One pass: each row with its subscription's latest acknowledgment (a window), then
        # grouped. A join on a grouped subquery of the same table made PostgreSQL loop over it.
        inner = (
            Delivery.select(
                Delivery.id,
                Delivery.subscription.alias("sid"),
                Delivery.status,
                Delivery.sent_at,
                Delivery.delivered_at,
                fn.MAX(Delivery.delivered_at)
                .over(partition_by=[Delivery.subscription])
                .alias("last_ack"),
            )
            .where(*recent())
            .alias("x")
        )
        x = inner.c
        fresh = (
            (x.status == "sent")
            & x.delivered_at.is_null()
            & x.sent_at.is_null(False)
            & (x.last_ack.is_null() | (x.sent_at > x.last_ack))
        )
        q = Select(
            [inner],
            [
                x.sid,
                fn.MAX(x.id),
                fn.MAX(x.delivered_at),
                fn.MAX(x.sent_at),
                fn.SUM(Case(None, [(fresh, 1)], 0)),
                fn.MIN(Case(None, [(fresh, x.sent_at)], None)),
            ],
        ).group_by(x.sid)
        rows = list(q.bind(db).tuples())
        status = dict(
            Delivery.select(Delivery.id, Delivery.status)
            .where(in_ids(Delivery.id, [r[1] for r in rows]))
            .tuples()
        )
        for sid, last_id, last_ack, last_sent, count, oldest in rows:
            subs[owner[sid]][sid] = Health(
                status.get(last_id),
                _time(last_sent),
                _time(last_ack),
                int(count or 0),
                _time(oldest),
            )
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
        if name in NOT_A_PERSON or fn is None:
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
    subs, gone = push_health(ids, now)
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
    subs, _gone = push_health([user_id], now)
    health = subs.get(user_id, {})
    endpoints = dict(
        PushSubscription.select(PushSubscription.id, PushSubscription.endpoint)
        .where(PushSubscription.user == user_id)
        .tuples()
    )
    return [
        Device(
            sid,
            endpoints.get(sid, ""),
            health_state(h, now),
            h.last_sent_at,
            h.last_ack,
        )
        for sid, h in sorted(health.items())
    ]
