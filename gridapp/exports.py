"""Safe spreadsheet writing shared by every export (roster, matters, tasks, …).

Each text cell goes through ``gridapp.textrules``: control characters stripped, and text a
spreadsheet would evaluate (``=HYPERLINK(...)``, ``+``, ``-``, ``@``, leading tab/CR) stored as a
string-typed cell with Excel's quote prefix, so neither Excel nor LibreOffice evaluates it (not on
opening, not when the user edits the cell) while the text itself stays exactly what was typed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from gridapp.textrules import csv_text, is_live, strip_control


def xlsx_cell(ws: Any, value: Any, *, bold: bool = False) -> Any:
    """A write-only cell for ``value``; text is cleaned and never a formula."""
    if isinstance(value, str):
        text = strip_control(value)
        cell = WriteOnlyCell(ws, value=text)
        if cell.data_type != "s" or is_live(text):
            cell.data_type = "s"  # openpyxl makes any "=…" a formula
            cell.quotePrefix = True
    else:
        cell = WriteOnlyCell(ws, value=value)
    if bold:
        cell.font = Font(bold=True)
    return cell


def append_row(ws: Any, values: Sequence[Any], *, bold: bool = False) -> None:
    ws.append([xlsx_cell(ws, v, bold=bold) for v in values])


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> tuple[bytes, int]:
    """UTF-8 CSV with a BOM (Excel on Windows reads it as UTF-8 then), every field neutralised."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([csv_text(h) for h in header])
    n = 0
    for row in rows:
        writer.writerow([csv_text(v) for v in row])
        n += 1
    return ("\ufeff" + out.getvalue()).encode("utf-8"), n
