"""Sync ops that call the visits, tasks and matters verbs; entities pulled from those features.
(Skipped where a feature is not installed.)"""

from __future__ import annotations

import uuid

import pytest

from tests.sync.test_pull import pull_all
from tests.sync.test_push import op, push


def test_visit_create_is_idempotent_and_pulled(org, reg, make_user, login_as):
    Visit = pytest.importorskip("gridapp.visits.models").Visit
    h = reg.household(reg.building(org.grid))
    r = reg.resident(h, name="孙婆婆")
    client = login_as(make_user("grid_worker", grids=[org.grid]))
    vid = str(uuid.uuid4())
    visit = op(
        "visit.create",
        {
            "id": vid,
            "household_id": h.id,
            "mode": "home",
            "resident_ids": [r.id],
            "notes": "量了血压",
            "photo_ids": [str(uuid.uuid4())],  # never uploaded: the visit does not wait for it
            "visited_at": "2026-01-05T02:00:00Z",
            "lat": 30.1,
            "lon": 120.2,
            "accuracy": 12,
        },
    )
    [first] = push(client, visit)
    assert first["status"] == "applied" and first["id"] == vid
    assert first["row"]["photo_ids"] == [] and first["row"]["visited_at"] == "2026-01-05T02:00:00Z"
    [again] = push(client, {**visit, "op_id": str(uuid.uuid4())})  # new op, same visit id
    assert again["status"] == "applied" and Visit.select().count() == 1
    rows, *_ = pull_all(client)
    assert rows[("visit", vid)]["notes"] == "量了血压"
    assert any(e == "service" for e, _ in rows)


def test_matter_report_and_task_transition(org, reg, make_user, login_as):
    Matter = pytest.importorskip("gridapp.matters.models").Matter
    tasks = pytest.importorskip("gridapp.tasks.service")
    worker = make_user("grid_worker", grids=[org.grid])
    boss = make_user("supervisor", community=org.community)
    result = tasks.assign_task(boss, title="入户宣传防诈骗", target="worker", worker_id=worker.id)
    [task_id] = result.task_ids
    client = login_as(worker)
    rows, *_ = pull_all(client)
    task = rows[("task", str(task_id))]
    assert task["state"] == "assigned"
    results = push(
        client,
        op(
            "matter.report",
            {
                "client_id": "m-1",
                "grid_id": org.grid.id,
                "title": "路灯坏了",
                "description": "小区东门路灯不亮",
                "category": "community",
            },
        ),
        op("task.transition", {"id": task_id, "action": "accept"}, task["version"]),
        op("task.transition", {"id": task_id, "action": "start"}, task["version"] + 1),
        op("task.transition", {"id": task_id, "action": "accept"}, task["version"] + 2),
    )
    assert [r["status"] for r in results] == ["applied", "applied", "applied", "conflict"]
    matter = Matter.get()
    assert matter.state == "reported" and "社事" in matter.text
    assert results[0]["row"]["timeline"][0]["action"] == "report"
    assert results[2]["row"]["state"] == "in_progress"
    assert results[3]["current"]["state"] == "in_progress"
    rows, *_ = pull_all(client)
    assert rows[("matter", str(matter.id))]["title"] == "路灯坏了"
