"""Task assignment, following and verification through the console (Flask client); the worker
works the task through the JSON API, as the PWA does."""

from __future__ import annotations

import re

import pytest

from tests.console.conftest import form_post

_tasks = pytest.importorskip("gridapp.tasks.models")
Campaign, Task = _tasks.Campaign, _tasks.Task


def _worker_moves(client, task_id, *steps):
    for action, extra in steps:
        version = client.get(f"/api/v1/tasks/{task_id}").get_json()["version"]
        resp = client.post(
            f"/api/v1/tasks/{task_id}/transition",
            json={"action": action, "version": version, **extra},
        )
        assert resp.status_code == 200, resp.get_json()


def test_assign_complete_verify(org, people, login_as):
    sup = login_as(people["supervisor"])
    worker = login_as(people["grid_worker"])
    resp = form_post(
        sup,
        "/console/tasks/assign",
        {
            "title": "入户宣传防诈骗",
            "target": "worker",
            "worker_id": people["grid_worker"].id,
            "due_at": "2099-01-01T18:00",
            "priority": "1",
        },
    )
    assert resp.status_code == 302
    task = Task.get(Task.title == "入户宣传防诈骗")
    assert task.assignee_id == people["grid_worker"].id and task.due_at.hour == 10  # 18:00 CST
    page = sup.get(f"/console/tasks/{task.id}").get_data(as_text=True)
    assert "verify" not in re.findall(r'data-action="(\w+)"', page.split('id="task-actions"')[1])

    _worker_moves(worker, task.id, ("accept", {}), ("start", {}), ("done", {"note": "已走访12户"}))
    listing = sup.get("/console/tasks?state=done").get_data(as_text=True)
    assert f'data-task="{task.id}"' in listing
    page = sup.get(f"/console/tasks/{task.id}").get_data(as_text=True)
    assert "已走访12户" in page
    assert {"verify", "reject"} <= set(
        re.findall(
            r'data-action="(\w+)"', page.split('id="task-actions"')[1].split("</section>")[0]
        )
    )
    resp = form_post(
        sup,
        f"/console/tasks/{task.id}/act",
        {"action": "verify", "version": Task.get_by_id(task.id).version},
    )
    assert resp.status_code == 302
    assert Task.get_by_id(task.id).state == "verified"
    listing = sup.get("/console/tasks?due=on_time").get_data(as_text=True)
    assert f'data-task="{task.id}"' in listing


def test_community_campaign_progress(org, people, login_as, make_user):
    w2 = make_user("grid_worker", grids=[org.grid2])
    sup = login_as(people["supervisor"])
    resp = form_post(
        sup,
        "/console/tasks/assign",
        {"title": "燃气安全排查", "target": "community", "community_id": org.community.id},
    )
    assert resp.status_code == 302
    campaign = Campaign.get(Campaign.title == "燃气安全排查")
    assert Task.select().where(Task.campaign == campaign.id).count() == 2
    t2 = Task.get(Task.campaign == campaign.id, Task.assignee == w2.id)
    _worker_moves(login_as(w2), t2.id, ("accept", {}), ("start", {}), ("done", {"note": "完成"}))
    page = sup.get(f"/console/campaigns/{campaign.id}").get_data(as_text=True)
    total = page.split('id="campaign-total">')[1].split("</p>")[0]
    assert re.sub(r"<[^>]+>|\s", "", total).startswith("1/2")
    assert 'id="chart-campaign"' in page and "1/1" in page and "0/1" in page


def test_assign_errors_are_shown(org, people, login_as):
    sup = login_as(people["supervisor"])
    resp = form_post(sup, "/console/tasks/assign", {"title": "", "target": "worker"})
    assert resp.status_code == 422 and 'data-field="title"' in resp.get_data(as_text=True)
    resp = form_post(
        sup,
        "/console/tasks/assign",
        {"title": "x", "target": "grids", "grid_ids": [str(org.other_grid.id)]},
    )
    assert resp.status_code == 422
    assert Task.select().count() == 0
