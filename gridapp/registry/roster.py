"""Roster import (.xlsx/.csv) and export (.xlsx): community registers (人口信息登记表) as they are.

Import reads the whole sheet, finds the header row under any title rows, spreads merged cells,
maps headers by name with common synonyms, validates *every* row, and only then writes — in one
transaction with bulk inserts — so a file with any bad row writes nothing. Errors name the sheet
row and the column header as the user sees them.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _

from gridapp import privacy
from gridapp.audit import write_audit
from gridapp.changes import record_changes
from gridapp.db import db, insert_rows, reserve_ids, utcnow
from gridapp.errors import NotFound, Problem, ValidationFailed
from gridapp.exports import append_row, csv_bytes
from gridapp.masking import mask_id_number, mask_phone
from gridapp.org.models import Community, Grid, User
from gridapp.registry.care import refresh_schedules
from gridapp.registry.models import Building, CareTag, Household, Resident, ResidentTag
from gridapp.registry.names import name_keys
from gridapp.registry.rules import (
    household_interval,
    normalise_phone,
    parse_birth_year,
    parse_gender,
    parse_id_number,
    phone_tail,
    split_tags,
)
from gridapp.scope import Scope, scope_for
from gridapp.textrules import has_control

# Header synonyms (normalised: no spaces, no "*", no bracketed hints).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "grid": ("网格", "所属网格", "网格名称", "网格编号"),
    "building": ("楼栋", "楼号", "楼栋号", "栋", "楼宇", "楼栋名称", "小区楼栋"),
    "unit": ("单元", "单元号"),
    "room": ("房号", "房间号", "门牌号", "室", "户号"),
    "address": ("地址", "住址", "家庭住址", "居住地址", "现住址"),
    "name": ("姓名", "名字", "居民姓名", "人员姓名"),
    "gender": ("性别",),
    "birth": ("出生日期", "出生年月", "出生年份", "生日", "出生年月日"),
    "id_number": ("身份证号", "身份证号码", "公民身份号码", "证件号码", "身份证"),
    "relation": ("与户主关系", "关系", "户主关系", "与户主的关系"),
    "phone": ("联系电话", "电话", "手机", "手机号", "手机号码", "联系方式", "电话号码"),
    "tags": ("关爱标签", "人员类别", "标签", "人员类型", "重点人群", "特殊人群"),
    "notes": ("备注", "说明"),
}
IGNORED = {"序号", "编号", "no", "no."}
_LOOKUP = {s: f for f, names in SYNONYMS.items() for s in names}
EXPORT_HEADERS = [
    ("grid", "网格"),
    ("building", "楼栋"),
    ("unit", "单元"),
    ("room", "房号"),
    ("address", "地址"),
    ("name", "姓名"),
    ("gender", "性别"),
    ("birth", "出生年份"),
    ("id_number", "身份证号"),
    ("relation", "与户主关系"),
    ("phone", "联系电话"),
    ("tags", "关爱标签"),
    ("notes", "备注"),
]
MAX_ERRORS = 200
EXPORT_MIME = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


def _norm_header(value: Any) -> str:
    text = re.sub(r"\s+", "", str(value or ""))
    text = re.sub(r"[（(][^）)]*[）)]", "", text)
    return text.replace("*", "").replace("：", "").replace(":", "").lower()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


# ---- reading ------------------------------------------------------------------------------


# Upload caps: a roster is a few hundred to ~100,000 rows of short cells. Anything beyond is
# refused before (zip members' declared sizes, ratio) or while (rows, columns, cells) parsing, so a
# small file that expands to gigabytes never reaches memory.
MAX_ROWS = 150_000
MAX_COLUMNS = 100
MAX_CELL_CHARS = 2_000
MAX_EXPANDED_BYTES = 160 * 1024 * 1024  # all zip members together, uncompressed
MAX_RATIO = 200  # uncompressed : compressed, for members over 1 MB


def _too_big(what: str) -> ValidationFailed:
    return ValidationFailed("file", what, code="file_too_large")


def read_table(filename: str, data: bytes) -> list[list[Any]]:
    """All rows of the first sheet (or the CSV) as lists; merged cells spread to every cell.
    Capped in rows, columns, cell size and expanded bytes (``MAX_*``): a 422 on field "file"."""
    name = (filename or "").lower()
    if name.endswith(".csv"):
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise ValidationFailed("file", _("The CSV file is neither UTF-8 nor GB18030 text."))
        rows: list[list[Any]] = []
        csv.field_size_limit(MAX_CELL_CHARS * 4)
        try:
            for row in csv.reader(io.StringIO(text)):
                _check_row(row, len(rows) + 1)
                rows.append(row)
        except csv.Error:
            raise ValidationFailed(
                "file", _("%(name)s is not a readable CSV file.", name=filename)
            ) from None
        return rows
    if name.endswith(".xlsx"):
        return _read_xlsx(filename, data)
    raise ValidationFailed("file", _("Upload an .xlsx or .csv file."))


def _check_row(row: list[Any] | tuple, number: int) -> None:
    if number > MAX_ROWS:
        raise _too_big(_("The file has more than %(n)d rows.", n=MAX_ROWS))
    if len(row) > MAX_COLUMNS:
        # trailing empty cells (formatting carried to column XFD) are not columns
        while row and row[-1] in (None, ""):
            row = row[:-1]
        if len(row) > MAX_COLUMNS:
            raise _too_big(_("Row %(row)d has more than %(n)d columns.", row=number, n=MAX_COLUMNS))
    for value in row:
        if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
            raise _too_big(
                _(
                    "Row %(row)d has a cell longer than %(n)d characters.",
                    row=number,
                    n=MAX_CELL_CHARS,
                )
            )


_MERGE_RE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+[0-9]+:[A-Z]+[0-9]+)"')


def _check_zip(filename: str, data: bytes) -> None:
    """Refuse a zip bomb from its central directory, before anything is decompressed. The
    declared sizes bound what is read: ``zipfile`` stops a member at its declared size."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ValidationFailed(
            "file", _("%(name)s is not a readable .xlsx workbook.", name=filename)
        ) from None
    total = 0
    for m in members:
        total += m.file_size
        ratio = m.file_size / max(m.compress_size, 1)
        if total > MAX_EXPANDED_BYTES or (m.file_size > 1024 * 1024 and ratio > MAX_RATIO):
            raise _too_big(
                _(
                    "%(name)s expands to more than a roster can hold (%(mb)d MB).",
                    name=filename,
                    mb=MAX_EXPANDED_BYTES // (1024 * 1024),
                )
            )


