"""Matters end to end through the JSON API: every category, department parts, refusals."""

from __future__ import annotations

import datetime as dt

import pytest

from gridapp.changes import Change
from gridapp.db import utcnow
from gridapp.matters.models import Matter, MatterEvent
from gridapp.notifications.models import Notification


def inbox(user, type_=None):
    q = Notification.select().where(Notification.recipient == user.id)
    if type_:
        q = q.where(Notification.type == type_)
    return list(q)


def test_individual_matter_end_to_end(flow, people, org):
    mid = flow.report("worker", text="张大爷需要开具低保证明", contact_phone="13812341234")
    assert inbox(people.sup, "matter.reported")
    flow.move(mid, "sup", "triage", category="个事")
    flow.move(mid, "sup", "dispatch")
    assert inbox(people.worker, "matter.dispatched")
    flow.move(mid, "worker", "accept")
    flow.move(mid, "worker", "progress", note="已联系民政")
    flow.move(mid, "worker", "resolve", result="证明已代办")
    assert inbox(people.sup, "matter.resolved") and inbox(people.worker, "matter.resolved") == []
    flow.move(mid, "sup", "verify")
    body = flow.move(mid, "sup", "close")
    assert body["state"] == "closed" and body["closed_at"]
    # the worker reported it, so the worker rates it
    body = flow.move(mid, "worker", "rate", rating="满意")
    assert body["state"] == "closed" and body["rating"] == "满意"
    actions = [e["action"] for e in body["timeline"]]
    assert actions == [
        "report",
        "triage",
        "dispatch",
        "accept",
        "progress",
        "resolve",
        "verify",
        "close",
        "rate",
    ]
    assert all(e["to_state"] for e in body["timeline"])
    assert body["deadline_at"]
    assert body["contact_phone"] == "138****1234"  # masked; handlers reveal it (test_contact)


def test_community_matter_is_handled_by_the_supervisor(flow, people):
    mid = flow.report("sup", text="小区门口乱停车")
    flow.move(mid, "sup", "triage", category="社事")
    flow.move(mid, "sup", "dispatch")
    flow.move(mid, "other_worker", "accept", expect=404)  # not their grid
    flow.move(mid, "sup", "accept")
    flow.move(mid, "sup", "resolve", result="已协调物业划线")
    flow.move(mid, "sup", "verify")
    assert flow.move(mid, "sup", "close")["state"] == "closed"


def test_community_matter_can_be_handled_by_the_grid_worker(flow, people):
    """社事社区办: the grid's worker acts on a 社事 beside the community's supervisors."""
    mid = flow.report("sup", text="楼道灯坏了")
    flow.move(mid, "sup", "triage", category="社事")
    flow.move(mid, "sup", "dispatch")
    flow.move(mid, "worker", "verify", expect=403)
    flow.move(mid, "worker", "accept")
    flow.move(mid, "worker", "progress", note="已联系物业")
    assert flow.move(mid, "worker", "resolve", result="已换灯泡")["state"] == "resolved"
    flow.move(mid, "sup", "verify")


def test_specialised_matter_goes_to_one_department(flow, people, org):
    mid = flow.report("worker", text="自来水管爆裂")
    flow.move(mid, "sup", "triage", category="专事")
    flow.move(mid, "sup", "dispatch", expect=422)  # needs a department
    body = flow.move(
        mid, "sup", "dispatch", expect=422, department_ids=[org.department.id, org.department2.id]
    )
    assert body["field"] == "department_ids"
    flow.move(mid, "sup", "dispatch", department_ids=[org.department.id])
    assert inbox(people.water, "matter.dispatched") and not inbox(people.power)
    # departments see only what is dispatched to them
    assert [m["id"] for m in people.api["water"].get("/api/v1/matters").get_json()] == [mid]
    assert people.api["power"].get("/api/v1/matters").get_json() == []
    assert people.api["power"].get(f"/api/v1/matters/{mid}").status_code == 404
    assert Change.select().where(Change.department_id == org.department.id).count() >= 1
    flow.move(mid, "water", "accept")
    flow.move(mid, "water", "progress", note="已派维修队")
    body = flow.move(mid, "water", "resolve", result="管道已更换")
    assert body["state"] == "resolved" and body["result"] == "管道已更换"
    assert [p["state"] for p in body["parts"]] == ["resolved"]
    flow.move(mid, "sup", "reject", reason="仍在漏水")
    assert inbox(people.water, "matter.returned")
    flow.move(mid, "water", "resolve", result="二次维修完成")
    flow.move(mid, "sup", "verify")
    flow.move(mid, "sup", "close")


