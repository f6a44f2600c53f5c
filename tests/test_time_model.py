"""One time model: stored UTC, sent with an offset (``Z``), received only with one, shown in
Asia/Shanghai. A task due 18:00 in Shanghai is 10:00Z on every wire (API, sync pull, stored sync
answers) and "18:00" on every page and export."""

from __future__ import annotations

import datetime as dt
import io
import uuid

import pytest
from openpyxl import load_workbook

from gridapp.matters.models import Matter, MatterEvent
from gridapp.tasks.models import Task
from gridapp.times import iso_utc, local_text
from tests import conformance
from tests.sync.conftest import Registry

SHANGHAI_18 = "2099-01-02T18:00:00+08:00"
UTC_10 = "2099-01-02T10:00:00Z"


def test_wire_format_is_utc_with_z_to_the_millisecond():
    assert iso_utc(dt.datetime(2026, 12, 3, 10, 0)) == "2026-12-03T10:00:00Z"
    assert iso_utc(dt.datetime(2026, 12, 3, 10, 0, 0, 250_999)) == "2026-12-03T10:00:00.250Z"
    shanghai = dt.timezone(dt.timedelta(hours=8))
    assert iso_utc(dt.datetime(2026, 12, 3, 18, 0, tzinfo=shanghai)) == "2026-12-03T10:00:00Z"
    assert iso_utc(dt.date(2026, 12, 3)) == "2026-12-03"
    assert local_text(dt.datetime(2026, 12, 3, 10, 0)) == "2026-12-03 18:00"
    assert local_text("2026-12-03T10:00:00Z") == "2026-12-03 18:00"
    # Across the date line of the two zones: 20:30 UTC is the next morning in Shanghai.
    assert local_text(dt.datetime(2026, 12, 31, 20, 30)) == "2027-01-01 04:30"


@pytest.fixture
def people(org, make_user, login_as):
    worker = make_user("grid_worker", grids=[org.grid])
    sup = make_user("supervisor")
    return worker, sup, login_as(worker), login_as(sup)


def test_a_task_due_18_shanghai_is_10z_on_the_wire_and_18_on_pages(people):
    worker, _sup, wc, sc = people
    resp = sc.post(
        "/api/v1/tasks",
        json={
            "title": "入户走访",
            "target": "worker",
            "worker_id": worker.id,
            "due_at": SHANGHAI_18,
        },
    )
    assert resp.status_code == 201, resp.get_json()
    tid = resp.get_json()["task_ids"][0]
    assert Task.get_by_id(tid).due_at == dt.datetime(2099, 1, 2, 10, 0)  # stored naive UTC

    task = wc.get(f"/api/v1/tasks/{tid}").get_json()
    assert task["due_at"] == UTC_10
    assert task["created_at"].endswith("Z")
    mine = wc.get("/api/v1/tasks/mine").get_json()
    assert [i["due_at"] for i in mine if i["id"] == tid] == [UTC_10]

    pulled = wc.get("/api/v1/sync").get_json()
    rows = [r["data"] for r in pulled["rows"] if r["entity"] == "task"]
    assert rows and rows[0]["due_at"] == UTC_10

    page = sc.get(f"/console/tasks/{tid}").get_data(as_text=True)
    assert "2099-01-02 18:00" in page and "10:00" not in page

    export = sc.get("/console/tasks.xlsx")
    sheet = load_workbook(io.BytesIO(export.data)).active
    header, first = list(sheet.iter_rows(values_only=True))[:2]
    due_col = next(i for i, h in enumerate(header) if "北京时间" in h and "截止" in h)
    assert first[due_col] == dt.datetime(2099, 1, 2, 18, 0)


def test_a_datetime_without_an_offset_is_refused_naming_the_field(people):
    worker, _sup, wc, sc = people
    resp = sc.post(
        "/api/v1/tasks",
        json={
            "title": "t",
            "target": "worker",
            "worker_id": worker.id,
            "due_at": "2099-01-02T18:00",
        },
    )
    assert resp.status_code == 422 and resp.get_json()["field"] == "due_at"
    assert Task.select().count() == 0
    resp = wc.get("/api/v1/visits?before=2026-11-01T09:00:00")
    assert resp.status_code == 422 and resp.get_json()["field"] == "query.before"
    assert wc.get("/api/v1/visits?before=2026-11-01T09:00:00%2B08:00").status_code == 200


