"""The supervisor's dashboard, per community and per street: numbers from ``stats``, charts
from ``svgchart``, every number a link to the list behind it."""

from __future__ import annotations

from typing import Any

from flask import render_template, url_for
from flask_babel import gettext as _

from gridapp.api import current_scope
from gridapp.console import lists, stats, svgchart
from gridapp.console.blueprint import bp
from gridapp.console.guard import SUPERVISORS, roles_required
from gridapp.db import utcnow
from gridapp.errors import NotFound
from gridapp.org.models import Community, Grid, Street


def view_unit() -> dict[str, Any]:
    """Which unit the dashboard shows: ``?community=`` within the caller's scope, else the
    caller's own community, else their street (admin: ``?street=`` or the first street)."""
    scope = current_scope()
    community_id = lists.int_arg("community")
    if community_id is not None:
        if not scope.sees_community(community_id):
            raise NotFound()
        community = Community.get_by_id(community_id)
        return {"kind": "community", "community": community, "street": community.street}
    if scope.community_ids is not None and len(scope.community_ids) == 1 and not scope.street_id:
        community = Community.get_by_id(next(iter(scope.community_ids)))
        return {"kind": "community", "community": community, "street": community.street}
    street_id = scope.street_id or lists.int_arg("street")
    street = Street.get_or_none(Street.id == street_id) if street_id else None
    if street is None:
        street = Street.select().order_by(Street.id).first()
    if street is None:
        raise NotFound()
    return {"kind": "street", "street": street, "community": None}


def unit_grids(unit: dict[str, Any]) -> list[Grid]:
    q = Grid.select(Grid, Community).join(Community)
    if unit["kind"] == "community":
        q = q.where(Grid.community == unit["community"].id)
    else:
        q = q.where(Community.street == unit["street"].id)
    return list(q.order_by(Community.name, Grid.sort, Grid.id))


@bp.route("/")
@roles_required(*SUPERVISORS)
def dashboard():
    unit = view_unit()
    grids = unit_grids(unit)
    grid_ids = [g.id for g in grids]
    now = utcnow()
    coverage = stats.visit_coverage(grid_ids, now)
    cov_bars = []
    for g in grids:
        c = coverage.get(g.id, {"households": 0, "covered": 0})
        share = c["covered"] / c["households"] if c["households"] else 0.0
        label = g.name if unit["kind"] == "community" else f"{g.community.name} {g.name}"
        cov_bars.append(
            svgchart.Bar(
                label,
                share * 100,
                href=_link("console.households_due", grid=g.id),
                text=f"{share * 100:.0f}% ({c['covered']}/{c['households']})",
                color="#27ae60" if share >= 0.8 else ("#f39c12" if share >= 0.5 else "#c0392b"),
            )
        )
    return render_template(
        "console/dashboard.html",
        unit=unit,
        communities=_communities_in_view(unit),
        coverage_svg=svgchart.bar_chart(
            cov_bars, title=_("Visit coverage per grid"), max_value=100, chart_id="chart-coverage"
        ),
        workers=stats.worker_sync(grid_ids),
        now=now,
    )


def _communities_in_view(unit: dict[str, Any]) -> list[Community]:
    scope = current_scope()
    q = Community.select().where(Community.street == unit["street"].id)
    if scope.community_ids is not None:
        q = q.where(Community.id.in_(sorted(scope.community_ids) or [0]))
    return list(q.order_by(Community.name))


def _link(endpoint: str, **args: Any) -> str:
    from flask import current_app

    if endpoint not in current_app.view_functions:
        return ""
    return url_for(endpoint, **args)