def test_misrouted_matter_returns_to_triage(flow, people, org):
    mid = flow.report("worker", text="楼下烧烤油烟")
    flow.move(mid, "sup", "triage", category="专事")
    flow.move(mid, "sup", "dispatch", department_ids=[org.department.id])
    body = flow.move(mid, "water", "return", expect=422)
    assert body["field"] == "reason" and body["code"] == "missing"
    flow.move(mid, "water", "return", reason="不属于水务，应由城管处理")
    assert flow.get(mid)["state"] == "returned"
    assert inbox(people.sup, "matter.returned")
    # the department no longer sees it, and its devices get a tombstone
    assert people.api["water"].get(f"/api/v1/matters/{mid}").status_code == 404
    assert (
        Change.select()
        .where(
            Change.department_id == org.department.id,
            Change.deleted == True,  # noqa: E712
        )
        .exists()
    )
    queue = people.api["sup"].get("/api/v1/matters/triage-queue").get_json()
    assert mid in [m["id"] for m in queue]
    flow.move(mid, "sup", "triage", category="专事")
    flow.move(mid, "sup", "dispatch", department_ids=[org.department2.id])
    assert flow.get(mid, "power")["state"] == "dispatched"


def test_difficult_joint_matter_has_a_part_per_department(flow, people, org):
    mid = flow.report("sup", text="老旧小区水电线路改造，多年未解决")
    flow.move(mid, "sup", "triage", category="难事")
    body = flow.move(mid, "sup", "dispatch", department_ids=[org.department.id, org.department2.id])
    assert [p["lead"] for p in body["parts"]] == [True, False]
    flow.move(mid, "water", "accept")
    assert flow.get(mid)["state"] == "in_progress"
    flow.move(mid, "power", "accept")
    flow.move(mid, "water", "accept", expect=409)  # its part is already accepted
    flow.move(mid, "water", "resolve", result="水管改造完成")
    assert flow.get(mid)["state"] == "in_progress"  # power still working
    flow.move(mid, "power", "progress", note="线路设计中")
    body = flow.move(mid, "power", "resolve", result="线路改造完成")
    assert body["state"] == "resolved"
    assert "水管改造完成" in body["result"] and "线路改造完成" in body["result"]
    flow.move(mid, "sup", "verify")
    flow.move(mid, "sup", "close")


