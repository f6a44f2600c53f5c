"""Organisation tree (street → community → grid), departments and user accounts."""

from __future__ import annotations

from flask_login import UserMixin
from peewee import (
    BooleanField,
    CharField,
    CompositeKey,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
)

from gridapp.db import BaseModel, VersionedModel, utcnow

ROLES = ("admin", "supervisor", "grid_worker", "department")


class Street(BaseModel):
    name = CharField(max_length=100)
    code = CharField(max_length=40, unique=True)


class Community(BaseModel):
    street = ForeignKeyField(Street, backref="communities", on_delete="RESTRICT")
    name = CharField(max_length=100)
    code = CharField(max_length=40, unique=True)


class Grid(BaseModel):
    community = ForeignKeyField(Community, backref="grids", on_delete="RESTRICT")
    name = CharField(max_length=100)
    code = CharField(max_length=40, unique=True)
    sort = IntegerField(default=0)


class Department(BaseModel):
    name = CharField(max_length=100)
    code = CharField(max_length=40, unique=True)
    street = ForeignKeyField(Street, null=True, backref="departments", on_delete="SET NULL")
    is_active = BooleanField(default=True)


class User(VersionedModel, UserMixin):
    username = CharField(max_length=64, unique=True)
    password_hash = CharField(max_length=255)
    display_name = CharField(max_length=100)
    role = CharField(max_length=20, index=True)
    phone = CharField(max_length=20, default="")
    # Supervisors belong to a community or to a whole street; handlers to a department.
    street = ForeignKeyField(Street, null=True, on_delete="SET NULL")
    community = ForeignKeyField(Community, null=True, on_delete="SET NULL")
    department = ForeignKeyField(Department, null=True, on_delete="SET NULL")
    is_active = BooleanField(default=True)
    locale = CharField(max_length=10, default="")
    created_at = DateTimeField(default=utcnow)
    last_login_at = DateTimeField(null=True)
    last_sync_at = DateTimeField(null=True)

    # flask-login reads ``is_active`` as a property; the column above already provides it.
    def get_id(self) -> str:
        # Version in the session id: disabling a user or resetting a password bumps the version
        # and so ends every existing session of that user.
        return f"{self.id}:{self.version}"


class UserGrid(BaseModel):
    """A grid worker's grids: usually one, sometimes two."""

    user = ForeignKeyField(User, backref="grid_links", on_delete="CASCADE")
    grid = ForeignKeyField(Grid, backref="worker_links", on_delete="CASCADE")

    class Meta:
        primary_key = CompositeKey("user", "grid")
