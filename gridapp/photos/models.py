"""Photos: uploaded on their own with a client-generated UUID, then referenced by the visit,
matter or task that owns them (DESIGN section 9: a record never waits forever for a photo)."""

from __future__ import annotations

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField

from gridapp.db import BaseModel, utcnow
from gridapp.org.models import User


class Photo(BaseModel):
    id = CharField(max_length=36, primary_key=True)  # client-generated UUID
    uploader = ForeignKeyField(User, null=True, backref="photos", on_delete="SET NULL")
    grid_id = IntegerField(null=True, index=True)  # scope of the owning record
    # What owns it: ("visit", uuid) / ("matter", id) / ("task", id) / ("echo", id); empty until attached.
    owner_type = CharField(max_length=20, default="")
    owner_id = CharField(max_length=64, default="")
    content_type = CharField(max_length=40, default="image/jpeg")
    width = IntegerField(default=0)
    height = IntegerField(default=0)
    size = IntegerField(default=0)
    storage_key = CharField(max_length=200)
    thumb_key = CharField(max_length=200, default="")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("owner_type", "owner_id"), False),)
