"""Matters (事项) under the four categories (四事分办): the matter, its department parts, its
append-only timeline, deadline rules and the admin's calendar overrides.

``warn_at``/``escalate_at`` are the *pending* alarms of the running deadline: set on dispatch,
cleared once fired or when the deadline stops, and indexed, so the deadline job is two index
range scans that find nothing when nothing is due.
"""

from __future__ import annotations

from peewee import (
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from gridapp.db import BaseModel, VersionedModel, utcnow
from gridapp.org.models import Community, Department, Grid, User


class DeadlineRule(BaseModel):
    """How long a category may take: per community and department, falling back to the
    street-wide rule (community null) and then to the built-in defaults."""

    community = ForeignKeyField(Community, null=True, on_delete="CASCADE")
    department = ForeignKeyField(Department, null=True, on_delete="CASCADE")
    category = CharField(max_length=10)
    amount = IntegerField()
    unit = CharField(max_length=10, default="workdays")  # "workdays" | "hours"
    progress_every = IntegerField(null=True)  # working days between progress reports (难事)

    class Meta:
        indexes = ((("category", "community", "department"), True),)


class CalendarDay(BaseModel):
    """An admin's override of the official calendar (a late-published 调休, a local closure)."""

    day = DateField(unique=True)
    is_working = BooleanField()
    note = CharField(max_length=200, default="")


class Matter(VersionedModel):
    code = CharField(max_length=12, unique=True)  # public tracking code
    source = CharField(max_length=12)  # worker | resident | supervisor
    reporter = ForeignKeyField(User, null=True, backref="reported_matters", on_delete="SET NULL")
    contact_phone = CharField(max_length=20, default="")
    grid = ForeignKeyField(Grid, backref="matters", on_delete="RESTRICT")
    community = ForeignKeyField(Community, backref="matters", on_delete="RESTRICT")
    title = CharField(max_length=200, default="")
    text = TextField()
    photo_ids = TextField(default="[]")
    state = CharField(max_length=12, default="reported")
    category = CharField(max_length=10, null=True)
    suggested_category = CharField(max_length=10, null=True)  # the reporter's; triage decides
    urgent = BooleanField(default=False)
    level = IntegerField(default=0)  # raised by each escalation
    result = TextField(default="")  # the public reply (回音)
    rating = CharField(max_length=10, null=True)
    rating_key = CharField(max_length=64, null=True)  # sha256 of the resident's rating key
    deadline_start = DateTimeField(null=True)
    deadline_at = DateTimeField(null=True)
    warn_at = DateTimeField(null=True, index=True)
    escalate_at = DateTimeField(null=True, index=True)
    progress_every = IntegerField(null=True)
    progress_due_at = DateTimeField(null=True, index=True)
    created_at = DateTimeField(default=utcnow)
    closed_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("grid", "state", "created_at"), False),)


class MatterPart(VersionedModel):
    """One department's share of a dispatched 专事 (one part) or joint 难事 (several)."""

    matter = ForeignKeyField(Matter, backref="parts", on_delete="CASCADE")
    department = ForeignKeyField(Department, backref="matter_parts", on_delete="RESTRICT")
    state = CharField(max_length=12, default="dispatched")
    lead = BooleanField(default=False)
    note = TextField(default="")
    result = TextField(default="")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("matter", "department"), True),
            (("department", "state"), False),
        )


class MatterEvent(BaseModel):
    """The append-only timeline: never updated, never deleted."""

    matter = ForeignKeyField(Matter, backref="events", on_delete="CASCADE")
    at = DateTimeField(default=utcnow)
    actor = ForeignKeyField(User, null=True, on_delete="SET NULL")
    actor_role = CharField(max_length=20)  # a user role, "resident" or "system"
    action = CharField(max_length=20)
    from_state = CharField(max_length=12)
    to_state = CharField(max_length=12)
    department = ForeignKeyField(Department, null=True, on_delete="SET NULL")
    note = TextField(default="")
    photo_ids = TextField(default="[]")
    data = TextField(default="{}")  # category, rating, departments … as JSON

    class Meta:
        indexes = ((("matter", "at"), False),)
