"""Sync ops that call the visits, tasks and matters verbs; entities pulled from those features.
(Skipped where a feature is not installed.)"""

from __future__ import annotations

import json
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
    # the worker's suggestion preselects triage; it is not pasted into the description
    assert matter.state == "reported" and matter.text == "小区东门路灯不亮"
    assert matter.suggested_category == "社事"
    assert results[0]["row"]["suggested_category"] == "社事"
    assert results[0]["row"]["timeline"][0]["action"] == "report"
    assert results[2]["row"]["state"] == "in_progress"
    assert results[3]["current"]["state"] == "in_progress"
    rows, *_ = pull_all(client)
    assert rows[("matter", str(matter.id))]["title"] == "路灯坏了"


# ---- photos of an offline matter, whichever arrives first -------------------------------------


def _report(client, grid_id, client_id, photo_ids):
    return push(
        client,
        op(
            "matter.report",
            {
                "client_id": client_id,
                "grid_id": grid_id,
                "title": "井盖松动",
                "description": "3栋门口井盖松动",
                "category": "community",
                "photo_ids": photo_ids,
            },
        ),
    )[0]


def _events(matter_id):
    from gridapp.matters.models import MatterEvent

    return list(
        MatterEvent.select().where(MatterEvent.matter == matter_id).order_by(MatterEvent.id)
    )


def test_photo_uploaded_after_its_offline_matter_joins_it_once(org, reg, make_user, login_as):
    """The outbox's matter went through while its photo upload failed; the photo comes later,
    naming the matter by its client id (what static/pwa/forms.js sends), and joins it."""
    pytest.importorskip("gridapp.matters.service")
    from gridapp.matters.models import Matter
    from gridapp.photos.models import Photo
    from tests.photos.test_photos import jpeg_with_gps, upload

    worker = make_user("grid_worker", grids=[org.grid])
    boss = login_as(make_user("supervisor", community=org.community))
    client = login_as(worker)
    pid = str(uuid.uuid4())
    first = _report(client, org.grid.id, "m-late", [pid])  # the photo has not arrived
    assert first["status"] == "applied" and first["row"]["photo_ids"] == []
    matter = Matter.get_by_id(int(first["id"]))
    assert boss.get(f"/api/v1/photos/{pid}/image").status_code == 404

    _, resp = upload(
        client, jpeg_with_gps(), photo_id=pid, owner_type="matter", owner_id="c:m-late"
    )
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["owner_type"] == "matter"
    assert resp.get_json()["owner_id"] == str(matter.id)
    after = Matter.get_by_id(matter.id)
    assert json.loads(after.photo_ids) == [pid] and after.version == matter.version + 1
    photo = Photo.get_by_id(pid)
    assert (photo.owner_type, photo.owner_id, photo.grid_id) == (
        "matter",
        str(matter.id),
        org.grid.id,
    )
    events = _events(matter.id)
    assert [e.action for e in events] == ["report", "photo"]
    assert json.loads(events[1].photo_ids) == [pid] and events[1].actor_id == worker.id
    assert events[1].from_state == events[1].to_state == "reported"
    # whoever sees the matter sees the photo, in the console and in the API
    assert boss.get(f"/api/v1/photos/{pid}/image").status_code == 200
    assert boss.get(f"/api/v1/matters/{matter.id}").get_json()["photo_ids"] == [pid]
    # the device pulls the matter with its photo
    rows, *_ = pull_all(client)
    assert rows[("matter", str(matter.id))]["photo_ids"] == [pid]

    # the outbox sends it again (its answer was lost): attached once, no second event
    _, again = upload(
        client, jpeg_with_gps(), photo_id=pid, owner_type="matter", owner_id="c:m-late"
    )
    assert again.status_code == 200 and again.get_json()["owner_id"] == str(matter.id)
    assert json.loads(Matter.get_by_id(matter.id).photo_ids) == [pid]
    assert Matter.get_by_id(matter.id).version == matter.version + 1
    assert [e.action for e in _events(matter.id)] == ["report", "photo"]


