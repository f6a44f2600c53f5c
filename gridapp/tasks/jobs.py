"""Task due-soon and overdue notifications (run by the matters' periodic deadline job).

Same pattern as the matter job: each alarm is claimed by a conditional UPDATE that clears it, in
the same transaction as its notification, so two passes notify once."""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _

from gridapp.db import db, utcnow
from gridapp.notifications.service import notify
from gridapp.tasks.models import Task


def _pass(column, kind: str, now: dt.datetime, limit: int) -> int:
    count = 0
    ids = [
        i
        for (i,) in Task.select(Task.id).where(column <= now).order_by(column).limit(limit).tuples()
    ]
    for tid in ids:
        with db.atomic():
            claimed = (
                Task.update({column: None})
                .where(Task.id == tid, column.is_null(False), column <= now)
                .execute()
            )
            if claimed != 1:
                continue
            task = Task.get_by_id(tid)
            if kind == "task.due_soon":
                title = _("Task due soon: %(t)s", t=task.title)
                who = [task.assignee_id]
            else:
                title = _("Task overdue: %(t)s", t=task.title)
                who = [task.assignee_id] + ([task.created_by_id] if task.created_by_id else [])
            notify(who, kind, title, "", f"/tasks/{task.id}", urgent=kind == "task.overdue")
            count += 1
    return count


def check_task_deadlines(now: dt.datetime | None = None, limit: int = 5000) -> dict[str, int]:
    now = now or utcnow()
    return {
        "tasks_overdue": _pass(Task.overdue_at, "task.overdue", now, limit),
        "tasks_due_soon": _pass(Task.warn_at, "task.due_soon", now, limit),
    }