def _merged_ranges(fh) -> list[tuple[int, int, int, int]]:
    """mergeCell refs read in 1 MB chunks (the sheet XML is never held whole)."""
    from openpyxl.utils.cell import range_boundaries

    found: list[tuple[int, int, int, int]] = []
    tail = b""
    while True:
        chunk = fh.read(1024 * 1024)
        if not chunk:
            break
        buf = tail + chunk
        cut = max(0, len(buf) - 200)  # a tag split across chunks is matched in the next round
        last = buf.rfind(b"<", 0, cut) if cut else -1
        cut = last if last > 0 else cut
        for m in _MERGE_RE.findall(buf[:cut]):
            found.append(range_boundaries(m.decode()))
        tail = buf[cut:]
        if len(found) > MAX_ROWS:
            raise _too_big(_("The sheet has too many merged cells."))
    found.extend(range_boundaries(m.decode()) for m in _MERGE_RE.findall(tail))
    return found


def _read_xlsx(filename: str, data: bytes) -> list[list[Any]]:
    """Read-only openpyxl (streaming; a 100,000-row roster loaded in full mode took minutes and
    a lot of memory), capped as it streams; read-only sheets do not expose merged cells, so their
    ranges come from the sheet's XML and each range's value is spread over its cells. Anything
    the parser chokes on (malformed XML, a broken part) is a 422 naming the file, never a 500."""
    from openpyxl import load_workbook

    _check_zip(filename, data)
    rows: list[list[Any]] = []
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            ws = wb.worksheets[0]
            ws.reset_dimensions()  # trust the cells, not a dimension tag other programs get wrong
            for r in ws.iter_rows(values_only=True):
                _check_row(r, len(rows) + 1)
                rows.append(list(r[:MAX_COLUMNS]))
            with wb._archive.open(ws._worksheet_path) as fh:
                merged = _merged_ranges(fh)
        finally:
            wb.close()
    except Problem:
        raise
    except Exception as exc:  # noqa: BLE001 — untrusted bytes through a third-party parser
        raise ValidationFailed(
            "file",
            _("%(name)s is not a readable .xlsx workbook.", name=filename),
            code="unreadable",
            reason=type(exc).__name__,
        ) from None
    spread = 0
    for min_col, min_row, max_col, max_row in merged:
        if min_row > len(rows) or max_col > MAX_COLUMNS:
            continue
        spread += (min(max_row, len(rows)) - min_row + 1) * (max_col - min_col + 1)
        if spread > MAX_ROWS * 20:
            raise _too_big(_("The sheet has too many merged cells."))
        top = rows[min_row - 1]
        value = top[min_col - 1] if min_col <= len(top) else None
        for r in range(min_row, min(max_row, len(rows)) + 1):
            row = rows[r - 1]
            if len(row) < max_col:
                row.extend([None] * (max_col - len(row)))
            for c in range(min_col, max_col + 1):
                row[c - 1] = value
    return rows


