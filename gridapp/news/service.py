"""News verbs: ``create_item``, ``update_item`` (optimistic ``version``: a stale edit is a 409
with the current item, never a silent overwrite), ``withdraw_item``; scoped reads; the public
view (published, not expired, not withdrawn); ``release_due`` (the publish time has come: sync
change + fan-out, exactly once per item).

Supervisors edit the communities ``scope.py`` gives them (a community supervisor theirs, a
street supervisor the street's); admins any. Everything is validated before the first write.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from peewee import fn

from gridapp.audit import write_audit
from gridapp.changes import record_change
from gridapp.db import db, utcnow
from gridapp.errors import Conflict, Forbidden, NotFound, ValidationFailed
from gridapp.news import files, markup
from gridapp.news.models import NewsAttachment, NewsImage, NewsItem, NewsRead
from gridapp.org.models import Community, Grid, User
from gridapp.scope import Scope
from gridapp.textrules import has_control

KINDS = ("news", "policy")
EDITORS = ("supervisor", "admin")
FIELDS = ("kind", "title", "body", "publish_at", "expires_at", "pinned")


def now() -> dt.datetime:
    """Naive UTC; ``NEWS_CLOCK`` (or the notifications' ``NOTIFY_CLOCK``) in the config, a
    callable, makes scheduled publishing testable."""
    cfg = current_app.config
    clock = cfg.get("NEWS_CLOCK") or cfg.get("NOTIFY_CLOCK")
    return clock() if clock else utcnow()


# ---- scope -----------------------------------------------------------------------------------


def check_editor(actor: User, scope: Scope, community_id: int | None) -> Community:
    if actor.role not in EDITORS:
        raise Forbidden(_("Your role may not do this."))
    if community_id is None or not scope.sees_community(community_id):
        raise ValidationFailed("community_id", _("That community is outside your area."))
    community = Community.get_or_none(Community.id == community_id)
    if community is None:
        raise ValidationFailed("community_id", _("That community is outside your area."))
    return community


def item_query(scope: Scope):
    q = NewsItem.select()
    cond = scope.community_condition(NewsItem.community)
    if cond is True:
        return q
    return q.where(cond if cond is not False else NewsItem.id < 0)


def get_item(scope: Scope, item_id: int) -> NewsItem:
    item = item_query(scope).where(NewsItem.id == item_id).first()
    if item is None:
        raise NotFound(_("No such news item."))
    return item


def editable_communities(scope: Scope) -> list[Community]:
    q = Community.select().order_by(Community.name)
    cond = scope.community_condition(Community.id)
    if cond is False:
        return []
    return list(q if cond is True else q.where(cond))


# ---- validation ------------------------------------------------------------------------------


def clean_fields(data: dict[str, Any], current: NewsItem | None = None) -> dict[str, Any]:
    """The fields to write, checked together (expiry after publishing); raises on the first bad
    one, naming it."""
    out: dict[str, Any] = {}
    for key in FIELDS:
        if key in data:
            out[key] = data[key]
    merged = {k: getattr(current, k) for k in FIELDS} if current is not None else {}
    merged.update(out)
    title = (merged.get("title") or "").strip()
    if not title or len(title) > 200 or has_control(title) or "\n" in title:
        raise ValidationFailed("title", _("A title of 1 to 200 characters is required."))
    if "title" in out:
        out["title"] = title
    body = merged.get("body") or ""
    if len(body) > markup.MAX_BODY or has_control(body):
        raise ValidationFailed("body", _("The text is at most 20,000 characters."))
    if merged.get("kind", "news") not in KINDS:
        raise ValidationFailed("kind", _("Choose news or a policy notice."))
    publish_at = merged.get("publish_at")
    expires_at = merged.get("expires_at")
    if publish_at is not None and expires_at is not None and expires_at <= publish_at:
        raise ValidationFailed("expires_at", _("The expiry must come after the publish time."))
    for key in ("publish_at", "expires_at"):
        value = out.get(key)
        if value is not None and not (dt.datetime(2000, 1, 1) <= value <= dt.datetime(2100, 1, 1)):
            raise ValidationFailed(key, _("Give a date between 2000 and 2100."))
    return out


# ---- writes ----------------------------------------------------------------------------------


def _grid_ids(community_id: int) -> list[int]:
    return [g for (g,) in Grid.select(Grid.id).where(Grid.community == community_id).tuples()]


def record_item_change(item: NewsItem, deleted: bool = False) -> None:
    """Tell the devices of the community's grids (the sync log is read per grid)."""
    for gid in _grid_ids(item.community_id):
        record_change("news", item.id, grid_id=gid, deleted=deleted)


def create_item(
    actor: User,
    scope: Scope,
    data: dict[str, Any],
    *,
    images: list[bytes] = (),  # type: ignore[assignment]
    attachments: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
) -> NewsItem:
    """Write the item (with its images and attachments) in one transaction; released at once
    when its publish time has come, else by ``release_due`` at that time."""
    community = check_editor(actor, scope, data.get("community_id"))
    fields = clean_fields({"publish_at": None, **data})
    fields["publish_at"] = fields.get("publish_at") or now()
    files.check_counts(len(images), len(attachments))
    with db.atomic():
        item = NewsItem.create(community=community.id, author=actor.id, **fields)
        files.add_images(actor, item, images)
        files.add_attachments(item, attachments)
        write_audit(actor.id, "news.create", "news_item", item.id)
    release_due(now(), only=[item.id])
    return NewsItem.get_by_id(item.id)


def update_item(
    actor: User,
    scope: Scope,
    item_id: int,
    version: int,
    data: dict[str, Any],
    *,
    images: list[bytes] = (),  # type: ignore[assignment]
    attachments: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
    remove_images: list[str] = (),  # type: ignore[assignment]
    remove_attachments: list[int] = (),  # type: ignore[assignment]
) -> NewsItem:
    """Edit an item based on ``version``; a concurrent edit makes this a 409 carrying the
    current item. ``withdrawn`` in ``data`` unpublishes (or publishes again)."""
    item = get_item(scope, item_id)
    check_editor(actor, scope, item.community_id)
    fields = clean_fields(data, current=item)
    if "withdrawn" in data:
        fields["withdrawn"] = bool(data["withdrawn"])
    keep_images = NewsImage.select().where(NewsImage.item == item.id).count()
    keep_files = NewsAttachment.select().where(NewsAttachment.item == item.id).count()
    files.check_counts(
        keep_images - len(set(remove_images)) + len(images),
        keep_files - len(set(remove_attachments)) + len(attachments),
    )
    with db.atomic():
        updated = (
            NewsItem.update(**fields, version=NewsItem.version + 1, updated_at=utcnow())
            .where(NewsItem.id == item.id, NewsItem.version == version)
            .execute()
        )
        if updated != 1:
            raise Conflict(
                _("Someone else changed this item; review the current version."),
                code="stale_version",
                current=item_out(NewsItem.get_by_id(item.id)),
            )
        files.remove(item, list(remove_images), list(remove_attachments))
        files.add_images(actor, item, images)
        files.add_attachments(item, attachments)
        write_audit(actor.id, "news.update", "news_item", item.id)
        fresh = NewsItem.get_by_id(item.id)
        if fresh.released_at is not None:
            if fresh.publish_at > now():
                # Moved back into the future: released again at its new time (followers
                # already pushed are not pushed twice: one delivery per item and follower).
                NewsItem.update(released_at=None).where(NewsItem.id == item.id).execute()
            record_item_change(fresh)
    release_due(now(), only=[item.id])
    return NewsItem.get_by_id(item.id)


def withdraw_item(actor: User, scope: Scope, item_id: int, version: int) -> NewsItem:
    """Unpublish: gone from the page, the feed and the app (kept for the record)."""
    return update_item(actor, scope, item_id, version, {"withdrawn": True})


# ---- publishing ------------------------------------------------------------------------------


def release_due(at: dt.datetime, only: list[int] | None = None) -> list[int]:
    """Items whose publish time has come and that were not released yet: claim each (one
    ``UPDATE … WHERE released_at IS NULL``: a second run or process claims nothing), tell the
    app's devices, and queue the followers' fan-out after commit. Returns the released ids."""
    from gridapp.news import fanout

    q = NewsItem.select(NewsItem.id).where(
        NewsItem.released_at.is_null(),
        NewsItem.publish_at <= at,
        NewsItem.withdrawn == False,  # noqa: E712
    )
    if only is not None:
        q = q.where(NewsItem.id.in_(only))
    released = []
    for (item_id,) in q.tuples():
        with db.atomic():
            claimed = (
                NewsItem.update(released_at=at)
                .where(NewsItem.id == item_id, NewsItem.released_at.is_null())
                .execute()
            )
            if not claimed:
                continue
            item = NewsItem.get_by_id(item_id)
            record_item_change(item)
            db.after_commit(lambda i=item_id: fanout.enqueue(i))
        released.append(item_id)
    return released


# ---- reads -----------------------------------------------------------------------------------


def visible_condition(at: dt.datetime):
    return (
        (NewsItem.withdrawn == False)  # noqa: E712
        & (NewsItem.publish_at <= at)
        & (NewsItem.expires_at.is_null() | (NewsItem.expires_at > at))
    )


def public_items(community_id: int, at: dt.datetime | None = None) -> list[NewsItem]:
    at = at or now()
    return list(
        NewsItem.select()
        .where(NewsItem.community == community_id, visible_condition(at))
        .order_by(NewsItem.pinned.desc(), NewsItem.publish_at.desc(), NewsItem.id.desc())
        .limit(200)
    )


def public_item(community_id: int, item_id: int, at: dt.datetime | None = None) -> NewsItem:
    item = (
        NewsItem.select()
        .where(
            NewsItem.id == item_id,
            NewsItem.community == community_id,
            visible_condition(at or now()),
        )
        .first()
    )
    if item is None:
        raise NotFound(_("No such news item."))
    return item


def status_of(item: NewsItem, at: dt.datetime) -> str:
    if item.withdrawn:
        return "withdrawn"
    if item.publish_at > at:
        return "scheduled"
    if item.expires_at is not None and item.expires_at <= at:
        return "expired"
    return "published"


def read_counts(item_ids: list[int]) -> dict[int, dict[str, int]]:
    out = {i: {"web": 0, "app": 0} for i in item_ids}
    if not item_ids:
        return out
    q = (
        NewsRead.select(NewsRead.item, NewsRead.kind, fn.COUNT(NewsRead.id))
        .where(NewsRead.item.in_(item_ids))
        .group_by(NewsRead.item, NewsRead.kind)
        .tuples()
    )
    for item_id, kind, n in q:
        out[item_id][kind] = n
    return out


def list_items(
    scope: Scope,
    community_id: int | None = None,
    page: int = 1,
    per_page: int = 20,
    published_only: bool = False,
):
    """Items in scope, newest publish time first (``published_only``: what residents see)."""
    q = item_query(scope)
    if published_only:
        q = q.where(visible_condition(now()))
    if community_id is not None:
        q = q.where(NewsItem.community == community_id)
    rows = list(q.order_by(NewsItem.publish_at.desc(), NewsItem.id.desc()).paginate(page, per_page))
    return rows


def item_out(item: NewsItem, counts: dict[str, int] | None = None) -> dict[str, Any]:
    """The item as the API and the console show it to its editors."""
    at = now()
    images = [p for (p,) in NewsImage.select(NewsImage.photo_id)
              .where(NewsImage.item == item.id).order_by(NewsImage.sort).tuples()]  # fmt: skip
    attachments = [
        {"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size}
        for a in NewsAttachment.select()
        .where(NewsAttachment.item == item.id)
        .order_by(NewsAttachment.id)
    ]
    counts = counts if counts is not None else read_counts([item.id])[item.id]
    return {
        "id": item.id,
        "community_id": item.community_id,
        "kind": item.kind,
        "title": item.title,
        "body": item.body,
        "body_html": markup.render(item.body),
        "publish_at": item.publish_at,
        "expires_at": item.expires_at,
        "pinned": item.pinned,
        "withdrawn": item.withdrawn,
        "status": status_of(item, at),
        "version": item.version,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "image_ids": images,
        "attachments": attachments,
        "reads_web": counts["web"],
        "reads_app": counts["app"],
    }
