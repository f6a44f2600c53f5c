"""Reachability: the pure Web Push rules, then ``reach()`` over real rows with channels that
say whom they reach."""

from __future__ import annotations

import datetime as dt

from gridapp.notifications.reach import (
    SILENT_AFTER,
    Reach,
    Sent,
    combine,
    reach,
    subscription_state,
    webpush_state,
)

NOW = dt.datetime(2026, 11, 30, 3, 0)
DAY = dt.timedelta(days=1)


def sent(days_ago: float, acked: float | None = None, status: str = "sent") -> Sent:
    at = NOW - dt.timedelta(days=days_ago)
    return Sent(status, at, None if acked is None else NOW - dt.timedelta(days=acked))


# ---- pure rules ----------------------------------------------------------------------------


def test_a_fresh_subscription_works():
    assert subscription_state([], NOW) == "working"


def test_the_last_failure_or_gone_makes_it_failing_and_a_later_success_heals_it():
    assert subscription_state([sent(3), sent(1, status="failed")], NOW) == "failing"
    assert subscription_state([sent(3), sent(1, status="gone")], NOW) == "failing"
    assert subscription_state([sent(3, status="failed"), sent(1, acked=1)], NOW) == "working"


def test_pushes_never_acknowledged_for_days_are_silent():
    # Sent three and two days ago, nothing acknowledged: the service worker never got them.
    assert subscription_state([sent(3), sent(2)], NOW) == "failing"
    # One unacknowledged push is not enough (a phone can miss one).
    assert subscription_state([sent(3)], NOW) == "working"
    # Recent ones are still on their way.
    assert subscription_state([sent(1), sent(0.5)], NOW) == "working"
    # Exactly SILENT_AFTER ago counts as days of silence.
    at = NOW - SILENT_AFTER
    assert subscription_state([Sent("sent", at, None), Sent("sent", at, None)], NOW) == "failing"


def test_an_acknowledgment_resets_the_silence():
    # Acknowledged one day ago; what was sent before it does not count any more.
    assert subscription_state([sent(5), sent(4), sent(1.5, acked=1)], NOW) == "working"
    # Acknowledged long ago, silent since for days: failing again.
    assert subscription_state([sent(9, acked=9), sent(5), sent(3)], NOW) == "failing"


def test_the_user_state_is_the_best_device():
    failing, working = [sent(1, status="failed")], [sent(1, acked=1)]
    assert webpush_state({}, False, NOW) == "none"
    assert webpush_state({}, True, NOW) == "failing"  # the last device went gone
    assert webpush_state({1: failing}, False, NOW) == "failing"
    assert webpush_state({1: failing, 2: working}, False, NOW) == "working"
    assert webpush_state({1: []}, True, NOW) == "working"  # re-subscribed since


def test_combine_orders_channels_and_names_the_best():
    assert combine("working", ["wecom", "sms"]) == Reach(
        "working", ("webpush", "wecom", "sms"), "webpush"
    )
    assert combine("failing", ["wecom", "sms"]) == Reach("failing", ("wecom", "sms"), "wecom")
    assert combine("none", ["sms"]) == Reach("none", ("sms",), "sms")
    assert combine("none", []) == Reach("none", (), None)


# ---- over the database ---------------------------------------------------------------------


class Reaches:
    """A channel that reaches a fixed set of users (what wecom / sms answer from bindings)."""

    def __init__(self, name: str, users: set[int], broken: bool = False) -> None:
        self.name, self.users, self.broken, self.asked = name, users, broken, []

    def reachable(self, user_ids):
        self.asked.append(list(user_ids))
        if self.broken:
            raise ConnectionError("provider down")
        return {u for u in user_ids if u in self.users}

    def send(self, message):  # pragma: no cover - not sent here
        raise AssertionError


class NoReach:
    name = "console"

    def reachable(self, user_ids):  # console says everyone (escalation); a log is nobody
        return set(user_ids)

    def send(self, message):  # pragma: no cover
        raise AssertionError


def _subscribe(user, n: int = 0):
    from gridapp.notifications.models import PushSubscription

    return PushSubscription.create(
        user=user.id, endpoint=f"https://push.example/{user.id}/{n}", p256dh="k", auth="a"
    )


def _delivery(user, sub, status: str, sent_at: dt.datetime, delivered_at=None):
    from gridapp.notifications.models import Delivery, Notification

    n = Notification.create(recipient=user.id, type="task.assigned", title="t")
    return Delivery.create(
        notification=n.id,
        channel="webpush",
        subscription=sub.id if sub else None,
        dedupe_key=f"{n.id}:webpush:{sub.id if sub else 0}",
        status=status,
        created_at=sent_at,
        updated_at=sent_at,
        sent_at=sent_at if status == "sent" else None,
        delivered_at=delivered_at,
    )


