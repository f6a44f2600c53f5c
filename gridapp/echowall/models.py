"""Echo wall tables: the unguessable public tokens of grids and communities (the QR on a poster
carries one instead of the sequential id)."""

from __future__ import annotations

from peewee import CharField, DateTimeField, IntegerField

from gridapp.db import BaseModel, utcnow


class EchoToken(BaseModel):
    kind = CharField(max_length=10)  # "grid" or "community"
    target_id = IntegerField()
    token = CharField(max_length=32, unique=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "echo_token"
        indexes = ((("kind", "target_id"), True),)
