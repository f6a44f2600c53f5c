"""Administration pages through the Flask test client: each act goes through an org/accounts
verb, writes an audit row, and a bad value comes back as the same page with the field named."""

from __future__ import annotations

from gridapp.audit import AuditLog
from gridapp.org.models import Community, Department, Grid, Street, User, UserGrid
from gridapp.registry.models import CareTag
from tests.conftest import PASSWORD, api_login
from tests.console.conftest import form_post


def _audits(action):
    return list(AuditLog.select().where(AuditLog.action == action))


def test_admin_builds_the_organisation(org, people, login_as):
    admin = login_as(people["admin"])
    resp = form_post(admin, "/console/admin/org/street", {"name": "新街道", "code": "xin"})
    assert resp.status_code == 302
    street = Street.get(Street.code == "xin")
    resp = form_post(
        admin,
        "/console/admin/org/community",
        {"street_id": street.id, "name": "新社区", "code": "xin-c"},
    )
    assert resp.status_code == 302
    community = Community.get(Community.code == "xin-c")
    resp = form_post(
        admin,
        "/console/admin/org/grid",
        {"community_id": community.id, "name": "第1网格", "code": "xin-c-01", "sort": "1"},
    )
    assert resp.status_code == 302
    grid = Grid.get(Grid.code == "xin-c-01")
    # rename the grid
    form_post(
        admin,
        f"/console/admin/org/grid/{grid.id}",
        {"community_id": community.id, "name": "第一网格", "code": "xin-c-01", "sort": "1"},
    )
    assert Grid.get_by_id(grid.id).name == "第一网格"
    page = admin.get("/console/admin/org").get_data(as_text=True)
    assert "新社区" in page and "第一网格" in page
    actions = {a.action for a in AuditLog.select()}
    assert {
        "org.street.create",
        "org.community.create",
        "org.grid.create",
        "org.grid.update",
    } <= actions


def test_duplicate_code_is_shown_on_the_page(org, people, login_as):
    admin = login_as(people["admin"])
    resp = form_post(admin, "/console/admin/org/street", {"name": "重复", "code": org.street.code})
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert 'id="form-error"' in body and 'data-field="code"' in body
    assert Street.select().count() == 1


def test_departments_page(org, people, login_as):
    admin = login_as(people["admin"])
    resp = form_post(
        admin, "/console/admin/departments", {"name": "燃气公司", "code": "gas", "is_active": "1"}
    )
    assert resp.status_code == 302
    gas = Department.get(Department.code == "gas")
    form_post(admin, f"/console/admin/departments/{gas.id}", {"name": "燃气公司", "code": "gas"})
    assert Department.get_by_id(gas.id).is_active is False
    assert len(_audits("org.department.update")) == 1


def test_create_disable_and_reset_a_user(app, org, people, login_as):
    admin = login_as(people["admin"])
    resp = form_post(
        admin,
        "/console/admin/users/new",
        {
            "username": "wang",
            "display_name": "王网格员",
            "password": "long-enough-1",
            "role": "grid_worker",
            "grid_ids": [str(org.grid.id), str(org.grid2.id)],
            "community_id": str(org.community.id),  # ignored for a worker
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    wang = User.get(User.username == "wang")
    assert wang.role == "grid_worker" and wang.community_id is None
    assert {g.grid_id for g in UserGrid.select().where(UserGrid.user == wang.id)} == {
        org.grid.id,
        org.grid2.id,
    }
    # the worker logs in, then the admin disables the account: the session ends
    worker = api_login(app.test_client(), "wang", "long-enough-1")
    assert worker.get("/api/v1/me").status_code == 200
    assert form_post(admin, f"/console/admin/users/{wang.id}", {"op": "disable"}).status_code == 302
    assert worker.get("/api/v1/me").status_code == 401
    assert User.get_by_id(wang.id).is_active is False
    form_post(admin, f"/console/admin/users/{wang.id}", {"op": "enable"})
    # reset the password: the old one no longer works
    resp = form_post(
        admin, f"/console/admin/users/{wang.id}", {"op": "password", "password": "short"}
    )
    assert resp.status_code == 422 and 'data-field="password"' in resp.get_data(as_text=True)
    form_post(
        admin, f"/console/admin/users/{wang.id}", {"op": "password", "password": "brand-new-pass"}
    )
    api_login(app.test_client(), "wang", "brand-new-pass")
    # move the worker to one grid
    form_post(
        admin,
        f"/console/admin/users/{wang.id}",
        {"op": "grids", "grid_ids": [str(org.other_grid.id)]},
    )
    assert [g.grid_id for g in UserGrid.select().where(UserGrid.user == wang.id)] == [
        org.other_grid.id
    ]
    for action in (
        "user.create",
        "user.disable",
        "user.enable",
        "user.reset_password",
        "org.worker.grids",
    ):
        assert _audits(action), action
    listing = admin.get("/console/admin/users?role=grid_worker&sort=username").get_data(
        as_text=True
    )
    assert "wang" in listing and "admin1" not in listing


def test_new_user_needs_a_unit(org, people, login_as):
    admin = login_as(people["admin"])
    resp = form_post(
        admin,
        "/console/admin/users/new",
        {"username": "sup9", "password": PASSWORD, "role": "supervisor"},
    )
    assert resp.status_code == 422
    assert 'data-field="community_id"' in resp.get_data(as_text=True)
    assert not User.select().where(User.username == "sup9").exists()


def test_admin_cannot_disable_self(people, login_as):
    admin = login_as(people["admin"])
    resp = form_post(admin, f"/console/admin/users/{people['admin'].id}", {"op": "disable"})
    assert resp.status_code == 422
    assert User.get_by_id(people["admin"].id).is_active


def test_care_tag_interval(people, login_as):
    admin = login_as(people["admin"])
    tag = CareTag.get(CareTag.name == "独居老人")
    resp = form_post(
        admin,
        f"/console/admin/care-tags/{tag.id}",
        {"name": tag.name, "code": tag.code, "interval_days": "14", "sort": "1", "is_active": "1"},
    )
    assert resp.status_code == 302
    assert CareTag.get_by_id(tag.id).interval_days == 14
    resp = form_post(
        admin,
        f"/console/admin/care-tags/{tag.id}",
        {"name": tag.name, "code": tag.code, "interval_days": "0", "is_active": "1"},
    )
    assert resp.status_code == 422
    audit = _audits("admin.care_tag")
    assert len(audit) == 1 and '"interval_days": 14' in audit[0].detail


def test_audit_log_filters(people, login_as):
    admin = login_as(people["admin"])
    form_post(admin, "/console/admin/org/street", {"name": "甲街道", "code": "jia"})
    page = admin.get("/console/admin/audit?action=org.street&actor=admin1").get_data(as_text=True)
    assert "org.street.create" in page and "code=jia" in page
    page = admin.get("/console/admin/audit?actor=nobody").get_data(as_text=True)
    assert "org.street.create" not in page
    page = admin.get("/console/admin/audit?from=2000-01-01&to=2000-01-02").get_data(as_text=True)
    assert "org.street.create" not in page


def test_supervisor_cannot_call_org_verbs(app, people):
    import pytest

    from gridapp.errors import Forbidden
    from gridapp.org import service

    with app.test_request_context(), pytest.raises(Forbidden):
        service.save_street(people["supervisor"], None, name="x", code="x")
