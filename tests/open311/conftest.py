"""Open311 fixtures: a placed building in each grid, an admin, and a key for community c1."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

# Building points near 天安门 (any real WGS84 spot will do); grid 2 lies ~600 m east of grid 1.
G1_POINT = (39.90750, 116.39100)
G2_POINT = (39.90750, 116.39800)
OTHER_POINT = (39.92000, 116.39100)  # the other community's grid


@dataclass
class World:
    admin: Any
    b1: dict
    b2: dict
    b_other: dict
    key: str
    key_row: Any
    jid: str


@pytest.fixture
def world(app, org, make_user) -> World:
    from gridapp.open311 import keys, places
    from gridapp.registry.service import create_building

    admin = make_user("admin", username="o311_admin")
    b1 = create_building(admin, {"grid_id": org.grid.id, "name": "1号楼", "address": "幸福路1号"})
    b2 = create_building(admin, {"grid_id": org.grid2.id, "name": "8号楼", "address": "幸福路8号"})
    bo = create_building(admin, {"grid_id": org.other_grid.id, "name": "天峰3号楼"})
    places.set_building_point(admin, b1["id"], *G1_POINT)
    places.set_building_point(admin, b2["id"], *G2_POINT)
    places.set_building_point(admin, bo["id"], *OTHER_POINT)
    issued = keys.issue_key(admin, name="12345 市民热线", community_ids=[org.community.id])
    return World(admin, b1, b2, bo, issued.key, issued.row, org.community.code)
