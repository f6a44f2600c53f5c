"""Pushing a released item to the community's followers: huey jobs in batches, idempotent per
(item, follower).

``fanout(item_id)`` walks the followers in id order, ``FANOUT_BATCH`` at a time: one multi-row
``INSERT … ON CONFLICT DO NOTHING`` writes the missing ``news_delivery`` rows (queued), one
``UPDATE … WHERE status = 'queued' RETURNING`` claims them (a second job, or a re-run after a
crash, claims nothing already claimed), and the claimed ones go through the ``webpush`` channel
(pipelined POSTs). Outcomes as ``notifications.rules.judge`` says: sent; gone (404/410: the
follower is deleted); retry (429/5xx/network: back to queued, a later ``retry_job``); failed.

SMS: ``EXTRA_CHANNELS`` holds callables ``(item, community)`` run after the Web Push
batches; ``news.sms.send_item`` (texts to the verified phones, once per item and phone through
``send_to_phone``'s dedupe key) is registered there at start-up.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from huey import crontab
from peewee import chunked

from gridapp.db import db, utcnow
from gridapp.echowall.service import token_for
from gridapp.jobs import app_periodic_task, app_task
from gridapp.news import markup
from gridapp.news.models import NewsDelivery, NewsFollower, NewsItem
from gridapp.notifications import rules
from gridapp.notifications.channels import Message, channels, settings
from gridapp.notifications.delivery import db_time, in_ids, insert_ignore
from gridapp.org.models import Community

log = logging.getLogger(__name__)

FANOUT_BATCH = 500
PUSH_TYPE = "news.item"
EXTRA_CHANNELS: list[Callable[[NewsItem, Community], Any]] = []


def enqueue(item_id: int) -> None:
    """Queue the fan-out (never raises into the committed publish: ``resume_job`` catches up)."""
    try:
        fanout_job(item_id)
    except Exception:  # noqa: BLE001
        log.exception("could not queue the news fan-out of item %s", item_id)


def message_fields(item: NewsItem, community: Community, token: str) -> dict[str, str]:
    return {
        "title": f"{community.name}·{item.title}"[:200],
        "body": markup.plain(item.body, 120),
        "link": f"/n/{token}/{item.id}",
    }


def fanout(item_id: int, batch: int = FANOUT_BATCH) -> dict[str, int]:
    """Deliver the item to every follower not delivered yet; safe to run again."""
    item = NewsItem.get_or_none(NewsItem.id == item_id)
    totals: dict[str, int] = {}
    if item is None or item.withdrawn or item.released_at is None:
        return totals
    community = Community.get_by_id(item.community_id)
    fields = message_fields(item, community, token_for("community", community.id))
    follower_ids = [
        f for (f,) in NewsFollower.select(NewsFollower.id)
        .where(NewsFollower.community == community.id).order_by(NewsFollower.id).tuples()
    ]  # fmt: skip
    for chunk in chunked(follower_ids, batch):
        chunk = list(chunk)
        with db.atomic():
            now = db_time(utcnow())
            insert_ignore(
                NewsDelivery,
                ("item_id", "follower_id", "status", "attempts", "updated_at"),
                [(item.id, f, "queued", 0, now) for f in chunk],
            )
        for k, v in _send_claimed(item, fields, chunk).items():
            totals[k] = totals.get(k, 0) + v
    for hook in EXTRA_CHANNELS:
        try:
            hook(item, community)
        except Exception:  # noqa: BLE001
            log.exception("news channel hook %s failed for item %s", hook, item.id)
    return totals


def _claim(item_id: int, follower_ids: list[int]) -> list[int]:
    with db.atomic():
        rows = (
            NewsDelivery.update(
                status="sending", attempts=NewsDelivery.attempts + 1, updated_at=utcnow()
            )
            .where(
                NewsDelivery.item == item_id,
                in_ids(NewsDelivery.follower, follower_ids),
                NewsDelivery.status == "queued",
            )
            .returning(NewsDelivery.follower, NewsDelivery.attempts)
            .execute()
        )
        return [(r.follower_id, r.attempts) for r in rows]


def _send_claimed(item: NewsItem, fields: dict[str, str], follower_ids: list[int]) -> dict:
    claimed = dict(_claim(item.id, follower_ids))
    if not claimed:
        return {}
    followers = list(
        NewsFollower.select(
            NewsFollower.id, NewsFollower.endpoint, NewsFollower.p256dh, NewsFollower.auth
        )
        .where(in_ids(NewsFollower.id, sorted(claimed)))
        .tuples()
    )
    messages = [
        Message(
            delivery_id=fid,
            notification_id=item.id,
            recipient_id=0,
            type=PUSH_TYPE,
            urgent=False,
            endpoint=endpoint,
            p256dh=p256dh,
            auth=auth,
            **fields,
        )  # fmt: skip
        for fid, endpoint, p256dh, auth in followers
    ]
    outcomes = channels()["webpush"].send_many(messages) if messages else []
    return _record(item.id, [(m.delivery_id, claimed[m.delivery_id]) for m in messages], outcomes)


def _record(item_id: int, pairs: list[tuple[int, int]], outcomes) -> dict[str, int]:
    s = settings()
    now = utcnow()
    by: dict[str, list[int]] = {}
    delay = 0.0
    for (fid, attempt), outcome in zip(pairs, outcomes, strict=True):
        verdict = rules.judge(
            outcome.status_code,
            attempt,
            s["max_attempts"],
            rules.parse_retry_after(outcome.retry_after, now),
            base=s["backoff_base"],
        )
        by.setdefault(verdict.status, []).append(fid)
        if verdict.status == "retry":
            delay = max(delay, verdict.delay or 0.0)
        elif verdict.status == "failed":
            log.warning("news push %s→%s failed: %s %s", item_id, fid, outcome.status_code,
                        outcome.error)  # fmt: skip
    with db.atomic():
        for status, new in (("sent", "sent"), ("retry", "queued"), ("failed", "failed")):
            if by.get(status):
                NewsDelivery.update(status=new, updated_at=now).where(
                    NewsDelivery.item == item_id, in_ids(NewsDelivery.follower, by[status])
                ).execute()
        if by.get("sent"):
            NewsFollower.update(last_success_at=now).where(
                in_ids(NewsFollower.id, by["sent"])
            ).execute()
        if by.get("gone"):
            NewsFollower.delete().where(in_ids(NewsFollower.id, by["gone"])).execute()
    if by.get("retry"):
        retry_job.schedule(args=(item_id, sorted(by["retry"])), delay=delay)
    return {k: len(v) for k, v in by.items()}


@app_task(retries=3, retry_delay=30)
def fanout_job(item_id: int) -> dict[str, int]:
    return fanout(item_id)


@app_task()
def retry_job(item_id: int, follower_ids: list[int]) -> dict[str, int]:
    item = NewsItem.get_or_none(NewsItem.id == item_id)
    if item is None or item.withdrawn:
        return {}
    community = Community.get_by_id(item.community_id)
    fields = message_fields(item, community, token_for("community", community.id))
    return _send_claimed(item, fields, follower_ids)


@app_periodic_task(crontab(minute="*"))
def release_job() -> list[int]:
    """Every minute: release the items whose publish time has come (scheduled publishing),
    requeue deliveries a crashed job left ``sending`` for ten minutes, drop old salts."""
    from gridapp.news import reads, service
    from gridapp.times import local_today

    released = service.release_due(service.now())
    stale = utcnow() - dt.timedelta(minutes=10)
    with db.atomic():
        stuck = list(
            NewsDelivery.update(status="queued")
            .where(NewsDelivery.status == "sending", NewsDelivery.updated_at < stale)
            .returning(NewsDelivery.item)
            .execute()
        )
    for item_id in sorted({r.item_id for r in stuck}):
        enqueue(item_id)
    reads.drop_old_salts(local_today())
    return released
