"""The demo places its buildings and holds a working integrator key."""

from __future__ import annotations

from tests.open311.spec import parse


def test_demo_key_files_a_request_by_coordinates(app, client):
    from gridapp.demo import seed_demo
    from gridapp.matters.models import Matter
    from gridapp.open311.demo import DEMO_KEY
    from gridapp.open311.models import Open311BuildingPoint
    from gridapp.registry.models import Building

    seed_demo(households_per_grid=20, history=False)
    point = Open311BuildingPoint.select().order_by(Open311BuildingPoint.id.desc()).first()
    building = Building.get_by_id(point.building_id)
    resp = client.post(
        "/open311/v2/requests.xml",
        data={"api_key": DEMO_KEY, "jurisdiction_id": building.grid.community.code,
              "service_code": "community", "lat": str(point.lat + 0.0002),
              "long": str(point.lon - 0.0001), "description": "小区门口路灯不亮"},
    )  # fmt: skip
    (item,) = parse(resp, "xml", "service_requests")
    assert Matter.get(Matter.code == item["service_request_id"]).grid_id == building.grid_id
