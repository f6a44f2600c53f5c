"""Push: per-op answers, idempotent replay, conflicts on stale versions, independence, refs."""

from __future__ import annotations

import uuid

from gridapp.registry.models import Household, Resident
from gridapp.sync.models import SyncOp


def op(type_, payload, base_version=None, op_id=None):
    return {
        "op_id": op_id or str(uuid.uuid4()),
        "type": type_,
        "payload": payload,
        "base_version": base_version,
    }


def push(client, *ops):
    resp = client.post("/api/v1/sync", json={"ops": list(ops)})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()["results"]


def test_applied_then_duplicate_gives_the_same_answer(org, reg, make_user, login_as):
    h = reg.household(reg.building(org.grid))
    client = login_as(make_user("grid_worker", grids=[org.grid]))
    edit = op("household.update", {"id": h.id, "changes": {"notes": "独居，腿脚不便"}}, 1)
    [first] = push(client, edit)
    assert first["status"] == "applied" and first["row"]["version"] == 2
    assert first["row"]["notes"] == "独居，腿脚不便"
    [again] = push(client, edit)
    [third] = push(client, edit)
    assert again["status"] == third["status"] == "duplicate"
    assert again["first_status"] == "applied" and again["row"] == first["row"]
    assert Household.get_by_id(h.id).version == 2
    assert SyncOp.select().count() == 1


def test_stale_edit_is_a_conflict_with_the_current_row(org, reg, make_user, login_as):
    h = reg.household(reg.building(org.grid))
    a = login_as(make_user("grid_worker", grids=[org.grid]))
    b = login_as(make_user("grid_worker", grids=[org.grid]))
    [ok] = push(a, op("household.update", {"id": h.id, "changes": {"notes": "A"}}, 1))
    [clash] = push(b, op("household.update", {"id": h.id, "changes": {"notes": "B"}}, 1))
    assert ok["status"] == "applied"
    assert clash["status"] == "conflict" and clash["problem"]["status"] == 409
    assert clash["current"]["notes"] == "A" and clash["current"]["version"] == 2
    assert Household.get_by_id(h.id).notes == "A"


def test_rejected_op_does_not_block_later_ones_and_refs_resolve(org, reg, make_user, login_as):
    h = reg.household(reg.building(org.grid))
    other = reg.household(reg.building(org.other_grid))
    client = login_as(make_user("grid_worker", grids=[org.grid]))
    results = push(
        client,
        op("household.update", {"id": other.id, "changes": {"notes": "x"}}, 1),  # not mine
        op("household.update", {"id": h.id, "changes": {"bogus": 1}}, 1),  # invalid
        op("resident.create", {"client_id": "r-1", "household": h.id, "name": "刘芳"}),
        op("resident.update", {"id": "c:r-1", "changes": {"phone": "13712345678"}}, 1),
        op("teleport.now", {}),
    )
    assert [r["status"] for r in results] == [
        "rejected",
        "rejected",
        "applied",
        "applied",
        "rejected",
    ]
    assert results[0]["problem"]["status"] == 404
    assert results[1]["problem"]["status"] == 422
    assert results[3]["row"]["phone"] == "137****5678"
    assert results[4]["problem"]["code"] == "unknown_op"
    created = Resident.get(Resident.name == "刘芳")
    assert created.phone == "13712345678" and created.name_initials == "lf"
    # A later batch can still refer to the client id.
    [later] = push(client, op("resident.update", {"id": "c:r-1", "changes": {"notes": "n"}}, 2))
    assert later["status"] == "applied" and later["row"]["version"] == 3


def test_edit_without_base_version_is_rejected(org, reg, make_user, login_as):
    h = reg.household(reg.building(org.grid))
    client = login_as(make_user("grid_worker", grids=[org.grid]))
    [res] = push(client, op("household.update", {"id": h.id, "changes": {"notes": "x"}}))
    assert res["status"] == "rejected" and res["problem"]["field"] == "base_version"


def test_push_needs_csrf_and_login(app, client, make_user):
    assert client.post("/api/v1/sync", json={"ops": []}).status_code in (400, 401)