def test_a_new_visits_answer_lists_the_photos_a_pull_gives_it(org, reg, make_user, login_as):
    """The answer to a visit's creation takes its photo ids from the claims themselves (on
    PostgreSQL, ``RETURNING``): listed, or uploaded earlier naming the visit, in upload order;
    never another worker's photo naming it. The same list a pull gives the visit."""
    pytest.importorskip("gridapp.visits.models")
    from tests.photos.test_photos import jpeg_with_gps, upload

    h = reg.household(reg.building(org.grid))
    client = login_as(make_user("grid_worker", grids=[org.grid]))
    other = login_as(make_user("grid_worker", grids=[org.grid]))
    vid = str(uuid.uuid4())
    listed, _ = upload(client, jpeg_with_gps())
    waiting, _ = upload(client, jpeg_with_gps(), owner_type="visit", owner_id=vid)
    theirs, _ = upload(other, jpeg_with_gps(), owner_type="visit", owner_id=vid)
    later, _ = upload(client, jpeg_with_gps())
    visit = op(
        "visit.create",
        {"id": vid, "household_id": h.id, "photo_ids": [later, listed], "mode": "home"},
    )
    [first] = push(client, visit)
    assert first["status"] == "applied"
    assert first["row"]["photo_ids"] == [listed, waiting, later]
    rows, *_ = pull_all(client)
    assert rows[("visit", vid)]["photo_ids"] == first["row"]["photo_ids"]
    assert theirs not in first["row"]["photo_ids"]
    [again] = push(client, {**visit, "op_id": str(uuid.uuid4())})  # a replay asks the table
    assert again["row"]["photo_ids"] == [listed, waiting, later]


def test_photo_uploaded_before_its_offline_matter_joins_it(org, reg, make_user, login_as):
    pytest.importorskip("gridapp.matters.service")
    from gridapp.photos.models import Photo
    from tests.photos.test_photos import jpeg_with_gps, upload

    worker = make_user("grid_worker", grids=[org.grid])
    boss = login_as(make_user("supervisor", community=org.community))
    client = login_as(worker)
    pid, resp = upload(client, jpeg_with_gps(), owner_type="matter", owner_id="c:m-early")
    assert resp.status_code == 201 and resp.get_json()["owner_id"] == "c:m-early"
    assert boss.get(f"/api/v1/photos/{pid}/image").status_code == 404  # private until attached
    first = _report(client, org.grid.id, "m-early", [pid])
    assert first["status"] == "applied" and first["row"]["photo_ids"] == [pid]
    photo = Photo.get_by_id(pid)
    assert (photo.owner_id, photo.grid_id) == (first["id"], org.grid.id)
    assert boss.get(f"/api/v1/photos/{pid}/image").status_code == 200
    assert [e.action for e in _events(int(first["id"]))] == ["report"]
    # a repeated upload changes nothing
    _, again = upload(
        client, jpeg_with_gps(), photo_id=pid, owner_type="matter", owner_id="c:m-early"
    )
    assert again.status_code == 200 and [e.action for e in _events(int(first["id"]))] == ["report"]

    # a photo naming the matter but missing from the op's list joins it too
    pid2, _ = upload(client, jpeg_with_gps(), owner_type="matter", owner_id="c:m-early-2")
    second = _report(client, org.grid.id, "m-early-2", [])
    assert second["row"]["photo_ids"] == [pid2]


