"""Triage, dispatch and the department's handling through the console pages (Flask client)."""

from __future__ import annotations

import re

import pytest

from tests.console.conftest import form_post

msvc = pytest.importorskip("gridapp.matters.service")
_models = pytest.importorskip("gridapp.matters.models")
Matter, MatterEvent = _models.Matter, _models.MatterEvent


@pytest.fixture
def reported(app, org, people):
    with app.test_request_context():
        return msvc.report_matter(
            people["grid_worker"],
            source="worker",
            grid_id=org.grid.id,
            text="3号楼自来水管破裂，楼道积水",
            title="水管破裂",
        )


def _actions(html: str) -> set[str]:
    block = html.split('id="matter-actions"', 1)[1].split("</section>", 1)[0]
    return set(re.findall(r'data-action="(\w+)"', block))


def _act(client, matter, action, **fields):
    m = Matter.get_by_id(matter.id)
    data = {"action": action, "version": m.version, **fields}
    return form_post(client, f"/console/matters/{m.id}/act", data)


def test_triage_dispatch_return_redispatch_resolve_close(
    org, people, login_as, reported, make_user
):
    sup = login_as(people["supervisor"])
    dept = login_as(people["department"])
    queue = sup.get("/console/triage").get_data(as_text=True)
    assert reported.code in queue and "3号楼自来水管破裂" in queue
    page = sup.get(f"/console/matters/{reported.id}").get_data(as_text=True)
    assert "triage" in _actions(page) and "accept" not in _actions(page)

    # triage as 专事 and dispatch to the water company from the queue
    resp = form_post(
        sup,
        f"/console/triage/{reported.id}",
        {
            "version": reported.version,
            "category": "专事",
            "department_ids": str(org.department.id),
            "dispatch": "1",
        },
    )
    assert resp.status_code == 302
    m = Matter.get_by_id(reported.id)
    assert (m.state, m.category) == ("dispatched", "专事") and m.deadline_at is not None
    assert f'data-code="{reported.code}"' not in sup.get("/console/triage").get_data(as_text=True)

    # the department sees it, may accept / return / resolve, not verify
    listing = dept.get("/console/department").get_data(as_text=True)
    assert "水管破裂" in listing and f"/console/matters/{reported.id}" in listing
    # the tracking code is the resident's: a department has no use for it
    assert reported.code not in listing
    assert reported.code not in dept.get(f"/console/matters/{reported.id}").get_data(as_text=True)
    acts = _actions(dept.get(f"/console/matters/{m.id}").get_data(as_text=True))
    assert {"accept", "return", "resolve"} <= acts and not acts & {"verify", "close", "triage"}
    # returning needs a reason: shown on the page, nothing changes
    resp = _act(dept, m, "return")
    assert resp.status_code == 422 and 'data-field="reason"' in resp.get_data(as_text=True)
    assert _act(dept, m, "return", reason="不属于我司管辖，应为物业").status_code == 302
    assert Matter.get_by_id(m.id).state == "returned"
    assert f"/console/matters/{reported.id}" not in dept.get("/console/department").get_data(
        as_text=True
    )
    assert f'data-code="{reported.code}"' in sup.get("/console/triage").get_data(as_text=True)

    # re-dispatched (still 专事, same department after a call), accepted, progress, resolved
    m = Matter.get_by_id(m.id)
    resp = form_post(
        sup,
        f"/console/triage/{m.id}",
        {
            "version": m.version,
            "category": "专事",
            "department_ids": str(org.department.id),
            "dispatch": "1",
        },
    )
    assert Matter.get_by_id(m.id).state == "dispatched", resp.headers
    assert _act(dept, m, "accept").status_code == 302
    assert _act(dept, m, "progress", note="已派维修班组").status_code == 302
    assert _act(dept, m, "resolve", result="管道已更换，积水已清理").status_code == 302
    assert Matter.get_by_id(m.id).state == "resolved"

    # the supervisor verifies and closes
    acts = _actions(sup.get(f"/console/matters/{m.id}").get_data(as_text=True))
    assert {"verify", "reject"} <= acts and "accept" not in acts
    assert _act(sup, m, "verify").status_code == 302
    assert _act(sup, m, "close").status_code == 302
    m = Matter.get_by_id(m.id)
    assert m.state == "closed"
    page = sup.get(f"/console/matters/{m.id}").get_data(as_text=True)
    timeline = page.split('id="timeline"', 1)[1]
    for action in (
        "report",
        "triage",
        "dispatch",
        "return",
        "accept",
        "progress",
        "resolve",
        "verify",
        "close",
    ):
        assert f'data-action="{action}"' in timeline, action
    assert "不属于我司管辖" in timeline and "管道已更换" in page
    assert MatterEvent.select().where(MatterEvent.matter == m.id).count() >= 10


