"""Public news pages: ``/n/<token>`` (the community's list, phone-first, on the echo wall's
``_public.html``), ``/n/<token>/<id>`` (one item; its reads are counted once per visitor a day),
``/n/<token>/feed.atom`` (RFC 4287, with ETag / Last-Modified and 304), the items' images and
attachments, and ``/n/sw.js`` (the news pages' own service worker, scope ``/n/``)."""

from __future__ import annotations

import datetime as dt
import hashlib
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    current_app,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from peewee import fn

from gridapp.config import ROOT
from gridapp.echowall.service import community_by_token
from gridapp.errors import NotFound
from gridapp.extensions import limiter
from gridapp.news import atom, files, markup, reads, service
from gridapp.news.models import NewsAttachment, NewsItem
from gridapp.photos.storage import get_storage
from gridapp.times import local_today

bp = Blueprint("news_public", __name__)

FEED_MAX_AGE = 60  # seconds: a scheduled item shows within a minute of its time


def _limit():
    return current_app.config.get("NEWS_PAGE_LIMIT") or "120 per minute"


def public_base_url() -> str:
    return (current_app.config.get("ECHOWALL_PUBLIC_URL") or request.url_root).rstrip("/")


def _community(token: str):
    try:
        return community_by_token(token)
    except NotFound:
        return None


def _not_found():
    return render_template(
        "echowall/not_found.html", message=_("This news page does not exist.")
    ), 404


@bp.route("/n/<token>")
@limiter.limit(_limit)
def news_list(token: str):
    community = _community(token)
    if community is None:
        return _not_found()
    items = service.public_items(community.id)
    images = files.images_of([i.id for i in items])
    return render_template(
        "news/public_list.html",
        community=community,
        token=token,
        items=items,
        images=images,
        excerpt=markup.plain,
        sms_available=sms_available(),
    )


@bp.route("/n/<token>/<int:item_id>")
@limiter.limit(_limit)
def news_item(token: str, item_id: int):
    community = _community(token)
    if community is None:
        return _not_found()
    try:
        item = service.public_item(community.id, item_id)
    except NotFound:
        return _not_found()
    reads.count_read(
        item.id,
        local_today(),
        "web",
        request.remote_addr or "",
        request.headers.get("User-Agent", "")[:300],
    )
    attachments = list(
        NewsAttachment.select().where(NewsAttachment.item == item.id).order_by(NewsAttachment.id)
    )
    return render_template(
        "news/public_item.html",
        community=community,
        token=token,
        item=item,
        body_html=markup.render(item.body),
        images=files.images_of([item.id])[item.id],
        attachments=attachments,
        share_url=public_base_url()
        + url_for("news_public.news_item", token=token, item_id=item.id),
    )


def _feed_validators(community_id: int, items: list[NewsItem]) -> tuple[str, object]:
    """(ETag, Last-Modified): the ETag hashes what the feed shows (each entry's id and version,
    the locale); Last-Modified is the latest change any of them made, or the latest publish or
    expiry that has passed (an item leaving the feed changes it too)."""
    at = service.now()
    raw = "|".join(f"{i.id}:{i.version}" for i in items) + "|" + str(get_locale())
    etag = hashlib.sha256(raw.encode()).hexdigest()[:32]
    q = NewsItem.select(fn.MAX(NewsItem.updated_at), fn.MAX(NewsItem.publish_at)).where(
        NewsItem.community == community_id, NewsItem.publish_at <= at
    )
    upd, pub = q.tuples().first() or (None, None)
    expired = (
        NewsItem.select(fn.MAX(NewsItem.expires_at))
        .where(NewsItem.community == community_id, NewsItem.expires_at <= at)
        .scalar()
    )
    stamps = [s for s in (upd, pub, expired) if s is not None]
    return etag, (max(stamps) if stamps else None)


