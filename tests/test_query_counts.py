"""Round trips per request stay bounded (docs/scale.md "Per-request overhead").

Under a morning's load the web workers spend most of their time waiting on PostgreSQL, so the
number of statements a request sends is the figure that moves throughput on a shared machine
(the morning benchmark prints it per request kind). These bounds are what the session, user,
grids, change counter and aging reads were folded into; a new per-request query fails here.
"""

from __future__ import annotations

import uuid

import pytest

from gridapp.db import db, is_postgres, utcnow
from gridapp.times import iso_utc


@pytest.fixture
def app_overrides():
    return {"QUERY_COUNT_HEADER": True}


def queries(resp) -> int:
    return int(resp.headers["X-Query-Count"])


@pytest.fixture
def worker_client(org, make_user, login_as):
    from gridapp.changes import record_change
    from gridapp.db import db
    from gridapp.registry.models import Building, Household

    with db.atomic():
        b = Building.create(grid=org.grid, name="1号楼")
        record_change("building", b.id, grid_id=org.grid.id)
        for room in range(3):
            h = Household.create(
                grid=org.grid, building=b, room=str(101 + room), phone="13800000000"
            )
            record_change("household", h.id, grid_id=org.grid.id)
    worker = make_user("grid_worker", grids=[org.grid, org.grid2])
    client = login_as(worker)
    client.households = [h.id for h in Household.select(Household.id)]
    return client


def pull_all(client, cursor=None):
    while True:
        resp = client.get("/api/v1/sync", query_string={"cursor": cursor} if cursor else {})
        assert resp.status_code == 200
        body = resp.get_json()
        cursor = body["cursor"]
        if not body["more"]:
            return resp, cursor


def test_me_is_one_round_trip(worker_client):
    worker_client.get("/api/v1/me")
    resp = worker_client.get("/api/v1/me")
    assert resp.status_code == 200
    assert len(resp.get_json()["grids"]) == 2
    print("me", queries(resp))
    assert queries(resp) <= 1


def minutes_ago(cursor: str, minutes: int) -> str:
    """The same cursor as if that pull had been ``minutes`` ago: the pull then also checks what
    aged out of its windows since (the phone's usual case; the same second checks nothing)."""
    seq, _, at = cursor.partition(".")
    return f"{seq}.{int(at) - minutes * 60}"


def test_warm_pull_with_nothing_new_is_two_round_trips(worker_client):
    _, cursor = pull_all(worker_client)
    resp, cursor = pull_all(worker_client, cursor)  # stamps last_sync_at (once a minute)
    resp, _ = pull_all(worker_client, minutes_ago(cursor, 5))
    print("warm", queries(resp))
    assert queries(resp) <= 2


def test_warm_pull_with_changes_is_bounded(worker_client):
    _, cursor = pull_all(worker_client)
    ops = [
        {
            "op_id": str(uuid.uuid4()),
            "type": "visit.create",
            "payload": {
                "id": str(uuid.uuid4()),
                "household_id": hid,
                "mode": "home",
                "notes": "量了血压",
                "visited_at": iso_utc(utcnow()),
            },
        }
        for hid in worker_client.households
    ]
    resp = worker_client.post("/api/v1/sync", json={"ops": ops})
    assert resp.status_code == 200
    assert {r["status"] for r in resp.get_json()["results"]} == {"applied"}
    print("push", queries(resp))
    resp, _ = pull_all(worker_client, minutes_ago(cursor, 5))
    print("warm+changes", queries(resp))
    assert queries(resp) <= 8


def test_a_push_of_visits_is_five_statements_a_visit(worker_client):
    """A visit is the household (locked, with its care interval), the visit (an insert that is
    also the replay check), its photos claimed (on PostgreSQL saying which, so the answer needs
    no read of its photo ids; on SQLite that read is a sixth), one household update and one
    insert of both change rows: 5 (a batch that applies whole needs no savepoint per op:
    gridapp/sync/push.py). The session read, BEGIN, every op's claim (one INSERT), every op's
    answer (one UPDATE), the change numbering at commit (two) and COMMIT are paid once per
    batch."""

    def visit(hid):
        return {
            "op_id": str(uuid.uuid4()),
            "type": "visit.create",
            "payload": {
                "id": str(uuid.uuid4()),
                "household_id": hid,
                "mode": "home",
                "visited_at": iso_utc(utcnow()),
            },
        }

    worker_client.post("/api/v1/sync", json={"ops": [visit(worker_client.households[0])]})
    ops = [visit(hid) for hid in worker_client.households]
    resp = worker_client.post("/api/v1/sync", json={"ops": ops})
    assert {r["status"] for r in resp.get_json()["results"]} == {"applied"}
    assert len(ops) >= 3
    per_visit = 5 if is_postgres() else 6
    assert queries(resp) <= 1 + per_visit * len(ops) + 6