def test_resident_report_tracking_and_unsatisfied_reopens(app, flow, people, org, client):
    from gridapp.matters.service import report_matter

    matter = report_matter(
        None, source="resident", grid_id=org.grid.id, text="垃圾桶满了没人清", contact_phone=""
    )
    code = matter.code
    public = client.get(f"/api/v1/track/{code}").get_json()
    assert public["status"] == "reported" and public["timeline"][0]["text"]
    assert "网格员" not in str(public) and "contact" not in str(public)
    mid = matter.id
    flow.move(mid, "sup", "triage", category="社事")
    flow.move(mid, "sup", "dispatch")
    flow.move(mid, "sup", "accept")
    flow.move(mid, "sup", "resolve", result="已清运并增加清运频次")
    public = client.get(f"/api/v1/track/{code}").get_json()
    assert public["reply"] == "已清运并增加清运频次" and not public["can_rate"]
    flow.move(mid, "sup", "verify")
    flow.move(mid, "sup", "close")
    assert client.get(f"/api/v1/track/{code}").get_json()["can_rate"]
    # a supervisor is not the reporter of a resident's matter
    flow.move(mid, "sup", "rate", expect=403, rating="满意")
    from tests.conftest import csrf_token

    token = csrf_token(client)
    # the code alone (which staff in scope may see) does not rate: the resident's key does
    for key in ("", "wrong-key"):
        resp = client.post(
            f"/api/v1/track/{code}/rating",
            json={"rating": "不满意", "key": key},
            headers={"X-CSRFToken": token},
        )
        assert resp.status_code == 403 and resp.get_json()["code"] == "rating_key"
    assert Matter.get_by_id(mid).rating is None
    key = matter.issued_rating_key
    assert key and Matter.get_by_id(mid).rating_key != key  # only its hash is stored
    resp = client.post(
        f"/api/v1/track/{code}/rating",
        json={"rating": "不满意", "note": "又满了", "key": key},
        headers={"X-CSRFToken": token},
    )
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["status"] == "reopened"
    detail = flow.get(mid)
    assert detail["state"] == "reopened" and detail["rating"] == "不满意"
    last = detail["timeline"][-1]
    assert last["action"] == "rate" and last["data"]["rating"] == "不满意"
    assert last["from_state"] == "closed" and last["to_state"] == "reopened"
    assert inbox(people.sup, "resident.rated")
    assert mid in [
        m["id"] for m in people.api["sup"].get("/api/v1/matters/triage-queue").get_json()
    ]
    # rated once: a second rating is refused, even after the matter is closed again
    flow.move(mid, "sup", "triage", category="社事")
    flow.move(mid, "sup", "dispatch")
    flow.move(mid, "sup", "accept")
    flow.move(mid, "sup", "resolve", result="再次清运")
    flow.move(mid, "sup", "verify")
    flow.move(mid, "sup", "close")
    assert not client.get(f"/api/v1/track/{code}").get_json()["can_rate"]
    resp = client.post(
        f"/api/v1/track/{code}/rating",
        json={"rating": "满意", "key": key},
        headers={"X-CSRFToken": token},
    )
    assert resp.status_code == 409 and resp.get_json()["code"] == "already_rated"
    assert Matter.get_by_id(mid).rating == "不满意" and Matter.get_by_id(mid).state == "closed"
    assert client.get("/api/v1/track/NOPE1234").status_code == 404


def test_stale_version_is_409_with_current_row_and_writes_nothing(flow, people):
    mid = flow.report("worker")
    v = flow.get(mid)["version"]
    flow.move(mid, "sup", "triage", category="社事", version=v)
    events = MatterEvent.select().where(MatterEvent.matter == mid).count()
    body = flow.move(mid, "sup", "triage", category="个事", version=v, expect=409)
    assert body["code"] == "stale" and body["current"]["category"] == "社事"
    assert MatterEvent.select().where(MatterEvent.matter == mid).count() == events
    assert Matter.get_by_id(mid).category == "社事"


def test_escalation_raises_the_category(flow, people, org):
    mid = flow.report("worker", text="邻里纠纷")
    flow.move(mid, "sup", "triage", category="个事")
    flow.move(mid, "sup", "dispatch")
    flow.move(mid, "sup", "escalate", expect=422)
    body = flow.move(mid, "sup", "escalate", reason="涉及多户，需社区协调")
    assert body["state"] == "escalated" and body["category"] == "社事" and body["level"] == 1
    assert inbox(people.worker, "matter.escalated")
    flow.move(mid, "sup", "dispatch")
    assert flow.get(mid)["state"] == "dispatched"