def find_header(rows: list[list[Any]]) -> tuple[int, dict[int, str], list[str]]:
    """(row index, column → field, headers not understood): the first of the top 15 rows that
    names the 姓名 column and at least one other known column."""
    for idx, row in enumerate(rows[:15]):
        mapping: dict[int, str] = {}
        unknown: list[str] = []
        for col, value in enumerate(row):
            key = _norm_header(value)
            if not key:
                continue
            fld = _LOOKUP.get(key)
            if fld and fld not in mapping.values():
                mapping[col] = fld
            elif key not in IGNORED and not fld:
                unknown.append(str(value).strip())
        if "name" in mapping.values() and len(mapping) >= 2:
            return idx, mapping, unknown
    raise ValidationFailed(
        "file", _("No header row with a 姓名 column was found in the first 15 rows.")
    )


# ---- validation ---------------------------------------------------------------------------


@dataclass
class RowIn:
    row: int
    grid_id: int
    building: str
    unit: str
    room: str
    address: str
    name: str
    gender: str
    birth_year: int | None
    id_number: str
    relation: str
    phone: str
    tag_ids: list[int]
    notes: str


@dataclass
class Context:
    scope: Scope
    default_grid: int | None
    headers: dict[str, str]  # field → header text as written
    grids_by_code: dict[str, int] = field(default_factory=dict)
    grids_by_name: dict[str, list[int]] = field(default_factory=dict)
    tags: dict[str, CareTag] = field(default_factory=dict)


def _context(scope: Scope, default_grid: int | None, headers: dict[str, str]) -> Context:
    ctx = Context(scope, default_grid, headers)
    grids = Grid.select(Grid.id, Grid.code, Grid.name)
    if scope.grid_ids is not None:
        grids = grids.where(Grid.id.in_(sorted(scope.grid_ids) or [0]))
    for g in grids:
        ctx.grids_by_code[g.code] = g.id
        ctx.grids_by_name.setdefault(g.name, []).append(g.id)
    for t in CareTag.select().where(CareTag.is_active == True):  # noqa: E712
        ctx.tags[t.name] = t
        ctx.tags[t.code] = t
    return ctx


