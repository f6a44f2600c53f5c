"""Announcements: write, pick recipients (a community or a set of grids), send; read counts.
Sending is ``announce`` (it records the announcement and fans it out in a job)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from gridapp.api import current_scope
from gridapp.console import lists
from gridapp.console.blueprint import bp
from gridapp.console.guard import SUPERVISORS, actor, roles_required
from gridapp.errors import Problem, ValidationFailed
from gridapp.notifications import announcements as ann
from gridapp.org.models import Community, Grid

PER_PAGE = 20


def _recipient_choices():
    scope = current_scope()
    communities = Community.select().order_by(Community.name)
    grids = Grid.select(Grid, Community).join(Community).order_by(Community.name, Grid.sort)
    if scope.community_ids is not None:
        communities = communities.where(Community.id.in_(sorted(scope.community_ids) or [0]))
        grids = grids.where(Grid.id.in_(sorted(scope.grid_ids or []) or [0]))
    return list(communities), list(grids)


def _page(error: Problem | None = None):
    page = lists.int_arg("page") or 1
    rows = ann.list_announcements(current_scope(), page=max(1, page), per_page=PER_PAGE)
    communities, grids = _recipient_choices()
    names = {c.id: c.name for c in communities}
    grid_names = {g.id: f"{g.community.name} {g.name}" for g in grids}
    return render_template(
        "console/announcements.html",
        rows=rows,
        page=page,
        has_next=len(rows) == PER_PAGE,
        communities=communities,
        grids=grids,
        community_names=names,
        grid_names=grid_names,
        error=error,
        form=request.form,
    ), (error.status if error else 200)


@bp.route("/announcements")
@roles_required(*SUPERVISORS)
def announcements():
    return _page()


@bp.route("/announcements", methods=["POST"])
@roles_required(*SUPERVISORS)
def announcements_send():
    f = request.form
    to = f.get("to", "community")
    title = (f.get("title") or "").strip()
    try:
        if not title or len(title) > 200:
            # input validation, as the API's schema does for the same verb
            raise ValidationFailed("title", _("A title of 1 to 200 characters is required."))
        a = ann.announce(
            actor(),
            current_scope(),
            title,
            (f.get("body") or "").strip(),
            urgent=bool(f.get("urgent")),
            community_id=lists.form_int("community_id") if to == "community" else None,
            grid_ids=lists.form_ids("grid_ids") if to == "grids" else [],
        )
    except Problem as exc:
        return _page(exc)
    flash(_("Announcement “%(t)s” sent.", t=a.title))
    return redirect(url_for("console.announcements"))
