"""Building points from home-visit GPS fixes: the median of good fixes, admin points kept,
re-runnable; and the pure geometry."""

from __future__ import annotations

import uuid

import pytest


def test_points_derived_from_home_visits(app, org, make_user):
    from gridapp.open311 import places
    from gridapp.open311.jobs import derive_points_job
    from gridapp.open311.models import Open311BuildingPoint
    from gridapp.registry.service import create_building, create_household
    from gridapp.visits.service import log_visit

    admin = make_user("admin")
    worker = make_user("grid_worker", grids=[org.grid])
    b = create_building(admin, {"grid_id": org.grid.id, "name": "5号楼"})
    placed = create_building(admin, {"grid_id": org.grid.id, "name": "6号楼"})
    h = create_household(admin, {"building_id": b["id"], "room": "101"})
    h2 = create_household(admin, {"building_id": placed["id"], "room": "201"})
    fixes = [
        (39.9001, 116.4001, 10),
        (39.9003, 116.4003, 20),
        (39.9002, 116.4002, 15),
        (39.95, 116.45, 500),
    ]  # fmt: skip  (the last: a poor fix, ignored)
    for lat, lon, acc in fixes:
        log_visit(worker, str(uuid.uuid4()), {"household_id": h["id"], "lat": lat, "lon": lon,
                                              "accuracy": acc})  # fmt: skip
    log_visit(
        worker,
        str(uuid.uuid4()),
        {"household_id": h["id"], "lat": 10.0, "lon": 10.0, "mode": "phone"},
    )  # fmt: skip  (not at the door)
    log_visit(worker, str(uuid.uuid4()), {"household_id": h2["id"], "lat": 1.0, "lon": 1.0})
    places.set_building_point(admin, placed["id"], 39.91, 116.41)
    assert derive_points_job.call_local() == 1
    p = Open311BuildingPoint.get(Open311BuildingPoint.building == b["id"])
    assert (p.lat, p.lon, p.source) == (pytest.approx(39.9002), pytest.approx(116.4002), "visits")
    kept = Open311BuildingPoint.get(Open311BuildingPoint.building == placed["id"])
    assert (kept.lat, kept.source) == (39.91, "admin")
    assert places.derive_points_from_visits() == 1  # re-runnable: updated, not duplicated
    assert Open311BuildingPoint.select().count() == 2
    near = places.nearest(org.community.id, 39.9004, 116.4004)
    assert near is not None and near.building_id == b["id"] and near.grid_id == org.grid.id
    assert places.nearest(org.other_community.id, 39.9004, 116.4004) is None


def test_geometry_rules():
    from gridapp.open311 import rules

    d = rules.distance_m(39.9, 116.4, 39.9, 116.401)
    assert 80 < d < 90  # ~85 m per 0.001° of longitude at 40°N
    lat0, lat1, lon0, lon1 = rules.box(39.9, 116.4, 300)
    assert lat0 < 39.9 < lat1 and lon0 < 116.4 < lon1
    assert rules.distance_m(39.9, 116.4, lat1, 116.4) == pytest.approx(300, rel=0.01)
    assert rules.coarse(39.907512) == 39.908 and rules.coarse(None) is None
    assert rules.normalise_phone("+86 138-1234-5678") == "13812345678"
    assert rules.normalise_phone("0086 13812345678") == "13812345678"
    assert rules.normalise_phone("010-12345678") == "010-12345678"
    assert rules.parse_w3c("2026-11-30T08:00:00+08:00", "x").hour == 0
    with pytest.raises(rules.BadInput):
        rules.parse_w3c("2026-11-30T08:00:00", "start_date")
    assert rules.parse_attributes([("attribute[a]", "1"), ("attribute[a][]", "2")]) == {
        "a": ["1", "2"]
    }
    assert b'<?xml version="1.0" encoding="UTF-8"?>' in rules.to_xml("errors", [])
    assert b"<error><code>403</code>" in rules.to_xml(
        "errors", rules.error_items([(403, "x\x01y")])
    )
