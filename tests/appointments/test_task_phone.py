"""The grid worker sent to an at-home booking reaches the resident: the task the worker mirrors
carries the phone masked and says whether this worker may reveal it; the reveal, through the
task, is audited as the booking's and allowed only while the task is open. Nobody else gains a
number (both engines; every write checked against a cold pull by ``mirror_check``)."""

from __future__ import annotations

import json
import uuid
from types import SimpleNamespace

import pytest

from gridapp import privacy
from gridapp.appointments import desk, service
from gridapp.audit import AuditLog
from gridapp.tasks.models import Task
from gridapp.tasks.service import assign_task
from tests.appointments.conftest import first_slot
from tests.mirror import mirror_check  # noqa: F401

PHONE = "13812345678"


@pytest.fixture(autouse=True)
def _mirror(mirror_check):  # noqa: F811
    return mirror_check


def _sent(appt, worker=None):
    b = service.book(
        appt.community.id,
        appt.home.id,
        first_slot(appt.home),
        "张三丰",
        PHONE,
        grid_id=appt.grid.id,
        address="3栋2单元101",
    )
    b = desk.send_to_worker(appt.sup, b.id, worker.id if worker else None)
    return b, Task.get_by_id(b.task_id)


def _task_row(client, task_id: int) -> dict:
    """The task as a new phone's cold pull gives it."""
    rows, query = [], {}
    while True:
        body = client.get("/api/v1/sync", query_string=query).get_json()
        rows += body["rows"]
        if not body["more"]:
            break
        query = {"cursor": body["cursor"]}
    return next(r["data"] for r in rows if r["entity"] == "task" and r["id"] == str(task_id))


def test_the_worker_sent_there_sees_the_masked_phone_and_may_reveal_it(appt, login_as):
    b, task = _sent(appt)
    worker = login_as(appt.worker)
    row = _task_row(worker, task.id)
    assert row["contact_phone"] == "138****5678" and row["contact_revealable"] is True
    assert PHONE not in json.dumps(row)

    url = f"/api/v1/tasks/{task.id}/contact/reveal"
    refused = worker.post(url, json={})
    assert refused.status_code == 422 and PHONE not in refused.get_data(as_text=True)
    got = worker.post(url, json={"reason": "约定上门时间"})
    assert got.status_code == 200 and got.get_json() == {"id": task.id, "phone": PHONE}
    assert got.headers["Cache-Control"] == "no-store"
    audit = AuditLog.get(AuditLog.action == "reveal.booking_phone")
    assert (audit.actor_id, audit.target_type, audit.target_id) == (
        appt.worker.id,
        "booking",
        str(b.id),
    )
    assert json.loads(audit.detail) == {"fields": ["phone"], "reason": "约定上门时间"}


def test_a_done_task_no_longer_reveals_and_its_row_says_so(appt, login_as, _mirror):
    _, task = _sent(appt)
    worker = login_as(appt.worker)
    for action in ("accept", "start", "done"):
        resp = worker.post(
            "/api/v1/sync",
            json={
                "ops": [
                    {
                        "op_id": str(uuid.uuid4()),
                        "type": "task.transition",
                        "base_version": task.version,
                        "payload": {"id": task.id, "action": action, "note": "已上门"},
                    }
                ]
            },
        )
        result = resp.get_json()["results"][0]
        assert result["status"] == "applied", result
        task = Task.get_by_id(task.id)
        # The op's answer is the row a pull gives: the flag follows the task's state
        assert result["row"]["contact_revealable"] is (action != "done")
    assert _task_row(worker, task.id)["contact_revealable"] is False
    resp = worker.post(f"/api/v1/tasks/{task.id}/contact/reveal", json={"reason": "回访"})
    assert resp.status_code == 403 and PHONE not in resp.get_data(as_text=True)
    assert AuditLog.select().where(AuditLog.action == "reveal.booking_phone").count() == 0
    assert _mirror.checks >= 3 and not _mirror.failures  # each push: warm pulls equal a cold one


def test_nobody_else_gains_the_number(appt, login_as, make_user, org):
    _, task = _sent(appt)
    url = f"/api/v1/tasks/{task.id}/contact/reveal"
    colleague = make_user("grid_worker", grids=[appt.grid], username="appt_w2")
    other_sup = make_user("supervisor", community=org.other_community, username="appt_sup2")
    department = make_user("department", username="appt_dept")
    for who in (colleague, other_sup, department):
        resp = login_as(who).post(url, json={"reason": "x"})
        assert resp.status_code in (403, 404), (who.username, resp.status_code)
        assert PHONE not in resp.get_data(as_text=True)
    # The desk's own staff may, through the task as through the booking
    got = login_as(appt.sup).post(url, json={"reason": "协商改期"})
    assert got.status_code == 200 and got.get_json()["phone"] == PHONE
    # A task that is not a booking's has no number to reveal
    plain = assign_task(
        appt.sup, title="巡查", description="", target="worker", worker_id=appt.worker.id
    ).task_ids[0]
    worker = login_as(appt.worker)
    assert (
        worker.post(f"/api/v1/tasks/{plain}/contact/reveal", json={"reason": "x"}).status_code
        == 404
    )
    row = _task_row(worker, plain)
    assert "contact_phone" not in row and "contact_revealable" not in row


def test_the_rule_itself():
    def task(assignee: int, state: str):
        return SimpleNamespace(assignee_id=assignee, state=state)

    worker = SimpleNamespace(id=7, role="grid_worker")
    rule = privacy.may_see_full
    assert rule(worker, "booking_phone", task=task(7, "assigned"))
    assert rule(worker, "booking_phone", task=task(7, "in_progress"))
    assert not rule(worker, "booking_phone", task=task(7, "done"))
    assert not rule(worker, "booking_phone", task=task(7, "returned"))
    assert not rule(worker, "booking_phone", task=task(8, "assigned"))
    assert not rule(worker, "booking_phone")  # without the task: the desk's rule
    for role in ("supervisor", "admin"):
        assert rule(SimpleNamespace(id=1, role=role), "booking_phone")
    assert not rule(
        SimpleNamespace(id=1, role="department"), "booking_phone", task=task(1, "assigned")
    )
