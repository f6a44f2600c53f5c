"""Exports to .xlsx (openpyxl, write-only mode so a large export streams in constant memory).
Every export is audited: who exported what, with which filters; every cell goes through
``gridapp.exports`` (no formulas, no control characters)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Sequence
from typing import Any

from flask import Response
from openpyxl import Workbook

from gridapp.audit import write_audit
from gridapp.console.fmt import SHANGHAI
from gridapp.exports import append_row

MAX_ROWS = 100_000
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def local(value: dt.datetime | None) -> dt.datetime | None:
    """Naive UTC → naive Asia/Shanghai (Excel has no time zones)."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC).astimezone(SHANGHAI).replace(tzinfo=None)


def build(title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> tuple[bytes, int]:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31])
    append_row(ws, [str(h) for h in header], bold=True)
    n = 0
    for row in rows:  # text cleaned and never live (gridapp.exports)
        append_row(ws, row)
        n += 1
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue(), n


def send(
    name: str,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    actor: Any,
    ip: str,
    filters: dict[str, Any],
) -> Response:
    data, n = build(name, header, rows)
    write_audit(actor.id, f"export.{name}", name, "", ip=ip, detail={"rows": n, **filters})
    stamp = dt.datetime.now(SHANGHAI).strftime("%Y%m%d-%H%M")
    return Response(
        data,
        mimetype=XLSX_MIME,
        headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}.xlsx"'},
    )
