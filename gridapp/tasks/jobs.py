"""Task due-soon and overdue notifications (run by the matters' periodic deadline job).

Same pattern as the matter job: in batches of ``CHUNK`` tasks, one transaction each, the alarms
are claimed by one set-based UPDATE that clears them (``gridapp.matters.jobs.claim``) and the
notifications go in with one ``notify_many`` in the same transaction, so two passes notify once
and a pass costs a fixed number of statements per batch."""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from peewee import chunked

from gridapp.db import db, utcnow
from gridapp.notifications.service import notify_many
from gridapp.tasks.models import Task

CHUNK = 500


def _pass(column, kind: str, now: dt.datetime, limit: int, chunk: int = CHUNK) -> int:
    from gridapp.matters.jobs import claim

    count = 0
    ids = [
        i
        for (i,) in Task.select(Task.id).where(column <= now).order_by(column).limit(limit).tuples()
    ]
    for part in chunked(ids, chunk):
        with db.atomic():
            got = claim(Task, column, list(part), now)
            if not got:
                continue
            sends = []
            for task in Task.select().where(Task.id.in_(got)).order_by(Task.id):
                if kind == "task.due_soon":
                    title = _("Task due soon: %(t)s", t=task.title)
                    who = [task.assignee_id]
                else:
                    title = _("Task overdue: %(t)s", t=task.title)
                    who = [task.assignee_id] + ([task.created_by_id] if task.created_by_id else [])
                sends.append((who, kind, title, "", f"/tasks/{task.id}", kind == "task.overdue"))
            notify_many(sends)
            count += len(sends)
    return count


def check_task_deadlines(now: dt.datetime | None = None, limit: int = 5000) -> dict[str, int]:
    now = now or utcnow()
    return {
        "tasks_overdue": _pass(Task.overdue_at, "task.overdue", now, limit),
        "tasks_due_soon": _pass(Task.warn_at, "task.due_soon", now, limit),
    }
