"""Delivery of committed inbox rows over the recipients' channels, as huey jobs.

1. ``enqueue_dispatch(ids)`` runs after the writing transaction commits (``db.after_commit``);
   the dispatch job reads the rows back, so a rolled-back notification (even one inside a
   released savepoint's rollback) is never delivered.
2. ``dispatch`` writes one ``Delivery`` per (notification, channel, device) — idempotent through
   ``dedupe_key`` — queued now, or held until quiet hours end (a job scheduled with that eta).
3. ``send_deliveries`` claims due rows (one UPDATE, so the eta job and the sweeper never send a
   row twice), sends outside any transaction, then records the outcomes: sent; retry with
   exponential backoff or Retry-After (re-enqueued with an eta); gone (404/410: the subscription
   is deleted); failed.
4. ``release_due`` (periodic, and the tests' controllable clock) sends whatever is due, so a lost
   scheduled job only delays a message.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence

from flask import current_app
from huey import crontab
from peewee import JOIN, chunked

from gridapp.db import db, utcnow
from gridapp.jobs import app_periodic_task, app_task
from gridapp.notifications import rules
from gridapp.notifications.channels import (
    CHANNEL_NAMES,
    DEFAULT_ENABLED,
    Message,
    Outcome,
    channels,
    settings,
)
from gridapp.notifications.models import (
    Delivery,
    Notification,
    NotificationPreference,
    PushSubscription,
    QuietHours,
)

log = logging.getLogger("gridapp.notifications")

PENDING = ("queued", "held", "retry")
SEND_BATCH = 200
STUCK_AFTER = dt.timedelta(minutes=15)
SKIP_REASONS = frozenset({"subscription removed", "read before delivery"})


def clock() -> dt.datetime:
    """Now (naive UTC); ``NOTIFY_CLOCK`` in the config (a callable) makes it controllable in
    tests of quiet hours and retries."""
    fn = current_app.config.get("NOTIFY_CLOCK")
    return fn() if fn else utcnow()


# ---- enqueueing ----------------------------------------------------------------------------


def enqueue_dispatch(notification_ids: Sequence[int]) -> None:
    """Hand committed notification ids to the dispatch job (never raises into the caller: the
    inbox row is the record, delivery is best effort)."""
    for chunk in chunked(list(notification_ids), 500):
        try:
            dispatch_job(list(chunk))
        except Exception:  # noqa: BLE001  (a broken queue must not fail the committed event)
            log.exception("could not enqueue delivery of notifications %s", chunk[:5])


def after_commit_dispatch(notification_ids: Sequence[int]) -> None:
    """Enqueue delivery once the current (outermost) transaction commits; nothing on rollback."""
    ids = list(notification_ids)
    if ids:
        db.after_commit(lambda: enqueue_dispatch(ids))


# ---- who gets what, when -------------------------------------------------------------------


def channel_choices(user_ids: Iterable[int]) -> dict[int, dict[tuple[str, str], bool]]:
    out: dict[int, dict[tuple[str, str], bool]] = defaultdict(dict)
    for p in NotificationPreference.select().where(NotificationPreference.user.in_(list(user_ids))):
        out[p.user_id][(p.type, p.channel)] = p.enabled
    return out


def enabled_channels(choices: dict[tuple[str, str], bool], kind: str) -> list[str]:
    """A type-specific choice wins over the user's "*" choice, which wins over the default."""
    result = []
    for ch in CHANNEL_NAMES:
        value = choices.get((kind, ch), choices.get(("*", ch), DEFAULT_ENABLED[ch]))
        if value:
            result.append(ch)
    return result


def release_time(quiet: QuietHours | None, now: dt.datetime) -> dt.datetime | None:
    if quiet is None:
        return rules.quiet_release(now, 22 * 60, 7 * 60, "Asia/Shanghai")
    if not quiet.enabled:
        return None
    return rules.quiet_release(now, quiet.start_min, quiet.end_min, quiet.timezone)


