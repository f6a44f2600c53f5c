"""Console pages for supervisors: the news list (status, reads, followers), the form to write
or edit an item (images and attachments in the same submit; times in Asia/Shanghai), and
withdraw/republish. Edits carry the version they were based on: someone else's edit in
between re-shows the form with the current item and a message, nothing is overwritten."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from gridapp.api import current_scope
from gridapp.console import lists
from gridapp.console.guard import SUPERVISORS, actor, roles_required
from gridapp.echowall.service import token_for
from gridapp.errors import Conflict, Problem, ValidationFailed
from gridapp.news import files, follow, service
from gridapp.news import sms as news_sms
from gridapp.news.models import NewsItem
from gridapp.throttle import throttle_upload
from gridapp.times import local_to_utc, to_local

bp = Blueprint("news_console", __name__, url_prefix="/console/news")
PER_PAGE = 20
LOCAL_FMT = "%Y-%m-%dT%H:%M"


def _local_input(value: dt.datetime | None) -> str:
    return to_local(value).strftime(LOCAL_FMT) if value else ""


def _parse_local(name: str) -> dt.datetime | None:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return local_to_utc(dt.datetime.strptime(raw[:16], LOCAL_FMT))
    except ValueError:
        raise ValidationFailed(name, _("Give a date and time.")) from None


def _form_data() -> dict:
    f = request.form
    return {
        "community_id": lists.form_int("community_id"),
        "kind": f.get("kind", "news"),
        "title": (f.get("title") or "").strip(),
        "body": (f.get("body") or "").replace("\r\n", "\n"),
        "publish_at": _parse_local("publish_at"),
        "expires_at": _parse_local("expires_at"),
        "pinned": bool(f.get("pinned")),
    }


def _uploads() -> tuple[list[bytes], list[tuple[str, bytes]]]:
    images = [u for u in request.files.getlist("images") if u and u.filename]
    attachments = [u for u in request.files.getlist("attachments") if u and u.filename]
    if images or attachments:
        throttle_upload("photo", actor().id, request.remote_addr or "")
    out_i = [u.read(files.ATTACHMENT_MAX_BYTES + 1) for u in images]
    out_a = [(u.filename or "", u.read(files.ATTACHMENT_MAX_BYTES + 1)) for u in attachments]
    return out_i, out_a


@bp.route("")
@roles_required(*SUPERVISORS)
def news_list():
    scope = current_scope()
    communities = service.editable_communities(scope)
    cid = lists.int_arg("community_id")
    page = max(1, lists.int_arg("page") or 1)
    rows = service.list_items(scope, cid, page=page, per_page=PER_PAGE)
    counts = service.read_counts([r.id for r in rows])
    at = service.now()
    return render_template(
        "news/console_list.html",
        rows=rows,
        counts=counts,
        status={r.id: service.status_of(r, at) for r in rows},
        communities=communities,
        names={c.id: c.name for c in communities},
        followers=follow.follower_counts([c.id for c in communities]),
        sms_followers=news_sms.counts([c.id for c in communities]),
        pages={
            c.id: url_for("news_public.news_list", token=token_for("community", c.id))
            for c in communities
        },  # fmt: skip
        community_id=cid,
        page=page,
        has_next=len(rows) == PER_PAGE,
    )


def _form_page(item: NewsItem | None, values: dict, error: Problem | None = None, status=200):
    scope = current_scope()
    out = service.item_out(item) if item is not None else None
    return render_template(
        "news/console_form.html",
        item=out,
        values=values,
        communities=service.editable_communities(scope),
        error=error,
        local_input=_local_input,
        kinds=[("news", _("General news")), ("policy", _("Policy notice"))],
    ), (error.status if error else status)


def _values_of(item: NewsItem) -> dict:
    return {
        "community_id": item.community_id,
        "kind": item.kind,
        "title": item.title,
        "body": item.body,
        "publish_at": _local_input(item.publish_at),
        "expires_at": _local_input(item.expires_at),
        "pinned": item.pinned,
        "version": item.version,
    }


def _posted_values() -> dict:
    f = request.form
    return {k: f.get(k, "") for k in ("community_id", "kind", "title", "body", "publish_at",
                                       "expires_at", "version")} | {"pinned": bool(f.get("pinned"))}  # fmt: skip


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*SUPERVISORS)
def news_new():
    if request.method == "GET":
        return _form_page(None, {"kind": "news", "community_id": lists.int_arg("community_id")})
    try:
        images, attachments = _uploads()
        item = service.create_item(
            actor(), current_scope(), _form_data(), images=images, attachments=attachments
        )
    except Problem as exc:
        return _form_page(None, _posted_values(), exc)
    flash(_("“%(t)s” saved.", t=item.title))
    return redirect(url_for("news_console.news_list", community_id=item.community_id))


@bp.route("/<int:news_id>", methods=["GET", "POST"])
@roles_required(*SUPERVISORS)
def news_edit(news_id: int):
    item = service.get_item(current_scope(), news_id)
    if request.method == "GET":
        return _form_page(item, _values_of(item))
    try:
        version = lists.form_int("version")
        if version is None:
            raise ValidationFailed("version", _("The form is missing its version."))
        images, attachments = _uploads()
        data = _form_data()
        data.pop("community_id", None)  # an item stays in its community
        if data["publish_at"] is None:  # left empty: keep the publish time (expiry empty: none)
            data.pop("publish_at")
        updated = service.update_item(
            actor(), current_scope(), news_id, version, data,
            images=images, attachments=attachments,
            remove_images=request.form.getlist("remove_image"),
            remove_attachments=lists.form_ids("remove_attachment"),
        )  # fmt: skip
    except Conflict:
        fresh = NewsItem.get_by_id(news_id)
        problem = Conflict(
            _(
                "Someone else changed this item while you edited it. The form now shows "
                "their version; make your change again."
            ),  # fmt: skip
            code="stale_version",
        )
        return _form_page(fresh, _values_of(fresh), problem)
    except Problem as exc:
        return _form_page(item, {**_posted_values(), "version": item.version}, exc)
    flash(_("“%(t)s” saved.", t=updated.title))
    return redirect(url_for("news_console.news_list", community_id=updated.community_id))


@bp.route("/<int:news_id>/withdraw", methods=["POST"])
@roles_required(*SUPERVISORS)
def news_withdraw(news_id: int):
    item = service.get_item(current_scope(), news_id)
    restore = request.form.get("restore") == "1"
    try:
        version = lists.form_int("version") or 0
        service.update_item(actor(), current_scope(), news_id, version, {"withdrawn": not restore})
    except Conflict:
        flash(_("Someone else changed this item; nothing was done. Look again."), "error")
    except Problem as exc:
        flash(str(exc.detail or exc.title), "error")
    else:
        flash(_("“%(t)s” republished.", t=item.title) if restore
              else _("“%(t)s” withdrawn.", t=item.title))  # fmt: skip
    return redirect(url_for("news_console.news_list", community_id=item.community_id))