@bp.route("/n/<token>/feed.atom")
@limiter.limit(_limit)
def news_feed(token: str):
    community = _community(token)
    if community is None:
        return _not_found()
    items = service.public_items(community.id)
    etag, last_modified = _feed_validators(community.id, items)
    base = public_base_url()
    page_url = base + url_for("news_public.news_list", token=token)
    entries = [
        atom.Entry(
            uid=i.uid,
            title=i.title,
            url=base + url_for("news_public.news_item", token=token, item_id=i.id),
            html=markup.render(i.body),
            summary=markup.plain(i.body, 200),
            published=i.publish_at,
            updated=max(i.updated_at, i.publish_at),
            category=i.kind,
        )
        for i in items
    ]
    updated = max([e.updated for e in entries], default=None) or last_modified or community_now()
    resp = Response(mimetype="application/atom+xml")
    resp.set_etag(etag)
    if last_modified is not None:
        resp.last_modified = last_modified.replace(tzinfo=dt.UTC)
    resp.headers["Cache-Control"] = f"public, max-age={FEED_MAX_AGE}"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.make_conditional(request)
    if resp.status_code == 304:
        return resp
    resp.set_data(
        atom.build_feed(
            token=token,
            title=_("%(name)s · community news", name=community.name),
            subtitle=_("News and policy notices of %(name)s", name=community.name),
            author=community.name,
            self_url=base + url_for("news_public.news_feed", token=token),
            page_url=page_url,
            updated=updated,
            entries=entries,
        )
    )
    resp.mimetype = "application/atom+xml"
    resp.charset = "utf-8"
    return resp


def sms_available() -> bool:
    from gridapp.news import sms

    return sms.available()


def community_now():
    return service.now()


def _image(token: str, item_id: int, photo_id: str, thumb: bool):
    community = _community(token)
    if community is None:
        return _not_found()
    try:
        item = service.public_item(community.id, item_id)
    except NotFound:
        return _not_found()
    photo = files.image_of(item, photo_id)
    if photo is None:
        return _not_found()
    try:
        data = get_storage().get(photo.thumb_key if thumb else photo.storage_key)
    except FileNotFoundError:
        return _not_found()
    resp = Response(data, mimetype="image/jpeg" if thumb else photo.content_type)
    resp.headers["Cache-Control"] = "public, max-age=86400"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


@bp.route("/n/<token>/<int:item_id>/images/<photo_id>")
@limiter.limit(_limit)
def news_image(token: str, item_id: int, photo_id: str):
    return _image(token, item_id, photo_id, thumb=False)


@bp.route("/n/<token>/<int:item_id>/images/<photo_id>/thumb")
@limiter.limit(_limit)
def news_thumb(token: str, item_id: int, photo_id: str):
    return _image(token, item_id, photo_id, thumb=True)


@bp.route("/n/<token>/<int:item_id>/files/<int:attachment_id>")
@limiter.limit(_limit)
def news_file(token: str, item_id: int, attachment_id: int):
    """An attachment as a download: ``Content-Disposition: attachment`` (RFC 6266, the name in
    UTF-8), ``nosniff``, and a sandboxing CSP in case a browser renders it anyway."""
    community = _community(token)
    if community is None:
        return _not_found()
    try:
        item = service.public_item(community.id, item_id)
    except NotFound:
        return _not_found()
    att = NewsAttachment.get_or_none(
        NewsAttachment.id == attachment_id, NewsAttachment.item == item.id
    )
    if att is None:
        return _not_found()
    try:
        data = get_storage().get(att.storage_key)
    except FileNotFoundError:
        return _not_found()
    resp = Response(data, mimetype=att.content_type)
    ascii_name = (
        att.filename.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    )
    resp.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(att.filename)}"
    )
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    resp.headers["Cache-Control"] = "public, max-age=3600"
    return resp


@bp.route("/n/sw.js")
def service_worker():
    """The news pages' service worker: its path gives it the scope ``/n/`` and no more."""
    resp = send_from_directory(ROOT / "static" / "news", "sw.js", max_age=0)
    resp.mimetype = "text/javascript"
    resp.headers["Cache-Control"] = "no-cache"
    return resp
