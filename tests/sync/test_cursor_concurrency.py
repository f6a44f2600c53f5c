"""A cursor never skips a row that commits late (DESIGN section 9), with two real writers.

On PostgreSQL the writers run on two connections: the first takes a change number and holds its
transaction open; the second must wait (the counter row is locked) instead of committing a higher
number that a reader could pass. SQLite serialises writers anyway; the test runs there too.
"""

from __future__ import annotations

import random
import threading
import time

from gridapp.changes import record_change
from gridapp.db import db
from gridapp.registry.models import Household
from gridapp.scope import scope_for
from gridapp.sync import service


def _new_household(building, hold: threading.Event | None = None, took: threading.Event = None):
    db.connect(reuse_if_open=True)
    try:
        with db.atomic():
            h = Household.create(grid=building.grid_id, building=building.id, room="x")
            record_change("household", h.id, grid_id=h.grid_id)
            if took:
                took.set()
            if hold:
                assert hold.wait(10)
        return h.id
    finally:
        db.close()


def _pull(worker, cursor):
    scope = scope_for(worker)
    body = service.pull(worker, scope, cursor, 500, None)
    return body, {r["id"] for r in body["rows"] if r["entity"] == "household"}


def test_late_commit_is_not_skipped(org, reg, make_user, login_as):
    """A writes its change row first and holds its transaction open; B writes after and commits
    first (on PostgreSQL: change numbers are given at commit, so B does not wait for A; SQLite
    serialises B behind A). A reader between sees B at most, and A's row still arrives after."""
    worker = make_user("grid_worker", grids=[org.grid])
    building = reg.building(org.grid)
    cursor = _pull(worker, None)[0]["cursor"]
    db.close()  # the writers and this reader use their own connections

    release, a_took = threading.Event(), threading.Event()
    results: dict[str, int] = {}
    a = threading.Thread(
        target=lambda: results.setdefault("a", _new_household(building, release, a_took))
    )
    a.start()
    assert a_took.wait(10)  # A holds its change row, uncommitted
    b = threading.Thread(target=lambda: results.setdefault("b", _new_household(building)))
    b.start()
    b.join(1.0)  # PostgreSQL: B commits now; SQLite: B waits for A's write lock
    db.connect(reuse_if_open=True)
    body, seen_first = _pull(worker, cursor)
    assert "a" not in results and seen_first == ({str(results["b"])} if "b" in results else set())
    cursor = body["cursor"]
    db.close()

    release.set()
    a.join(10)
    b.join(10)
    db.connect(reuse_if_open=True)
    body, seen = _pull(worker, cursor)
    assert seen | seen_first == {str(results["a"]), str(results["b"])}


def test_reader_racing_many_writers_sees_every_row(org, reg, make_user):
    worker = make_user("grid_worker", grids=[org.grid])
    building = reg.building(org.grid)
    cursor = _pull(worker, None)[0]["cursor"]
    db.close()
    created: list[int] = []
    lock = threading.Lock()

    def writer():
        rnd = random.Random()
        for _ in range(15):
            db.connect(reuse_if_open=True)
            try:
                with db.atomic():
                    h = Household.create(grid=building.grid_id, building=building.id, room="r")
                    record_change("household", h.id, grid_id=h.grid_id)
                    time.sleep(rnd.random() * 0.01)  # commit late, at random
                with lock:
                    created.append(h.id)
            finally:
                db.close()

    writers = [threading.Thread(target=writer) for _ in range(2)]
    for t in writers:
        t.start()
    seen: set[str] = set()
    db.connect(reuse_if_open=True)
    while any(t.is_alive() for t in writers):
        body, ids = _pull(worker, cursor)
        seen |= ids
        cursor = body["cursor"]
        db.close()
        db.connect(reuse_if_open=True)
    for t in writers:
        t.join()
    body, ids = _pull(worker, cursor)
    seen |= ids
    assert seen == {str(i) for i in created} and len(created) == 30
