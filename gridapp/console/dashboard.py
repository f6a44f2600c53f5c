"""The supervisor's dashboard, per community and per street: numbers from ``stats`` (GROUP BY
queries), charts from ``svgchart`` (inline SVG), every number a link to the list behind it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from gridapp.api import current_scope
from gridapp.console import lists, stats, svgchart
from gridapp.console.blueprint import bp
from gridapp.console.guard import SUPERVISORS, roles_required
from gridapp.db import utcnow
from gridapp.errors import NotFound
from gridapp.org.models import Community, Grid, Street
from gridapp.scope import Scope

CATEGORIES = ("个事", "社事", "专事", "难事")
STATE_ORDER = (
    "reported",
    "triaged",
    "returned",
    "escalated",
    "reopened",
    "dispatched",
    "in_progress",
    "resolved",
    "verified",
    "closed",
)
STATE_COLORS = {
    "reported": "#c0392b",
    "triaged": "#e67e22",
    "returned": "#d35400",
    "escalated": "#8e44ad",
    "reopened": "#9b59b6",
    "dispatched": "#2e86c1",
    "in_progress": "#3498db",
    "resolved": "#16a085",
    "verified": "#1abc9c",
    "closed": "#27ae60",
}
PERIODS = (7, 30, 90)


def view_unit(scope: Scope | None = None) -> dict[str, Any]:
    """Which unit the dashboard shows, decided by ``scope_for(user)`` and nothing else:
    ``?community=`` within the scope, else the scope's only community (a supervisor of a
    community, even one who also has a street: the API limits them to the community too), else
    a street holding the scope's communities (``?street=`` picks among them; an admin may pick
    any street, or gets the first)."""
    scope = scope or current_scope()
    community_id = lists.int_arg("community")
    if community_id is not None:
        if not scope.sees_community(community_id):
            raise NotFound()
        community = Community.get_or_none(Community.id == community_id)
        if community is None:
            raise NotFound()
        return {"kind": "community", "community": community, "street": community.street}
    if scope.community_ids is not None and len(scope.community_ids) == 1:
        community = Community.get_by_id(next(iter(scope.community_ids)))
        return {"kind": "community", "community": community, "street": community.street}
    streets = Street.select().order_by(Street.id)
    if scope.community_ids is not None:
        streets = streets.where(
            Street.id.in_(
                Community.select(Community.street).where(scope.community_condition(Community.id))
            )
        )
    wanted = lists.int_arg("street")
    street = streets.where(Street.id == wanted).first() if wanted is not None else None
    if street is None and scope.street_id is not None:
        street = streets.where(Street.id == scope.street_id).first()
    if street is None:
        street = streets.first()
    if street is None:
        raise NotFound()
    return {"kind": "street", "street": street, "community": None}


def unit_grids(unit: dict[str, Any], scope: Scope | None = None) -> list[Grid]:
    """The unit's grids that the scope sees (never more than the API would show)."""
    scope = scope or current_scope()
    q = Grid.select(Grid, Community).join(Community).where(scope.grid_condition(Grid.id))
    if unit["kind"] == "community":
        q = q.where(Grid.community == unit["community"].id)
    else:
        q = q.where(Community.street == unit["street"].id)
    return list(q.order_by(Community.name, Grid.sort, Grid.id))


def _has(endpoint: str) -> bool:
    return endpoint in current_app.view_functions


class Links:
    """URLs of the lists behind the numbers, restricted to the unit on screen."""

    def __init__(self, unit: dict[str, Any]) -> None:
        self.unit_args = (
            {"community": unit["community"].id}
            if unit["kind"] == "community"
            else {"street": unit["street"].id}
        )

    def url(self, endpoint: str, **args: Any) -> str:
        if not _has(endpoint):
            return ""
        merged = {**self.unit_args, **{k: v for k, v in args.items() if v is not None}}
        return url_for(endpoint, **merged)

    def matters(self, **args: Any) -> str:
        return self.url("console.matters", **args)

    def tasks(self, **args: Any) -> str:
        return self.url("console.tasks", **args)


def _coverage(grids: list[Grid], grid_ids: list[int], unit, links: Links, now) -> dict[str, Any]:
    coverage = stats.visit_coverage(grid_ids, now)
    bars = []
    total = covered = 0
    for g in grids:
        c = coverage.get(g.id, {"households": 0, "covered": 0})
        total += c["households"]
        covered += c["covered"]
        share = c["covered"] / c["households"] if c["households"] else 0.0
        label = g.name if unit["kind"] == "community" else f"{g.community.name} {g.name}"
        bars.append(
            svgchart.Bar(
                label,
                share * 100,
                href=links.url("console.households_due", grid=g.id),
                text=f"{share * 100:.0f}% ({c['covered']}/{c['households']})",
                color="#27ae60" if share >= 0.8 else ("#f39c12" if share >= 0.5 else "#c0392b"),
            )
        )
    return {
        "svg": svgchart.bar_chart(
            bars, title=_("Visit coverage per grid"), max_value=100, chart_id="chart-coverage"
        ),
        "households": total,
        "covered": covered,
        "share": covered / total if total else None,
        "per_grid": coverage,
    }


