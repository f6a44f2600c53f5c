"""The console's matter page shows what the integrator sent (key name, address, building,
coordinates, service code) to staff who read the matter through their scope; the reporter's name
and e-mail stay masked until an explicit, audited reveal with a reason."""

from __future__ import annotations

import re

from gridapp.audit import AuditLog
from tests.open311.conftest import G1_POINT


def _filed(client, world) -> int:
    from gridapp.matters.models import Matter

    resp = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": world.key, "jurisdiction_id": world.jid, "service_code": "community",
            "lat": str(G1_POINT[0]), "long": str(G1_POINT[1]),
            "description": "楼道灯坏了很久", "first_name": "三", "last_name": "张",
            "email": "zhang@example.com", "address_string": "1号楼2单元",
        },
    )  # fmt: skip
    assert resp.status_code == 200, resp.data
    return Matter.get(Matter.code == resp.get_json()[0]["service_request_id"]).id


def test_supervisor_in_scope_sees_the_box_and_reveals(client, world, org, make_user, login_as):
    mid = _filed(client, world)
    sup = login_as(make_user("supervisor", community=org.community))
    page = sup.get(f"/console/matters/{mid}").get_data(as_text=True)
    assert 'id="open311-box"' in page and "12345 市民热线" in page
    assert "1号楼2单元" in page and "1号楼" in page and f"address_id {world.b1['id']}" in page
    assert f"{G1_POINT[0]:.6f}" in page and "community" in page
    assert "张三" not in page and "zhang@example.com" not in page
    assert "张*" in page and "z****@example.com" in page and 'id="reveal-open311"' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    url = f"/console/matters/{mid}/open311-reporter"
    no_reason = sup.post(url, data={"csrf_token": token, "reason": ""})
    assert no_reason.status_code == 422 and "张三" not in no_reason.get_data(as_text=True)
    shown = sup.post(url, data={"csrf_token": token, "reason": "Clarify the report"})
    body = shown.get_data(as_text=True)
    assert shown.status_code == 200 and "张三" in body and "zhang@example.com" in body
    (log,) = AuditLog.select().where(AuditLog.action == "reveal.open311_reporter")
    assert log.target_id in (mid, str(mid)) and "Clarify the report" in log.detail
    # reloading masks again
    assert "张三" not in sup.get(f"/console/matters/{mid}").get_data(as_text=True)


def test_out_of_scope_staff_see_nothing(client, world, org, make_user, login_as):
    mid = _filed(client, world)
    other = login_as(make_user("supervisor", community=org.other_grid.community))
    assert other.get(f"/console/matters/{mid}").status_code == 404
    page = other.get("/console/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = other.post(f"/console/matters/{mid}/open311-reporter",
                      data={"csrf_token": token, "reason": "Clarify the report"})  # fmt: skip
    assert resp.status_code == 404 and "张三" not in resp.get_data(as_text=True)
    worker = login_as(make_user("grid_worker", grids=[org.grid]))
    assert worker.get(f"/console/matters/{mid}").status_code in (403, 404)
    assert not AuditLog.select().where(AuditLog.action == "reveal.open311_reporter").exists()


def test_no_box_for_other_sources(client, world, org, make_user, login_as):
    from gridapp.matters import service as msvc

    sup_user = make_user("supervisor", community=org.community)
    m = msvc.report_matter(
        sup_user, source="supervisor", grid_id=org.grid.id, text="路灯不亮了很久"
    )
    mid = m["id"] if isinstance(m, dict) else m.id
    page = login_as(sup_user).get(f"/console/matters/{mid}").get_data(as_text=True)
    assert 'id="open311-box"' not in page