def test_sync_answers_and_their_replays_carry_the_offset(org, people):
    worker, _sup, wc, _sc = people
    household = Registry().household(Registry().building(org.grid))
    op = {
        "op_id": f"op-{uuid.uuid4().hex}",
        "type": "visit.create",
        "payload": {
            "id": str(uuid.uuid4()),
            "household_id": household.id,
            "visited_at": "2026-11-20T09:30:00.125+08:00",
        },
    }
    first = wc.post("/api/v1/sync", json={"ops": [op]}).get_json()["results"][0]
    assert first["status"] == "applied", first
    assert first["row"]["visited_at"] == "2026-11-20T01:30:00.125Z"
    again = wc.post("/api/v1/sync", json={"ops": [op]}).get_json()["results"][0]
    assert (
        again["status"] == "duplicate" and again["row"]["visited_at"] == first["row"]["visited_at"]
    )
    naive = {**op, "op_id": f"op-{uuid.uuid4().hex}"}
    naive["payload"] = {**op["payload"], "id": str(uuid.uuid4()), "visited_at": "2026-11-20T09:30"}
    out = wc.post("/api/v1/sync", json={"ops": [naive]}).get_json()["results"][0]
    assert out["status"] == "rejected" and out["problem"]["field"] == "visited_at"
    hh = next(
        r["data"]
        for r in wc.get("/api/v1/sync").get_json()["rows"]
        if r["entity"] == "household" and r["id"] == str(household.id)
    )
    assert hh["last_visit_at"] == "2026-11-20T01:30:00.125Z"


def test_matter_times_and_event_data_carry_the_offset_and_the_public_page_shows_shanghai(
    org, people, client
):
    worker, _sup, wc, sc = people
    made = wc.post("/api/v1/matters", json={"grid_id": org.grid.id, "text": "楼道灯不亮"})
    mid, code = made.get_json()["matter"]["id"], made.get_json()["tracking_code"]
    # An event written before the time model: naive UTC text in its data.
    MatterEvent.create(
        matter=mid,
        action="warn",
        from_state="reported",
        to_state="reported",
        actor_role="system",
        at=dt.datetime(2026, 12, 3, 1, 6),
        data='{"due": "2026-12-03 01:06:00"}',
    )
    Matter.update(created_at=dt.datetime(2026, 12, 3, 1, 6)).where(Matter.id == mid).execute()
    detail = sc.get(f"/api/v1/matters/{mid}").get_json()
    assert detail["created_at"] == "2026-12-03T01:06:00Z"
    warn = [e for e in detail["timeline"] if e["action"] == "warn"]
    assert warn[0]["data"]["due"] == "2026-12-03T01:06:00Z" and warn[0]["at"].endswith("Z")

    public = client.get(f"/api/v1/track/{code}").get_json()
    assert all(e["at"].endswith("Z") for e in public["timeline"])
    page = client.get(f"/t/{code}").get_data(as_text=True)
    reported = MatterEvent.get((MatterEvent.matter == mid) & (MatterEvent.action == "report"))
    assert local_text(reported.at) in page


def test_the_conformance_check_catches_a_naive_datetime_and_an_undocumented_status():
    """The suite-wide hook (tests/conformance.py) is only as good as this."""
    doc = {
        "paths": {
            "/api/v1/x": {
                "get": {
                    "responses": {
                        "200": {
                            "description": "OK",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/X"}}
                            },
                        }
                    }
                }
            }
        },
        "components": {
            "schemas": {
                "X": {
                    "type": "object",
                    "properties": {"at": {"type": "string", "format": "date-time"}},
                    "required": ["at"],
                }
            }
        },
    }
    check = conformance.Conformance(doc).check
    mime = "application/json"
    assert check("GET", "/api/v1/x", 200, mime, b'{"at": "2026-12-03T10:00:00Z"}') == []
    assert check("GET", "/api/v1/x", 200, mime, b'{"at": "2026-12-03T18:00:00+08:00"}') == []
    assert check("GET", "/api/v1/x", 200, mime, b'{"at": "2026-12-03T10:00:00"}')
    assert check("GET", "/api/v1/x", 200, mime, b'{"at": "2026-12-03 10:00:00Z"}')
    assert check("GET", "/api/v1/x", 404, "application/problem+json", b"{}")
    assert check("GET", "/api/v1/x", 200, "application/problem+json", b"{}")
