"""Tasks given to grid workers, one row per worker; a campaign groups the tasks of one
assignment to several grids or a whole community so its completion is tracked per grid."""

from __future__ import annotations

from peewee import (
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from gridapp.db import BaseModel, VersionedModel, utcnow
from gridapp.matters.models import Matter
from gridapp.org.models import Community, Grid, User
from gridapp.registry.models import Household


class Campaign(BaseModel):
    title = CharField(max_length=200)
    description = TextField(default="")
    kind = CharField(max_length=12)  # "grids" | "community"
    community = ForeignKeyField(Community, null=True, on_delete="SET NULL")
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    due_at = DateTimeField(null=True)
    priority = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)


class Task(VersionedModel):
    title = CharField(max_length=200)
    description = TextField(default="")
    priority = IntegerField(default=0)  # 0 normal, 1 high, 2 urgent
    due_at = DateTimeField(null=True)
    state = CharField(max_length=12, default="assigned")
    assignee = ForeignKeyField(User, backref="tasks", on_delete="RESTRICT")
    grid = ForeignKeyField(Grid, null=True, backref="tasks", on_delete="SET NULL")
    campaign = ForeignKeyField(Campaign, null=True, backref="tasks", on_delete="CASCADE")
    household = ForeignKeyField(Household, null=True, on_delete="SET NULL")
    matter = ForeignKeyField(Matter, null=True, on_delete="SET NULL")
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    result_note = TextField(default="")
    photo_ids = TextField(default="[]")
    return_reason = TextField(default="")
    created_at = DateTimeField(default=utcnow)
    done_at = DateTimeField(null=True)
    # Pending alarms (cleared when fired or when the task is done), indexed for the job.
    warn_at = DateTimeField(null=True, index=True)
    overdue_at = DateTimeField(null=True, index=True)

    class Meta:
        indexes = (
            (("assignee", "state", "due_at"), False),
            (("grid", "state"), False),
            (("campaign", "grid", "state"), False),
        )


class TaskEvent(BaseModel):
    """Append-only history of a task's transitions."""

    task = ForeignKeyField(Task, backref="events", on_delete="CASCADE")
    at = DateTimeField(default=utcnow)
    actor = ForeignKeyField(User, null=True, on_delete="SET NULL")
    action = CharField(max_length=20)
    from_state = CharField(max_length=12)
    to_state = CharField(max_length=12)
    note = TextField(default="")