def _matters(grid_ids: list[int], links: Links, now, state_names) -> dict[str, Any]:
    by_cs = stats.matters_by_category_state(grid_ids)
    alarms = stats.matter_alarms(grid_ids, now)
    closing = stats.close_times(grid_ids)
    ratings = stats.ratings(grid_ids)
    rows = []
    for cat in (*CATEGORIES, ""):
        counts = {s: by_cs.get((cat, s), 0) for s in STATE_ORDER}
        total = sum(counts.values())
        if cat == "" and not total:
            continue
        arg = cat or "none"
        rows.append(
            {
                "category": cat,
                "arg": arg,
                "total": total,
                "open": total - counts["closed"],
                "counts": counts,
                "overdue": alarms.get(cat, {}).get("overdue", 0),
                "warned": alarms.get(cat, {}).get("warned", 0),
                "closed": closing.get(cat, {}).get("closed", 0),
                "avg_days": closing.get(cat, {}).get("avg_days"),
            }
        )
    stack = [
        svgchart.StackRow(
            r["category"] or _("Not triaged"),
            tuple(
                svgchart.Segment(
                    state_names[s],
                    r["counts"][s],
                    href=links.matters(category=r["arg"], state=s),
                    color=STATE_COLORS[s],
                )
                for s in STATE_ORDER
            ),
            href=links.matters(category=r["arg"]),
        )
        for r in rows
    ]
    rated = sum(ratings.values())
    satisfied = ratings.get("满意", 0) + ratings.get("基本满意", 0)
    return {
        "rows": rows,
        "svg": svgchart.stacked_bars(
            stack,
            title=_("Matters by category and state"),
            legend=[(state_names[s], STATE_COLORS[s]) for s in STATE_ORDER],
            chart_id="chart-matters",
        ),
        "total": sum(r["total"] for r in rows),
        "open": sum(r["open"] for r in rows),
        "overdue": sum(r["overdue"] for r in rows),
        "warned": sum(r["warned"] for r in rows),
        "ratings": ratings,
        "rated": rated,
        "satisfaction": satisfied / rated if rated else None,
    }


def _services(grid_ids: list[int], since: dt.datetime, links: Links, days: int) -> dict[str, Any]:
    from gridapp.visits.models import ServiceItem

    delivered = stats.services_delivered(grid_ids, since)
    names = dict(ServiceItem.select(ServiceItem.code, ServiceItem.name).tuples())
    order = [c for (c,) in ServiceItem.select(ServiceItem.code).order_by(ServiceItem.sort).tuples()]
    codes = [c for c in order if c in delivered] + sorted(c for c in delivered if c not in names)
    bars = [
        svgchart.Bar(
            names.get(c, c), delivered[c], href=links.url("console.visits", service=c, days=days)
        )
        for c in codes
    ]
    return {
        "svg": svgchart.bar_chart(bars, title=_("Services delivered"), chart_id="chart-services"),
        "total": sum(delivered.values()),
    }


def _communities_in_view(unit: dict[str, Any]) -> list[Community]:
    scope = current_scope()
    q = Community.select().where(
        Community.street == unit["street"].id, scope.community_condition(Community.id)
    )
    return list(q.order_by(Community.name))


def _per_community(unit, grids, coverage, grid_ids, now) -> list[dict[str, Any]]:
    """Street view: one row per community (matters open/overdue, coverage)."""
    if unit["kind"] != "street" or not _has("console.matters"):
        return []
    per = stats.matters_per_community(grid_ids, now)
    out = []
    for c in _communities_in_view(unit):
        hh = sum(
            coverage.get(g.id, {}).get("households", 0) for g in grids if g.community_id == c.id
        )
        cov = sum(coverage.get(g.id, {}).get("covered", 0) for g in grids if g.community_id == c.id)
        p = per.get(c.id, {"open": 0, "overdue": 0})
        out.append({"community": c, **p, "coverage": cov / hh if hh else None})
    return out


@bp.route("/")
@roles_required(*SUPERVISORS)
def dashboard():
    unit = view_unit()
    grids = unit_grids(unit)
    grid_ids = [g.id for g in grids]
    now = utcnow()
    days = lists.int_arg("days")
    days = days if days in PERIODS else 30
    since = now - dt.timedelta(days=days)
    links = Links(unit)
    coverage = _coverage(grids, grid_ids, unit, links, now)
    ctx: dict[str, Any] = {
        "unit": unit,
        "communities": _communities_in_view(unit),
        "coverage": coverage,
        "workers": stats.worker_sync(grid_ids),
        "now": now,
        "days": days,
        "periods": PERIODS,
        "links": links,
    }
    if _has("console.matters"):
        from gridapp.console.actions import state_names

        ctx["matters"] = _matters(grid_ids, links, now, state_names())
        ctx["per_community"] = _per_community(unit, grids, coverage["per_grid"], grid_ids, now)
    if _has("console.tasks"):
        ctx["tasks"] = stats.tasks_on_time(grid_ids, now)
    if _has("console.visits"):
        ctx["services"] = _services(grid_ids, since, links, days)
        ctx["visits"] = sum(stats.visits_per_grid(grid_ids, since).values())
    if _has("console.appointments_stats"):
        ctx["appointments"] = _appointments(unit, ctx["communities"], days, now)
    return render_template("console/dashboard.html", **ctx)


def _appointments(unit, communities, days: int, now: dt.datetime) -> dict[str, Any] | None:
    """The unit's one-stop appointments in the period (the seed's 95 % satisfaction beside
    them), from the same figures as 预约办事 → 统计, through the user's scope."""
    from gridapp.appointments.stats import service_figures

    if unit["kind"] == "community":
        ids = [unit["community"].id]
    else:
        ids = [c.id for c in communities]
    fig = service_figures(current_user, days=days, now=now, community_ids=ids)
    if not fig["rows"]:
        return None
    return {
        "total": fig["total"],
        "target": fig["target"],
        "link": url_for("console.appointments_stats", community_id=ids[0])
        if len(ids) == 1
        else url_for("console.appointments_stats"),
    }
