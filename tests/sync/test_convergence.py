"""Issue 15 items 2–7: the sync protocol converges. Concurrency runs on real threads, each with
its own test client and database connection (PostgreSQL: its own backend)."""

from __future__ import annotations

import logging
import threading
import uuid

import pytest

from gridapp.changes import ChangeCounter
from gridapp.db import db, is_postgres
from gridapp.registry.models import Household, Resident
from gridapp.sync.models import SyncOp
from tests.sync.test_pull import pull_all
from tests.sync.test_push import op, push


def _parallel(*jobs, timeout: float = 60):
    """Run callables at once (released together); returns their results in order."""
    results: list = [None] * len(jobs)
    errors: list = []
    start = threading.Barrier(len(jobs))

    def run(i, job):
        try:
            start.wait(10)
            results[i] = job()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            if not db.is_closed():
                db.close()

    threads = [threading.Thread(target=run, args=(i, j)) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not errors, errors
    db.connect(reuse_if_open=True)
    return results


def test_cold_then_warm_on_a_fresh_database_is_tiny_and_carries_tombstones(
    org, reg, make_user, login_as
):
    """Item 2 / issue 11 #10: the counter row exists from the migration, so the first cold
    pull's cursor is a real warm cursor even with an empty change log."""
    worker = make_user("grid_worker", grids=[org.grid])
    client = login_as(worker)
    assert ChangeCounter.get_by_id(1).value >= 1
    _rows, _t, cursor, epoch, _p = pull_all(client)
    assert cursor != "0"
    idle = client.get("/api/v1/sync", query_string={"cursor": cursor, "epoch": epoch})
    assert idle.get_json()["rows"] == [] and len(idle.get_data()) < 300

    h = reg.household(reg.building(org.grid))
    gone = reg.resident(h, name="李四")
    _rows, _t, cursor, epoch, _p = pull_all(client, cursor, epoch)
    boss = make_user("supervisor", community=org.community)
    from gridapp.registry import service as registry

    registry.delete_resident(boss, gone.id, Resident.get_by_id(gone.id).version)
    rows, tombs, _c, _e, _p = pull_all(client, cursor, epoch)
    assert tombs == {("resident", str(gone.id))} and ("grid", str(org.grid.id)) not in rows


def test_duplicate_answer_carries_the_current_row(org, make_user, login_as):
    """Item 3: op applied, matter triaged since, op replayed: the answer is the triaged row."""
    matters = pytest.importorskip("gridapp.matters.service")
    worker = make_user("grid_worker", grids=[org.grid])
    boss = make_user("supervisor", community=org.community)
    client = login_as(worker)
    report = op(
        "matter.report",
        {"client_id": "m-dup", "grid_id": org.grid.id, "description": "楼道堆放杂物"},
    )
    [first] = push(client, report)
    assert first["status"] == "applied" and first["row"]["state"] == "reported"
    m = matters.get_matter(boss, int(first["id"]))
    matters.transition_matter(boss, m.id, "triage", version=m.version, category="社事")
    [again] = push(client, report)
    assert again["status"] == "duplicate" and again["first_status"] == "applied"
    assert again["row"]["state"] != "reported"
    rows, *_ = pull_all(client)
    assert rows[("matter", first["id"])] == again["row"]  # what a pull sends now


def test_visit_coordinates_round_trip(org, reg, make_user, login_as):
    """Item 3: float64 in, float64 out, from the push answer and from a cold pull alike."""
    h = reg.household(reg.building(org.grid))
    client = login_as(make_user("grid_worker", grids=[org.grid]))
    vid = str(uuid.uuid4())
    fix = {"lat": 31.230416123456789, "lon": 121.473701987654321, "accuracy": 12.345678901}
    [res] = push(client, op("visit.create", {"id": vid, "household_id": h.id, **fix}))
    rows, *_ = pull_all(client)
    pulled = rows[("visit", vid)]
    assert {k: pulled[k] for k in fix} == fix == {k: res["row"][k] for k in fix}


def test_reference_before_its_create_is_retried_not_rejected(org, reg, make_user, login_as):
    """Item 5b: the outbox's backoff reorders; the early op answers ``retry`` (not stored)."""
    h = reg.household(reg.building(org.grid))
    client = login_as(make_user("grid_worker", grids=[org.grid]))
    create = op("resident.create", {"client_id": "r-1", "household": h.id, "name": "王五"})
    update = op("resident.update", {"id": "c:r-1", "changes": {"notes": "新搬来"}}, 1)
    [early] = push(client, update)
    assert early["status"] == "retry" and early["problem"]["code"] == "unknown_client_id"
    assert not SyncOp.select().where(SyncOp.op_id == update["op_id"]).exists()
    [made] = push(client, create)
    [late] = push(client, update)
    assert made["status"] == "applied" and late["status"] == "applied"
    assert Resident.get_by_id(int(made["id"])).notes == "新搬来"

    # A reference to a create that was rejected for good is rejected for good too.
    bad = op("resident.create", {"client_id": "r-2", "household": 10**6, "name": "赵六"})
    ref = op("resident.update", {"id": "c:r-2", "changes": {"notes": "x"}}, 1)
    assert [r["status"] for r in push(client, bad, ref)] == ["rejected", "rejected"]


def test_same_batch_twice_at_once_applies_once(org, reg, make_user, login_as):
    """Item 5a: [resident.create C, resident.update c:C] sent twice concurrently, 5 rounds."""
    h = reg.household(reg.building(org.grid))
    worker = make_user("grid_worker", grids=[org.grid])
    a, b = login_as(worker), login_as(worker)
    for i in range(5):
        batch = [
            op("resident.create", {"client_id": f"c{i}", "household": h.id, "name": f"周{i}"}),
            op("resident.update", {"id": f"c:c{i}", "changes": {"notes": f"n{i}"}}, 1),
        ]
        ra, rb = _parallel(lambda batch=batch: push(a, *batch), lambda batch=batch: push(b, *batch))
        for k in range(2):
            statuses = sorted([ra[k]["status"], rb[k]["status"]])
            assert statuses == ["applied", "duplicate"], (ra, rb)
        [again] = push(a, batch[1])
        assert again["status"] == "duplicate" and again["first_status"] == "applied"
        made = Resident.select().where(Resident.name == f"周{i}")
        assert made.count() == 1 and made.get().notes == f"n{i}"


def test_retry_racing_its_original_is_a_duplicate(org, reg, make_user, login_as):
    """Item 5d: the same edit twice at once: one applied, one duplicate, never a conflict."""
    h = reg.household(reg.building(org.grid))
    worker = make_user("grid_worker", grids=[org.grid])
    a, b = login_as(worker), login_as(worker)
    for i in range(8):
        version = Household.get_by_id(h.id).version
        edit = op("household.update", {"id": h.id, "changes": {"notes": f"第{i}次"}}, version)
        ra, rb = _parallel(lambda edit=edit: push(a, edit), lambda edit=edit: push(b, edit))
        assert sorted([ra[0]["status"], rb[0]["status"]]) == ["applied", "duplicate"]
        assert Household.get_by_id(h.id).version == version + 1


def test_first_writers_racing_on_a_lost_counter_row(org, reg, make_user, login_as):
    """Item 5c: moot since migration 0401 creates the row; a database that lost it still lets
    concurrent first writers through (the row comes back with ON CONFLICT, no integrity error)."""
    h = reg.household(reg.building(org.grid))
    worker = make_user("grid_worker", grids=[org.grid])
    a, b = login_as(worker), login_as(worker)
    with db.atomic():
        ChangeCounter.delete().execute()
    ops = [
        op("household.update", {"id": h.id, "changes": {"notes": "a"}}, 1),
        op("resident.create", {"client_id": "x", "household": h.id, "name": "孙七"}),
    ]
    ra, rb = _parallel(lambda: push(a, ops[0]), lambda: push(b, ops[1]))
    statuses = [ra[0]["status"], rb[0]["status"]]
    assert statuses == ["applied", "applied"], (ra, rb)
    assert ChangeCounter.get_by_id(1).value >= 2


@pytest.mark.skipif("not __import__('tests.conftest').conftest.BACKEND == 'postgres'")
def test_no_deadlock_between_tag_change_and_visit(org, reg, make_user, login_as, caplog):
    """Item 7: resident.update with a tag change (resident → household schedule → change log)
    against visit.create (visit → household → change log), 40 rounds on PostgreSQL. The change
    counter is every path's last lock (numbered at commit), so no round deadlocks or retries."""
    assert is_postgres()
    h = reg.household(reg.building(org.grid))
    r = reg.resident(h, name="吴八")
    worker = make_user("grid_worker", grids=[org.grid])
    a, b = login_as(worker), login_as(worker)
    tags = ["独居老人", "高龄"]
    from gridapp.registry.models import CareTag

    codes = [CareTag.get(CareTag.name == t).code for t in tags]
    caplog.set_level(logging.INFO, logger="gridapp.sync.push")
    for i in range(40):
        version = Resident.get_by_id(r.id).version
        edit = op("resident.update", {"id": r.id, "changes": {"tags": [codes[i % 2]]}}, version)
        visit = op("visit.create", {"id": str(uuid.uuid4()), "household_id": h.id})
        ra, rb = _parallel(lambda edit=edit: push(a, edit), lambda visit=visit: push(b, visit))
        assert ra[0]["status"] == "applied" and rb[0]["status"] == "applied", (i, ra, rb)
    assert "transient" not in caplog.text  # not even a deadlock retried away


def test_rows_that_age_out_of_a_window_are_tombstoned(org, reg, make_user, login_as, mirror_check):
    """Item 6: one window rule for cold pulls, warm pulls and aging. A visit dated 400 days ago
    reaches neither a cold nor a warm phone; a visit and a finished task that leave their window
    while the phone is away come as tombstones (the warm cursor carries the last pull's time)."""
    import datetime as dt

    from gridapp.sync import service
    from gridapp.tasks.models import Task
    from gridapp.tasks.service import assign_task, transition_task
    from gridapp.visits.models import Visit

    h = reg.household(reg.building(org.grid))
    worker = make_user("grid_worker", grids=[org.grid])
    boss = make_user("supervisor", community=org.community)
    client = login_as(worker)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    old, edge = str(uuid.uuid4()), str(uuid.uuid4())
    results = push(
        client,
        op(
            "visit.create",
            {
                "id": old,
                "household_id": h.id,
                "visited_at": (now - dt.timedelta(days=400)).isoformat() + "Z",
            },
        ),
        op(
            "visit.create",
            {
                "id": edge,
                "household_id": h.id,
                "visited_at": (now - dt.timedelta(days=364)).isoformat() + "Z",
            },
        ),
    )
    assert [r["status"] for r in results] == ["applied", "applied"]
    [task_id] = assign_task(boss, title="回访", target="worker", worker_id=worker.id).task_ids
    for action in ("accept", "start", "done"):
        t = Task.get_by_id(task_id)
        transition_task(worker, task_id, action, version=t.version, note="好")
    rows, _t, cursor, epoch, _p = pull_all(client)
    assert ("visit", old) not in rows and ("visit", edge) in rows
    assert rows[("task", str(task_id))]["state"] not in ("assigned", "accepted", "in_progress")

    # The phone was last here two days ago, when the edge visit was 364 days old and the task
    # finished 29 days before: both have aged out since.
    # (Time passing, simulated: the rows are dated two days earlier and the cursor too.)
    mirror_check.enabled = False  # its devices' cursors carry the real time
    Task.update(updated_at=now - dt.timedelta(days=31)).where(Task.id == task_id).execute()
    Visit.update(visited_at=now - dt.timedelta(days=366)).where(Visit.id == edge).execute()
    seq = service.parse_cursor(cursor).seq
    away = int((now - dt.timedelta(days=2)).replace(tzinfo=dt.UTC).timestamp())
    rows2, tombs, _c, _e, _p = pull_all(client, f"{seq}.{away}", epoch)
    assert {("visit", edge), ("task", str(task_id))} <= tombs and not rows2
    cold, *_ = pull_all(client)
    assert ("visit", edge) not in cold and ("task", str(task_id)) not in cold