def test_old_op_answers_are_pruned(org, reg, make_user, login_as):
    import datetime as dt

    from gridapp.sync.jobs import prune_sync_ops

    h = reg.household(reg.building(org.grid))
    client = login_as(make_user("grid_worker", grids=[org.grid]))
    push(client, op("household.update", {"id": h.id, "changes": {"notes": "x"}}, 1))
    assert prune_sync_ops() == 0
    later = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=181)
    assert prune_sync_ops(now=later) == 1 and SyncOp.select().count() == 0


def test_an_op_failing_after_applied_ones_leaves_each_applied_exactly_once(
    org, reg, make_user, login_as
):
    """A batch is first tried whole, without savepoints (gridapp/sync/push.py). A conflict after
    two applied ops rolls that attempt back; the op-by-op run then applies them once: one
    resident, one visit, one change row each, one claim per op, the conflict answered."""
    from gridapp.changes import Change
    from gridapp.visits.models import Visit

    h = reg.household(reg.building(org.grid))
    client = login_as(make_user("grid_worker", grids=[org.grid]))
    [bump] = push(client, op("household.update", {"id": h.id, "changes": {"notes": "A"}}, 1))
    assert bump["status"] == "applied"
    changes_before = Change.select().count()
    visit_id = str(uuid.uuid4())
    results = push(
        client,
        op("resident.create", {"client_id": "r-9", "household": h.id, "name": "孙丽"}),
        op("visit.create", {"id": visit_id, "household_id": h.id, "mode": "home"}),
        op("household.update", {"id": h.id, "changes": {"notes": "stale"}}, 1),  # a conflict
        op("resident.update", {"id": "c:r-9", "changes": {"notes": "n"}}, 1),
    )
    assert [r["status"] for r in results] == ["applied", "applied", "conflict", "applied"]
    assert Resident.select().where(Resident.name == "孙丽").count() == 1
    assert Visit.select().where(Visit.id == visit_id).count() == 1
    assert SyncOp.select().count() == 1 + 3  # a conflict is not stored: a retry may apply
    resident = Resident.get(Resident.name == "孙丽")
    assert resident.version == 2
    # Nothing of the rolled-back attempt is in the change log: one row for the visit.
    new = list(Change.select().order_by(Change.id))[changes_before:]
    assert [str(c.entity_id) for c in new if c.entity == "visit"] == [visit_id]
    assert Household.get_by_id(h.id).notes == "A"


def test_a_whole_batch_stores_every_answer_and_replays_from_them(org, reg, make_user, login_as):
    """A batch that applies whole claims its ops in one statement and stores their answers in
    another (gridapp/sync/push.py): each answer is stored as given, with the client id of a
    create, so a later batch mixing a replay with new ops answers the replay from it and
    resolves a reference to the create."""
    h = reg.household(reg.building(org.grid))
    client = login_as(make_user("grid_worker", grids=[org.grid]))
    create = op("resident.create", {"client_id": "r-1", "household": h.id, "name": "周敏"})
    visit = op("visit.create", {"id": str(uuid.uuid4()), "household_id": h.id, "mode": "home"})
    first = push(client, create, visit)
    assert [r["status"] for r in first] == ["applied", "applied"]
    stored = {s.op_id: s for s in SyncOp.select()}
    assert {k: (s.status, s.entity, s.client_id) for k, s in stored.items()} == {
        create["op_id"]: ("applied", "resident", "r-1"),
        visit["op_id"]: ("applied", "", ""),
    }
    assert stored[create["op_id"]].server_id == first[0]["id"]

    edit = op("resident.update", {"id": "c:r-1", "changes": {"notes": "新"}}, 1)
    again = push(client, visit, edit)
    assert [r["status"] for r in again] == ["duplicate", "applied"]
    assert again[0]["first_status"] == "applied" and again[0]["id"] == first[1]["id"]
    assert Resident.get_by_id(int(first[0]["id"])).notes == "新"
    assert SyncOp.select().count() == 3


def test_the_same_op_twice_in_one_batch_applies_once(org, reg, make_user, login_as):
    from gridapp.visits.models import Visit

    h = reg.household(reg.building(org.grid))
    client = login_as(make_user("grid_worker", grids=[org.grid]))
    visit = op("visit.create", {"id": str(uuid.uuid4()), "household_id": h.id, "mode": "home"})
    results = push(client, visit, visit)
    assert [r["status"] for r in results] == ["applied", "duplicate"]
    assert results[1]["first_status"] == "applied"
    assert Visit.select().count() == 1 and SyncOp.select().count() == 1
