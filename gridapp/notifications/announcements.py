"""Announcements: a supervisor's message to every worker of a community or of a set of grids.

The request writes the announcement; a job fans it out in batches, one inbox row per recipient.
``(announcement, recipient)`` is unique, so a job that retries after a partial run writes no row
twice, and deliveries are deduplicated the same way (``Delivery.dedupe_key``).
"""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from huey import crontab
from peewee import chunked, fn

from gridapp.audit import write_audit
from gridapp.changes import record_changes
from gridapp.db import db, utcnow
from gridapp.errors import NotFound, ValidationFailed
from gridapp.jobs import app_periodic_task, app_task
from gridapp.notifications.delivery import after_commit_dispatch, db_time, in_ids, insert_ignore
from gridapp.notifications.models import Announcement, Notification
from gridapp.org.models import Grid, User, UserGrid
from gridapp.scope import Scope

FANOUT_BATCH = 500


def announce(
    actor: User,
    scope: Scope,
    title: str,
    body: str = "",
    link: str = "",
    *,
    urgent: bool = False,
    community_id: int | None = None,
    grid_ids: list[int] | None = None,
) -> Announcement:
    """Record an announcement and enqueue its fan-out (after commit)."""
    grid_ids = sorted(set(grid_ids or []))
    if (community_id is None) == (not grid_ids):
        raise ValidationFailed("community_id", _("Choose a community or a set of grids."))
    if community_id is not None and not scope.sees_community(community_id):
        raise ValidationFailed("community_id", _("That community is outside your area."))
    for i, gid in enumerate(grid_ids):
        if not scope.sees_grid(gid):
            raise ValidationFailed(f"grid_ids.{i}", _("That grid is outside your area."))
    with db.atomic():
        a = Announcement.create(
            author=actor.id,
            title=title,
            body=body,
            link=link,
            urgent=urgent,
            community_id=community_id,
            grid_ids=",".join(str(g) for g in grid_ids),
        )
        write_audit(actor.id, "announcement.create", "announcement", a.id)
        aid = a.id
        db.after_commit(lambda: fanout_job(aid))
    return a


def recipients_of(a: Announcement) -> list[int]:
    q = (
        User.select(User.id)
        .join(UserGrid, on=(UserGrid.user == User.id))
        .join(Grid, on=(UserGrid.grid == Grid.id))
        .where(User.role == "grid_worker", User.is_active == True)  # noqa: E712
    )
    if a.community_id is not None:
        q = q.where(Grid.community == a.community_id)
    else:
        q = q.where(Grid.id.in_([int(g) for g in a.grid_ids.split(",") if g]))
    return sorted({r[0] for r in q.tuples()})


def fanout(announcement_id: int, batch: int = FANOUT_BATCH) -> int:
    """Write the missing inbox rows in batches (each its own transaction) and hand each batch to
    delivery; safe to run again. Returns the number of recipients."""
    a = Announcement.get_or_none(Announcement.id == announcement_id)
    if a is None:
        return 0
    recipients = recipients_of(a)
    for chunk in chunked(recipients, batch):
        chunk = list(chunk)
        with db.atomic():
            now = db_time(utcnow())
            rows = [
                (rid, "announcement", a.title, a.body, a.link, a.urgent, now, a.id) for rid in chunk
            ]
            new = insert_ignore(
                Notification,
                (
                    "recipient_id", "type", "title", "body", "link", "urgent", "created_at",
                    "announcement_id",
                ),
                rows,
                returning=("id", "recipient_id"),
            )  # fmt: skip
            record_changes(
                [{"entity": "notification", "entity_id": nid, "user_id": rid} for nid, rid in new]
            )
            written = [nid for nid, _rid in new]
            if len(new) < len(chunk):
                # A re-run after a partial one: the rows written then are delivered too (a
                # crash may have left them undelivered; deliveries are deduplicated).
                written = [
                    r[0]
                    for r in Notification.select(Notification.id)
                    .where(Notification.announcement == a.id, in_ids(Notification.recipient, chunk))
                    .tuples()
                ]
            after_commit_dispatch(sorted(written))
    with db.atomic():
        Announcement.update(recipients=len(recipients), status="done", finished_at=utcnow()).where(
            Announcement.id == a.id
        ).execute()
    return len(recipients)


@app_task(retries=3, retry_delay=30)
def fanout_job(announcement_id: int) -> int:
    return fanout(announcement_id)


@app_periodic_task(crontab(minute="*/5"))
def resume_pending_job() -> int:
    """Fan out announcements still pending after two minutes: their job was lost (Redis was
    unreachable when it was queued, or a consumer died); ``fanout`` is safe to run again."""
    cutoff = utcnow() - dt.timedelta(minutes=2)
    ids = [
        a.id
        for a in Announcement.select(Announcement.id).where(
            Announcement.status == "pending", Announcement.created_at < cutoff
        )
    ]
    for aid in ids:
        fanout(aid)
    return len(ids)


def read_counts(ids: list[int]) -> dict[int, tuple[int, int]]:
    """announcement id → (inbox rows, read rows)."""
    out = {i: (0, 0) for i in ids}
    q = (
        Notification.select(
            Notification.announcement,
            fn.COUNT(Notification.id),
            fn.COUNT(Notification.read_at),
        )
        .where(Notification.announcement.in_(ids))
        .group_by(Notification.announcement)
        .tuples()
    )
    for aid, total, read in q:
        out[aid] = (total, read)
    return out


def _visible(scope: Scope):
    q = Announcement.select()
    if scope.is_admin:
        return q
    return q.where(Announcement.author == scope.user_id)


def list_announcements(scope: Scope, page: int = 1, per_page: int = 20) -> list[dict]:
    rows = list(_visible(scope).order_by(Announcement.id.desc()).paginate(page, per_page))
    counts = read_counts([a.id for a in rows])
    return [_out(a, counts[a.id]) for a in rows]


def get_announcement(scope: Scope, announcement_id: int) -> dict:
    a = _visible(scope).where(Announcement.id == announcement_id).first()
    if a is None:
        raise NotFound(_("No such announcement."))
    return _out(a, read_counts([a.id])[a.id])


def _out(a: Announcement, counts: tuple[int, int]) -> dict:
    return {
        "id": a.id,
        "title": a.title,
        "body": a.body,
        "link": a.link,
        "urgent": a.urgent,
        "community_id": a.community_id,
        "grid_ids": [int(g) for g in a.grid_ids.split(",") if g],
        "status": a.status,
        "created_at": a.created_at,
        "finished_at": a.finished_at,
        "recipients": counts[0],
        "read": counts[1],
    }
