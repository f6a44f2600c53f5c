"""Service-pack catalogue, roster import (with its row-by-row report) and export, deadline rules."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook, load_workbook

from gridapp.audit import AuditLog
from gridapp.registry.models import Resident
from gridapp.visits.models import ServiceItem
from tests.console.conftest import form_post


def test_service_catalogue(people, login_as):
    admin = login_as(people["admin"])
    resp = form_post(
        admin,
        "/console/admin/services",
        {"code": "haircut", "name": "义务理发", "sort": "5", "is_active": "1"},
    )
    assert resp.status_code == 302
    item = ServiceItem.get(ServiceItem.code == "haircut")
    form_post(
        admin,
        f"/console/admin/services/{item.id}",
        {"code": "haircut", "name": "义务理发", "sort": "5"},
    )
    assert ServiceItem.get_by_id(item.id).is_active is False
    resp = form_post(admin, "/console/admin/services", {"code": "x2", "name": "义务理发"})
    assert resp.status_code == 422
    assert AuditLog.select().where(AuditLog.action == "admin.service_item").count() == 2


def _roster(rows):
    wb = Workbook()
    ws = wb.active
    ws.append(["东城水岸社区人口信息登记表"])
    ws.append(
        ["网格", "楼栋", "单元", "房号", "姓名", "性别", "身份证号", "联系电话", "关爱标签", "爱好"]
    )
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _upload(client, data, grid_id=""):
    from tests.conftest import csrf_token

    token = csrf_token(client)
    saved = client.environ_base.pop("HTTP_X_CSRFTOKEN", None)
    try:
        return client.post(
            "/console/roster/import",
            data={
                "csrf_token": token,
                "grid_id": str(grid_id),
                "file": (io.BytesIO(data), "roster.xlsx"),
            },
            content_type="multipart/form-data",
        )
    finally:
        if saved:
            client.environ_base["HTTP_X_CSRFTOKEN"] = saved


def test_roster_import_report_and_export(org, people, login_as):
    sup = login_as(people["supervisor"])
    bad = _roster(
        [
            [
                org.grid.code,
                "1号楼",
                "1",
                "101",
                "张三",
                "男",
                "110101199003070000",
                "13800138000",
                "独居老人",
                "下棋",
            ],
            [org.grid.code, "1号楼", "1", "102", "李四", "女", "", "123", "", ""],
        ]
    )
    resp = _upload(sup, bad)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'id="import-errors"' in page
    assert Resident.select().count() == 0  # nothing half-imported
    good = _roster(
        [[org.grid.code, "1号楼", "1", "101", "王五", "男", "", "13800138000", "独居老人", "下棋"]]
    )
    resp = _upload(sup, good)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'id="import-result"' in page and "爱好" in page
    assert Resident.select().count() == 1
    resp = sup.get(f"/console/roster/export?community_id={org.community.id}")
    assert resp.status_code == 200
    ws = load_workbook(io.BytesIO(resp.data)).active
    assert any("王五" in [str(c) for c in row] for row in ws.values)
    assert AuditLog.select().where(AuditLog.action.contains("roster")).count() >= 2
    # another community's roster is not theirs
    assert (
        sup.get(f"/console/roster/export?community_id={org.other_community.id}").status_code == 404
    )


def test_deadline_rules(org, people, login_as):
    pytest.importorskip("gridapp.matters.service")
    from gridapp.matters.models import DeadlineRule

    admin = login_as(people["admin"])
    resp = form_post(
        admin,
        "/console/admin/deadlines",
        {
            "kind": "rule",
            "category": "专事",
            "department_id": org.department.id,
            "amount": "3",
            "unit": "workdays",
        },
    )
    assert resp.status_code == 302
    rule = DeadlineRule.get(
        DeadlineRule.category == "专事", DeadlineRule.department == org.department.id
    )
    assert rule.amount == 3 and rule.department_id == org.department.id
    resp = form_post(
        admin, "/console/admin/deadlines", {"kind": "rule", "category": "专事", "amount": "0"}
    )
    assert resp.status_code == 422
    resp = form_post(
        admin,
        "/console/admin/deadlines",
        {"kind": "day", "day": "2027-02-06", "is_working": "1", "note": "调休"},
    )
    assert resp.status_code == 302
    assert "2027-02-06" in admin.get("/console/admin/deadlines").get_data(as_text=True)
