"""Statements built once per shape, then run with new values.

Building a statement with peewee costs more Python than its round trip to PostgreSQL: the
session lookup (session, user and grids, one query) took 1.5 ms to build and 0.3 ms to run on
this machine, and a warm pull's statement (change counter, change log and four window checks)
several milliseconds — on two cores shared with PostgreSQL, that was most of an authenticated
request. So the hot statements are built once per *shape* (what changes the SQL text: the
engine, a role, how many grids) with stand-in values, and later calls only swap the values in.

A statement is cached only when that is proven safe: it is built twice with two different sets
of stand-ins, and every parameter must either be identical in both builds (a constant) or be a
stand-in (or a stand-in datetime shifted by a fixed interval, like ``since - 365 days``) in both,
in the same role. A value computed some other way (the clock, a string built from a value, an
integer plus one) differs between the builds in a way no stand-in explains: that shape is then
never cached and is built with the real values every time, as before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from gridapp.db import db

# Stand-ins: integers no id reaches, datetimes centuries from any data, strings no one sends.
_INT_BASE = (-(10**15), -(2 * 10**15))
_YEAR_BASE = (1100, 1150)
_DT_NEAR = dt.timedelta(days=20 * 366)

Build = Callable[[dict[str, Any]], tuple[str, list]]
_CACHE: dict[tuple, tuple[str, list[tuple]] | None] = {}


def _standins(values: dict[str, Any], which: int) -> tuple[dict[str, Any], dict, list]:
    """Stand-ins for ``values`` (build ``which`` of two): the values to build with, a map from
    stand-in int/str to its slot, and the datetime anchors."""
    out: dict[str, Any] = {}
    exact: dict[Any, tuple] = {}
    anchors: list[tuple[dt.datetime, str]] = []
    for i, (name, value) in enumerate(sorted(values.items())):
        j = len(anchors)  # datetimes a century apart, counted on their own (years end at 9999)
        base = _INT_BASE[which] - 1000 * 1000 * i
        if value is None or isinstance(value, bool):
            out[name] = value  # part of the shape: the caller's key must say which
        elif isinstance(value, int):
            out[name] = base
            exact[base] = (name,)
        elif isinstance(value, float):  # a visit's coordinates: a float no reading gives
            out[name] = base + 0.25
            exact[out[name]] = (name,)
        elif isinstance(value, str):
            out[name] = f"\x00{which}:{name}\x00"
            exact[out[name]] = (name,)
        elif isinstance(value, dt.datetime):
            out[name] = dt.datetime(_YEAR_BASE[which] + 100 * j, 6, 1)
            anchors.append((out[name], name))
        elif isinstance(value, (list, tuple, set, frozenset)):
            # Collections of ints (grid ids), read in sorted order: the k-th smallest stand-in
            # stands for the k-th smallest value.
            items = list(range(base, base + len(value)))
            out[name] = type(value)(items) if not isinstance(value, list) else items
            for k, item in enumerate(items):
                exact[item] = (name, k)
        else:
            raise TypeError(f"no stand-in for {name}={value!r}")
    return out, exact, anchors


def _slot(param: Any, exact: dict, anchors: list) -> tuple | None:
    if isinstance(param, (int, float, str)) and not isinstance(param, bool):
        try:
            return exact.get(param)
        except TypeError:
            return None
    if isinstance(param, dt.datetime):
        for anchor, name in anchors:
            if abs(param - anchor) < _DT_NEAR:
                return (name, "shift", param - anchor)
    return None


def _compile(build: Build, values: dict[str, Any]) -> tuple[str, list[tuple]] | None:
    sides = [_standins(values, which) for which in (0, 1)]
    try:
        built = [build(side[0]) for side in sides]
    except Exception:  # noqa: BLE001  (arithmetic a stand-in does not survive: not cacheable)
        return None
    (sql_a, params_a), (sql_b, params_b) = built
    if sql_a != sql_b or len(params_a) != len(params_b):
        return None
    slots: list[tuple] = []
    for a, b in zip(params_a, params_b, strict=True):
        slot_a = _slot(a, sides[0][1], sides[0][2])
        slot_b = _slot(b, sides[1][1], sides[1][2])
        if slot_a is None and slot_b is None:
            if type(a) is not type(b) or a != b:
                return None  # computed from something other than the values: not cacheable
            slots.append(("const", a))
        elif slot_a is not None and slot_a == slot_b:
            slots.append(("value", slot_a))
        else:
            return None
    # A number that reached the statement only as a boolean (a boolean column maps both
    # stand-ins to True) would look like a constant, and a later 0 would be sent as True.
    used = {slot[1][0] for slot in slots if slot[0] == "value"}
    if any(kind == "const" and isinstance(what, bool) for kind, what in slots) and any(
        isinstance(v, (int, float)) and not isinstance(v, bool) and k not in used
        for k, v in values.items()
    ):
        return None
    return sql_a, slots


def _fill(slot: tuple, values: dict[str, Any]) -> Any:
    kind, what = slot
    if kind == "const":
        return what
    name = what[0]
    if len(what) == 1:
        return values[name]
    if what[1] == "shift":
        return values[name] + what[2]
    return sorted(values[name])[what[1]]


def types_of(values: dict[str, Any]) -> tuple:
    """The part of a statement's shape its values decide: each name with its value's type
    (None included), and a bool's value itself (it is built in as it is)."""
    return tuple(
        (name, v if isinstance(v, bool) else type(v).__name__) for name, v in sorted(values.items())
    )