def _validate_row(ctx: Context, number: int, values: dict[str, str], errors: list) -> RowIn | None:
    def err(fld: str, message: str) -> None:
        column = ctx.headers.get(fld, fld)
        errors.append(
            {
                "row": number,
                "column": column,
                "field": f"rows.{number}.{column}",
                "message": _(
                    "Row %(row)d, column %(column)s: %(msg)s",
                    row=number,
                    column=column,
                    msg=message,
                ),
            }
        )

    before = len(errors)
    for fld, value in values.items():  # the one input rule (gridapp.textrules)
        if has_control(value):
            err(fld, _("the cell contains a control character."))
    if len(errors) > before:
        return None
    grid_id = _resolve_grid(ctx, values.get("grid", ""), err)
    name = values.get("name", "")
    if not name:
        err("name", _("the name is missing."))
    building, address = values.get("building", ""), values.get("address", "")
    if not building and not address:
        err(
            "building" if "building" in ctx.headers else "address",
            _("give a building or an address."),
        )
    gender = parse_gender(values.get("gender"))
    if gender is None:
        err("gender", _("write 男 or 女."))
    birth_year = None
    if values.get("birth"):
        birth_year = parse_birth_year(values["birth"])
        if birth_year is None:
            err("birth", _("the birth date is not a date."))
    id_number = values.get("id_number", "")
    if id_number:
        parsed = parse_id_number(id_number)
        if parsed is None:
            err("id_number", _("the ID number is not valid (length, birth date or check digit)."))
        else:
            id_number, id_year, id_gender = parsed
            if gender and gender != id_gender:
                err("gender", _("the gender does not match the ID number."))
            gender, birth_year = id_gender, id_year
    phone = values.get("phone", "")
    if phone:
        phone = normalise_phone(phone) or ""
        if not phone:
            err("phone", _("enter an 11-digit mobile number or a landline number."))
    tag_ids = []
    for tag in split_tags(values.get("tags", "")):
        if tag in ctx.tags:
            tag_ids.append(ctx.tags[tag].id)
        else:
            err("tags", _("unknown care tag %(tag)s.", tag=tag))
    if len(errors) > before:
        return None
    return RowIn(
        number,
        grid_id or 0,
        building or address,
        values.get("unit", ""),
        values.get("room", ""),
        address,
        name,
        gender or "",
        birth_year,
        id_number,
        values.get("relation", ""),
        phone,
        tag_ids,
        values.get("notes", ""),
    )


def _resolve_grid(ctx: Context, value: str, err) -> int | None:
    if not value:
        if ctx.default_grid is None:
            err("grid", _("the grid is missing."))
        return ctx.default_grid
    if value in ctx.grids_by_code:
        return ctx.grids_by_code[value]
    ids = ctx.grids_by_name.get(value, [])
    if ctx.default_grid in ids:
        return ctx.default_grid
    if len(ids) == 1:
        return ids[0]
    if len(ids) > 1:
        err("grid", _("several grids are called %(grid)s; use the grid code.", grid=value))
    else:
        err("grid", _("no grid %(grid)s in your area.", grid=value))
    return None


def parse_roster(
    filename: str, data: bytes, scope: Scope, default_grid: int | None
) -> tuple[list[RowIn], list[str]]:
    """Validate every row; raise 422 listing each bad cell, or return (rows, ignored headers)."""
    table = read_table(filename, data)
    header_idx, mapping, unknown = find_header(table)
    headers = {fld: str(table[header_idx][col]).strip() for col, fld in mapping.items()}
    ctx = _context(scope, default_grid, headers)
    rows: list[RowIn] = []
    errors: list[dict[str, Any]] = []
    seen_ids: dict[str, int] = {}
    for offset, raw in enumerate(table[header_idx + 1 :]):
        number = header_idx + offset + 2  # 1-based sheet row
        values = {
            fld: _cell_text(raw[col]) if col < len(raw) else "" for col, fld in mapping.items()
        }
        if not any(values.values()):
            continue
        row = _validate_row(ctx, number, values, errors)
        if row and row.id_number:
            if row.id_number in seen_ids:
                column = headers.get("id_number", "id_number")
                errors.append(
                    {
                        "row": number,
                        "column": column,
                        "field": f"rows.{number}.{column}",
                        "message": _(
                            "Row %(row)d, column %(column)s: the same ID number is on row %(other)d.",
                            row=number,
                            column=column,
                            other=seen_ids[row.id_number],
                        ),
                    }
                )
                row = None
            else:
                seen_ids[row.id_number] = number
        if row:
            rows.append(row)
    if errors:
        raise Problem(
            _(
                "%(count)d problems found; nothing was imported. First: %(first)s",
                count=len(errors),
                first=errors[0]["message"],
            ),
            status=422,
            title=_("The roster has errors"),
            field="file",
            errors=errors[:MAX_ERRORS],
            code="roster_invalid",
            ignored_columns=unknown,
        )
    if not rows:
        raise ValidationFailed("file", _("The file has a header but no rows."))
    return rows, unknown


