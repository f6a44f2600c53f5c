"""Back-dating for the demo's history: the one place where seeded rows get their past times.

The demo writes its history through the real service verbs (``log_visit``, ``report_matter``,
``transition_matter``, ``assign_task``, ``announce`` …) so timelines, change log and inbox are
exactly what the app would have written. Those verbs stamp ``utcnow()`` themselves (a client
must never choose when a timeline event happened), so each verb call is made inside
``clock.at(when)``, which notes the rows that call created; ``backdate()`` then moves them to
the time the story says, in bulk, once. Rows a verb *updates* in place (a matter, a task) get
their times from their own timeline afterwards (``derive_times``), so a row and its timeline
cannot disagree.

Only the append-only rows whose id says when they were written are tracked here; the sync
change log keeps the seeding time on purpose (it records when a device could first pull the
row, which is now).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from gridapp.audit import AuditLog
from gridapp.db import db
from gridapp.matters.models import MatterEvent, MatterPart
from gridapp.notifications.models import Announcement, Notification
from gridapp.tasks.models import Campaign, TaskEvent

# table → the columns that carry "when this row was written"
TRACKED = {
    MatterEvent: ("at",),
    MatterPart: ("created_at", "updated_at"),
    Notification: ("created_at",),
    TaskEvent: ("at",),
    Campaign: ("created_at",),
    Announcement: ("created_at", "finished_at"),
    AuditLog: ("at",),
}


class Clock:
    """Remembers, per tracked table, which id ranges were written at which story time."""

    def __init__(self) -> None:
        self.models = list(TRACKED)
        # every table's highest id in one statement (a query per table was 12 % of seeding)
        self.sql = "SELECT " + ", ".join(
            f'(SELECT MAX(id) FROM "{m._meta.table_name}")' for m in self.models
        )
        self.high = self._tops()
        self.spans: dict[type, list[tuple[int, int, dt.datetime]]] = {m: [] for m in TRACKED}

    def _tops(self) -> dict[type, int]:
        row = db.execute_sql(self.sql).fetchone()
        return {m: v or 0 for m, v in zip(self.models, row, strict=True)}

    @contextmanager
    def at(self, when: dt.datetime) -> Iterator[None]:
        yield
        for model, top in self._tops().items():
            if top > self.high[model]:
                self.spans[model].append((self.high[model], top, when))
                self.high[model] = top

    def backdate(self) -> None:
        """Give every tracked row its story time (one UPDATE per verb call and table)."""
        with db.atomic():
            for model, spans in self.spans.items():
                cols = TRACKED[model]
                for lo, hi, when in spans:
                    model.update({getattr(model, c): when for c in cols}).where(
                        (model.id > lo) & (model.id <= hi)
                    ).execute()