def statement(key: tuple, build: Build, values: dict[str, Any]) -> tuple[str, list]:
    """``build(values)``'s (sql, params), built with stand-ins once per ``key`` and engine.

    ``key`` must name everything that changes the SQL text besides the engine: the size of a
    collection, which values are None, a role. ``build`` must not read anything else that
    varies (it is then found out and simply not cached)."""
    full_key = (type(db.obj), *key)
    compiled = _CACHE.get(full_key, False)
    if compiled is False:
        compiled = _CACHE[full_key] = _compile(build, values)
    if compiled is None:
        return build(values)
    sql, slots = compiled
    return sql, [_fill(slot, values) for slot in slots]


# What a peewee cursor wrapper works out from a result's columns before its first row (which
# column feeds which model and field, the converters): a quarter of the session lookup's time,
# the same for every run of one statement. Kept per statement and engine, copied into the next
# wrapper for it.
_READERS: dict[tuple, dict[str, Any]] = {}
_PER_RESULT = frozenset({"cursor", "count", "index", "initialized", "populated", "row_cache"})


def rows(key: tuple, shape: Any, cursor: Any) -> list:
    """Every row of ``cursor`` as ``shape`` (the query that produced its SQL) would read it,
    reading to the end (a cursor left open keeps SQLite's read snapshot). ``key`` names the
    statement, as for :func:`statement`: one SQL text, so one set of result columns."""
    wrapper = shape._get_cursor_wrapper(cursor)
    full_key = (type(db.obj), *key)
    state = _READERS.get(full_key)
    if state is not None:
        wrapper.__dict__.update(state)
        wrapper.initialized = True
    out = list(wrapper.iterator())
    if state is None and wrapper.initialized:
        _READERS[full_key] = {k: v for k, v in vars(wrapper).items() if k not in _PER_RESULT}
    return out


_SHAPES: dict[tuple, Any] = {}  # per statement and engine: a query whose rows its SQL returns


def fetch(key: tuple, query: Callable[[dict[str, Any]], Any], values: dict[str, Any]) -> list:
    """Every row of the peewee query ``query(values)`` builds, as that query reads it: its SQL
    through :func:`statement`, its rows through :func:`rows` (the first query built for ``key``
    and engine stands for every later one: one SQL text, one set of result columns)."""
    sql, params = statement(key, lambda v: query(v).sql(), values)
    full_key = (type(db.obj), *key)
    shape = _SHAPES.get(full_key)
    if shape is None:
        shape = _SHAPES[full_key] = query(values)
    return rows(key, shape, db.execute_sql(sql, params))


def execute(key: tuple, query: Callable[[dict[str, Any]], Any], values: dict[str, Any]) -> Any:
    """Run the statement the peewee query ``query(values)`` builds (a write, or a read whose
    rows the caller takes as plain tuples), its SQL through :func:`statement`: the cursor."""
    sql, params = statement(key, lambda v: query(v).sql(), values)
    return db.execute_sql(sql, params)
