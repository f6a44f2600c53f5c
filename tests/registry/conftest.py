"""A small registry in two grids (and one in another community) for the registry tests."""

from __future__ import annotations

from types import SimpleNamespace

import pytest


@pytest.fixture
def reg(org, make_user):
    from gridapp.registry.models import CareTag
    from gridapp.registry.service import create_building, create_household, create_resident

    admin = make_user("admin")
    ns = SimpleNamespace(admin=admin)
    ns.worker = make_user("grid_worker", grids=[org.grid])
    ns.other_worker = make_user("grid_worker", grids=[org.other_grid])
    ns.supervisor = make_user("supervisor", community=org.community)
    ns.tags = {t.code: t for t in CareTag.select()}
    ns.building = create_building(
        admin, {"grid_id": org.grid.id, "name": "1栋", "address": "水岸路1号1栋"}
    )
    ns.building2 = create_building(
        admin, {"grid_id": org.grid2.id, "name": "2栋", "address": "水岸路2号"}
    )
    ns.other_building = create_building(
        admin, {"grid_id": org.other_grid.id, "name": "9栋", "address": "天峰路9号"}
    )
    ns.household = create_household(
        admin,
        {"building_id": ns.building["id"], "unit": "1单元", "room": "101", "phone": "13812341234"},
    )
    ns.household_b = create_household(
        admin, {"building_id": ns.building["id"], "unit": "1单元", "room": "102"}
    )
    ns.other_household = create_household(
        admin, {"building_id": ns.other_building["id"], "room": "901"}
    )
    ns.zhangsan = create_resident(
        admin,
        {
            "household_id": ns.household["id"],
            "name": "张三",
            "phone": "13812345678",
            "id_number": "11010519491231002X",
            "relation": "户主",
            "tags": ["elderly_alone"],
        },
    )
    ns.lisi = create_resident(
        admin, {"household_id": ns.household_b["id"], "name": "李四", "phone": "13900001111"}
    )
    ns.wangwu = create_resident(
        admin,
        {"household_id": ns.other_household["id"], "name": "王五", "phone": "13700002222"},
    )
    return ns