def test_photo_naming_someone_elses_or_unknown_matter_stays_private(org, reg, make_user, login_as):
    pytest.importorskip("gridapp.matters.service")
    from gridapp.matters.models import Matter
    from gridapp.photos.models import Photo
    from tests.photos.test_photos import jpeg_with_gps, upload

    author = login_as(make_user("grid_worker", grids=[org.grid]))
    colleague = login_as(make_user("grid_worker", grids=[org.grid]))
    stranger = login_as(make_user("grid_worker", grids=[org.other_grid]))
    first = _report(author, org.grid.id, "m-x", [])
    # the client id is the author's own: another user's "c:m-x" is not this matter
    pid, resp = upload(colleague, jpeg_with_gps(), owner_type="matter", owner_id="c:m-x")
    assert resp.status_code == 201 and Photo.get_by_id(pid).grid_id is None
    # by server id: a worker of another grid cannot name a matter they cannot see (404)
    pid2, resp = upload(stranger, jpeg_with_gps(), owner_type="matter", owner_id=first["id"])
    assert resp.status_code == 404 and Photo.get_or_none(Photo.id == pid2) is None
    # nothing reached the matter
    assert json.loads(Matter.get_by_id(int(first["id"])).photo_ids) == []
    assert [e.action for e in _events(int(first["id"]))] == ["report"]
    # unknown client id: stored, waiting, private
    pid3, resp = upload(author, jpeg_with_gps(), owner_type="matter", owner_id="c:nope")
    assert resp.status_code == 201 and resp.get_json()["owner_id"] == "c:nope"


def test_rows_carry_allowed_actions_and_matter_transition_acts_on_them(
    org, reg, make_user, login_as
):
    """What the app offers is what the server allows the pulling user; matter.transition does
    it (a 社事 in the worker's grid: accept, progress, resolve; the reporting worker rates)."""
    pytest.importorskip("gridapp.matters.service")
    from gridapp.matters.service import report_matter, transition_matter
    from gridapp.tasks.service import assign_task

    worker = make_user("grid_worker", grids=[org.grid])
    other = make_user("grid_worker", grids=[org.grid])
    boss = make_user("supervisor", community=org.community)
    [task_id] = assign_task(boss, title="走访", target="worker", worker_id=worker.id).task_ids
    m = report_matter(worker, source="worker", grid_id=org.grid.id, text="东门垃圾堆放")
    m = transition_matter(boss, m.id, "triage", version=m.version, category="社事")
    m = transition_matter(boss, m.id, "dispatch", version=m.version)
    client = login_as(worker)
    rows, *_ = pull_all(client)
    assert rows[("task", str(task_id))]["allowed_actions"] == ["accept", "return"]
    assert rows[("matter", str(m.id))]["allowed_actions"] == ["accept", "resolve", "return"]
    other_rows, *_ = pull_all(login_as(other))  # the grid's other worker may act on it too
    assert other_rows[("matter", str(m.id))]["allowed_actions"] == ["accept", "resolve", "return"]
    v = m.version
    results = push(
        client,
        op("matter.transition", {"id": m.id, "action": "accept"}, v),
        op("matter.transition", {"id": m.id, "action": "progress", "note": ""}, v + 1),
        op("matter.transition", {"id": m.id, "action": "progress", "note": "已联系物业"}, v + 1),
        op("matter.transition", {"id": m.id, "action": "verify"}, v + 2),
        op("matter.transition", {"id": m.id, "action": "resolve", "result": "已清运"}, v + 2),
        op("matter.transition", {"id": m.id, "action": "accept"}, v),
    )
    assert [r["status"] for r in results] == [
        "applied",
        "rejected",  # progress needs a note
        "applied",
        "rejected",  # a worker may not verify
        "applied",
        "conflict",  # stale
    ]
    assert results[0]["row"]["allowed_actions"] == ["progress", "resolve", "return"]
    assert results[4]["row"]["state"] == "resolved" and results[4]["row"]["allowed_actions"] == []
    assert [e["action"] for e in results[4]["row"]["timeline"]][-3:] == [
        "accept",
        "progress",
        "resolve",
    ]
    m = transition_matter(boss, m.id, "verify", version=v + 3)
    m = transition_matter(boss, m.id, "close", version=m.version)
    rows, *_ = pull_all(client)
    assert rows[("matter", str(m.id))]["allowed_actions"] == ["rate"]  # they reported it
    [rated] = push(
        client, op("matter.transition", {"id": m.id, "action": "rate", "rating": "满意"}, m.version)
    )
    assert rated["status"] == "applied" and rated["row"]["rating"] == "满意"
