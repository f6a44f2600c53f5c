"""Roster import/export: title rows, merged cells, synonyms, all-or-nothing, audited export."""

from __future__ import annotations

import io

from openpyxl import Workbook, load_workbook

HEADER = [
    "序号",
    "楼号",
    "单元",
    "房间号",
    "姓名",
    "性别",
    "身份证号码",
    "与户主关系",
    "手机号",
    "人员类别",
    "民族",
    "备注",
]
ROWS = [
    [
        1,
        "5栋",
        "1单元",
        "201",
        "赵大爷",
        "男",
        "44030419400307151X",
        "户主",
        "13511112222",
        "独居老人、高龄",
        "汉",
        "",
    ],
    [2, None, None, None, "钱阿姨", "女", "", "配偶", "0351-7654321", "", "汉", "行动不便"],
    [
        3,
        "5栋",
        "2单元",
        "301",
        "孙小明",
        "",
        "140101199001011232",
        "户主",
        "13633334444",
        "低保，残疾",
        "回",
        "",
    ],
]


def roster_xlsx(rows=ROWS) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(["东城水岸社区人口信息登记表"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER))
    ws.append(["填表日期：2026年11月"])
    ws.append(HEADER)
    for r in rows:
        ws.append(r)
    # 赵大爷 and 钱阿姨 share a flat: 楼号/单元/房间号 are merged over both rows
    for col in (2, 3, 4):
        ws.merge_cells(start_row=4, start_column=col, end_row=5, end_column=col)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def post_file(client, data: bytes, name: str, grid_id: int):
    return client.post(
        "/api/v1/roster/import",
        data={"file": (io.BytesIO(data), name), "grid_id": str(grid_id)},
        content_type="multipart/form-data",
    )


def test_import_xlsx_with_titles_merged_cells_and_synonyms(reg, org, login_as):
    from gridapp.registry.models import Household, Resident

    c = login_as(reg.worker)
    resp = post_file(c, roster_xlsx(), "名册.xlsx", org.grid.id)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["rows"] == 3 and body["residents_created"] == 3
    assert body["households_created"] == 2 and body["buildings_created"] == 1
    assert body["ignored_columns"] == ["民族"]  # said which column was not understood
    zhao = Resident.get(Resident.name == "赵大爷")
    qian = Resident.get(Resident.name == "钱阿姨")
    sun = Resident.get(Resident.name == "孙小明")
    assert zhao.household_id == qian.household_id != sun.household_id
    assert (zhao.birth_year, zhao.gender, zhao.name_initials, zhao.phone_tail) == (
        1940,
        "M",
        "zdy",
        "2222",
    )
    assert (sun.birth_year, sun.gender) == (1990, "M")  # derived from the ID number
    assert qian.phone == "0351-7654321"
    listed = c.get(f"/api/v1/residents?household_id={zhao.household_id}").get_json()
    assert sorted(t for r in listed for t in r["tags"]) == ["advanced_age", "elderly_alone"]
    h = Household.get_by_id(zhao.household_id)
    assert h.visit_interval_days == 7 and h.next_visit_due is not None
    assert Household.get_by_id(sun.household_id).visit_interval_days == 30
    # importing the same file again updates by ID number instead of duplicating
    again = post_file(c, roster_xlsx(), "名册.xlsx", org.grid.id).get_json()
    assert again["residents_updated"] == 2 and again["households_created"] == 0
    assert Resident.select().where(Resident.name == "赵大爷").count() == 1


