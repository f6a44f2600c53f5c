"""The deadline job: warn at 80 % of a matter's deadline (预警), escalate past it (超时升级), and
remind 难事 departments of a due progress report.

``check_matter_deadlines(now)`` is the body, callable with any clock. It works in batches of
``CHUNK`` matters, one transaction each (so a pass never holds the write lock for long), with a
fixed number of set-based statements per batch whatever its size:

1. *claim*: one ``UPDATE … SET alarm = NULL WHERE id IN (…) AND alarm <= now`` (``RETURNING`` on
   PostgreSQL; on SQLite the ``BEGIN IMMEDIATE`` write lock makes a SELECT of the still-due ids
   followed by the UPDATE just as exclusive). A matter is warned only by the transaction that
   cleared its alarm, and the claim commits together with its effects, so two passes (or two
   workers) warn once. On PostgreSQL the claim also row-locks the matters until commit, so the
   versions read next cannot go stale under us.
2. load the claimed matters, their active parts and every recipient with a handful of queries;
3. escalation: one ``UPDATE`` per previous category (level + 1, version + 1, alarms cleared);
4. timeline events with one ``insert_rows``, matter change-log rows with one ``record_changes``,
   inbox rows (and their change-log rows) with one ``notify_many``; escalations, which the
   resident's tracking page shows, are announced to ``public``'s listeners after commit.

It reads only the indexed alarm columns, so a pass with nothing due is one statement.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import defaultdict

from flask_babel import gettext as _
from huey import crontab
from peewee import chunked

from gridapp.changes import record_changes
from gridapp.db import db, insert_rows, is_postgres, reserve_ids, utcnow
from gridapp.jobs import app_periodic_task
from gridapp.matters import people, public, states
from gridapp.matters.models import Matter, MatterEvent, MatterPart
from gridapp.matters.service import _link
from gridapp.notifications.service import notify_many
from gridapp.times import iso_utc

log = logging.getLogger(__name__)

CHUNK = 500
EVENT_COLS = [
    "matter_id",
    "at",
    "actor_id",
    "actor_role",
    "action",
    "from_state",
    "to_state",
    "department_id",
    "note",
    "photo_ids",
    "data",
]


def claim(model, column, ids: list[int], now: dt.datetime) -> list[int]:
    """Clear ``column`` on those of ``ids`` where it is still due; returns the ids cleared (call
    inside the transaction that acts on them)."""
    if not ids:
        return []
    due = (model.id.in_(ids), column.is_null(False), column <= now)
    if is_postgres():
        q = model.update({column: None}).where(*due).returning(model.id)
        return [r.id for r in q.execute()]
    # SQLite: the transaction holds the write lock from BEGIN IMMEDIATE on.
    got = [i for (i,) in model.select(model.id).where(*due).tuples()]
    if got:
        model.update({column: None}).where(model.id.in_(got)).execute()
    return got


def _due_ids(column, now: dt.datetime, limit: int) -> list[int]:
    return [
        i
        for (i,) in Matter.select(Matter.id)
        .where(column <= now)
        .order_by(column)
        .limit(limit)
        .tuples()
    ]


def anything_due(now: dt.datetime) -> bool:
    """One statement, three index probes (an OR of the columns would scan the table on SQLite)."""
    p = db.param
    sql = (
        f"SELECT 1 WHERE EXISTS (SELECT 1 FROM matter WHERE escalate_at <= {p})"
        f" OR EXISTS (SELECT 1 FROM matter WHERE warn_at <= {p})"
        f" OR EXISTS (SELECT 1 FROM matter WHERE progress_due_at <= {p})"
    )
    return db.execute_sql(sql, (now, now, now)).fetchone() is not None


class _Batch:
    """The claimed running matters of one chunk with what their events need, loaded in a
    fixed number of queries."""

    def __init__(self, ids: list[int], *, with_supervisors: bool) -> None:
        self.matters = [
            m
            for m in Matter.select().where(Matter.id.in_(ids)).order_by(Matter.id)
            if m.state in states.RUNNING_STATES
        ]
        mids = [m.id for m in self.matters]
        self.deps: dict[int, list[int]] = defaultdict(list)
        if mids:
            for mid, dep in (
                MatterPart.select(MatterPart.matter, MatterPart.department)
                .where(MatterPart.matter.in_(mids), MatterPart.state != "returned")
                .order_by(MatterPart.id)
                .tuples()
            ):
                self.deps[mid].append(dep)
        by_cat = defaultdict(list)
        for m in self.matters:
            by_cat[m.category].append(m)
        self.workers = people.grid_workers_by_grid(
            m.grid_id for m in by_cat["个事"] + by_cat["社事"]
        )
        sup_comms = {m.community_id for m in (self.matters if with_supervisors else by_cat["社事"])}
        self.sups = people.supervisors_by_community(sup_comms)
        self.dep_users = people.department_users_by_department(
            d
            for m in self.matters
            if m.category in states.DEPARTMENT_CATEGORIES
            for d in self.deps[m.id]
        )

    def handlers(self, m: Matter) -> list[int]:
        """``service.handlers_of`` from the loaded maps."""
        if m.category == "个事":
            return self.workers.get(m.grid_id, [])
        if m.category == "社事":
            return self.sups.get(m.community_id, []) + self.workers.get(m.grid_id, [])
        return [u for d in self.deps[m.id] for u in self.dep_users.get(d, [])]

    def matter_changes(self) -> list[dict]:
        """``service.record_matter`` for every matter of the batch."""
        out = []
        for m in self.matters:
            out.append(
                {
                    "entity": "matter",
                    "entity_id": m.id,
                    "grid_id": m.grid_id,
                    "community_id": m.community_id,
                }
            )
            out += [
                {"entity": "matter", "entity_id": m.id, "department_id": d} for d in self.deps[m.id]
            ]
        return out


def _event_row(m: Matter, action: str, from_state: str, note: str, data: dict, at) -> tuple:
    return (
        m.id,
        at,
        None,
        states.SYSTEM,
        action,
        from_state,
        m.state,
        None,
        note,
        "[]",
        json.dumps(data, ensure_ascii=False),
    )


def _escalate(ids: list[int], now: dt.datetime) -> int:
    b = _Batch(ids, with_supervisors=True) if ids else None
    if b is None or not b.matters:
        return 0
    at = utcnow()
    reason = _("Past its deadline: escalated automatically.")
    events, sends = [], []
    by_cat: dict[str | None, list[int]] = defaultdict(list)
    # Ids drawn up front, so that listeners can be told which events to look at.
    event_ids = reserve_ids(MatterEvent, len(b.matters))
    for eid, m in zip(event_ids, b.matters, strict=True):
        previous = b.handlers(m)
        old, before = m.category, m.state
        new = states.escalated_category(old)
        by_cat[old].append(m.id)
        m.state, m.category, m.level = "escalated", new, m.level + 1
        m.version, m.updated_at = m.version + 1, at
        m.warn_at = m.escalate_at = m.progress_due_at = None
        data = {"from_category": old, "category": new, "level": m.level}
        events.append((eid, *_event_row(m, "escalate", before, reason, data, at)))
        who = b.sups.get(m.community_id, []) + previous
        title = _("Matter escalated: %(t)s", t=m.title)
        sends.append((who, "matter.escalated", title, reason[:200], _link(m), True))
    for old, mids in by_cat.items():
        Matter.update(
            {
                Matter.state: "escalated",
                Matter.category: states.escalated_category(old),
                Matter.level: Matter.level + 1,
                Matter.version: Matter.version + 1,
                Matter.updated_at: at,
                Matter.warn_at: None,
                Matter.escalate_at: None,
                Matter.progress_due_at: None,
            }
        ).where(Matter.id.in_(mids)).execute()
    insert_rows(MatterEvent, ["id", *EVENT_COLS], events)
    record_changes(b.matter_changes())
    notify_many(sends)
    public.announce(
        (row[1], row[0])
        for row in events
        if public.is_public(MatterEvent(**dict(zip(EVENT_COLS, row[1:], strict=True))))
    )
    return len(b.matters)


def _remind(ids: list[int], kind: str) -> int:
    """A warning (``kind="warn"``) or a progress reminder (``"progress_due"``): an event, the
    change-log rows and the handlers' notifications; the matter row itself is unchanged apart
    from its claimed alarm, so its version stays (an edit in flight is not made stale)."""
    b = _Batch(ids, with_supervisors=False) if ids else None
    if b is None or not b.matters:
        return 0
    at = utcnow()
    events, sends = [], []
    for m in b.matters:
        if kind == "warn":
            data = {"due": iso_utc(m.deadline_at)}
            note = (
                "matter.due_soon",
                _("Due soon: %(t)s", t=m.title),
                _("This matter has used 80 percent of its time."),
            )
        else:
            data = {}
            note = ("matter.progress_due", _("Progress report due: %(t)s", t=m.title), "")
        events.append(_event_row(m, kind, m.state, "", data, at))
        sends.append((b.handlers(m), *note, _link(m), False))
    insert_rows(MatterEvent, EVENT_COLS, events)
    record_changes(b.matter_changes())
    notify_many(sends)
    return len(b.matters)


def check_matter_deadlines(
    now: dt.datetime | None = None, limit: int = 5000, chunk: int = CHUNK
) -> dict[str, int]:
    """One pass; returns how many matters were warned, escalated and reminded."""
    now = now or utcnow()
    counts = {"warned": 0, "escalated": 0, "progress": 0}
    if not anything_due(now):
        return counts
    # Escalation first: it stops the deadline, so an overdue matter is not also warned.
    passes = (
        ("escalated", Matter.escalate_at, _escalate),
        ("warned", Matter.warn_at, lambda ids, now: _remind(ids, "warn")),
        ("progress", Matter.progress_due_at, lambda ids, now: _remind(ids, "progress_due")),
    )
    for key, column, act in passes:
        for part in chunked(_due_ids(column, now, limit), chunk):
            with db.atomic():
                counts[key] += act(claim(Matter, column, list(part), now), now)
    if any(counts.values()):
        log.info("matter deadlines: %s", counts)
    return counts


@app_periodic_task(crontab(minute="*/5"))
def matter_deadline_job() -> dict[str, int]:
    from gridapp.tasks.jobs import check_task_deadlines

    out = check_matter_deadlines()
    out.update(check_task_deadlines())
    return out