# ---- writing ------------------------------------------------------------------------------


def import_roster(
    actor: User,
    filename: str,
    data: bytes,
    *,
    grid_id: int | None = None,
    ip: str = "",
    scope: Scope | None = None,
) -> dict[str, Any]:
    """Import a roster file into the actor's grids (``grid_id``: for rows without a 网格 column).

    All rows are validated first; any bad row raises a 422 Problem whose ``errors`` name each
    row and column, and nothing is written. Buildings and households are matched by name and
    unit/room (created when missing); a resident whose ID number already exists in the grid is
    updated, others are created. Returns counts and the headers that were not understood."""
    scope = scope or scope_for(actor)
    if grid_id is not None and not scope.sees_grid(grid_id):
        raise NotFound()
    rows, unknown = parse_roster(filename, data, scope, grid_id)
    with db.atomic():
        stats = _write_rows(rows)
        write_audit(
            actor.id,
            "import.roster",
            "grid",
            grid_id or "",
            ip=ip,
            detail={"filename": filename, **stats},
        )
    return {**stats, "rows": len(rows), "ignored_columns": unknown}


B_COLS = ["id", "version", "updated_at", "grid_id", "name", "address", "deleted"]
H_COLS = [
    "id", "version", "updated_at", "grid_id", "building_id", "unit", "room", "address", "phone",
    "notes", "last_visit_at", "visit_interval_days", "next_visit_due", "deleted", "created_at",
]  # fmt: skip
R_COLS = [
    "id", "version", "updated_at", "grid_id", "household_id", "name", "name_pinyin",
    "name_initials", "gender", "birth_year", "phone", "phone_tail", "id_number", "relation",
    "notes", "deleted", "created_at",
]  # fmt: skip


def _hkey(grid: int, building_id: int, unit: str, room: str, address: str) -> tuple:
    """Households are matched by building + unit + room, or building + address without a room."""
    return (grid, building_id, unit, room, "" if room else address)


