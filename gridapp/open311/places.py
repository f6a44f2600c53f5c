"""Where an Open311 request belongs: grids have no polygons and buildings no coordinates in the
registry, so a building's point is kept here (``Open311BuildingPoint``): set by an admin, or
derived from the GPS fixes that home visits recorded at its households (the median of fixes of
at most 100 m accuracy: a worker standing at the door). A request's ``lat``/``long`` goes to the
nearest building with a point within ``OPEN311_MAX_DISTANCE_M`` (default 300 m) in the
jurisdiction, and so to that building's grid; ``address_id`` is a building id; an
``address_string`` is matched against the buildings' names and addresses."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import current_app
from peewee import fn

from gridapp.audit import write_audit
from gridapp.db import db, utcnow
from gridapp.open311 import rules
from gridapp.open311.models import Open311BuildingPoint
from gridapp.org.models import Grid, User
from gridapp.registry.models import Building, Household
from gridapp.visits.models import Visit

DEFAULT_MAX_DISTANCE_M = 300.0
FIX_ACCURACY_M = 100.0


@dataclass(frozen=True)
class Place:
    grid_id: int
    building_id: int | None
    lat: float | None
    lon: float | None


def set_building_point(actor: User | None, building_id: int, lat: float, lon: float) -> None:
    """An admin places a building (audited); it wins over any derived point."""
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError("coordinates out of range")
    building = Building.get_or_none(Building.id == building_id)
    if building is None:
        raise LookupError("unknown building")
    with db.atomic():
        row = Open311BuildingPoint.get_or_none(Open311BuildingPoint.building == building_id)
        if row is None:
            Open311BuildingPoint.create(
                building=building_id, lat=lat, lon=lon, source="admin", updated_at=utcnow()
            )
        else:
            row.lat, row.lon, row.source, row.updated_at = lat, lon, "admin", utcnow()
            row.save()
        write_audit(
            actor.id if actor else None,
            "open311.building_point",
            "building",
            building_id,
            detail={"lat": lat, "lon": lon},
        )


def derive_points_from_visits() -> int:
    """Place every building that has home-visit GPS fixes and no admin point at the median of
    those fixes. Returns how many points were written. Re-runnable (a nightly job or the CLI)."""
    fixes: dict[int, list[tuple[float, float]]] = {}
    query = (
        Visit.select(Household.building, Visit.lat, Visit.lon)
        .join(Household, on=(Visit.household == Household.id))
        .where(
            Visit.lat.is_null(False),
            Visit.mode == "home",
            (Visit.accuracy.is_null(True)) | (Visit.accuracy <= FIX_ACCURACY_M),
        )
        .tuples()
    )
    for building_id, lat, lon in query.iterator():
        fixes.setdefault(building_id, []).append((lat, lon))
    admin = {
        b
        for (b,) in Open311BuildingPoint.select(Open311BuildingPoint.building)
        .where(Open311BuildingPoint.source == "admin")
        .tuples()
    }
    written = 0
    with db.atomic():
        for building_id, points in fixes.items():
            if building_id in admin:
                continue
            lat = rules.median([p[0] for p in points])
            lon = rules.median([p[1] for p in points])
            n = (
                Open311BuildingPoint.update(lat=lat, lon=lon, updated_at=utcnow())
                .where(Open311BuildingPoint.building == building_id)
                .execute()
            )
            if not n:
                Open311BuildingPoint.create(
                    building=building_id, lat=lat, lon=lon, source="visits", updated_at=utcnow()
                )
            written += 1
    return written


def _grids(community_id: int) -> list[int]:
    return [g for (g,) in Grid.select(Grid.id).where(Grid.community == community_id).tuples()]


def nearest(community_id: int, lat: float, lon: float) -> Place | None:
    """The nearest placed building of the community within the configured distance."""
    limit = float(current_app.config.get("OPEN311_MAX_DISTANCE_M") or DEFAULT_MAX_DISTANCE_M)
    lat0, lat1, lon0, lon1 = rules.box(lat, lon, limit)
    rows = (
        Open311BuildingPoint.select(
            Open311BuildingPoint.building,
            Building.grid,
            Open311BuildingPoint.lat,
            Open311BuildingPoint.lon,
        )  # fmt: skip
        .join(Building, on=(Open311BuildingPoint.building == Building.id))
        .where(
            Open311BuildingPoint.lat.between(lat0, lat1),
            Open311BuildingPoint.lon.between(lon0, lon1),
            Building.grid.in_(_grids(community_id) or [0]),
            Building.deleted == False,  # noqa: E712
        )
        .tuples()
    )
    best: tuple[float, Place] | None = None
    for building_id, grid_id, b_lat, b_lon in rows:
        d = rules.distance_m(lat, lon, b_lat, b_lon)
        if d <= limit and (best is None or d < best[0]):
            best = (d, Place(grid_id, building_id, b_lat, b_lon))
    return best[1] if best else None


def point_of(building_id: int | None) -> tuple[float | None, float | None]:
    row = Open311BuildingPoint.get_or_none(Open311BuildingPoint.building == building_id)
    return (row.lat, row.lon) if row else (None, None)


def by_address_id(community_id: int, address_id: str) -> Place | None:
    """``address_id`` is a building id of this community (as the GET answers show it)."""
    raw = (address_id or "").strip()
    if not raw.isdigit() or len(raw) > 9:
        return None
    b = Building.get_or_none(
        Building.id == int(raw),
        Building.grid.in_(_grids(community_id) or [0]),
        Building.deleted == False,  # noqa: E712
    )
    if b is None:
        return None
    lat, lon = point_of(b.id)
    return Place(b.grid_id, b.id, lat, lon)


def _squash(text: str) -> str:
    return re.sub(r"[\s\u3000,，、.·\-#号]", "", text or "").lower()


def by_address(community_id: int, address: str) -> Place | None:
    """The building whose name or address the typed address mentions (the longest match wins:
    "3号楼" inside "幸福路12号3号楼2单元" finds 3号楼 rather than a building called "3")."""
    typed = _squash(address)
    if len(typed) < 2:
        return None
    best: tuple[int, Building] | None = None
    candidates = Building.select().where(
        Building.grid.in_(_grids(community_id) or [0]),
        Building.deleted == False,  # noqa: E712
    )
    for b in candidates.order_by(fn.LENGTH(Building.name).desc()).limit(5000):
        for label in (b.address, b.name):
            key = _squash(label)
            if len(key) >= 2 and (key in typed or typed in key):
                score = len(key) if key in typed else len(typed)
                if best is None or score > best[0]:
                    best = (score, b)
    if best is None:
        return None
    lat, lon = point_of(best[1].id)
    return Place(best[1].grid_id, best[1].id, lat, lon)
