"""Classes of issue 11/12 in the console: handlers see the photos of what they handle, triage is
all or nothing and speaks in words, nothing outside scope is looked up (or named), and the
dashboard shows exactly the API's scope."""

from __future__ import annotations

import io
import re
import uuid

import pytest
from PIL import Image

from gridapp.matters.models import Matter, MatterEvent
from tests.console.conftest import form_post


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 200)).save(buf, "JPEG")
    return buf.getvalue()


def _upload(client) -> str:
    pid = str(uuid.uuid4())
    resp = client.put(
        f"/api/v1/photos/{pid}",
        data={"file": (io.BytesIO(_jpeg()), "p.jpg")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 201, resp.get_json()
    return pid


def _move(client, mid, action, **fields):
    v = client.get(f"/api/v1/matters/{mid}").get_json()["version"]
    resp = client.post(
        f"/api/v1/matters/{mid}/transition", json={"action": action, "version": v, **fields}
    )
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_a_department_handler_sees_the_photos_of_what_it_handles(org, people, login_as, make_user):
    worker = login_as(people["grid_worker"])
    sup = login_as(people["supervisor"])
    dept = login_as(people["department"])
    other_dept = login_as(make_user("department", department=org.department2))
    other_sup = login_as(make_user("supervisor", community=org.other_community))
    pid = _upload(worker)
    mid = worker.post(
        "/api/v1/matters", json={"grid_id": org.grid.id, "text": "水管破裂", "photo_ids": [pid]}
    ).get_json()["matter"]["id"]
    urls = (f"/api/v1/photos/{pid}/image", f"/api/v1/photos/{pid}/thumb")
    for url in urls:  # not dispatched yet: the department does not see the matter nor its photo
        assert dept.get(url).status_code == 404
    _move(sup, mid, "triage", category="专事")
    _move(sup, mid, "dispatch", department_ids=[org.department.id])
    for url in urls:
        assert dept.get(url).status_code == 200, url
        assert sup.get(url).status_code == 200, url
        assert other_dept.get(url).status_code == 404, url
        assert other_sup.get(url).status_code == 404, url
    page = dept.get(f"/console/matters/{mid}").get_data(as_text=True)
    assert f"/api/v1/photos/{pid}/thumb" in page
    # a progress photo of the handler is seen by the supervisor too
    ppid = _upload(dept)
    _move(dept, mid, "accept")
    _move(dept, mid, "progress", note="已到场", photo_ids=[ppid])
    assert sup.get(f"/api/v1/photos/{ppid}/thumb").status_code == 200
    # returned: the department no longer handles it, nor sees its photos
    _move(dept, mid, "return", reason="不归我们管")
    assert dept.get(urls[1]).status_code == 404


def test_task_photos_follow_the_task_not_the_grid(org, people, login_as, make_user):
    sup = login_as(people["supervisor"])
    worker = login_as(people["grid_worker"])
    colleague = login_as(make_user("grid_worker", grids=[org.grid]))
    resp = sup.post(
        "/api/v1/tasks",
        json={"title": "拍照留存", "target": "worker", "worker_id": people["grid_worker"].id},
    )
    assert resp.status_code == 201, resp.get_json()
    tid = resp.get_json()["task_ids"][0]
    pid = _upload(worker)
    steps = (("accept", {}), ("start", {}), ("done", {"note": "已完成", "photo_ids": [pid]}))
    for action, extra in steps:
        v = worker.get(f"/api/v1/tasks/{tid}").get_json()["version"]
        r = worker.post(
            f"/api/v1/tasks/{tid}/transition", json={"action": action, "version": v, **extra}
        )
        assert r.status_code == 200, r.get_json()
    assert worker.get(f"/api/v1/photos/{pid}/thumb").status_code == 200
    assert sup.get(f"/api/v1/photos/{pid}/thumb").status_code == 200
    # a worker of the same grid may not read someone else's task, nor its photo
    assert colleague.get(f"/api/v1/tasks/{tid}").status_code == 404
    assert colleague.get(f"/api/v1/photos/{pid}/thumb").status_code == 404


@pytest.fixture
def reported(app, org, people):
    from gridapp.matters.service import report_matter

    with app.test_request_context():
        return report_matter(
            people["grid_worker"],
            source="worker",
            grid_id=org.grid.id,
            text="3号楼自来水管破裂，楼道积水",
            title="水管破裂",
            suggested_category="专事",
        )


@pytest.mark.parametrize(
    "fields, field, words",
    [
        ({"category": "专事"}, "department_ids", "请选择办理此专事的部门"),
        ({"category": "难事"}, "department_ids", "请选择办理此难事的部门"),
        ({"category": "专事", "department_ids": "999999"}, "department_ids", "未知"),
        ({"category": ""}, "category", "请选择分类"),
        ({"category": "大事"}, "category", "请选择分类"),
        ({"category": "专事", "department_ids": "{dep}", "deadline": "2000-01-01"}, "deadline", ""),
        ({"category": "专事", "department_ids": "{dep}", "version": "7"}, "", "已有变化"),
    ],
)
def test_triage_that_cannot_dispatch_writes_nothing(
    org, people, login_as, reported, fields, field, words
):
    sup = login_as(people["supervisor"])
    data = {"version": reported.version, "dispatch": "1", **fields}
    data = {k: str(v).replace("{dep}", str(org.department.id)) for k, v in data.items()}
    events = MatterEvent.select().where(MatterEvent.matter == reported.id).count()
    resp = form_post(sup, f"/console/triage/{reported.id}", data)
    assert resp.status_code in (409, 422)
    html = resp.get_data(as_text=True)
    error = re.search(r'id="form-error"[^>]*data-field="([^"]*)">([^<]*)<', html)
    assert error, html[:2000]
    assert error.group(1).startswith(field)
    assert words in error.group(2)
    assert "department_ids" not in error.group(2) and "category" not in error.group(2)
    m = Matter.get_by_id(reported.id)
    assert (m.state, m.category, m.version) == ("reported", None, reported.version)
    assert MatterEvent.select().where(MatterEvent.matter == reported.id).count() == events
    # the card keeps what was chosen and marks the field
    if field:
        assert 'aria-invalid="true"' in html


def test_triage_and_dispatch_is_one_step_and_the_suggestion_preselects(
    org, people, login_as, reported
):
    sup = login_as(people["supervisor"])
    page = sup.get("/console/triage").get_data(as_text=True)
    card = page.split(f'data-matter="{reported.id}"', 1)[1].split("</article>", 1)[0]
    assert '<option value="专事" selected' in card and "网格员建议：专事" in card
    assert "水管破裂" in card.split("</header>")[0]  # the title heads the card
    assert "网格员建议分类" not in Matter.get_by_id(reported.id).text
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
    actions = [e.action for e in MatterEvent.select().where(MatterEvent.matter == reported.id)]
    assert actions == ["report", "triage", "dispatch"]


def test_no_console_route_looks_up_or_names_a_matter_outside_scope(
    org, people, login_as, make_user, reported
):
    stranger = login_as(make_user("supervisor", community=org.other_community))
    outsider_dept = login_as(make_user("department", department=org.department2))
    for client in (stranger, outsider_dept):
        for method, url, data in (
            ("post", f"/console/triage/{reported.id}", {"version": "1", "category": "个事"}),
            ("post", f"/console/triage/{reported.id}", {"version": "x", "deadline": "bad"}),
            ("post", f"/console/matters/{reported.id}/act", {"action": "triage", "version": "1"}),
            ("post", f"/console/matters/{reported.id}/act", {"action": "x", "version": "x"}),
            ("get", f"/console/matters/{reported.id}", None),
        ):
            if method == "post":
                resp = form_post(client, url, data, follow_redirects=True)
            else:
                resp = client.get(url, follow_redirects=True)
            html = resp.get_data(as_text=True)
            assert resp.status_code in (403, 404), (url, resp.status_code)
            assert reported.code not in html and "水管破裂" not in html, url
    assert Matter.get_by_id(reported.id).state == "reported"