def _write_rows(rows: list[RowIn]) -> dict[str, int]:
    """Bulk writes (``reserve_ids`` + ``insert_rows``): peewee's per-value SQL building took
    most of an import's time."""
    now = utcnow()
    grids = sorted({r.grid_id for r in rows})
    changes: list[dict[str, Any]] = []
    alive = Building.deleted == False  # noqa: E712
    buildings = {
        (b.grid_id, b.name): b.id
        for b in Building.select(Building.id, Building.grid, Building.name).where(
            Building.grid.in_(grids), alive
        )
    }
    new_b = list(
        dict.fromkeys(
            (r.grid_id, r.building) for r in rows if (r.grid_id, r.building) not in buildings
        )
    )
    b_ids = reserve_ids(Building, len(new_b))
    insert_rows(
        Building,
        B_COLS,
        [(i, 1, now, g, n, n, False) for i, (g, n) in zip(b_ids, new_b, strict=True)],
    )
    for key, bid in zip(new_b, b_ids, strict=True):
        buildings[key] = bid
        changes.append({"entity": "building", "entity_id": bid, "grid_id": key[0]})

    households = {
        _hkey(h.grid_id, h.building_id, h.unit, h.room, h.address): h.id
        for h in Household.select(
            Household.id, Household.grid, Household.building, Household.unit, Household.room,
            Household.address,
        ).where(Household.grid.in_(grids), Household.deleted == False)  # noqa: E712
    }  # fmt: skip
    intervals = {t.id: t.interval_days for t in CareTag.select()}
    row_keys = [
        _hkey(r.grid_id, buildings[(r.grid_id, r.building)], r.unit, r.room, r.address)
        for r in rows
    ]
    new_h: dict[tuple, list[Any]] = {}
    for r, key in zip(rows, row_keys, strict=True):
        if key in households:
            continue
        h = new_h.get(key)
        if h is None:
            address = r.address or f"{r.building}{r.unit}{r.room}"
            phone = r.phone if r.relation == "户主" else ""
            h = new_h[key] = [
                0, 1, now, r.grid_id, key[1], r.unit, r.room, address, phone, "", None,
                household_interval([]), now, False, now,
            ]  # fmt: skip
        h[11] = household_interval([h[11], *(intervals[t] for t in r.tag_ids)])
    h_ids = reserve_ids(Household, len(new_h))
    for (key, h), hid in zip(new_h.items(), h_ids, strict=True):
        h[0] = hid
        households[key] = hid
        changes.append({"entity": "household", "entity_id": hid, "grid_id": key[0]})
    insert_rows(Household, H_COLS, [tuple(h) for h in new_h.values()])

    existing = _existing_residents(rows, grids)
    new_r: list[tuple] = []
    links: list[tuple[int, int]] = []
    updated, touched = 0, set()
    r_ids = iter(
        reserve_ids(Resident, sum(1 for r in rows if (r.grid_id, r.id_number) not in existing))
    )
    for r, key in zip(rows, row_keys, strict=True):
        pinyin, initials = name_keys(r.name)
        values = (
            r.grid_id, households[key], r.name, pinyin, initials, r.gender, r.birth_year, r.phone,
            phone_tail(r.phone), r.id_number, r.relation, r.notes,
        )  # fmt: skip
        old = existing.get((r.grid_id, r.id_number))
        if old is not None:
            Resident.update(
                dict(zip([Resident._meta.columns[c] for c in R_COLS[3:15]], values, strict=True)),
                version=Resident.version + 1,
                updated_at=now,
            ).where(Resident.id == old.id).execute()
            ResidentTag.delete().where(ResidentTag.resident == old.id).execute()
            links.extend((old.id, t) for t in r.tag_ids)
            touched.update({old.household_id, households[key]})
            changes.append({"entity": "resident", "entity_id": old.id, "grid_id": r.grid_id})
            updated += 1
            continue
        rid = next(r_ids)
        new_r.append((rid, 1, now, *values, False, now))
        links.extend((rid, t) for t in r.tag_ids)
        changes.append({"entity": "resident", "entity_id": rid, "grid_id": r.grid_id})
        if key not in new_h:
            touched.add(households[key])
    insert_rows(Resident, R_COLS, new_r)
    insert_rows(ResidentTag, ["resident_id", "tag_id"], links)
    record_changes(changes)
    refresh_schedules(touched)
    return {
        "buildings_created": len(new_b),
        "households_created": len(new_h),
        "residents_created": len(new_r),
        "residents_updated": updated,
    }


def _existing_residents(rows: list[RowIn], grids: list[int]) -> dict[tuple[int, str], Resident]:
    """Residents already registered in these grids under an ID number that the file holds."""
    wanted = {(r.grid_id, r.id_number) for r in rows if r.id_number}
    if not wanted:
        return {}
    found = {}
    # One pass over the grids' residents with an ID number (the grid_id index bounds it).
    query = Resident.select(
        Resident.id, Resident.grid, Resident.id_number, Resident.household
    ).where(
        Resident.grid.in_(grids),
        Resident.id_number != "",
        Resident.deleted == False,  # noqa: E712
    )
    for res in query:
        if (res.grid_id, res.id_number) in wanted:
            found[(res.grid_id, res.id_number)] = res
    return found


