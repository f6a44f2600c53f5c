"""The in-app inbox: every notification is a row first; delivery channels only carry it."""

from __future__ import annotations

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, TextField

from gridapp.db import BaseModel, utcnow
from gridapp.org.models import User


class Notification(BaseModel):
    recipient = ForeignKeyField(User, backref="notifications", on_delete="CASCADE")
    type = CharField(max_length=40)  # task.assigned, matter.dispatched, announcement, ...
    title = CharField(max_length=200)
    body = TextField(default="")
    link = CharField(max_length=300, default="")
    urgent = BooleanField(default=False)
    created_at = DateTimeField(default=utcnow)
    read_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("recipient", "read_at", "created_at"), False),)