def test_bad_photo_reference_is_422(flow, people, org):
    from gridapp.photos.models import Photo

    Photo.create(
        id="p-theirs", uploader=people.other_worker.id, grid_id=org.other_grid.id, storage_key="x"
    )
    Photo.create(id="p-mine", uploader=people.worker.id, grid_id=org.grid.id, storage_key="y")
    resp = people.api["worker"].post(
        "/api/v1/matters",
        json={"grid_id": org.grid.id, "text": "x", "photo_ids": ["p-mine", "p-theirs"]},
    )
    assert resp.status_code == 422 and resp.get_json()["field"] == "photo_ids.1"
    assert Matter.select().count() == 0
    mid = flow.report("worker", photo_ids=["p-mine"])
    assert Photo.get_by_id("p-mine").owner_id == str(mid)
    assert flow.get(mid)["photo_ids"] == ["p-mine"]


def test_worker_cannot_report_outside_their_grid(people, org):
    resp = people.api["worker"].post(
        "/api/v1/matters", json={"grid_id": org.other_grid.id, "text": "x"}
    )
    assert resp.status_code == 422 and resp.get_json()["field"] == "grid_id"
    resp = people.api["water"].post("/api/v1/matters", json={"grid_id": org.grid.id, "text": "x"})
    assert resp.status_code == 403


def test_triage_suggestion_learns_from_past_matters(flow, people, org):
    for text in ("自来水管漏水", "停水了", "水表坏了漏水"):
        mid = flow.report("worker", text=text)
        flow.move(mid, "sup", "triage", category="专事")
        flow.move(mid, "sup", "dispatch", department_ids=[org.department.id])
    for text in ("楼道灯坏了", "路灯不亮"):
        mid = flow.report("worker", text=text)
        flow.move(mid, "sup", "triage", category="社事")
    mid = flow.report("worker", text="楼上漏水")
    body = people.api["sup"].get(f"/api/v1/matters/{mid}/suggestion").get_json()
    assert body["categories"][0]["category"] == "专事"
    assert body["departments"][0]["department_id"] == org.department.id
    assert body["learned_from"] == 5
    assert people.api["worker"].get(f"/api/v1/matters/{mid}/suggestion").status_code == 403


# ---- every illegal move per role, through the API -------------------------------------------

ACTIONS = (
    "triage",
    "dispatch",
    "accept",
    "return",
    "progress",
    "resolve",
    "verify",
    "reject",
    "close",
    "rate",
    "reopen",
    "escalate",
)
FIELDS = {
    "category": "专事",
    "reason": "r",
    "note": "n",
    "result": "x",
    "rating": "满意",
}
# Which (role, action) pairs may succeed in each state for a 专事 dispatched to water, reported
# by the worker.
ALLOWED = {
    "reported": {("sup", "triage"), ("admin", "triage")},
    "dispatched": {
        ("water", "accept"),
        ("water", "return"),
        ("water", "resolve"),
        ("sup", "escalate"),
        ("admin", "escalate"),
    },
    "in_progress": {
        ("water", "progress"),
        ("water", "return"),
        ("water", "resolve"),
        ("sup", "escalate"),
        ("admin", "escalate"),
    },
    "resolved": {("sup", "verify"), ("sup", "reject"), ("admin", "verify"), ("admin", "reject")},
    "closed": {("worker", "rate"), ("sup", "reopen"), ("admin", "reopen")},
}


def _bring_to(flow, org, state):
    mid = flow.report("worker", text="水管漏水")
    if state == "reported":
        return mid
    flow.move(mid, "sup", "triage", category="专事")
    flow.move(mid, "sup", "dispatch", department_ids=[org.department.id])
    if state == "dispatched":
        return mid
    flow.move(mid, "water", "accept")
    if state == "in_progress":
        return mid
    flow.move(mid, "water", "resolve", result="ok")
    if state == "resolved":
        return mid
    flow.move(mid, "sup", "verify")
    flow.move(mid, "sup", "close")
    return mid