def test_reach_reads_subscriptions_deliveries_and_channels(app, make_user):
    none, working, failing, gone, silent = (make_user("grid_worker") for _ in range(5))
    _subscribe(working)
    _delivery(failing, _subscribe(failing), "failed", NOW - DAY)
    _delivery(gone, None, "gone", NOW - DAY)  # its subscription was deleted
    sub = _subscribe(silent)
    for days in (4, 3):
        _delivery(silent, sub, "sent", NOW - days * DAY)
    wecom = Reaches("wecom", {failing.id, none.id})
    sms = Reaches("sms", {failing.id, gone.id})
    registry = {"webpush": object(), "sms": sms, "wecom": wecom, "console": NoReach()}
    ids = [u.id for u in (none, working, failing, gone, silent)]
    got = reach(ids, NOW, registry=registry)
    assert got[none.id] == Reach("none", ("wecom",), "wecom")
    assert got[working.id] == Reach("working", ("webpush",), "webpush")
    # policy order (CHANNEL_NAMES: wecom before sms), not the registry's
    assert got[failing.id] == Reach("failing", ("wecom", "sms"), "wecom")
    assert got[gone.id] == Reach("failing", ("sms",), "sms")
    assert got[silent.id] == Reach("failing", (), None)
    assert wecom.asked == [sorted(ids)]  # one batch question per channel


def test_an_acknowledgment_through_receipts_keeps_push_working(app, make_user):
    from gridapp.notifications import receipts

    user = make_user("grid_worker")
    sub = _subscribe(user)
    old = [_delivery(user, sub, "sent", NOW - days * DAY) for days in (5, 4, 3)]
    assert reach([user.id], NOW, registry={})[user.id].webpush == "failing"
    assert receipts.mark_delivered(old[-1].id, NOW - 2 * DAY)
    assert reach([user.id], NOW, registry={})[user.id].webpush == "working"


def test_old_outcomes_and_other_channels_deliveries_do_not_count(app, make_user):
    user = make_user("grid_worker")
    sub = _subscribe(user)
    _delivery(user, sub, "failed", NOW - 30 * DAY)  # outside the window
    assert reach([user.id], NOW, registry={})[user.id].webpush == "working"


def test_a_broken_channel_reaches_nobody_instead_of_failing(app, make_user):
    user = make_user("grid_worker")
    registry = {"wecom": Reaches("wecom", {user.id}, broken=True), "sms": Reaches("sms", {user.id})}
    assert reach([user.id], NOW, registry=registry)[user.id] == Reach("none", ("sms",), "sms")


def test_reach_with_the_apps_own_channels(app, make_user):
    user = make_user("grid_worker")
    _subscribe(user)
    with app.app_context():
        assert reach([user.id])[user.id] == Reach("working", ("webpush",), "webpush")
    assert reach([]) == {}


def test_the_sql_aggregates_match_the_rules_reference(app, make_user):
    """``push_health`` (grouped SQL) gives what ``summarise`` gives over the same rows."""
    import random

    from gridapp.notifications.models import Delivery
    from gridapp.notifications.reach import WINDOW, push_health, summarise

    rng = random.Random(5)
    users = [make_user("grid_worker") for _ in range(4)]
    subs = {}
    for user in users:
        for j in range(2):
            sub = _subscribe(user, j)
            subs[sub.id] = user.id
            for i in range(rng.randint(0, 8)):
                at = NOW - dt.timedelta(days=rng.uniform(0, 20), seconds=i)
                status = rng.choice(["sent", "sent", "sent", "failed", "retry"])
                acked = (
                    at + dt.timedelta(minutes=1)
                    if status == "sent" and rng.random() < 0.4
                    else None
                )
                _delivery(user, sub, status, at, acked)
    got, _gone = push_health([u.id for u in users], NOW)
    for sid, uid in subs.items():
        rows = (
            Delivery.select()
            .where(
                Delivery.subscription == sid,
                Delivery.status.in_(("sent", "failed", "gone")),
                Delivery.created_at >= NOW - WINDOW,
            )
            .order_by(Delivery.id)
        )
        history = [Sent(d.status, d.sent_at or d.updated_at, d.delivered_at) for d in rows]
        assert got[uid][sid] == summarise(history), sid
