"""Visit pages behind the dashboard's numbers: households due for a visit (coverage) and the
visit log filtered by grid, service-pack item and period."""

from __future__ import annotations

import datetime as dt

from flask import render_template
from flask_babel import gettext as _

from gridapp.api import current_scope
from gridapp.console import lists
from gridapp.console.blueprint import bp
from gridapp.console.guard import SUPERVISORS, actor, roles_required
from gridapp.db import utcnow
from gridapp.org.models import Community, Grid, User
from gridapp.registry.care import due_visits
from gridapp.registry.models import Building, Household
from gridapp.scope import in_scope
from gridapp.visits.models import ServiceItem, Visit


def _grid_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {
        g: f"{c} {n}"
        for g, n, c in Grid.select(Grid.id, Grid.name, Community.name)
        .join(Community)
        .where(Grid.id.in_(sorted(ids)))
        .tuples()
    }


@bp.route("/households-due")
@roles_required(*SUPERVISORS)
def households_due():
    """Households not visited within their care interval, most overdue first."""
    grid = lists.int_arg("grid")
    rows = due_visits(actor(), grid_id=grid, limit=500, scope=current_scope())
    buildings = {
        b: n
        for b, n in Building.select(Building.id, Building.name)
        .where(
            Building.id.in_(list({r["building_id"] for r in rows if r.get("building_id")}) or [0])
        )
        .tuples()
    }
    return render_template(
        "console/visits/due.html",
        rows=rows,
        buildings=buildings,
        grid_name=_grid_names({grid}).get(grid, "") if grid else "",
        grid_names=_grid_names({r["grid_id"] for r in rows if r.get("grid_id")}),
    )


@bp.route("/visits")
@roles_required(*SUPERVISORS)
def visits():
    scope = current_scope()
    q = in_scope(Visit.select(), Visit.grid, scope)
    days = lists.int_arg("days")
    if days is not None and 0 < days <= 36500:
        q = q.where(Visit.visited_at >= utcnow() - dt.timedelta(days=days))
    grid = lists.int_arg("grid")
    if grid is not None:
        q = q.where(Visit.grid == grid)
    community = lists.int_arg("community")
    if community is not None:
        q = q.where(Visit.grid.in_(Grid.select(Grid.id).where(Grid.community == community)))
    street = lists.int_arg("street")
    if street is not None:
        q = q.where(
            Visit.grid.in_(Grid.select(Grid.id).join(Community).where(Community.street == street))
        )
    service = lists.arg("service")
    if service:
        q = q.where(Visit.services.contains(f'"{service}"'))
    listing = lists.paginate(q, {"visited": Visit.visited_at}, "visited", True, tiebreak=Visit.id)
    households = {
        h.id: h
        for h in Household.select().where(
            Household.id.in_([v.household_id for v in listing.rows] or [0])
        )
    }
    return render_template(
        "console/visits/list.html",
        listing=listing,
        households=households,
        grid_names=_grid_names({v.grid_id for v in listing.rows}),
        workers=dict(
            User.select(User.id, User.display_name)
            .where(User.id.in_(list({v.worker_id for v in listing.rows}) or [0]))
            .tuples()
        ),
        services=dict(ServiceItem.select(ServiceItem.code, ServiceItem.name).tuples()),
        modes={
            "home": _("Home visit"),
            "phone": _("Phone"),
            "wechat": _("WeChat"),
            "street": _("Street encounter"),
        },
    )
