"""News under /api/v1: supervisors write (``/news``), everyone staff reads in scope (grid
workers only what residents see), residents follow a community (``/news/feeds/<token>/push``,
public like the tracking page's), the app counts its opens."""

from __future__ import annotations

from flask import Blueprint, current_app, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from gridapp.api import API_PREFIX, BINARY, current_scope, endpoint
from gridapp.echowall.schemas import FollowIn, FollowOut, UnfollowIn
from gridapp.errors import ValidationFailed
from gridapp.extensions import limiter
from gridapp.news import follow as follow_svc
from gridapp.news import reads, schemas, service
from gridapp.news.models import NewsItem
from gridapp.throttle import read_upload, throttle_upload
from gridapp.times import local_today

api = Blueprint("news_api", __name__, url_prefix=API_PREFIX)
EDITORS = ("supervisor", "admin")


def _push_limit():
    return current_app.config.get("ECHOWALL_PUSH_LIMIT") or "10 per minute"


def _readable(item: NewsItem) -> None:
    """Staff who do not edit (grid workers) see only what residents see."""
    if current_user.role not in EDITORS and service.status_of(item, service.now()) != "published":
        raise service.NotFound(_("No such news item."))


@endpoint(api, "/news", query=schemas.NewsListQuery, response=schemas.NewsList, tags=["news"])
def list_news(query: schemas.NewsListQuery):
    """News items of the caller's communities, newest first (editors see every status)."""
    rows = service.list_items(
        current_scope(), query.community_id, page=query.page,
        published_only=current_user.role not in EDITORS,
    )  # fmt: skip
    counts = service.read_counts([r.id for r in rows])
    return {"items": [service.item_out(r, counts[r.id]) for r in rows], "page": query.page}


@endpoint(
    api, "/news", methods=["POST"], body=schemas.NewsIn, response=schemas.NewsOut, status=201,
    roles=EDITORS, tags=["news"],
)  # fmt: skip
def create_news(body: schemas.NewsIn):
    """Publish (now or at ``publish_at``) a news item or policy notice in a community."""
    item = service.create_item(
        current_user._get_current_object(), current_scope(), body.model_dump()
    )
    return service.item_out(item)


@endpoint(api, "/news/<int:news_id>", response=schemas.NewsOut, tags=["news"])
def get_news(news_id: int):
    """One item in the caller's communities (with its read counts)."""
    item = service.get_item(current_scope(), news_id)
    _readable(item)
    return service.item_out(item)


@endpoint(
    api, "/news/<int:news_id>", methods=["PATCH"], body=schemas.NewsPatch,
    response=schemas.NewsOut, roles=EDITORS, tags=["news"],
    responses={409: "Stale version: the body carries the current item"},
)  # fmt: skip
def update_news(news_id: int, body: schemas.NewsPatch):
    """Edit based on ``version`` (a stale one is a 409, never a silent overwrite)."""
    data = body.model_dump(exclude_unset=True)
    version = data.pop("version")
    item = service.update_item(
        current_user._get_current_object(), current_scope(), news_id, version, data
    )
    return service.item_out(item)


@endpoint(
    api, "/news/<int:news_id>/withdraw", methods=["POST"], body=schemas.VersionIn,
    response=schemas.NewsOut, roles=EDITORS, tags=["news"],
    responses={409: "Stale version: the body carries the current item"},
)  # fmt: skip
def withdraw_news(news_id: int, body: schemas.VersionIn):
    """Unpublish: gone from the public page, the feed and the app."""
    item = service.withdraw_item(
        current_user._get_current_object(), current_scope(), news_id, body.version
    )
    return service.item_out(item)


UPLOAD_FORM = {
    "type": "object",
    "properties": {"file": {**BINARY, "description": "the file"}},
    "required": ["file"],
}


def _upload(field: str) -> tuple[str, bytes]:
    upload = request.files.get("file")
    if upload is None:
        raise ValidationFailed("file", _("Choose a file to upload."))
    throttle_upload("photo", current_user.id, request.remote_addr or "")
    return upload.filename or "", read_upload(upload)


@endpoint(
    api, "/news/<int:news_id>/images", methods=["POST"], response=schemas.NewsOut, status=201,
    roles=EDITORS, tags=["news"], form=UPLOAD_FORM,
    responses={422: "Not a JPEG/PNG/WebP image of at most 10 MB, or 9 images already",
               429: "Too many uploads"},
)  # fmt: skip
def add_news_image(news_id: int):
    """Add an image (through the photo pipeline: EXIF/GPS stripped, upright, thumbnail)."""
    _name, data = _upload("file")
    item = service.get_item(current_scope(), news_id)
    item = service.update_item(
        current_user._get_current_object(), current_scope(), news_id, item.version, {},
        images=[data],
    )  # fmt: skip
    return service.item_out(item)


@endpoint(
    api, "/news/<int:news_id>/attachments", methods=["POST"], response=schemas.NewsOut,
    status=201, roles=EDITORS, tags=["news"], form=UPLOAD_FORM,
    responses={422: "Not a PDF/Word/Excel/PowerPoint file of at most 10 MB, or 5 already",
               429: "Too many uploads"},
)  # fmt: skip
def add_news_attachment(news_id: int):
    """Add an attachment (PDF or office document, checked by its content; 10 MB)."""
    name, data = _upload("file")
    item = service.get_item(current_scope(), news_id)
    item = service.update_item(
        current_user._get_current_object(), current_scope(), news_id, item.version, {},
        attachments=[(name, data)],
    )  # fmt: skip
    return service.item_out(item)


@endpoint(api, "/news/<int:news_id>/opened", methods=["POST"], status=204, tags=["news"])
def news_opened(news_id: int):
    """The app opened this item: one read a day per user (stored as a salted hash only)."""
    item = service.get_item(current_scope(), news_id)
    _readable(item)
    reads.count_read(item.id, local_today(), "app", "u", str(current_user.id))
    return current_app.response_class(status=204)


@endpoint(
    api, "/news/feeds/<token>/push", methods=["POST"], body=FollowIn, response=FollowOut,
    status=201, auth=False, tags=["news"],
    responses={200: "already following (the same endpoint)", 404: "Unknown community page",
               409: "Too many devices follow this community"},
)  # fmt: skip
@limiter.limit(_push_limit)
def follow_news(token: str, body: FollowIn):
    """Public: this browser gets a Web Push for each new item of the community."""
    row, created = follow_svc.follow(
        token, body.endpoint, body.keys.p256dh, body.keys.auth, locale=str(get_locale())
    )
    return row, 201 if created else 200


@endpoint(
    api, "/news/feeds/<token>/push", methods=["DELETE"], body=UnfollowIn, status=204,
    auth=False, tags=["news"], responses={404: "Unknown community page"},
)  # fmt: skip
@limiter.limit(_push_limit)
def unfollow_news(token: str, body: UnfollowIn):
    """Public: stop the community's news pushes to this browser (by endpoint)."""
    follow_svc.unfollow(token, body.endpoint)
    return current_app.response_class(status=204)
