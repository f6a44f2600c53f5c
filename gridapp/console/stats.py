"""The dashboard's numbers: each one GROUP BY query over indexed columns, never a Python loop
over rows. Functions take the grid ids in view (``None`` = every grid) and a clock."""

from __future__ import annotations

import datetime as dt
from typing import Any

from peewee import JOIN, Case, fn

from gridapp.org.models import Grid, User, UserGrid
from gridapp.registry.models import Household


def _grid_filter(field, grid_ids: list[int] | None):
    return True if grid_ids is None else field.in_(grid_ids or [0])


def visit_coverage(grid_ids: list[int] | None, now: dt.datetime) -> dict[int, dict[str, int]]:
    """Per grid: households, and those visited within their care interval (next visit not due
    yet). Uses the (grid, next_visit_due) index kept by the registry."""
    covered = fn.SUM(
        Case(
            None,
            [((Household.last_visit_at.is_null(False)) & (Household.next_visit_due > now), 1)],
            0,
        )
    )
    rows = (
        Household.select(Household.grid, fn.COUNT(Household.id), covered)
        .where(Household.deleted == False, _grid_filter(Household.grid, grid_ids))  # noqa: E712
        .group_by(Household.grid)
        .tuples()
    )
    return {g: {"households": int(n), "covered": int(c or 0)} for g, n, c in rows}


def worker_sync(grid_ids: list[int] | None) -> list[dict[str, Any]]:
    """Every active grid worker in view with their grids and last sync time (oldest first)."""
    q = (
        User.select(User.id, User.display_name, User.last_sync_at, Grid.id, Grid.name)
        .join(UserGrid, JOIN.INNER)
        .join(Grid)
        .where(
            User.role == "grid_worker",
            User.is_active == True,  # noqa: E712
            _grid_filter(Grid.id, grid_ids),
        )
        .order_by(User.last_sync_at.asc(nulls="first"), User.id)
        .tuples()
    )
    out: dict[int, dict[str, Any]] = {}
    for uid, name, last_sync, gid, gname in q:
        entry = out.setdefault(
            uid, {"id": uid, "name": name, "last_sync_at": last_sync, "grids": []}
        )
        entry["grids"].append({"id": gid, "name": gname})
    return list(out.values())


# ---- matters, tasks, visits (the features' tables; read-only aggregates) -------------------

DONE_STATES = ("resolved", "verified", "closed")
RUNNING_STATES = ("dispatched", "in_progress")


def _days_between(later, earlier):
    """SQL for ``later - earlier`` in days, per engine."""
    from gridapp.db import is_postgres

    if is_postgres():
        return fn.date_part("epoch", later - earlier) / 86400.0
    return fn.julianday(later) - fn.julianday(earlier)


def matters_by_category_state(grid_ids: list[int] | None) -> dict[tuple[str, str], int]:
    from gridapp.matters.models import Matter

    rows = (
        Matter.select(Matter.category, Matter.state, fn.COUNT(Matter.id))
        .where(_grid_filter(Matter.grid, grid_ids))
        .group_by(Matter.category, Matter.state)
        .tuples()
    )
    return {(c or "", s): int(n) for c, s, n in rows}


def overdue_condition(now: dt.datetime):
    from gridapp.matters.models import Matter

    return Matter.state.not_in(DONE_STATES) & (Matter.deadline_at < now)


def warned_condition(now: dt.datetime):
    """Running matters past 80 % of their deadline (the warning fired or is due) but not over."""
    from gridapp.matters.models import Matter

    return (
        Matter.state.in_(RUNNING_STATES)
        & (Matter.deadline_at >= now)
        & (Matter.warn_at.is_null() | (Matter.warn_at <= now))
    )


def matter_alarms(grid_ids: list[int] | None, now: dt.datetime) -> dict[str, dict[str, int]]:
    """Per category: overdue and warned counts (open matters only)."""
    from gridapp.matters.models import Matter

    overdue = fn.SUM(Case(None, [(overdue_condition(now), 1)], 0))
    warned = fn.SUM(Case(None, [(warned_condition(now), 1)], 0))
    rows = (
        Matter.select(Matter.category, overdue, warned)
        .where(_grid_filter(Matter.grid, grid_ids), Matter.state != "closed")
        .group_by(Matter.category)
        .tuples()
    )
    return {(c or ""): {"overdue": int(o or 0), "warned": int(w or 0)} for c, o, w in rows}


