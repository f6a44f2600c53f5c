"""The demo's Open311 side: every demo building placed on a made-up street plan (so requests by
lat/long land in a grid) and one integrator key, fixed like the demo password so the demo can
print it every time. Never used outside ``gridapp demo``."""

from __future__ import annotations

import json

from gridapp.db import utcnow
from gridapp.open311.keys import PREFIX, hash_key
from gridapp.open311.models import Open311BuildingPoint, Open311Key
from gridapp.org.models import Community, Grid
from gridapp.registry.models import Building

DEMO_KEY = PREFIX + "demo-12345-hotline-not-for-production"
ORIGIN = (30.5700, 104.0650)  # a made-up plan in 成都高新区 (the demo street's namesake)
STEP = 0.0015  # ~150 m between neighbouring buildings


def seed_open311() -> None:
    """Place the buildings (row by community, column by building) and issue the demo key."""
    now = utcnow()
    rows = []
    for ci, community in enumerate(Community.select().order_by(Community.id)):
        buildings = (
            Building.select(Building.id)
            .join(Grid)
            .where(Grid.community == community.id)
            .order_by(Grid.sort, Building.id)
        )
        for bi, b in enumerate(buildings):
            rows.append(
                {
                    "building": b.id,
                    "lat": round(ORIGIN[0] + ci * 0.01 + (bi // 12) * STEP, 6),
                    "lon": round(ORIGIN[1] + (bi % 12) * STEP, 6),
                    "source": "admin",
                    "updated_at": now,
                }
            )
    if rows:
        Open311BuildingPoint.insert_many(rows).execute()
    ids = [c for (c,) in Community.select(Community.id).tuples()]
    if not Open311Key.select().where(Open311Key.key_hash == hash_key(DEMO_KEY)).exists():
        Open311Key.create(
            name="12345 市民热线（演示）",
            prefix=DEMO_KEY[: len(PREFIX) + 6],
            key_hash=hash_key(DEMO_KEY),
            community_ids=json.dumps(ids),
            created_at=now,
        )
