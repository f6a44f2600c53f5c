"""The one rule for control characters and spreadsheet-live text (pure; no app imports).

Input: every text field (API bodies, sync ops, query strings, console and public forms, roster
cells) refuses C0 control characters other than tab, LF and CR — they have no business in a name
or a note, PostgreSQL cannot store U+0000, and openpyxl refuses the rest when exporting.
Output: legacy rows written before the rule are stripped of them when exported, and a cell that
a spreadsheet would evaluate (``= + - @``, or a leading tab/CR) is written as inert text.
"""

from __future__ import annotations

import re

# C0 minus TAB (09), LF (0A), CR (0D); the same set openpyxl refuses in cell values.
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def has_control(text: str) -> bool:
    return CONTROL_RE.search(text) is not None


def strip_control(text: str) -> str:
    return CONTROL_RE.sub("", text)


def is_live(text: str) -> bool:
    """Would Excel, LibreOffice or a CSV import treat this text as a formula (or a DDE call)?"""
    return text.startswith(FORMULA_PREFIXES)


def export_text(value: str) -> str:
    """A legacy text value fit for a cell: control characters removed."""
    return strip_control(value)


def csv_text(value: object) -> str:
    """A CSV field: control characters removed and live text prefixed with an apostrophe (the
    OWASP rule; CSV has no cell types, so the prefix is the only way to keep it inert)."""
    if value is None:
        return ""
    text = strip_control(str(value))
    return "'" + text if is_live(text) else text
