"""The escalation chain: each notification goes out over the first stage of its kind's policy
(``delivery.dispatch``); later stages come due after their wait and are sent unless the
notification was read anywhere meanwhile (inbox, app, a channel's link): "a message read
anywhere stops the chain".

State lives on the notification: ``hop_next`` (the next stage) and ``hop_due_at`` (when it
comes due), NULL once the chain has ended; every hop is a ``Delivery`` row with its ``hop``
index, channel, status and, when skipped, why ("unreachable", "read"). A stage comes due by a
huey job scheduled with that eta and, should the job be lost, by the periodic ``escalate_due``
scan (like ``release_due``). A stage that reaches nobody hands over to the next at once: at
planning time (the channel cannot reach the user: no subscription, not bound, no number) and
after sending (every delivery of the stage failed or is gone, or a late failure receipt:
``hop_ended``). Quiet hours hold the stages of non-urgent notifications (the due time counts
from the release), never urgent ones.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from huey import crontab
from peewee import chunked, fn

from gridapp.db import db
from gridapp.jobs import app_periodic_task, app_task
from gridapp.notifications import hops, policy
from gridapp.notifications.channels import channels, reachable
from gridapp.notifications.models import Delivery, Notification

log = logging.getLogger("gridapp.notifications")

# A stage still on its way or done: the chain waits for its window.
OPEN = ("queued", "held", "retry", "sending", "sent")
# huey fires an eta job on the scheduler's whole-second tick, up to a second before the
# microsecond due time it was given: a stage this close to due is due.
EARLY = dt.timedelta(seconds=2)


class Plan(NamedTuple):
    # (notification id, channel, subscription id, hop, status, next attempt, error)
    rows: list[tuple]
    held_until: dict[int, dt.datetime]
    # notification id -> (next stage, due) to store; (None, None) ends the chain
    chains: dict[int, tuple[int | None, dt.datetime | None]]


def plan(
    notes: list[tuple],
    after: Mapping[int, int],
    now: dt.datetime,
    choices: Mapping[int, dict[tuple[str, str], bool]],
    releases: Mapping[int, dt.datetime | None],
    subs: Mapping[int, list[int]],
) -> Plan:
    """The delivery rows of the next stage of each notification (``delivery.NOTE_FIELDS``
    rows) after stage ``after[id]`` (-1: the first), walking past stages that reach nobody."""
    from gridapp.notifications.delivery import enabled_channels

    chans = channels()
    allowed = set(chans)
    loaded = policy.load({n[2] for n in notes})
    users = {n[1] for n in notes}
    reach: dict[str, set[int]] = {}
    wants: dict[tuple[int, str], dict[str, bool]] = {}
    rows: list[tuple] = []
    held_until: dict[int, dt.datetime] = {}
    chains: dict[int, tuple[int | None, dt.datetime | None]] = {}

    def reaches(ch: str, uid: int) -> bool:
        if ch == "webpush":
            return bool(subs.get(uid))
        if ch not in reach:
            reach[ch] = reachable(chans[ch], users)
        return uid in reach[ch]

    for nid, uid, kind, flagged, _t, _b, _l, read_at, hop_next in notes:
        pol = policy.policy_for(kind, loaded)
        urgent = bool(flagged) or pol.urgent
        choice = wants.get((uid, kind))
        if choice is None:
            choice = wants[(uid, kind)] = enabled_channels(choices.get(uid, {}), kind)
        release = None if urgent else releases.get(uid)
        escalating = after[nid] >= 0
        stage = hops.next_stage(pol, after[nid], urgent, allowed, choice)
        chain: tuple[int | None, dt.datetime | None] = (None, None)
        while stage is not None:
            usable = hops.usable(pol, stage, urgent, allowed, choice)
            nxt = hops.next_stage(pol, stage, urgent, allowed, choice)
            if escalating and read_at is not None:  # read anywhere: the chain stops here
                rows.extend((nid, ch, None, stage, "skipped", None, "read") for ch in usable)
                break
            ok = [ch for ch in usable if reaches(ch, uid)]
            if stage > 0 or nxt is not None:  # say why the chain moved on
                rows.extend(
                    (nid, ch, None, stage, "skipped", None, "unreachable")
                    for ch in usable
                    if ch not in ok
                )
            if ok:
                status, at = ("held", release) if release else ("sending", now)
                if release:
                    held_until[nid] = release
                for ch in ok:
                    for sid in subs.get(uid, ()) if ch == "webpush" else (None,):
                        rows.append((nid, ch, sid, stage, status, at, ""))
                if nxt is not None:
                    chain = (nxt, (release or now) + dt.timedelta(minutes=pol.stages[nxt].wait))
                break
            stage = nxt
        if chain != (None, None) or hop_next is not None:
            chains[nid] = chain
    return Plan(rows, held_until, chains)


def save_chains(chains: Mapping[int, tuple[int | None, dt.datetime | None]]) -> None:
    """Store each notification's next stage and due time (grouped into a few UPDATEs; call
    inside the transaction that writes the stage's deliveries)."""
    from gridapp.notifications.delivery import in_ids

    groups: dict[tuple, list[int]] = defaultdict(list)
    for nid, chain in chains.items():
        groups[chain].append(nid)
    for (hop_next, due), ids in groups.items():
        for chunk in chunked(sorted(ids), 500):
            Notification.update(hop_next=hop_next, hop_due_at=due).where(
                in_ids(Notification.id, chunk)
            ).execute()


