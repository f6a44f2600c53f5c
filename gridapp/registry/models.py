"""Registry (人房信息): buildings → households → residents, with care tags.

``grid`` is stored on every row (not only on the building) so that every scoped query is one
indexed equality on ``grid_id`` and never a join through the tree.
"""

from __future__ import annotations

from peewee import (
    BooleanField,
    CharField,
    CompositeKey,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from gridapp.db import BaseModel, VersionedModel, utcnow
from gridapp.org.models import Grid


class CareTag(BaseModel):
    """关爱标签; ``interval_days`` drives how often a household with such a resident is visited."""

    code = CharField(max_length=40, unique=True)
    name = CharField(max_length=40, unique=True)
    interval_days = IntegerField()
    sort = IntegerField(default=0)
    is_active = BooleanField(default=True)


class Building(VersionedModel):
    grid = ForeignKeyField(Grid, backref="buildings", on_delete="RESTRICT")
    name = CharField(max_length=100)
    address = CharField(max_length=200, default="")
    deleted = BooleanField(default=False)


class Household(VersionedModel):
    grid = ForeignKeyField(Grid, backref="households", on_delete="RESTRICT")
    building = ForeignKeyField(Building, backref="households", on_delete="RESTRICT")
    unit = CharField(max_length=20, default="")
    room = CharField(max_length=20, default="")
    address = CharField(max_length=200, default="")
    phone = CharField(max_length=20, default="")
    notes = TextField(default="")
    last_visit_at = DateTimeField(null=True)
    # Denormalised from the residents' care tags and the last visit, refreshed by the registry
    # service whenever either changes, so "due visits" is one indexed range scan.
    visit_interval_days = IntegerField(default=180)
    next_visit_due = DateTimeField(null=True, index=True)
    deleted = BooleanField(default=False)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("grid", "next_visit_due"), False),)


class Resident(VersionedModel):
    grid = ForeignKeyField(Grid, backref="residents", on_delete="RESTRICT")
    household = ForeignKeyField(Household, backref="residents", on_delete="RESTRICT")
    name = CharField(max_length=50)
    # Search keys: full pinyin ("zhangsan") and initials ("zs"), derived from the name.
    name_pinyin = CharField(max_length=200, default="", index=True)
    name_initials = CharField(max_length=50, default="", index=True)
    gender = CharField(max_length=1, default="")  # "M" / "F" / ""
    birth_year = IntegerField(null=True)
    phone = CharField(max_length=20, default="")
    phone_tail = CharField(max_length=4, default="", index=True)
    id_number = CharField(max_length=18, default="")
    relation = CharField(max_length=20, default="")
    notes = TextField(default="")
    deleted = BooleanField(default=False)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("grid", "name"), False),)


class ResidentTag(BaseModel):
    resident = ForeignKeyField(Resident, backref="tag_links", on_delete="CASCADE")
    tag = ForeignKeyField(CareTag, backref="resident_links", on_delete="CASCADE")

    class Meta:
        primary_key = CompositeKey("resident", "tag")
