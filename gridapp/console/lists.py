"""Paged, filterable, sortable lists: the one helper every console list goes through.

Sorting is by a whitelisted key (never a column name from the URL); paging is LIMIT/OFFSET with
a COUNT on the same filtered query, both served by the table's indexes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import request, url_for
from flask_babel import gettext as _
from peewee import Field, ModelSelect, Ordering

from gridapp.api import INT_MAX, INT_MIN
from gridapp.errors import ValidationFailed

PER_PAGE_CHOICES = (25, 50, 100, 200)


def _int_arg(name: str, default: int, lo: int, hi: int) -> int:
    try:
        value = int(request.args.get(name, default))
    except (TypeError, ValueError):
        return default
    return max(lo, min(hi, value))


@dataclass
class Listing:
    rows: list[Any]
    total: int
    page: int
    per_page: int
    sort: str
    desc: bool
    sort_keys: Sequence[str] = field(default_factory=tuple)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def url(self, **changes: Any) -> str:
        """The current page's URL with some query arguments changed (None removes one)."""
        args = request.args.to_dict(flat=False)
        for key, value in changes.items():
            if value is None:
                args.pop(key, None)
            else:
                args[key] = [str(value)]
        return url_for(request.endpoint, **(request.view_args or {}), **args)

    def sort_url(self, key: str) -> str:
        desc = not self.desc if key == self.sort else False
        return self.url(sort=key, dir="desc" if desc else "asc", page=None)


def paginate(
    query: ModelSelect,
    sorts: Mapping[str, Field | Sequence[Field]],
    default_sort: str,
    default_desc: bool = False,
    tiebreak: Field | None = None,
) -> Listing:
    """Apply ``?sort=&dir=&page=&per=`` to ``query`` and return one page of rows."""
    sort = request.args.get("sort", default_sort)
    if sort not in sorts:
        sort = default_sort
    direction = request.args.get("dir")
    desc = default_desc if direction not in ("asc", "desc") else direction == "desc"
    per_page = _int_arg("per", PER_PAGE_CHOICES[0], 5, PER_PAGE_CHOICES[-1])
    fields = sorts[sort]
    fields = list(fields) if isinstance(fields, list | tuple) else [fields]
    if tiebreak is not None:
        fields.append(tiebreak)
    # An entry that is already an ordering (``Matter.urgent.desc()``) keeps its direction.
    order = [f if isinstance(f, Ordering) else (f.desc() if desc else f.asc()) for f in fields]
    total = query.order_by().count()
    pages = max(1, -(-total // per_page))
    page = _int_arg("page", 1, 1, pages)
    rows = list(query.order_by(*order).paginate(page, per_page))
    return Listing(rows, total, page, per_page, sort, desc, tuple(sorts))


def arg(name: str, default: str = "") -> str:
    return (request.args.get(name) or default).strip()


def form_int(name: str, default: int | None = None) -> int | None:
    """An integer form field: ``default`` when empty, else a number an id or count column can
    hold, or a ``ValidationFailed`` naming the field (never a ValueError, never a number the
    database refuses)."""
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed(name, _("A number is required.")) from None
    if not INT_MIN <= value <= INT_MAX:
        raise ValidationFailed(name, _("The number is out of range."), code="out_of_range")
    return value


def form_ids(name: str) -> list[int]:
    """The ids ticked in a multi-value field (anything that is not one is ignored)."""
    return [int(v) for v in request.form.getlist(name) if v.isdigit() and int(v) <= INT_MAX]


def int_arg(name: str) -> int | None:
    """An integer query argument, or None when absent, not a number, or beyond what an id
    column holds (a link that names nothing shows the unfiltered page, not a 500)."""
    try:
        value = int(request.args.get(name, ""))
    except ValueError:
        return None
    return value if INT_MIN <= value <= INT_MAX else None