def schedule_chains(
    chains: Mapping[int, tuple[int | None, dt.datetime | None]], now: dt.datetime
) -> None:
    """A job per due moment (the periodic scan catches what a lost job would miss)."""
    later: dict[dt.datetime, list[int]] = defaultdict(list)
    for nid, (_hop, due) in chains.items():
        if due is not None:
            later[due].append(nid)
    for due, ids in later.items():
        for chunk in chunked(sorted(ids), 500):
            try:
                if due <= now:
                    escalate_job(list(chunk))
                else:
                    escalate_job.schedule(args=(list(chunk),), eta=due)
            except Exception:  # noqa: BLE001  (the periodic scan sends it instead)
                log.exception("could not schedule escalation of %s", chunk[:5])


def escalate(notification_ids: Sequence[int], now: dt.datetime | None = None) -> int:
    """Send the stages that are due among ``notification_ids``; returns how many deliveries
    were written (a re-run writes nothing twice: the deliveries' dedupe keys)."""
    from gridapp.notifications.delivery import NOTE_FIELDS, clock, fetch, in_ids, start_stages

    now = now or clock()
    notes = fetch(
        Notification.select(*NOTE_FIELDS).where(
            in_ids(Notification.id, notification_ids),
            Notification.hop_next.is_null(False),
            Notification.hop_due_at <= now + EARLY,
        )
    )
    if not notes:
        return 0
    return len(start_stages(notes, {n[0]: n[8] - 1 for n in notes}, now))


def escalate_due(now: dt.datetime | None = None, limit: int = 2000) -> int:
    """Every chain whose next stage is due (the periodic job, and the tests' clock)."""
    from gridapp.notifications.delivery import clock

    now = now or clock()
    ids = [
        r[0]
        for r in Notification.select(Notification.id)
        .where(Notification.hop_due_at <= now, Notification.hop_next.is_null(False))
        .order_by(Notification.hop_due_at, Notification.id)
        .limit(limit)
        .tuples()
    ]
    done = 0
    for chunk in chunked(ids, 500):
        done += escalate(list(chunk), now)
    return done


def hop_ended(notification_ids: Sequence[int], now: dt.datetime) -> None:
    """Deliveries of these notifications ended without reaching the user (failed, gone, a late
    failure receipt): a chain whose current stage has nothing left on its way or delivered
    moves on at once."""
    from gridapp.notifications.delivery import in_ids

    ids = sorted(set(notification_ids))
    if not ids:
        return
    waiting = [
        r[0]
        for r in Notification.select(Notification.id)
        .where(
            in_ids(Notification.id, ids),
            Notification.hop_next.is_null(False),
            Notification.read_at.is_null(),
        )
        .tuples()
    ]
    if not waiting:
        return
    current = dict(
        Delivery.select(Delivery.notification, fn.MAX(Delivery.hop))
        .where(in_ids(Delivery.notification, waiting), Delivery.status != "skipped")
        .group_by(Delivery.notification)
        .tuples()
    )
    still = {
        r[0]
        for r in Delivery.select(Delivery.notification, Delivery.hop)
        .where(in_ids(Delivery.notification, waiting), Delivery.status.in_(OPEN))
        .tuples()
        if r[1] == current.get(r[0])
    }
    move = [nid for nid in waiting if nid not in still]
    if not move:
        return
    with db.atomic():
        Notification.update(hop_due_at=now).where(
            in_ids(Notification.id, move), Notification.hop_next.is_null(False)
        ).execute()
    escalate(move, now)


@app_task(retries=2, retry_delay=10)  # idempotent: deliveries are deduplicated
def escalate_job(notification_ids: list[int]) -> int:
    return escalate(notification_ids)


@app_periodic_task(crontab(minute="*"))
def escalate_due_job() -> int:
    return escalate_due()
