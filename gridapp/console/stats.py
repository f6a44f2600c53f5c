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
