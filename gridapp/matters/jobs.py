"""The deadline job: warn at 80 % of a matter's deadline (预警), escalate past it (超时升级), and
remind 难事 departments of a due progress report.

``check_matter_deadlines(now)`` is the body, callable with any clock. Each alarm is *claimed* by
clearing its column in a conditional UPDATE inside the same transaction as its notification, so
two passes (or two workers) warn once. It reads only the indexed alarm columns, so a pass with
nothing due is a couple of empty index range scans.
"""

from __future__ import annotations

import datetime as dt
import logging

from flask_babel import gettext as _
from huey import crontab

from gridapp.db import db, utcnow
from gridapp.jobs import app_periodic_task
from gridapp.matters import states
from gridapp.matters.models import Matter
from gridapp.matters.service import _event, _link, handlers_of, record_matter, transition_matter
from gridapp.notifications.service import notify

log = logging.getLogger(__name__)


def _claim(column, matter_id: int, now: dt.datetime) -> bool:
    return (
        Matter.update({column: None})
        .where(Matter.id == matter_id, column.is_null(False), column <= now)
        .execute()
        == 1
    )


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


def check_matter_deadlines(now: dt.datetime | None = None, limit: int = 5000) -> dict[str, int]:
    """One pass; returns how many matters were warned, escalated and reminded."""
    now = now or utcnow()
    counts = {"warned": 0, "escalated": 0, "progress": 0}
    if not anything_due(now):
        return counts
    for mid in _due_ids(Matter.escalate_at, now, limit):
        with db.atomic():
            if not _claim(Matter.escalate_at, mid, now):
                continue
            matter = Matter.get_by_id(mid)
            if matter.state not in states.RUNNING_STATES:
                continue
            transition_matter(
                None,
                mid,
                "escalate",
                version=matter.version,
                reason=_("Past its deadline: escalated automatically."),
                _matter=matter,
            )
            counts["escalated"] += 1
    for mid in _due_ids(Matter.warn_at, now, limit):
        with db.atomic():
            if not _claim(Matter.warn_at, mid, now):
                continue
            matter = Matter.get_by_id(mid)
            if matter.state not in states.RUNNING_STATES:
                continue
            _event(
                matter,
                None,
                states.SYSTEM,
                "warn",
                matter.state,
                data={"due": str(matter.deadline_at)},
            )
            record_matter(matter)
            notify(
                handlers_of(matter),
                "matter.due_soon",
                _("Due soon: %(t)s", t=matter.title),
                _("This matter has used 80 percent of its time."),
                _link(matter),
            )
            counts["warned"] += 1
    for mid in _due_ids(Matter.progress_due_at, now, limit):
        with db.atomic():
            if not _claim(Matter.progress_due_at, mid, now):
                continue
            matter = Matter.get_by_id(mid)
            if matter.state not in states.RUNNING_STATES:
                continue
            _event(matter, None, states.SYSTEM, "progress_due", matter.state)
            record_matter(matter)
            notify(
                handlers_of(matter),
                "matter.progress_due",
                _("Progress report due: %(t)s", t=matter.title),
                "",
                _link(matter),
            )
            counts["progress"] += 1
    if any(counts.values()):
        log.info("matter deadlines: %s", counts)
    return counts


@app_periodic_task(crontab(minute="*/5"))
def matter_deadline_job() -> dict[str, int]:
    from gridapp.tasks.jobs import check_task_deadlines

    out = check_matter_deadlines()
    out.update(check_task_deadlines())
    return out