def test_hot_statements_are_built_once_per_shape(worker_client):
    """The session lookup, the warm pull's statement and a visit op's statements are cached
    (gridapp/sqlcache.py), so they are not rebuilt by peewee on every request; a shape that
    read the clock would not be."""
    from gridapp import sqlcache

    _, cursor = pull_all(worker_client)
    pull_all(worker_client, minutes_ago(cursor, 5))
    worker_client.get("/api/v1/me")
    op = {
        "op_id": str(uuid.uuid4()),
        "type": "visit.create",
        "payload": {
            "id": str(uuid.uuid4()),
            "household_id": worker_client.households[0],
            "mode": "home",
            "visited_at": iso_utc(utcnow()),
        },
    }
    placed = {
        "op_id": str(uuid.uuid4()),
        "type": "visit.create",
        "payload": {
            **op["payload"],
            "id": str(uuid.uuid4()),
            "lat": 39.917123456789,
            "lon": 116.397987654321,
            "accuracy": 12.5,
            "notes": "量了血压",
        },
    }
    for sent in (op, placed):
        resp = worker_client.post("/api/v1/sync", json={"ops": [sent]})
        assert resp.get_json()["results"][0]["status"] == "applied"
    from gridapp.visits.models import Visit

    stored = Visit.get_by_id(placed["payload"]["id"])  # the cached insert's values, exactly
    assert (stored.lat, stored.lon, stored.accuracy, stored.notes) == (
        39.917123456789,
        116.397987654321,
        12.5,
        "量了血压",
    )
    assert stored.household_id == worker_client.households[0]
    shapes: dict[str, list] = {}
    for key, compiled in sqlcache._CACHE.items():
        shapes.setdefault(key[1], []).append(compiled)
    # The session lookup, the warm pull, and every statement a visit op sends (built by peewee
    # each time, they were half of a push's CPU).
    for name in (
        "session",
        "warm",
        "visit-household",
        "visit-insert",
        "photos-waiting",
        "household-reschedule",
        "changes-few",
        # PostgreSQL answers a new visit's photo ids from its claims (RETURNING).
        *(() if is_postgres() else ("visit-photos",)),
        "snapshot",
        "sync-op-claims",
    ):
        assert shapes.get(name) and None not in shapes[name], name


def test_a_statement_reading_the_clock_is_not_cached(app):
    import datetime as dt

    from gridapp import sqlcache
    from gridapp.changes import Change
    from gridapp.db import db

    def build(v):
        return Change.select().where((Change.at > utcnow()) & (Change.seq > v["seq"])).sql()

    def shifted(v):
        return Change.select().where((Change.at > v["since"]) & (Change.seq > v["seq"])).sql()

    for _ in range(2):
        _, params = sqlcache.statement(("clock",), build, {"seq": 3})
        assert abs(params[0] - utcnow()) < dt.timedelta(seconds=5) and params[1] == 3
    assert sqlcache._CACHE[(type(db.obj), "clock")] is None
    since = dt.datetime(2026, 1, 2, 3, 4, 5)
    for seq in (7, 8):
        _, params = sqlcache.statement(("shifted",), shifted, {"since": since, "seq": seq})
        assert params == [since, seq]
    assert sqlcache._CACHE[(type(db.obj), "shifted")] is not None


def test_a_value_a_field_maps_onto_fewer_values_is_not_cached(app):
    """An integer sent into a boolean column becomes True for both stand-ins: it would look like
    a constant, and a later 0 would be written as True. Such a shape is never cached."""
    from gridapp import sqlcache
    from gridapp.changes import Change

    def build(v):
        return Change.update(deleted=v["deleted"]).where(Change.id == v["id"]).sql()

    for deleted in (1, 0):
        _, params = sqlcache.statement(("lossy",), build, {"deleted": deleted, "id": 5})
        assert params == [bool(deleted), 5]
    assert sqlcache._CACHE[(type(db.obj), "lossy")] is None