@pytest.mark.parametrize("state", sorted(ALLOWED))
@pytest.mark.parametrize("who", ["worker", "sup", "water", "power", "admin"])
def test_illegal_moves_are_refused_and_write_nothing(flow, people, org, state, who):
    mid = _bring_to(flow, org, state)
    before = Matter.get_by_id(mid)
    events = MatterEvent.select().where(MatterEvent.matter == mid).count()
    for action in ACTIONS:
        if (who, action) in ALLOWED[state]:
            continue
        fields = dict(FIELDS)
        if action == "dispatch":
            fields["department_ids"] = [org.department.id]
        resp = people.api[who].post(
            f"/api/v1/matters/{mid}/transition",
            json={"action": action, "version": before.version, **fields},
        )
        body = resp.get_json()
        assert resp.status_code in (403, 404, 409), (who, state, action, body)
        assert resp.content_type == "application/problem+json"
        if resp.status_code == 409:
            assert body["code"] == "illegal_transition" and body["current"]["state"] == state
        if resp.status_code == 403:
            assert body["code"] == "role"
        if resp.status_code == 404:  # a department sees only what is dispatched to it
            assert who == "power" or (who == "water" and state == "reported")
    after = Matter.get_by_id(mid)
    assert (after.state, after.version) == (before.state, before.version)
    assert MatterEvent.select().where(MatterEvent.matter == mid).count() == events


def test_allowed_actions_are_exactly_the_legal_moves(flow, people, org):
    """``allowed_actions`` in the matter's API detail is the table above: what each user may do in
    each state (and what ``transition_matter`` accepts), for every user who sees the matter."""
    for state in sorted(ALLOWED):
        mid = _bring_to(flow, org, state)
        for who in ("worker", "sup", "water", "power", "admin"):
            resp = people.api[who].get(f"/api/v1/matters/{mid}")
            if resp.status_code == 404:  # a department sees only what is dispatched to it
                assert who == "power" or (who == "water" and state == "reported")
                continue
            expected = {a for (w, a) in ALLOWED[state] if w == who}
            assert set(resp.get_json()["allowed_actions"]) == expected, (state, who)
    # the answer to a move carries the next allowed moves too
    mid = _bring_to(flow, org, "reported")
    moved = flow.move(mid, "sup", "triage", category="社事")
    assert set(moved["allowed_actions"]) == {"triage", "dispatch", "escalate"}


def test_other_community_and_bad_phone(flow, people, org, login_as):
    mid = flow.report("worker")
    other = login_as(people.other_sup)
    assert other.get(f"/api/v1/matters/{mid}").status_code == 404
    assert mid not in [m["id"] for m in other.get("/api/v1/matters/triage-queue").get_json()]
    street = login_as(people.street_sup)
    assert street.get(f"/api/v1/matters/{mid}").status_code == 200
    resp = people.api["worker"].post(
        "/api/v1/matters", json={"grid_id": org.grid.id, "text": "x", "contact_phone": "12ab"}
    )
    assert resp.status_code == 422 and resp.get_json()["field"] == "contact_phone"
    resp = people.api["worker"].post(
        "/api/v1/matters",
        json={"grid_id": org.grid.id, "text": "x", "contact_phone": "0351-7654321"},
    )
    assert resp.status_code == 201


def test_matters_appear_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in (
        "/api/v1/matters",
        "/api/v1/matters/{matter_id}/transition",
        "/api/v1/track/{code}",
        "/api/v1/tasks/{task_id}/transition",
        "/api/v1/tasks/mine",
        "/api/v1/campaigns/{campaign_id}",
    ):
        assert path in paths, path
    assert "409" in paths["/api/v1/matters/{matter_id}/transition"]["post"]["responses"]


def _local_today():
    from gridapp.matters.deadlines import to_local

    return to_local(utcnow()).date()


