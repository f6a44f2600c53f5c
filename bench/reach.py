"""Reachability at street size: ``reach()`` for 3,000 workers with two weeks of pushes each
(``--smoke``: 30), the question the admins' overview ("users with no working channel") asks.

``python -m bench reach [--users N] [--db ...] [--smoke]``

Each worker has a subscription and ten pushes over the last 14 days: most acknowledged by the
service worker, some failing last, some silent for days (FCM unreachable); half are reachable by
another channel. ``reach(all ids)`` is timed against the bare SQL it needs (the same rows, read
as plain SQL strings through the driver in the same run): the ratio is what the rules and the
ORM add. The signed-in worker's ``GET /api/v1/notifications/reach`` is timed against ``GET
/api/v1/notifications/unread-count`` (the cheapest signed-in call) through the test client.
"""

from __future__ import annotations

import datetime as dt
import random

from bench.common import backends, bench_app, parser, report, timeit


class Reaches:
    """A channel that reaches a fixed set of users (as wecom / sms answer from bindings)."""

    name = "wecom"

    def __init__(self, users: set[int]) -> None:
        self.users = users

    def reachable(self, user_ids):
        return {u for u in user_ids if u in self.users}


def seed(n: int, now: dt.datetime, seed: int = 7) -> list[int]:
    from gridapp.accounts.service import hash_password
    from gridapp.db import db
    from gridapp.notifications.models import Delivery, Notification, PushSubscription
    from gridapp.org.models import User

    rng = random.Random(seed)
    pw = hash_password("bench-password-1")
    with db.atomic():
        User.insert_many(
            [
                {
                    "username": f"rw{i}",
                    "password_hash": pw,
                    "display_name": f"网格员{i}",
                    "role": "grid_worker",
                }
                for i in range(n)
            ]  # fmt: skip
        ).execute()
    ids = [u.id for u in User.select(User.id).where(User.username.startswith("rw"))]
    with db.atomic():
        PushSubscription.insert_many(
            [
                {
                    "user": uid,
                    "endpoint": f"https://fcm.googleapis.com/fcm/send/{uid}",
                    "p256dh": "k",
                    "auth": "a",
                }
                for uid in ids
            ]  # fmt: skip
        ).execute()
    subs = dict(PushSubscription.select(PushSubscription.user, PushSubscription.id).tuples())
    notes, deliveries = [], []
    for uid in ids:
        kind = rng.random()  # 70 % acknowledged, 15 % failing last, 15 % silent
        for k in range(10):
            at = now - dt.timedelta(days=14) + dt.timedelta(hours=33 * k + rng.random())
            notes.append({"recipient": uid, "type": "announcement", "title": "停水通知",
                          "created_at": at})  # fmt: skip
            status = "failed" if kind < 0.15 and k == 9 else "sent"
            acked = at + dt.timedelta(minutes=1) if kind >= 0.30 else None
            deliveries.append((uid, at, status, acked))
    with db.atomic():
        for i in range(0, len(notes), 500):
            Notification.insert_many(notes[i : i + 500]).execute()
    nids = [r[0] for r in Notification.select(Notification.id).order_by(Notification.id).tuples()]
    rows = [
        {"notification": nid, "channel": "webpush", "subscription": subs[uid],
         "dedupe_key": f"{nid}:webpush:{subs[uid]}", "status": status, "created_at": at,
         "updated_at": at, "sent_at": at, "delivered_at": acked, "attempts": 1}
        for nid, (uid, at, status, acked) in zip(nids, deliveries, strict=True)
    ]  # fmt: skip
    with db.atomic():
        for i in range(0, len(rows), 500):
            Delivery.insert_many(rows[i : i + 500]).execute()
    return ids


def bare_sql(now: dt.datetime) -> int:
    """The rows ``reach`` reads, as plain SQL through the driver (no ORM, no rules)."""
    from gridapp.db import db, is_postgres

    since = now - dt.timedelta(days=14)
    mark = "%s" if is_postgres() else "?"
    value = since if is_postgres() else str(since)
    n = len(db.execute_sql('SELECT id, user_id FROM "push_subscription"').fetchall())
    n += len(
        db.execute_sql(
            'SELECT subscription_id, status, sent_at, updated_at, delivered_at FROM "delivery"'
            f" WHERE channel = 'webpush' AND status IN ('sent', 'failed', 'gone')"
            f" AND created_at >= {mark} ORDER BY id",
            (value,),
        ).fetchall()
    )
    return n


def login(app, username: str, password: str):
    """A test client signed in through the JSON API, sending its CSRF token."""
    client = app.test_client()
    token = client.get("/api/v1/auth/csrf").get_json()["csrf_token"]
    resp = client.post(
        "/api/v1/auth/login",
        json={"username": username, "password": password},
        headers={"X-CSRFToken": token},
    )
    assert resp.status_code == 200, resp.get_json()
    client.environ_base["HTTP_X_CSRFTOKEN"] = resp.get_json()["csrf_token"]
    return client


def run(backend: str, n: int) -> None:
    from gridapp.db import utcnow
    from gridapp.notifications.reach import reach

    with bench_app(backend) as app:
        now = utcnow()
        ids = seed(n, now)
        registry = {"webpush": object(), "wecom": Reaches(set(ids[::2]))}
        got = reach(ids, now, registry=registry)
        states = {s: sum(1 for r in got.values() if r.webpush == s) for s in ("working", "failing")}
        nobody = sum(1 for r in got.values() if r.best is None)
        ours = timeit(lambda: reach(ids, now, registry=registry), repeat=5)
        base = timeit(lambda: bare_sql(now), repeat=5)
        client = login(app, "rw0", "bench-password-1")
        assert client.get("/api/v1/notifications/reach").status_code == 200
        endpoint = timeit(lambda: client.get("/api/v1/notifications/reach"), repeat=20)
        cheap = timeit(lambda: client.get("/api/v1/notifications/unread-count"), repeat=20)
        report(
            [
                (f"reach() for {n} workers", ours, base),
                ("GET /notifications/reach (one worker)", endpoint, cheap),
            ],
            f"reach on {backend}: {n} workers, {n * 10} pushes; working {states['working']}, "
            f"failing {states['failing']}, no channel at all {nobody} "
            f"(baselines: the bare SQL of the same rows; GET unread-count)",
        )


def main(argv: list[str]) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=3000)
    args = p.parse_args(argv)
    n = 30 if args.smoke else args.users
    for backend in backends(args.db):
        run(backend, n)
    return 0