def _dispatch(client, matter, category, department_ids=()):
    m = Matter.get_by_id(matter.id)
    data = {"version": m.version, "category": category, "dispatch": "1"}
    if department_ids:
        data["department_ids"] = [str(d) for d in department_ids]
    resp = form_post(client, f"/console/triage/{m.id}", data)
    assert resp.status_code == 302
    return Matter.get_by_id(m.id)


def test_console_offers_only_the_allowed_actions(app, org, people, login_as, reported):
    """The matter page's forms are ``allowed_actions`` for that user and state, nothing else."""
    sup, dept = login_as(people["supervisor"]), login_as(people["department"])

    def offered(client, matter):
        resp = client.get(f"/console/matters/{matter.id}")
        assert resp.status_code == 200
        return _actions(resp.get_data(as_text=True))

    def allowed(user, matter):
        with app.test_request_context():
            return set(msvc.allowed_actions(user, Matter.get_by_id(matter.id))) - {"rate"}

    # reported: the supervisor triages; nothing else yet
    assert offered(sup, reported) == allowed(people["supervisor"], reported) == {"triage"}
    # 专事 dispatched to the water company: it handles, the supervisor may only escalate
    m = _dispatch(sup, reported, "专事", [org.department.id])
    assert offered(dept, m) == allowed(people["department"], m) == {"accept", "return", "resolve"}
    assert offered(sup, m) == allowed(people["supervisor"], m) == {"escalate"}
    # once the department accepted: progress instead of accept
    assert _act(dept, m, "accept").status_code == 302
    assert offered(dept, m) == {"progress", "return", "resolve"}
    # a 社事 is the supervisor's own to handle
    with app.test_request_context():
        other = msvc.report_matter(
            people["grid_worker"], source="worker", grid_id=org.grid.id, text="楼道堆放杂物"
        )
    other = _dispatch(sup, other, "社事")
    assert offered(sup, other) == {"accept", "return", "resolve", "escalate"}
    # resolved: the supervisor verifies or rejects
    assert _act(sup, other, "resolve", result="已清理").status_code == 302
    assert offered(sup, other) == allowed(people["supervisor"], other) == {"verify", "reject"}


def test_console_asks_the_matters_feature_not_its_internals():
    """Which buttons to show comes from the public ``allowed_actions``, not a private helper."""
    from pathlib import Path

    console = Path(msvc.__file__).resolve().parent.parent / "console"
    for path in console.glob("*.py"):
        assert "_check_role" not in path.read_text(encoding="utf-8"), path.name


def test_stale_version_is_a_409_page(org, people, login_as, reported):
    sup = login_as(people["supervisor"])
    resp = form_post(
        sup,
        f"/console/matters/{reported.id}/act",
        {"action": "triage", "version": reported.version + 5, "category": "个事"},
    )
    assert resp.status_code == 409
    assert Matter.get_by_id(reported.id).state == "reported"


def test_other_department_and_worker_cannot_open(org, people, login_as, make_user, reported):
    other = make_user("department", department=org.department2)
    sup = login_as(people["supervisor"])
    form_post(
        sup,
        f"/console/triage/{reported.id}",
        {
            "version": reported.version,
            "category": "专事",
            "department_ids": str(org.department.id),
            "dispatch": "1",
        },
    )
    assert login_as(other).get(f"/console/matters/{reported.id}").status_code == 404
    assert login_as(people["grid_worker"]).get(f"/console/matters/{reported.id}").status_code == 403
    # a supervisor of another community does not see it either
    far = make_user("supervisor", community=org.other_community)
    assert login_as(far).get(f"/console/matters/{reported.id}").status_code == 404