def test_one_bad_row_writes_nothing_and_names_it(reg, org, login_as):
    from gridapp.changes import Change
    from gridapp.registry.models import Building, Household, Resident

    before = (
        Resident.select().count(),
        Household.select().count(),
        Building.select().count(),
        Change.select().count(),
    )
    rows = [list(r) for r in ROWS]
    rows[2][6] = "140101199001011233"  # wrong check digit, sheet row 6
    rows[0][9] = "独居老人、火星人"  # unknown tag, sheet row 4
    c = login_as(reg.worker)
    resp = post_file(c, roster_xlsx(rows), "bad.xlsx", org.grid.id)
    assert resp.status_code == 422
    body = resp.get_json()
    errors = {(e["row"], e["column"]) for e in body["errors"]}
    assert errors == {(6, "身份证号码"), (4, "人员类别")}
    msg = next(e["message"] for e in body["errors"] if e["row"] == 6)
    assert msg.startswith("第6行「身份证号码」列") and "校验码" in msg
    assert "未导入" in body["detail"]
    after = (
        Resident.select().count(),
        Household.select().count(),
        Building.select().count(),
        Change.select().count(),
    )
    assert after == before


def test_csv_with_grid_column_and_bad_phone(reg, org, login_as):
    from gridapp.registry.models import Resident

    c = login_as(reg.supervisor)
    text = (
        "网格,楼栋,房号,姓名,性别,出生日期,联系电话,关爱标签\n"
        f"{org.grid2.code},8栋,101,周八,女,1938-05-01,13812340000,高龄、独居老人\n"
        f"第1网格,8栋,102,吴九,男,1970年1月,12345,\n"
    )
    resp = post_file(c, text.encode("utf-8-sig"), "r.csv", org.grid.id)
    assert resp.status_code == 422
    assert [(e["row"], e["column"]) for e in resp.get_json()["errors"]] == [(3, "联系电话")]
    fixed = text.replace(",12345,", ",0351-1234567,")
    resp = post_file(c, fixed.encode("gb18030"), "r.csv", org.grid.id)
    assert resp.status_code == 200, resp.get_json()
    assert Resident.get(Resident.name == "周八").grid_id == org.grid2.id
    assert Resident.get(Resident.name == "吴九").grid_id == org.grid.id
    # a worker cannot import into a grid outside their scope
    w = login_as(reg.worker)
    resp = post_file(w, fixed.encode("utf-8"), "r.csv", org.grid.id)
    assert resp.status_code == 422 and "第2行" in resp.get_json()["errors"][0]["message"]
    assert post_file(w, fixed.encode(), "r.csv", org.other_grid.id).status_code == 404


def test_not_a_spreadsheet(reg, org, login_as):
    c = login_as(reg.worker)
    assert post_file(c, b"garbage", "x.xlsx", org.grid.id).status_code == 422
    assert post_file(c, b"a,b\n", "x.txt", org.grid.id).status_code == 422
    resp = post_file(c, "甲,乙\n1,2\n".encode(), "x.csv", org.grid.id)
    assert resp.status_code == 422 and resp.get_json()["field"] == "file"


def test_export_roster_is_full_and_audited(reg, org, login_as):
    from gridapp.audit import AuditLog

    c = login_as(reg.supervisor)
    resp = c.get(f"/api/v1/roster/export?community_id={org.community.id}")
    assert resp.status_code == 200
    ws = load_workbook(io.BytesIO(resp.data)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:6] == ("网格", "楼栋", "单元", "房号", "地址", "姓名")
    zhang = next(r for r in rows if r[5] == "张三")
    assert (
        zhang[10] == "13812345678" and zhang[8] == "11010519491231002X" and zhang[11] == "独居老人"
    )
    assert "王五" not in {r[5] for r in rows}  # another community
    audit = AuditLog.get(AuditLog.action == "export.roster")
    assert audit.actor_id == reg.supervisor.id and '"rows": 2' in audit.detail
    assert c.get(f"/api/v1/roster/export?community_id={org.other_community.id}").status_code == 404
    # the export imports back cleanly (same headers), updating rather than duplicating
    back = post_file(c, resp.data, "export.xlsx", org.grid.id)
    assert back.status_code == 200, back.get_json()
    assert back.get_json()["residents_updated"] == 1  # 张三 has an ID number
