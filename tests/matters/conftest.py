"""Fixtures for matters: the people of the sample organisation and an API helper."""

from __future__ import annotations

from types import SimpleNamespace

import pytest


@pytest.fixture
def people(org, make_user, login_as):
    worker = make_user("grid_worker", grids=[org.grid], display_name="网格员甲")
    other_worker = make_user("grid_worker", grids=[org.other_grid])
    sup = make_user("supervisor", community=org.community, display_name="网格长")
    street_sup = make_user("supervisor", street=org.street)
    other_sup = make_user("supervisor", community=org.other_community)
    water = make_user("department", department=org.department, display_name="水务")
    power = make_user("department", department=org.department2, display_name="供电")
    admin = make_user("admin")
    return SimpleNamespace(
        worker=worker,
        other_worker=other_worker,
        sup=sup,
        street_sup=street_sup,
        other_sup=other_sup,
        water=water,
        power=power,
        admin=admin,
        api={
            "worker": login_as(worker),
            "sup": login_as(sup),
            "water": login_as(water),
            "power": login_as(power),
            "admin": login_as(admin),
            "other_worker": login_as(other_worker),
        },
    )


class Flow:
    """Drive a matter through the API, reading the current version before each move."""

    def __init__(self, people, org, client) -> None:
        self.p = people
        self.org = org
        self.client = client

    def report(self, who="worker", text="3栋楼道灯坏了", **extra):
        body = {"grid_id": self.org.grid.id, "text": text, **extra}
        resp = self.p.api[who].post("/api/v1/matters", json=body)
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()["matter"]["id"]

    def get(self, mid, who="sup"):
        resp = self.p.api[who].get(f"/api/v1/matters/{mid}")
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()

    def move(self, mid, who, action, expect=200, version=None, **fields):
        if version is None:
            version = self.get(mid, "admin")["version"]
        resp = self.p.api[who].post(
            f"/api/v1/matters/{mid}/transition",
            json={"action": action, "version": version, **fields},
        )
        assert resp.status_code == expect, (who, action, resp.get_json())
        return resp.get_json()


@pytest.fixture
def flow(people, org, client):
    return Flow(people, org, client)