def test_matter_list_filters_and_export(org, people, login_as, reported):
    from io import BytesIO

    from openpyxl import load_workbook

    from gridapp.audit import AuditLog

    sup = login_as(people["supervisor"])
    page = sup.get("/console/matters?state=reported&sort=created&dir=asc").get_data(as_text=True)
    assert reported.code in page
    page = sup.get("/console/matters?state=closed").get_data(as_text=True)
    assert reported.code not in page
    resp = sup.get("/console/matters.xlsx?state=open")
    assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
    ws = load_workbook(BytesIO(resp.data)).active
    rows = list(ws.values)
    assert rows[0][0] == "查询码" and rows[1][0] == reported.code
    assert AuditLog.select().where(AuditLog.action == "export.matters").count() == 1


def test_triage_may_set_the_deadline_and_the_timeline_shows_it(org, people, login_as, reported):
    import datetime as dt

    from gridapp.db import utcnow
    from gridapp.matters.deadlines import to_local, to_utc

    sup = login_as(people["supervisor"])
    queue = sup.get("/console/triage").get_data(as_text=True)
    assert 'type="date" name="deadline"' in queue
    day = to_local(utcnow()).date() + dt.timedelta(days=30)
    resp = form_post(
        sup,
        f"/console/triage/{reported.id}",
        {
            "version": reported.version,
            "category": "专事",
            "department_ids": str(org.department.id),
            "deadline": day.isoformat(),
            "dispatch": "1",
        },
    )
    assert resp.status_code == 302
    m = Matter.get_by_id(reported.id)
    assert m.state == "dispatched"
    assert m.deadline_at == to_utc(dt.datetime.combine(day, dt.time(23, 59)))
    [event] = MatterEvent.select().where(
        MatterEvent.matter == m.id, MatterEvent.action == "dispatch"
    )
    assert day.isoformat() in event.data
    page = sup.get(f"/console/matters/{m.id}").get_data(as_text=True)
    timeline = page.split('id="timeline"', 1)[1]
    assert 'class="deadline-set"' in timeline and f"{day.isoformat()} 23:59" in timeline
    assert f"{day.isoformat()} 23:59" in page.split('id="timeline"', 1)[0]  # the Deadline fact


@pytest.mark.parametrize("bad", ["past", "not-a-date"])
def test_triage_refuses_a_bad_deadline_naming_the_field(org, people, login_as, reported, bad):
    import datetime as dt

    from gridapp.db import utcnow
    from gridapp.matters.deadlines import to_local

    sup = login_as(people["supervisor"])
    value = (
        (to_local(utcnow()).date() - dt.timedelta(days=1)).isoformat()
        if bad == "past"
        else "2026-02-30"
    )
    resp = form_post(
        sup,
        f"/console/triage/{reported.id}",
        {
            "version": reported.version,
            "category": "专事",
            "department_ids": str(org.department.id),
            "deadline": value,
            "dispatch": "1",
        },
    )
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'data-field="deadline"' in html
    form = html.split(f'data-matter="{reported.id}"', 1)[1].split("</article>", 1)[0]
    assert 'class="field-error"' in form and f'value="{value}"' in form
    # checked before the triage move: nothing changed
    m = Matter.get_by_id(reported.id)
    assert (m.state, m.category, m.version) == ("reported", None, reported.version)


def test_matter_page_dispatch_form_takes_a_deadline(org, people, login_as, reported):
    import datetime as dt

    from gridapp.db import utcnow
    from gridapp.matters.deadlines import to_local

    sup = login_as(people["supervisor"])
    assert _act(sup, reported, "triage", category="社事").status_code == 302
    page = sup.get(f"/console/matters/{reported.id}").get_data(as_text=True)
    dispatch_form = page.split('data-action="dispatch"', 1)[1].split("</form>", 1)[0]
    assert 'name="deadline"' in dispatch_form
    past = (to_local(utcnow()).date() - dt.timedelta(days=2)).isoformat()
    resp = _act(sup, reported, "dispatch", deadline=past)
    assert resp.status_code == 422 and 'data-field="deadline"' in resp.get_data(as_text=True)
    assert Matter.get_by_id(reported.id).state == "triaged"
    day = (to_local(utcnow()).date() + dt.timedelta(days=2)).isoformat()
    assert _act(sup, reported, "dispatch", deadline=day).status_code == 302
    m = Matter.get_by_id(reported.id)
    assert m.state == "dispatched" and f"{day} 23:59" in sup.get(
        f"/console/matters/{m.id}"
    ).get_data(as_text=True)