def test_dispatch_may_set_the_deadline_instead_of_the_rule(flow, people, org):
    from gridapp.matters.deadlines import to_utc
    from gridapp.times import naive_utc

    mid = flow.report("worker", text="水管漏水")
    flow.move(mid, "sup", "triage", category="专事")
    day = _local_today() + dt.timedelta(days=20)  # the rule gives 5 working days
    moved = flow.move(
        mid, "sup", "dispatch", department_ids=[org.department.id], deadline=day.isoformat()
    )
    m = Matter.get_by_id(mid)
    assert m.deadline_at == to_utc(dt.datetime.combine(day, dt.time(23, 59)))
    assert m.escalate_at == m.deadline_at and m.deadline_start < m.warn_at < m.deadline_at
    assert moved["deadline_at"].startswith(m.deadline_at.isoformat()[:16])
    # the timeline records the day chosen and what the rule would have given
    [event] = [e for e in moved["timeline"] if e["action"] == "dispatch"]
    assert event["data"]["deadline"] == day.isoformat()
    rule_due = naive_utc(dt.datetime.fromisoformat(event["data"]["rule_deadline_at"]))
    assert rule_due < m.deadline_at - dt.timedelta(days=5)
    # today is allowed (due at the end of the day)
    mid2 = flow.report("worker", text="路灯不亮")
    flow.move(mid2, "sup", "triage", category="社事")
    flow.move(mid2, "sup", "dispatch", deadline=_local_today().isoformat())
    assert Matter.get_by_id(mid2).deadline_at > utcnow()


def test_a_rejected_result_keeps_the_day_set_by_hand_until_it_passes(flow, people, org):
    from gridapp.matters import rules
    from gridapp.matters.deadlines import to_utc

    mid = flow.report("worker", text="水管漏水")
    flow.move(mid, "sup", "triage", category="专事")
    day = _local_today() + dt.timedelta(days=20)
    flow.move(mid, "sup", "dispatch", department_ids=[org.department.id], deadline=day.isoformat())
    flow.move(mid, "water", "accept")
    flow.move(mid, "water", "resolve", result="管道已更换")
    assert Matter.get_by_id(mid).escalate_at is None  # the clock stops on resolve
    flow.move(mid, "sup", "reject", reason="仍在漏水")
    m = Matter.get_by_id(mid)
    due = to_utc(dt.datetime.combine(day, dt.time(23, 59)))
    assert (m.deadline_at, m.escalate_at) == (due, due)
    # once that day has gone by, a rejection restarts the rule's deadline instead
    later = due + dt.timedelta(days=1)
    assert rules.day_set_by_hand(m, due - dt.timedelta(hours=1)) == day
    assert rules.day_set_by_hand(m, later) is None
    # a matter dispatched by the rule has no such day
    mid2 = flow.report("worker", text="路灯不亮")
    flow.move(mid2, "sup", "triage", category="专事")
    flow.move(mid2, "sup", "dispatch", department_ids=[org.department.id])
    assert rules.day_set_by_hand(Matter.get_by_id(mid2), utcnow()) is None


@pytest.mark.parametrize(
    ("action", "deadline", "code"),
    [
        ("dispatch", "yesterday", "past"),
        ("dispatch", "far", "too_far"),
        ("dispatch", "2026-13-01", None),  # not a date: pydantic names the field
        ("triage", "soon", "invalid"),  # only a dispatch sets the deadline
    ],
)
def test_bad_deadline_is_422_naming_the_field_and_writes_nothing(
    flow, people, org, action, deadline, code
):
    today = _local_today()
    deadline = {
        "yesterday": (today - dt.timedelta(days=1)).isoformat(),
        "far": (today + dt.timedelta(days=400)).isoformat(),
        "soon": (today + dt.timedelta(days=3)).isoformat(),
    }.get(deadline, deadline)
    mid = flow.report("worker", text="水管漏水")
    flow.move(mid, "sup", "triage", category="专事")
    before = Matter.get_by_id(mid)
    body = flow.move(
        mid,
        "sup",
        action,
        expect=422,
        category="专事",
        department_ids=[org.department.id],
        deadline=deadline,
    )
    assert body["field"] == "deadline", body
    if code:
        assert body["code"] == code
    after = Matter.get_by_id(mid)
    assert (after.state, after.version, after.deadline_at) == (
        before.state,
        before.version,
        before.deadline_at,
    )