def dispatch(notification_ids: Sequence[int], now: dt.datetime | None = None) -> list[int]:
    """Write the deliveries for committed notifications; enqueue the due ones and schedule the
    held ones. Returns the ids of the deliveries written or found pending."""
    now = now or clock()
    ids = list(notification_ids)
    notes = list(
        Notification.select(
            Notification.id, Notification.recipient, Notification.type, Notification.urgent
        ).where(Notification.id.in_(ids))
    )
    if not notes:
        return []
    users = {n.recipient_id for n in notes}
    choices = channel_choices(users)
    quiet = {q.user_id: q for q in QuietHours.select().where(QuietHours.user.in_(list(users)))}
    subs: dict[int, list[int]] = defaultdict(list)
    for sid, uid in (
        PushSubscription.select(PushSubscription.id, PushSubscription.user)
        .where(PushSubscription.user.in_(list(users)))
        .tuples()
    ):
        subs[uid].append(sid)
    releases: dict[int, dt.datetime | None] = {}
    rows = []
    for n in notes:
        uid = n.recipient_id
        if uid not in releases:
            releases[uid] = release_time(quiet.get(uid), now)
        release = None if n.urgent else releases[uid]
        for ch in enabled_channels(choices.get(uid, {}), n.type):
            targets = subs.get(uid, []) if ch == "webpush" else [None]
            for sid in targets:
                rows.append(
                    {
                        "notification": n.id,
                        "channel": ch,
                        "subscription": sid,
                        "dedupe_key": f"{n.id}:{ch}:{sid or 0}",
                        "status": "held" if release else "queued",
                        "next_attempt_at": release or now,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
    with db.atomic():
        for chunk in chunked(rows, 50):
            Delivery.insert_many(chunk).on_conflict_ignore().execute()
    pending = list(
        Delivery.select(Delivery.id, Delivery.next_attempt_at)
        .where(Delivery.notification.in_(ids), Delivery.status.in_(PENDING))
        .order_by(Delivery.id)
        .tuples()
    )
    schedule(pending, now)
    return [p[0] for p in pending]


def schedule(pending: Iterable[tuple[int, dt.datetime]], now: dt.datetime) -> None:
    """Send what is due now; schedule the rest with their eta (grouped per moment)."""
    due: list[int] = []
    later: dict[dt.datetime, list[int]] = defaultdict(list)
    for did, at in pending:
        if at is None or at <= now:
            due.append(did)
        else:
            later[at].append(did)
    for chunk in chunked(due, SEND_BATCH):
        send_job(list(chunk))
    for at, dids in later.items():
        for chunk in chunked(dids, SEND_BATCH):
            send_job.schedule(args=(list(chunk),), eta=at)


# ---- sending -------------------------------------------------------------------------------


def _message(d: Delivery) -> Message:
    n = d.notification
    sub = d.subscription if d.subscription_id else None
    return Message(
        delivery_id=d.id,
        notification_id=n.id,
        recipient_id=n.recipient_id,
        type=n.type,
        title=n.title,
        body=n.body,
        link=n.link,
        urgent=n.urgent,
        endpoint=sub.endpoint if sub else "",
        p256dh=sub.p256dh if sub else "",
        auth=sub.auth if sub else "",
    )


def claim(delivery_ids: Sequence[int], now: dt.datetime) -> list[Delivery]:
    token = uuid.uuid4().hex
    with db.atomic():
        Delivery.update(
            status="sending", claim=token, attempts=Delivery.attempts + 1, updated_at=now
        ).where(
            Delivery.id.in_(list(delivery_ids)),
            Delivery.status.in_(PENDING),
            Delivery.next_attempt_at <= now,
        ).execute()
    return list(
        Delivery.select(Delivery, Notification, PushSubscription)
        .join(Notification)
        .switch(Delivery)
        .join(PushSubscription, JOIN.LEFT_OUTER)
        .where(Delivery.claim == token)
        .order_by(Delivery.id)
    )


def send_deliveries(delivery_ids: Sequence[int], now: dt.datetime | None = None) -> int:
    """Send the due deliveries among ``delivery_ids``; returns how many were attempted."""
    now = now or clock()
    rows = claim(delivery_ids, now)
    if not rows:
        return 0
    chans = channels()
    results: list[tuple[Delivery, Outcome]] = []
    for d in rows:
        if d.channel == "webpush" and not d.subscription_id:
            results.append((d, Outcome(None, error="subscription removed")))
            continue
        if d.notification.read_at is not None:
            # Read in the inbox meanwhile (e.g. held overnight): no need to ring the phone.
            results.append((d, Outcome(None, error="read before delivery")))
            continue
        try:
            outcome = chans[d.channel].send(_message(d))
        except Exception as exc:  # noqa: BLE001  (a bad row must not stop the batch)
            log.exception("delivery %s failed", d.id)
            outcome = Outcome(None, error=f"{type(exc).__name__}: {exc}"[:500])
        results.append((d, outcome))
    record(results, now)
    return len(results)


def record(results: list[tuple[Delivery, Outcome]], now: dt.datetime) -> None:
    """Store each outcome (grouped into a few UPDATEs), prune gone subscriptions, schedule
    retries."""
    s = settings()
    groups: dict[tuple, list[int]] = defaultdict(list)
    gone_subs: set[int] = set()
    ok_subs: set[int] = set()
    retries: list[tuple[int, dt.datetime]] = []
    for d, out in results:
        if out.status_code is None and out.error in SKIP_REASONS:
            groups[("skipped", None, out.error, None)].append(d.id)
            continue
        verdict = rules.judge(
            out.status_code,
            d.attempts,
            s["max_attempts"],
            rules.parse_retry_after(out.retry_after, now),
            base=s["backoff_base"],
        )
        at = None
        if verdict.status == "retry":
            at = now + dt.timedelta(seconds=verdict.delay or 0)
            retries.append((d.id, at))
        elif verdict.status == "gone" and d.subscription_id:
            gone_subs.add(d.subscription_id)
        elif verdict.status == "sent" and d.subscription_id:
            ok_subs.add(d.subscription_id)
        groups[(verdict.status, out.status_code, out.error, at)].append(d.id)
    with db.atomic():
        for (status, code, error, at), ids in groups.items():
            fields = {
                "status": status,
                "status_code": code,
                "error": error,
                "claim": None,
                "updated_at": now,
            }
            if status == "sent":
                fields["sent_at"] = now
            if at is not None:
                fields["next_attempt_at"] = at
            for chunk in chunked(ids, 500):
                Delivery.update(**fields).where(Delivery.id.in_(list(chunk))).execute()
        if ok_subs:
            PushSubscription.update(last_success_at=now).where(
                PushSubscription.id.in_(sorted(ok_subs))
            ).execute()
        if gone_subs:
            # Pending deliveries to these devices are skipped (their subscription becomes NULL).
            PushSubscription.delete().where(PushSubscription.id.in_(sorted(gone_subs))).execute()
    db.after_commit(lambda: schedule(retries, now))


def release_due(now: dt.datetime | None = None, limit: int = 2000) -> int:
    """Send every delivery that is due (held past quiet hours, retries whose time came, rows
    whose job was lost); rows stuck in "sending" after a crash go back to "retry"."""
    now = now or clock()
    with db.atomic():
        Delivery.update(status="retry", claim=None).where(
            Delivery.status == "sending", Delivery.updated_at < now - STUCK_AFTER
        ).execute()
    ids = [
        r[0]
        for r in Delivery.select(Delivery.id)
        .where(Delivery.status.in_(PENDING), Delivery.next_attempt_at <= now)
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
        .tuples()
    ]
    sent = 0
    for chunk in chunked(ids, SEND_BATCH):
        sent += send_deliveries(list(chunk), now)
    return sent


# ---- jobs ----------------------------------------------------------------------------------


@app_task(retries=3, retry_delay=10)  # idempotent: deliveries are deduplicated
def dispatch_job(notification_ids: list[int]) -> int:
    return len(dispatch(notification_ids))


@app_task()
def send_job(delivery_ids: list[int]) -> int:
    return send_deliveries(delivery_ids)


@app_periodic_task(crontab(minute="*/5"))
def release_due_job() -> int:
    return release_due()
