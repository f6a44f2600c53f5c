"""Exports to .xlsx (openpyxl, write-only mode so a large export streams in constant memory).
Every export is audited: who exported what, with which filters; every cell goes through
``gridapp.exports`` (no formulas, no control characters)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Sequence
from typing import Any

from flask import Response
from flask_babel import gettext as _
from openpyxl import Workbook

from gridapp.audit import write_audit
from gridapp.exports import append_row
from gridapp.times import LOCAL_TZ, local_naive

MAX_ROWS = 100_000
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def local(value: dt.datetime | None) -> dt.datetime | None:
    """Naive UTC → naive Asia/Shanghai (Excel has no time zones: the header says which, see
    ``time_header``)."""
    return local_naive(value)


def time_header(label: str) -> str:
    """A time column's header names its zone: "截止时间（北京时间）"."""
    return _("%(label)s (Beijing time)", label=label)


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
    stamp = dt.datetime.now(LOCAL_TZ).strftime("%Y%m%d-%H%M")
    return Response(
        data,
        mimetype=XLSX_MIME,
        headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}.xlsx"'},
    )
