"""Open311 tables: integrator API keys (hashed, scoped to communities), a community's
jurisdiction id when it is not the community's code, building positions (buildings carry no
geography of their own), and the request each Open311 POST made (the matter plus what only the
integrator sent: location, service code, the reporter's name and e-mail)."""

from __future__ import annotations

from peewee import (
    CharField,
    DateTimeField,
    DoubleField,
    ForeignKeyField,
    TextField,
)

from gridapp.db import BaseModel, utcnow
from gridapp.matters.models import Matter
from gridapp.org.models import Community, User
from gridapp.registry.models import Building


class Open311Key(BaseModel):
    """One integrator's key (a city's 12345 platform, a district's grid platform). Only the
    SHA-256 of the key is stored (the key is 256 random bits, so a plain hash is enough); the
    prefix identifies it in the console and the audit log."""

    name = CharField(max_length=100)
    prefix = CharField(max_length=16)
    key_hash = CharField(max_length=64, unique=True)
    community_ids = TextField(default="[]")  # JSON: the jurisdictions it may file in
    rate_limit = CharField(max_length=40, default="")  # "" = the configured default
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    revoked_at = DateTimeField(null=True)
    revoked_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    last_used_at = DateTimeField(null=True)

    class Meta:
        table_name = "open311_key"


class Open311Jurisdiction(BaseModel):
    """A community's jurisdiction_id when it should not be the community's code (e.g. the
    domain the city's 12345 platform already uses for it)."""

    community = ForeignKeyField(Community, unique=True, on_delete="CASCADE")
    jurisdiction_id = CharField(max_length=100, unique=True)

    class Meta:
        table_name = "open311_jurisdiction"


class Open311BuildingPoint(BaseModel):
    """Where a building stands (WGS84). Set by an admin, or derived from the GPS fixes of home
    visits to its households; an admin's point is never replaced by a derived one."""

    building = ForeignKeyField(Building, unique=True, on_delete="CASCADE")
    lat = DoubleField()
    lon = DoubleField()
    source = CharField(max_length=10, default="admin")  # "admin" | "visits"
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "open311_building_point"
        indexes = ((("lat", "lon"), False),)


class Open311Request(BaseModel):
    """The Open311 side of a matter it created. ``contact_name``/``contact_email`` are personal
    data: kept for the handlers, never returned by the API."""

    matter = ForeignKeyField(Matter, unique=True, on_delete="CASCADE")
    key = ForeignKeyField(Open311Key, null=True, on_delete="SET NULL")
    service_code = CharField(max_length=40)
    building = ForeignKeyField(Building, null=True, on_delete="SET NULL")
    lat = DoubleField(null=True)
    lon = DoubleField(null=True)
    address_string = CharField(max_length=200, default="")
    media_url = CharField(max_length=500, default="")
    contact_name = CharField(max_length=100, default="")
    contact_email = CharField(max_length=200, default="")
    attributes = TextField(default="{}")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "open311_request"
