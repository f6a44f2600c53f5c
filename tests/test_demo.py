"""The demo community seeds the promised numbers, once."""

from __future__ import annotations

from gridapp.demo import DEMO_PASSWORD, seed_demo


def test_demo_seeds_the_promised_community(app):
    from gridapp.org.models import Community, Department, Grid, Street, User, UserGrid
    from gridapp.registry.models import Household, Resident, ResidentTag

    logins = seed_demo()
    assert Street.get(Street.code == "gaoxin").name == "高新区"
    dcsa = Community.get(Community.name == "东城水岸社区")
    assert Community.select().where(Community.name == "天峰社区").exists()
    assert Grid.select().where(Grid.community == dcsa).count() == 16
    workers = (
        User.select()
        .join(UserGrid)
        .join(Grid)
        .where(Grid.community == dcsa, User.role == "grid_worker")
    )
    assert workers.count() == 16
    assert Department.select().count() >= 5
    roles = {u.role for u in User.select()}
    assert roles == {"admin", "supervisor", "grid_worker", "department"}
    per_grid = (Household.select().join(Grid).where(Grid.community == dcsa).count()) / 16
    assert 280 <= per_grid <= 320
    assert Resident.select().count() > 2 * Household.select().count()
    assert ResidentTag.select().count() > 500
    sample = Resident.select().where(Resident.phone != "").first()
    assert len(sample.phone) == 11 and sample.name_pinyin and sample.phone_tail == sample.phone[-4:]
    assert {login.username for login in logins} >= {"admin", "dcsa_sup", "dcsa_w01", "dcsa_w16"}
    # Seeding again changes nothing.
    before = Resident.select().count()
    assert seed_demo() == logins
    assert Resident.select().count() == before


def test_demo_logins_work(app, client):
    from tests.conftest import api_login

    seed_demo(households_per_grid=5)
    api_login(client, "dcsa_w03", DEMO_PASSWORD)
    me = client.get("/api/v1/me").get_json()
    assert me["role"] == "grid_worker" and me["grids"][0]["name"] == "第3网格"
