"""Roster uploads that try to exhaust memory or crash the parser: refused as a 422 naming the
file, with memory bounded, and throttled per user and per address."""

from __future__ import annotations

import io
import zipfile

import pytest

from tests.bombs import memory_watch, post_multipart, zip_with
from tests.registry.test_roster import roster_xlsx

MB = 1024 * 1024


def post_file(client, data: bytes, name: str, grid_id: int):
    return post_multipart(client, "/api/v1/roster/import", data, name, grid_id=grid_id)


def _members(xlsx: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(xlsx)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _sheet_bomb(size: int = 1024 * MB, declared: int | None = None) -> bytes:
    """A ~3 MB .xlsx whose sheet expands to 1 GB of rows (or claims ``declared`` bytes)."""
    members = _members(roster_xlsx())
    del members["xl/worksheets/sheet1.xml"]
    row = b'<row><c t="inlineStr"><is><t>x</t></is></c></row>'
    block = row * (MB // len(row))
    head = (
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    )
    big = ("xl/worksheets/sheet1.xml", head, block, size // len(block))
    return zip_with(members, big, declared)


@pytest.fixture(scope="module")
def sheet_bomb() -> bytes:
    return _sheet_bomb()


def test_sheet_expanding_to_1gb_is_refused_before_parsing(reg, org, login_as, sheet_bomb):
    with zipfile.ZipFile(io.BytesIO(sheet_bomb)) as zf:
        assert sum(i.file_size for i in zf.infolist()) > 1000 * MB  # it really is 1 GB
    assert len(sheet_bomb) < 4 * MB
    c = login_as(reg.supervisor)
    with memory_watch() as mem:
        resp = post_file(c, sheet_bomb, "bomb.xlsx", org.grid.id)
    assert resp.status_code == 422, resp.get_json()
    body = resp.get_json()
    assert body["field"] == "file" and body["code"] == "file_too_large"
    assert "bomb.xlsx" in body["detail"]
    assert mem["py_peak"] < 40 * MB, mem
    assert mem["rss_growth"] < 100 * MB, mem


def test_sheet_lying_about_its_size_is_cut_at_the_declared_size(reg, org, login_as):
    # The central directory claims 512 KB of 256 MB: zipfile stops the member there.
    bomb = _sheet_bomb(256 * MB, declared=MB // 2)
    c = login_as(reg.supervisor)
    with memory_watch() as mem:
        resp = post_file(c, bomb, "liar.xlsx", org.grid.id)
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["field"] == "file"
    assert mem["py_peak"] < 120 * MB, mem
    assert mem["rss_growth"] < 200 * MB, mem


@pytest.mark.parametrize(
    "sheet",
    [
        b"<worksheet><sheetData><row><c><v>1</v></row></sheetData>",  # unclosed tags
        b"\x00\x01 not xml at all",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]><worksheet>&a;</worksheet>',
    ],
)
def test_malformed_sheet_xml_is_a_422_naming_the_file(reg, org, login_as, sheet):
    members = _members(roster_xlsx())
    members["xl/worksheets/sheet1.xml"] = sheet
    c = login_as(reg.supervisor)
    resp = post_file(c, zip_with(members), "broken.xlsx", org.grid.id)
    assert resp.status_code == 422, resp.get_json()
    body = resp.get_json()
    assert body["field"] == "file" and "broken.xlsx" in body["detail"]


def test_rows_columns_and_cells_are_capped_while_streaming(reg, org, login_as, monkeypatch):
    from openpyxl import Workbook

    from gridapp.registry import roster
    from gridapp.registry.models import Resident

    monkeypatch.setattr(roster, "MAX_ROWS", 50)
    before = Resident.select().count()
    c = login_as(reg.supervisor)

    def xlsx(rows) -> bytes:
        wb = Workbook()
        for r in rows:
            wb.active.append(r)
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue()

    header = ["楼栋", "房号", "姓名", "性别"]
    many = [header] + [["1栋", str(i), "张三", "男"] for i in range(60)]
    wide = [header, ["1栋", "1", "张三", "男", *(["x"] * 120)]]
    long_cell = [header, ["1栋", "1", "张" * 3000, "男"]]
    for rows, fragment in ((many, "50"), (wide, "100"), (long_cell, "2000")):
        for name, data in (
            ("r.xlsx", xlsx(rows)),
            ("r.csv", "\n".join(",".join(r) for r in rows).encode()),
        ):
            resp = post_file(c, data, name, org.grid.id)
            assert resp.status_code == 422, (name, resp.get_json())
            assert (
                resp.get_json()["code"] == "file_too_large"
                and fragment in resp.get_json()["detail"]
            )
    assert Resident.select().count() == before


def test_control_characters_in_a_cell_are_named(reg, org, login_as):
    from tests.registry.test_roster import ROWS

    rows = [list(r) for r in ROWS]
    rows[0][11] = "备注\x0b竖排"
    c = login_as(reg.supervisor)
    resp = post_file(c, "\n".join(",".join(str(v or "") for v in r) for r in [
        ["楼号", "房间号", "姓名", "性别", "备注"], ["5栋", "201", "赵\x01大爷", "男", "x"]
    ]).encode(), "r.csv", org.grid.id)  # fmt: skip
    assert resp.status_code == 422
    (err,) = resp.get_json()["errors"]
    assert (err["row"], err["column"]) == (2, "姓名")


def test_roster_import_is_throttled_per_user_and_per_address(reg, org, login_as, app):
    app.config["UPLOAD_LIMIT_ROSTER_USER"] = "2 per minute"
    app.config["UPLOAD_LIMIT_ROSTER_ADDRESS"] = "3 per minute"
    c = login_as(reg.supervisor)
    codes = [post_file(c, b"x", "r.txt", org.grid.id).status_code for _ in range(3)]
    assert codes == [422, 422, 429]
    # another user from the same address: one more, then the address is spent
    other = login_as(reg.admin)
    codes = [post_file(other, b"x", "r.txt", org.grid.id).status_code for _ in range(2)]
    assert codes == [422, 429]
    from_elsewhere = post_file(
        login_as(reg.worker), b"x", "r.txt", org.grid.id
    )  # same test client address: still 429
    assert from_elsewhere.status_code == 429
