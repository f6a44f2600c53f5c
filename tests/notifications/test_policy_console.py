"""The admin's policy page (validated, audited, admin only) and the delivery overview's figures
from a known set of deliveries."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from gridapp.audit import AuditLog
from gridapp.db import utcnow
from gridapp.notifications import hops
from gridapp.notifications.models import Delivery, Notification, NotificationPolicy
from gridapp.notifications.overview import delivery_overview
from gridapp.scope import scope_for


@pytest.fixture
def admin(make_user):
    return make_user("admin")


def _post(client, kind: str, **form):
    token = client.get("/api/v1/auth/csrf").get_json()["csrf_token"]
    return client.post(
        f"/console/admin/notifications/policy/{kind}", data={"csrf_token": token, **form}
    )


def test_the_policy_page_saves_a_valid_policy_and_audits_it(admin, login_as):
    client = login_as(admin)
    page = client.get("/console/admin/notifications/policy")
    assert page.status_code == 200 and 'id="policy-task.assigned"' in page.text
    resp = _post(
        client, "matter.dispatched", urgent="1", stage_webpush="1", stage_wecom="2",
        stage_sms="3", wait_2="5", wait_3="20",
    )  # fmt: skip
    assert resp.status_code == 302
    row = NotificationPolicy.get(NotificationPolicy.kind == "matter.dispatched")
    assert row.urgent and json.loads(row.hops) == [
        {"channels": ["webpush"], "wait": 0},
        {"channels": ["wecom"], "wait": 5},
        {"channels": ["sms"], "wait": 20},
    ]
    audit = AuditLog.get(AuditLog.action == "notification.policy")
    assert (audit.actor_id, audit.target_id) == (admin.id, "matter.dispatched")
    assert _post(client, "matter.dispatched", reset="1").status_code == 302
    assert not NotificationPolicy.select().exists()


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"stage_webpush": "1", "stage_sms": "2", "wait_2": "5"}, "step_2", ""),
        ({"urgent": "1", "stage_sms": "1"}, "step_1", ""),
        ({"stage_webpush": "1", "stage_wecom": "2", "wait_2": "0"}, "wait_2", ""),
        ({"stage_webpush": "1", "stage_wecom": "2", "wait_2": "abc"}, "wait_2", ""),
        ({"stage_webpush": "1", "stage_wecom": "3", "wait_2": "5", "wait_3": "5"}, "step_2", ""),
        ({}, "stages", ""),
        ({"stage_webpush": "9"}, "stage_webpush", ""),
    ],
)
def test_the_policy_form_refuses_bad_input(admin, login_as, form, field, message):
    client = login_as(admin)
    resp = _post(client, "task.assigned", **form)
    assert resp.status_code == 422
    assert f'data-field="{field}"' in resp.text and message in resp.text
    assert not NotificationPolicy.select().exists()


def test_pure_validation_names_the_field():
    with pytest.raises(hops.PolicyError) as err:
        hops.validate(
            "x", False, [{"channels": ["webpush"], "wait": 0}, {"channels": ["webpush"], "wait": 3}]
        )
    assert (err.value.field, err.value.reason) == ("stages.1.channels", "twice")
    p = hops.validate(
        "x",
        True,
        [{"channels": ["webpush", "console"], "wait": 0}, {"channels": ["sms"], "wait": 30}],
    )
    assert p.allows("sms") and not p.allows("wecom")


def test_only_admins_open_the_pages(make_user, login_as):
    client = login_as(make_user("supervisor"))
    assert client.get("/console/admin/notifications/policy").status_code == 403
    assert client.get("/console/admin/notifications/delivery").status_code == 403


def test_overview_figures_from_known_deliveries(admin, make_user, login_as, app):
    w1, w2, w3 = make_user("grid_worker"), make_user("grid_worker"), make_user("grid_worker")
    now = utcnow()
    t0 = now - dt.timedelta(hours=2)

    def note(user, read_after: int | None):
        return Notification.create(
            recipient=user.id, type="task.assigned", title="t", created_at=t0,
            read_at=t0 + dt.timedelta(minutes=read_after) if read_after is not None else None,
        )  # fmt: skip

    def delivery(n, channel, status, delivered=False, key=""):
        return Delivery.create(
            notification=n, channel=channel, status=status, dedupe_key=f"{n.id}:{channel}:{key}",
            created_at=t0, updated_at=t0, sent_at=t0 if status == "sent" else None,
            delivered_at=t0 if delivered else None,
        )  # fmt: skip

    a, b, c = note(w1, 4), note(w2, 10), note(w3, None)
    d = note(w1, 30)
    delivery(a, "webpush", "sent", delivered=True)
    delivery(b, "webpush", "sent")
    delivery(c, "webpush", "gone")
    delivery(d, "webpush", "sent", delivered=True)
    delivery(c, "wecom", "sent", delivered=True)
    delivery(c, "sms", "failed")
    delivery(a, "wecom", "skipped")
    old = note(w2, 1)
    Delivery.create(
        notification=old, channel="webpush", status="sent", dedupe_key="old", sent_at=t0,
        created_at=now - dt.timedelta(days=40), updated_at=t0,
    )  # fmt: skip
    got = delivery_overview(scope_for(admin), 30, now)
    by = {c["channel"]: c for c in got["channels"]}
    assert {k: by["webpush"][k] for k in ("sent", "delivered", "failed", "read", "skipped")} == {
        "sent": 3, "delivered": 2, "failed": 1, "read": 3, "skipped": 0,
    }  # fmt: skip
    assert by["webpush"]["median_read_seconds"] == pytest.approx(600)  # 4, 10, 30 minutes
    assert (by["wecom"]["sent"], by["wecom"]["read"], by["wecom"]["skipped"]) == (1, 0, 1)
    assert by["wecom"]["median_read_seconds"] is None
    assert (by["sms"]["sent"], by["sms"]["failed"]) == (0, 1)
    # Nobody has a push subscription or another channel: every worker is listed to act on.
    assert {u["id"] for u in got["unreachable"]} == {w1.id, w2.id, w3.id}

    page = login_as(admin).get("/console/admin/notifications/delivery?days=30")
    assert page.status_code == 200 and 'data-channel="webpush"' in page.text
    assert f'data-user="{w1.id}"' in page.text