def close_times(grid_ids: list[int] | None) -> dict[str, dict[str, float]]:
    """Per category: closed matters and their average days from report to close."""
    from gridapp.matters.models import Matter

    rows = (
        Matter.select(
            Matter.category,
            fn.COUNT(Matter.id),
            fn.AVG(_days_between(Matter.closed_at, Matter.created_at)),
        )
        .where(
            _grid_filter(Matter.grid, grid_ids),
            Matter.state == "closed",
            Matter.closed_at.is_null(False),
        )
        .group_by(Matter.category)
        .tuples()
    )
    return {(c or ""): {"closed": int(n), "avg_days": float(a or 0)} for c, n, a in rows}


def ratings(grid_ids: list[int] | None) -> dict[str, int]:
    from gridapp.matters.models import Matter

    rows = (
        Matter.select(Matter.rating, fn.COUNT(Matter.id))
        .where(_grid_filter(Matter.grid, grid_ids), Matter.rating.is_null(False))
        .group_by(Matter.rating)
        .tuples()
    )
    return {r: int(n) for r, n in rows}


def tasks_on_time(grid_ids: list[int] | None, now: dt.datetime) -> dict[str, int]:
    """Done (or verified) tasks, those done by their due time, and open tasks past due."""
    from gridapp.tasks.models import Task

    done = Task.state.in_(("done", "verified"))
    on_time = done & (Task.due_at.is_null() | (Task.done_at <= Task.due_at))
    overdue = Task.state.not_in(("done", "verified")) & (Task.due_at < now)
    row = (
        Task.select(
            fn.COUNT(Task.id),
            fn.SUM(Case(None, [(done, 1)], 0)),
            fn.SUM(Case(None, [(on_time, 1)], 0)),
            fn.SUM(Case(None, [(overdue, 1)], 0)),
        )
        .where(_grid_filter(Task.grid, grid_ids))
        .tuples()
        .first()
    ) or (0, 0, 0, 0)
    total, n_done, n_on_time, n_overdue = (int(v or 0) for v in row)
    return {"total": total, "done": n_done, "on_time": n_on_time, "overdue": n_overdue}


def services_delivered(grid_ids: list[int] | None, since: dt.datetime) -> dict[str, int]:
    """Service-pack items delivered on visits since ``since``: the JSON list in each visit is
    unnested by the database (json_each / jsonb_array_elements_text), grouped there."""
    from gridapp.db import db, is_postgres
    from gridapp.visits.models import Visit

    where = ["v.visited_at >= %s"]
    params: list[Any] = [since]
    if grid_ids is not None:
        ids = grid_ids or [0]
        where.append(f"v.grid_id IN ({', '.join(['%s'] * len(ids))})")
        params.extend(ids)
    table = Visit._meta.table_name
    if is_postgres():
        sql = (
            f"SELECT s.code, COUNT(*) FROM {table} v "
            "CROSS JOIN LATERAL jsonb_array_elements_text(v.services::jsonb) AS s(code) "
            f"WHERE {' AND '.join(where)} AND v.services <> '[]' GROUP BY s.code"
        )
    else:
        sql = (
            f"SELECT s.value, COUNT(*) FROM {table} v, json_each(v.services) s "
            f"WHERE {' AND '.join(where)} AND v.services <> '[]' GROUP BY s.value"
        ).replace("%s", "?")
    return {code: int(n) for code, n in db.execute_sql(sql, params).fetchall()}


def visits_per_grid(grid_ids: list[int] | None, since: dt.datetime) -> dict[int, int]:
    from gridapp.visits.models import Visit

    rows = (
        Visit.select(Visit.grid, fn.COUNT(Visit.id))
        .where(_grid_filter(Visit.grid, grid_ids), Visit.visited_at >= since)
        .group_by(Visit.grid)
        .tuples()
    )
    return {g: int(n) for g, n in rows}


def matters_per_community(
    grid_ids: list[int] | None, now: dt.datetime
) -> dict[int, dict[str, int]]:
    from gridapp.matters.models import Matter

    overdue = fn.SUM(Case(None, [(overdue_condition(now), 1)], 0))
    rows = (
        Matter.select(Matter.community, fn.COUNT(Matter.id), overdue)
        .where(_grid_filter(Matter.grid, grid_ids), Matter.state != "closed")
        .group_by(Matter.community)
        .tuples()
    )
    return {c: {"open": int(n), "overdue": int(o or 0)} for c, n, o in rows}