# ---- export -------------------------------------------------------------------------------


def export_roster(
    actor: User,
    *,
    grid_id: int | None = None,
    community_id: int | None = None,
    fmt: str = "xlsx",
    ip: str = "",
    scope: Scope | None = None,
) -> tuple[bytes, str]:
    """The roster of one grid or one community (the grids of it in scope) as .xlsx or .csv;
    every export is audited. Full personal numbers only for whom ``privacy.may_see_full`` says
    (supervisors and admins), masked for everyone else; every cell goes through
    ``gridapp.exports`` (no formulas, no control characters). Returns ``(bytes, filename)``."""
    from openpyxl import Workbook

    scope = scope or scope_for(actor)
    if fmt not in ("xlsx", "csv"):
        raise ValidationFailed("format", _("Choose xlsx or csv."))
    if grid_id is not None:
        if not scope.sees_grid(grid_id):
            raise NotFound()
        grid = Grid.get_or_none(Grid.id == grid_id)
        if grid is None:  # an admin sees every grid, including ones that do not exist
            raise NotFound()
        grids = [grid]
        label = grid.name
    elif community_id is not None:
        if not scope.sees_community(community_id):
            raise NotFound()
        community = Community.get_or_none(Community.id == community_id)
        if community is None:
            raise NotFound()
        grids = [g for g in community.grids.order_by(Grid.sort, Grid.id) if scope.sees_grid(g.id)]
        label = community.name
    else:
        raise ValidationFailed("grid_id", _("Choose a grid or a community."))
    full = privacy.may_see_full(actor, "roster_export", scope=scope)
    header = [h for _, h in EXPORT_HEADERS]
    counter = [0]
    rows = _export_rows(grids, full, counter)
    if fmt == "csv":
        data, _n = csv_bytes(header, rows)
    else:
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("人口信息")
        append_row(ws, header, bold=True)
        for row in rows:
            append_row(ws, row)
        out = io.BytesIO()
        wb.save(out)
        data = out.getvalue()
    with db.atomic():
        write_audit(
            actor.id,
            "export.roster",
            "grid" if grid_id else "community",
            grid_id or community_id,
            ip=ip,
            detail={
                "rows": counter[0],
                "grids": [g.id for g in grids],
                "format": fmt,
                "personal_numbers": "full" if full else "masked",
            },
        )
    return data, f"roster-{label}-{utcnow():%Y%m%d}.{fmt}"


def _export_rows(grids: list[Grid], full: bool, counter: list[int]):
    tag_names = {t.id: t.name for t in CareTag.select()}
    for grid in grids:
        tags: dict[int, list[str]] = {}
        for rid, tid in (
            ResidentTag.select(ResidentTag.resident, ResidentTag.tag)
            .join(Resident)
            .where(Resident.grid == grid.id, Resident.deleted == False)  # noqa: E712
            .tuples()
        ):
            tags.setdefault(rid, []).append(tag_names[tid])
        query = (
            Resident.select(Resident, Household, Building)
            .join(Household)
            .join(Building)
            .where(Resident.grid == grid.id, Resident.deleted == False)  # noqa: E712
            .order_by(Building.name, Household.unit, Household.room, Resident.id)
        )
        for r in query:
            h = r.household
            counter[0] += 1
            yield [
                grid.name,
                h.building.name,
                h.unit,
                h.room,
                h.address,
                r.name,
                {"M": "男", "F": "女"}.get(r.gender, ""),
                r.birth_year,
                r.id_number if full else mask_id_number(r.id_number),
                r.relation,
                r.phone if full else mask_phone(r.phone),
                "、".join(tags.get(r.id, [])),
                r.notes,
            ]
