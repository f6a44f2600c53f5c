"""The ``news`` sync entity: the grid worker's app mirrors the items residents see in the
worker's communities, so the news list, an item and its share link work offline.

Change rows are written per grid of the item's community (the pull reads the log per grid) when
an item is released at its publish time and on each later edit; withdrawn or expired items
leave the loader's query, so the device gets a tombstone (expiry through ``aged``: time, not a
write, takes them out).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import has_request_context

from gridapp.echowall.service import token_for
from gridapp.news import files, markup, service
from gridapp.news.models import NewsAttachment, NewsItem
from gridapp.scope import Scope
from gridapp.sync.hooks import register_entity
from gridapp.times import iso_utc


def _visible(scope: Scope):
    q = service.item_query(scope).where(service.visible_condition(service.now()))
    return q.where(NewsItem.released_at.is_null(False))


def _prepare(rows: list[NewsItem]) -> None:
    ids = [r.id for r in rows]
    images = files.images_of(ids)
    attachments: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for a in (
        NewsAttachment.select().where(NewsAttachment.item.in_(ids)).order_by(NewsAttachment.id)
    ):
        attachments[a.item_id].append({"id": a.id, "filename": a.filename, "size": a.size})
    tokens: dict[int, str] = {}
    for r in rows:
        if r.community_id not in tokens:
            tokens[r.community_id] = token_for("community", r.community_id)
        r._token = tokens[r.community_id]
        r._images = images[r.id]
        r._attachments = attachments[r.id]


def _url(token: str, *parts: Any) -> str:
    path = "/".join(["", "n", token, *map(str, parts)])
    if has_request_context():
        from gridapp.news.public import public_base_url

        return public_base_url() + path
    return path


def news_out(item: NewsItem) -> dict[str, Any]:
    token = getattr(item, "_token", None) or token_for("community", item.community_id)
    return {
        "id": item.id,
        "community_id": item.community_id,
        "kind": item.kind,
        "title": item.title,
        "excerpt": markup.plain(item.body, 80),
        "body_html": markup.render(item.body),
        "publish_at": iso_utc(item.publish_at),
        "expires_at": iso_utc(item.expires_at),
        "pinned": item.pinned,
        "version": item.version,
        "url": _url(token, item.id),
        "images": [
            _url(token, item.id, "images", p, "thumb") for p in getattr(item, "_images", [])
        ],  # fmt: skip
        "attachments": [
            {**a, "url": _url(token, item.id, "files", a["id"])}
            for a in getattr(item, "_attachments", [])
        ],
    }


def _aged(scope: Scope, lo: dt.datetime, hi: dt.datetime):
    """Items that expired between two pulls: a query of their ids (the warm pull sends it in
    its one statement with the change-log read, gridapp.sync.service._warm_statement)."""
    return (
        service.item_query(scope)
        .select(NewsItem.id)
        .where(
            NewsItem.expires_at.is_null(False) & (NewsItem.expires_at >= lo)
            & (NewsItem.expires_at < hi)
        )
    )  # fmt: skip


def register() -> None:
    register_entity(
        "news",
        news_out,
        lambda ids, scope: list(
            _visible(scope).where(NewsItem.id.in_([int(i) for i in ids if str(i).isdigit()]))
        ),
        snapshot=lambda scope, after, limit: list(
            _visible(scope).where(NewsItem.id > int(after or 0)).order_by(NewsItem.id).limit(limit)
        ),
        prepare=_prepare,
        aged=_aged,
    )
