"""The admin's Open311 page (``/console/admin/open311``): issue a key (shown once), revoke one,
and set a community's jurisdiction_id. Verbs in ``keys``/``service``; audited there."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from gridapp.console.guard import ADMINS, actor, roles_required
from gridapp.errors import Problem
from gridapp.open311 import keys, service
from gridapp.org.models import Community

bp = Blueprint("open311_console", __name__, url_prefix="/console/admin/open311")


def _page(issued: keys.IssuedKey | None = None, error: Problem | None = None, status: int = 200):
    communities = list(Community.select().order_by(Community.name))
    names = {c.id: c.name for c in communities}
    rows: list[dict[str, Any]] = [
        {"row": k, "communities": [names.get(c, "?") for c in keys.key_communities(k)]}
        for k in keys.list_keys()
    ]
    return render_template(
        "open311/keys.html",
        keys=rows,
        communities=communities,
        jurisdictions=service.jurisdiction_ids(),
        issued=issued,
        error=error,
        endpoint=request.url_root.rstrip("/") + "/open311/v2/",
    ), status


@bp.route("")
@roles_required(*ADMINS)
def keys_page():
    return _page()


@bp.route("", methods=["POST"])
@roles_required(*ADMINS)
def issue():
    f = request.form
    try:
        issued = keys.issue_key(
            actor(),
            name=f.get("name", ""),
            community_ids=[int(c) for c in f.getlist("community_ids") if c.isdigit()][:1000],
            rate_limit=f.get("rate_limit", ""),
            ip=request.remote_addr or "",
        )
    except Problem as exc:
        return _page(error=exc, status=exc.status)
    return _page(issued=issued)


@bp.route("/<int:key_id>/revoke", methods=["POST"])
@roles_required(*ADMINS)
def revoke(key_id: int):
    keys.revoke_key(actor(), key_id, ip=request.remote_addr or "")
    flash(_("The key is revoked: its next request is refused."))
    return redirect(url_for("open311_console.keys_page"))


@bp.route("/jurisdiction", methods=["POST"])
@roles_required(*ADMINS)
def jurisdiction():
    f = request.form
    cid = f.get("community_id", "")
    jid = f.get("jurisdiction_id", "").strip()
    ok = cid.isdigit() and len(cid) < 10
    community = Community.get_or_none(Community.id == int(cid)) if ok else None
    if community is None:
        return _page(error=Problem(_("Unknown community."), field="community_id"), status=422)
    taken = {v: k for k, v in service.jurisdiction_ids().items()}
    if len(jid) > 100 or (jid and taken.get(jid, community.id) != community.id):
        return _page(
            error=Problem(_("This jurisdiction_id is taken or too long."), field="jurisdiction_id"),
            status=422,
        )
    service.set_jurisdiction_id(community.id, jid)
    flash(_("Saved."))
    return redirect(url_for("open311_console.keys_page"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
