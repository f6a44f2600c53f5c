"""Delivery of committed inbox rows over the recipients' channels, as huey jobs.

1. ``enqueue_dispatch(ids)`` runs after the writing transaction commits (``db.after_commit``);
   the dispatch job reads the rows back, so a rolled-back notification (even one inside a
   released savepoint's rollback) is never delivered.
2. ``dispatch`` writes one ``Delivery`` per (notification, channel, device) — idempotent through
   ``dedupe_key``. Due ones go in already claimed and the same job sends them; the others are
   held until quiet hours end (a job scheduled with that eta).
3. ``send_deliveries`` claims due rows (one UPDATE, so the eta job and the sweeper never send a
   row twice); ``deliver`` sends claimed rows outside any transaction, then records the
   outcomes: sent; retry with exponential backoff or Retry-After (re-enqueued with an eta);
   gone (404/410: the subscription is deleted); failed.
4. ``release_due`` (periodic, and the tests' controllable clock) sends whatever is due and
   retries rows stuck in "sending", so a lost job or a crash only delays a message.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from flask import current_app
from huey import crontab
from peewee import JOIN, OP, SQL, Expression, Field, Model, chunked

from gridapp.db import db, is_postgres, utcnow
from gridapp.jobs import app_periodic_task, app_task
from gridapp.notifications import escalation, rules
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
SKIP_REASONS = frozenset({"subscription removed", "read before delivery", "channel not configured"})


def clock() -> dt.datetime:
    """Now (naive UTC); ``NOTIFY_CLOCK`` in the config (a callable) makes it controllable in
    tests of quiet hours and retries."""
    fn = current_app.config.get("NOTIFY_CLOCK")
    return fn() if fn else utcnow()


_PG_ARRAY = {
    "AUTO": "integer", "INT": "integer", "BIGAUTO": "bigint", "BIGINT": "bigint",
    "SMALLINT": "smallint", "VARCHAR": "text", "CHAR": "text", "TEXT": "text",
    "BOOL": "boolean", "DATETIME": "timestamp", "DATE": "date", "FLOAT": "double precision",
    "DOUBLE": "double precision",
}  # fmt: skip


def insert_ignore(
    model: type[Model],
    columns: Sequence[str],
    rows: Sequence[tuple],
    returning: Sequence[str] = (),
) -> list[tuple]:
    """Multi-row INSERT that skips rows violating a unique constraint (a re-run job writes
    nothing twice), without peewee's per-value SQL building (most of a fan-out's database CPU).
    With ``returning``, gives those columns of the rows actually inserted (not the skipped ones),
    so the caller needs no SELECT to learn their ids. Values must be ready for the database
    (ids, not model instances; datetimes through ``db_time``); call inside db.atomic().

    A column with one value in every row goes in once (a fan-out's title, status and times).
    On PostgreSQL the others travel as one array per column (``unnest``): a statement with a
    placeholder per value made psycopg split a query of thousands of ``%s`` on every call,
    which cost more than the database's own work. SQLite takes one ``?`` per value (its parser
    is C and the values bind without conversion)."""
    if not rows:
        return []
    # Unique conflicts only (not "OR IGNORE", which would also drop NOT NULL violations).
    tail = " ON CONFLICT DO NOTHING"
    if returning:
        tail += " RETURNING " + ", ".join(f'"{c}"' for c in returning)
    out: list[tuple] = []
    for chunk in chunked(rows, 5000 if is_postgres() else 400):
        sql, params = _insert_sql(model, columns, chunk, tail)
        cur = db.execute_sql(sql, params)
        if returning:
            out.extend(cur.fetchall())
    return out


def _insert_sql(
    model: type[Model], columns: Sequence[str], rows: Sequence[tuple], tail: str
) -> tuple[str, list[Any]]:
    """The INSERT for ``rows``: a column whose value is the same in every row (a fan-out's
    title, status, times) is passed once, the others once per row."""
    table = model._meta.table_name
    cols = ", ".join(f'"{c}"' for c in columns)
    first = rows[0]
    varying = [k for k in range(len(columns)) if any(r[k] != first[k] for r in rows)]
    if is_postgres():
        fields = model._meta.columns
        pg = [_PG_ARRAY[fields[c].field_type] for c in columns]
        select, params = [], []
        for k in range(len(columns)):
            if k in varying:
                select.append(f"u.c{k}")
            else:
                select.append(f"%s::{pg[k]}")
                params.append(first[k])
        if varying:
            arrays = ", ".join(f"%s::{pg[k]}[]" for k in varying)
            names = ", ".join(f"c{k}" for k in varying)
            source = f" FROM unnest({arrays}) AS u({names})"
            params += [[r[k] for r in rows] for k in varying]
        else:
            source = ""
        return f'INSERT INTO "{table}" ({cols}) SELECT {", ".join(select)}{source}{tail}', params
    if not varying or len(rows) == 1:
        params = [v for r in rows for v in r]
        one = "(" + ", ".join("?" for _ in columns) + ")"
        values = ", ".join([one] * len(rows))
        return f'INSERT INTO "{table}" ({cols}) VALUES {values}{tail}', params
    select, params = [], []
    for k in range(len(columns)):
        if k in varying:
            select.append(f"column{varying.index(k) + 1}")
        else:
            select.append("?")
            params.append(first[k])
    one = "(" + ", ".join("?" for _ in varying) + ")"
    values = ", ".join([one] * len(rows))
    for r in rows:
        params.extend([r[k] for k in varying])
    # "WHERE true": SQLite's parser needs it between a SELECT and ON CONFLICT.
    return (
        f'INSERT INTO "{table}" ({cols}) SELECT {", ".join(select)} FROM (VALUES {values}) '
        f"WHERE true{tail}",
        params,
    )


def db_time(value: dt.datetime | None) -> Any:
    """A naive-UTC datetime as the database takes it: text in peewee's own format on SQLite
    (sqlite3's default adapter is deprecated), the datetime itself on PostgreSQL."""
    if value is None or is_postgres():
        return value
    return str(value)


def in_ids(field: Field, ids: Iterable[int]) -> Expression:
    """``field IN (1, 2, ...)`` for integer ids, rendered as one literal (each value passed
    through ``int()``) instead of one peewee node and parameter per id (~20 µs each)."""
    text = ", ".join(str(int(i)) for i in ids)
    return Expression(field, OP.IN, SQL(f"({text})")) if text else field.in_([])


def fetch(query) -> list[tuple]:
    """The rows of a peewee SELECT as the driver returns them, without per-value conversion
    (for hot queries whose columns are ints, text and NULL checks)."""
    sql, params = query.sql()
    return db.execute_sql(sql, params).fetchall()


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
    for p in NotificationPreference.select().where(in_ids(NotificationPreference.user, user_ids)):
        out[p.user_id][(p.type, p.channel)] = p.enabled
    return out


def enabled_channels(choices: dict[tuple[str, str], bool], kind: str) -> dict[str, bool]:
    """Per channel, whether the user wants it for ``kind``: a type-specific choice wins over
    the user's "*" choice, which wins over the default."""
    return {
        ch: choices.get((kind, ch), choices.get(("*", ch), DEFAULT_ENABLED[ch]))
        for ch in CHANNEL_NAMES
    }


class Quiet(NamedTuple):
    """A user's quiet hours as read for a batch (a model instance per user cost more)."""

    enabled: bool
    start_min: int
    end_min: int
    timezone: str


def release_time(quiet: Quiet | None, now: dt.datetime) -> dt.datetime | None:
    if quiet is None:
        return rules.quiet_release(now, 22 * 60, 7 * 60, "Asia/Shanghai")
    if not quiet.enabled:
        return None
    return rules.quiet_release(now, quiet.start_min, quiet.end_min, quiet.timezone)


NOTE_FIELDS = (
    Notification.id, Notification.recipient, Notification.type, Notification.urgent,
    Notification.title, Notification.body, Notification.link, Notification.read_at,
    Notification.hop_next,
)  # fmt: skip


def dispatch(notification_ids: Sequence[int], now: dt.datetime | None = None) -> list[int]:
    """Write the deliveries of the first stage of each committed notification's escalation
    policy and send the due ones in this job (later stages: ``escalation``).

    Fresh deliveries that are due go in already claimed ("sending", attempt 1, this run's
    claim token) and are sent from what this job has just read: a fan-out batch costs one
    INSERT and one UPDATE of its deliveries, not INSERT, claim UPDATE, SELECT and UPDATE plus
    a job per batch. A crash after the INSERT leaves them "sending"; ``release_due`` retries
    them once they are stuck. Held rows are scheduled for their release; rows that an earlier
    run of this job left pending (it is retried) go through ``send_deliveries``. Returns the ids
    of the deliveries written or found pending."""
    now = now or clock()
    ids = list(notification_ids)
    notes = fetch(Notification.select(*NOTE_FIELDS).where(in_ids(Notification.id, ids)))
    if not notes:
        return []
    return start_stages(notes, {n[0]: -1 for n in notes}, now)


def _write_stage(rows: list[tuple], chains: dict) -> list[tuple]:
    """Insert a stage's deliveries (skipping re-runs' duplicates) and store the chains' next
    step, in the caller's transaction; returns the inserted rows' (id, notification, channel,
    subscription, status)."""
    inserted = insert_ignore(
        Delivery,
        (
            "notification_id", "channel", "subscription_id", "dedupe_key", "status",
            "next_attempt_at", "created_at", "updated_at", "attempts", "error", "claim", "hop",
        ),
        rows,
        returning=("id", "notification_id", "channel", "subscription_id", "status"),
    )  # fmt: skip
    escalation.save_chains(chains)
    return inserted


def start_stages(notes: list[tuple], after: dict[int, int], now: dt.datetime) -> list[int]:
    """Send, for each notification (a row of ``NOTE_FIELDS``), the first stage of its policy
    after stage ``after[id]`` that reaches the user, recording skipped hops on the way, and set
    the chain's next stage and due time (``escalation.plan``)."""
    ids = [n[0] for n in notes]
    users = {n[1] for n in notes}
    choices = channel_choices(users)
    quiet = {
        q[0]: Quiet(bool(q[1]), q[2], q[3], q[4])
        for q in fetch(
            QuietHours.select(
                QuietHours.user, QuietHours.enabled, QuietHours.start_min, QuietHours.end_min,
                QuietHours.timezone,
            ).where(in_ids(QuietHours.user, users))
        )
    }  # fmt: skip
    subs: dict[int, list[tuple]] = defaultdict(list)
    devices: dict[int, tuple] = {}
    for sub in fetch(
        PushSubscription.select(
            PushSubscription.id, PushSubscription.user, PushSubscription.endpoint,
            PushSubscription.p256dh, PushSubscription.auth,
        ).where(in_ids(PushSubscription.user, users))
    ):  # fmt: skip
        subs[sub[1]].append(sub[0])
        devices[sub[0]] = sub
    releases: dict[int, dt.datetime | None] = {}
    for uid in users:
        releases[uid] = release_time(quiet.get(uid), now)
    plan = escalation.plan(notes, after, now, choices, releases, subs)
    token = uuid.uuid4().hex
    now_db = db_time(now)
    rows = []
    for nid, ch, sid, hop, status, at, error in plan.rows:
        sending = status == "sending"
        rows.append(
            (nid, ch, sid, f"{nid}:{ch}:{sid or 0}", status, db_time(at) if at else None,
             now_db, now_db, 1 if sending else 0, error, token if sending else None, hop)
        )  # fmt: skip
    inserted: list[tuple] = []
    if rows or plan.chains:  # nothing to write (nobody reachable): no transaction at all
        with db.atomic():
            inserted = _write_stage(rows, plan.chains)
    mine = {r[0] for r in inserted}
    later = [(r[0], plan.held_until[r[1]]) for r in inserted if r[4] == "held"]
    if len(inserted) < len(rows):  # a re-run: what an earlier run wrote and did not finish
        later += [
            p
            for p in Delivery.select(Delivery.id, Delivery.next_attempt_at)
            .where(in_ids(Delivery.notification, ids), Delivery.status.in_(PENDING))
            .order_by(Delivery.id)
            .tuples()
            if p[0] not in mine
        ]
    schedule(later, now)
    escalation.schedule_chains(plan.chains, now)
    by_id = {n[0]: n for n in notes}
    claimed = []
    for did, nid, ch, sid, status in inserted:
        if status != "sending":
            continue
        n = by_id[nid]
        dev = devices.get(sid) if sid else None
        claimed.append(
            Claimed(
                did, ch, 1, sid, nid, n[1], n[2], n[4], n[5], n[6], n[3], n[7],
                dev[2] if dev else None, dev[3] if dev else None, dev[4] if dev else None,
            )
        )  # fmt: skip
    claimed.sort(key=lambda c: c.id)
    deliver(claimed, now)
    return sorted(mine | {p[0] for p in later})


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


class Claimed(NamedTuple):
    """A claimed delivery with what sending it needs (read in the claim's one SELECT)."""

    id: int
    channel: str
    attempts: int
    subscription_id: int | None
    notification_id: int
    recipient_id: int
    type: str
    title: str
    body: str
    link: str
    urgent: bool
    read_at: Any
    endpoint: str | None
    p256dh: str | None
    auth: str | None

    def message(self) -> Message:
        return Message(
            delivery_id=self.id,
            notification_id=self.notification_id,
            recipient_id=self.recipient_id,
            type=self.type,
            title=self.title,
            body=self.body,
            link=self.link,
            urgent=bool(self.urgent),
            endpoint=self.endpoint or "",
            p256dh=self.p256dh or "",
            auth=self.auth or "",
        )


def claim(delivery_ids: Sequence[int], now: dt.datetime) -> list[Claimed]:
    token = uuid.uuid4().hex
    with db.atomic():
        Delivery.update(
            status="sending", claim=token, attempts=Delivery.attempts + 1, updated_at=now
        ).where(
            in_ids(Delivery.id, delivery_ids),
            Delivery.status.in_(PENDING),
            Delivery.next_attempt_at <= now,
        ).execute()
    q = (
        Delivery.select(
            Delivery.id,
            Delivery.channel,
            Delivery.attempts,
            Delivery.subscription,
            Notification.id,
            Notification.recipient,
            Notification.type,
            Notification.title,
            Notification.body,
            Notification.link,
            Notification.urgent,
            Notification.read_at,
            PushSubscription.endpoint,
            PushSubscription.p256dh,
            PushSubscription.auth,
        )  # fmt: skip
        .join(Notification)
        .switch(Delivery)
        .join(PushSubscription, JOIN.LEFT_OUTER)
        .where(Delivery.claim == token)
        .order_by(Delivery.id)
    )
    return [Claimed._make(r) for r in fetch(q)]


def send_deliveries(delivery_ids: Sequence[int], now: dt.datetime | None = None) -> int:
    """Send the due deliveries among ``delivery_ids``; returns how many were attempted."""
    now = now or clock()
    return deliver(claim(delivery_ids, now), now)


def deliver(rows: list[Claimed], now: dt.datetime) -> int:
    """Send claimed deliveries (outside any transaction) and record the outcomes; returns how
    many were attempted."""
    if not rows:
        return 0
    chans = channels()
    results: list[tuple[Claimed, Outcome]] = []
    batches: dict[str, list[Claimed]] = defaultdict(list)
    for d in rows:
        if d.channel == "webpush" and not d.subscription_id:
            results.append((d, Outcome(None, error="subscription removed")))
            continue
        if d.read_at is not None:
            # Read in the inbox meanwhile (e.g. held overnight): no need to ring the phone.
            results.append((d, Outcome(None, error="read before delivery")))
            continue
        if d.channel not in chans:  # configured away since the row was written
            results.append((d, Outcome(None, error="channel not configured")))
            continue
        batches[d.channel].append(d)  # each channel's rows sent together (send_many)
    for name, batch in batches.items():
        results.extend(zip(batch, _send_batch(chans[name], batch), strict=True))
    record(results, now)
    return len(results)


def _send_batch(channel, batch: list[Claimed]) -> list[Outcome]:
    """One channel's rows: through ``send_many`` when it has one (Web Push: several requests
    in flight), else one ``send`` each."""
    many = getattr(channel, "send_many", None)
    if many is None:
        return [_send_one(channel, d) for d in batch]
    try:
        return list(many([d.message() for d in batch]))
    except Exception as exc:  # noqa: BLE001  (recorded; the rows are retried)
        log.exception("%s batch of %s failed", channel.name, len(batch))
        return [Outcome(None, error=f"{type(exc).__name__}: {exc}"[:500])] * len(batch)


def _send_one(channel, d: Claimed) -> Outcome:
    try:
        return channel.send(d.message())
    except Exception as exc:  # noqa: BLE001  (a bad row must not stop the batch)
        log.exception("delivery %s failed", d.id)
        return Outcome(None, error=f"{type(exc).__name__}: {exc}"[:500])


def record(results: list[tuple[Claimed, Outcome]], now: dt.datetime) -> None:
    """Store each outcome (grouped into a few UPDATEs), prune gone subscriptions, schedule
    retries."""
    s = settings()
    groups: dict[tuple, list[int]] = defaultdict(list)
    gone_subs: set[int] = set()
    ok_subs: set[int] = set()
    retries: list[tuple[int, dt.datetime]] = []
    ended: set[int] = set()  # notifications with a hop that reached nobody: escalate at once
    for d, out in results:
        code = out.status_code
        if code is not None and 200 <= code < 300:  # rules.judge's first case, inline
            groups[("sent", code, out.error, None)].append(d.id)
            if d.subscription_id:
                ok_subs.add(d.subscription_id)
            continue
        if code is None and out.error in SKIP_REASONS:
            groups[("skipped", None, out.error, None)].append(d.id)
            if out.error != "read before delivery":
                ended.add(d.notification_id)
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
        if verdict.status in ("gone", "failed"):
            ended.add(d.notification_id)
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
                Delivery.update(**fields).where(in_ids(Delivery.id, chunk)).execute()
        if ok_subs:
            PushSubscription.update(last_success_at=now).where(
                in_ids(PushSubscription.id, sorted(ok_subs))
            ).execute()
        if gone_subs:
            # Pending deliveries to these devices are skipped (their subscription becomes NULL).
            PushSubscription.delete().where(
                in_ids(PushSubscription.id, sorted(gone_subs))
            ).execute()
    db.after_commit(lambda: schedule(retries, now))
    if ended:
        db.after_commit(lambda: _hops_ended(ended, now))


def _hops_ended(notification_ids: set[int], now: dt.datetime) -> None:
    try:
        escalation.hop_ended(sorted(notification_ids), now)
    except Exception:  # noqa: BLE001  (the due scan escalates them when their window ends)
        log.exception("could not escalate %s at once", sorted(notification_ids)[:5])


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
