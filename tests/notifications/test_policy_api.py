"""``/api/v1/notifications/policy``: admins read every kind's steps (defaults marked), replace
one kind's steps with the console form's rules (422 naming the field, nothing stored), and
return it to the default; every change audited. Plus a bounded schemathesis run of these ops."""

from __future__ import annotations

import contextlib
import json
from collections import Counter

import pytest
import requests
import schemathesis
from hypothesis.errors import Unsatisfiable

from gridapp.audit import AuditLog
from gridapp.notifications import hops
from gridapp.notifications.models import NotificationPolicy

URL = "/api/v1/notifications/policy"
GOOD = {
    "urgent": True,
    "stages": [
        {"channels": ["webpush", "console"], "wait": 0},
        {"channels": ["wecom"], "wait": 5},
        {"channels": ["sms"], "wait": 20},
    ],
}


@pytest.fixture
def admin_client(make_user, login_as):
    return login_as(make_user("admin"))


def test_list_marks_defaults_and_put_delete_round_trip(admin_client):
    got = admin_client.get(URL)
    assert got.status_code == 200
    by = {p["kind"]: p for p in got.get_json()}
    assert set(hops.KINDS) <= set(by) and all(p["is_default"] for p in by.values())
    assert by["task.assigned"]["stages"] == hops.default_policy("task.assigned").to_json()

    put = admin_client.put(f"{URL}/matter.dispatched", json=GOOD)
    assert put.status_code == 200, put.get_json()
    assert put.get_json() == {"kind": "matter.dispatched", "is_default": False, **GOOD}
    row = NotificationPolicy.get(NotificationPolicy.kind == "matter.dispatched")
    assert row.urgent and json.loads(row.hops) == GOOD["stages"]
    by = {p["kind"]: p for p in admin_client.get(URL).get_json()}
    assert by["matter.dispatched"]["is_default"] is False and by["task.assigned"]["is_default"]
    audit = AuditLog.get(AuditLog.action == "notification.policy")
    assert audit.target_id == "matter.dispatched"

    gone = admin_client.delete(f"{URL}/matter.dispatched")
    assert gone.status_code == 200 and gone.get_json()["is_default"] is True
    assert not NotificationPolicy.select().exists()
    assert AuditLog.select().where(AuditLog.action == "notification.policy_reset").count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"urgent": False, "stages": [{"channels": ["webpush"]}, {"channels": ["sms"], "wait": 5}]},
         "stages.1.channels"),
        ({"urgent": True, "stages": [{"channels": ["sms"]}]}, "stages.0.channels"),
        ({"stages": [{"channels": ["webpush"]}, {"channels": ["wecom"], "wait": 0}]},
         "stages.1.wait"),
        ({"stages": [{"channels": ["webpush"], "wait": 3}]}, "stages.0.wait"),
        ({"stages": [{"channels": ["webpush"]}, {"channels": ["webpush"], "wait": 5}]},
         "stages.1.channels"),
        ({"stages": []}, "stages"),
        ({"stages": [{"channels": ["pigeon"]}]}, "stages.0.channels"),
        ({"stages": [{"channels": ["webpush"]}, {"channels": ["wecom"], "wait": 9999}]},
         "stages.1.wait"),
        ({"stages": [{"channels": ["webpush"]}, {"channels": ["wecom"], "wait": "abc"}]},
         "stages.1.wait"),
    ],
)  # fmt: skip
def test_put_refuses_what_the_console_form_refuses(admin_client, body, field):
    resp = admin_client.put(f"{URL}/task.assigned", json=body)
    assert resp.status_code == 422, resp.get_json()
    assert resp.content_type.startswith("application/problem+json")
    problem = resp.get_json()
    named = {problem.get("field")} | {e.get("field") for e in problem.get("errors", [])}
    assert any(n and (n == field or n.startswith(field)) for n in named), problem
    assert not NotificationPolicy.select().exists()
    assert not AuditLog.select().where(AuditLog.action == "notification.policy").exists()


def test_unknown_kind_is_404(admin_client):
    assert admin_client.put(f"{URL}/no.such", json=GOOD).status_code == 404
    assert admin_client.delete(f"{URL}/no.such").status_code == 404
    assert not AuditLog.select().where(AuditLog.action.startswith("notification.")).exists()


@pytest.mark.parametrize("role", ["grid_worker", "supervisor", "department"])
def test_only_admins(make_user, login_as, role):
    c = login_as(make_user(role))
    assert c.get(URL).status_code == 403
    assert c.put(f"{URL}/task.assigned", json=GOOD).status_code == 403
    assert c.delete(f"{URL}/task.assigned").status_code == 403
    assert not NotificationPolicy.select().exists()


def test_anonymous_is_401(client):
    assert client.get(URL).status_code == 401


def test_schemathesis_on_the_policy_ops(app, org, make_user, live_server):
    from tests.test_schemathesis import EXAMPLES, _runner, _session, _world

    users = _world(org, make_user)
    base = live_server.url
    doc = requests.get(f"{base}/api/v1/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(doc)
    operations = [
        r.ok() for r in schema.get_all_operations() if "/notifications/policy" in r.ok().path
    ]
    assert len(operations) == 3
    failures: dict[str, str] = {}
    statuses: Counter[int] = Counter()
    sessions = {role: _session(base, name) for role, name in users.items()}
    for operation in operations:
        for mode in EXAMPLES:
            with contextlib.suppress(Unsatisfiable):
                _runner(operation, mode, base, sessions, failures, statuses)()
    assert statuses[500] == 0 and sum(statuses.values()) > 0
    assert not failures, "\n\n".join(f"{k}\n{v}" for k, v in failures.items())
