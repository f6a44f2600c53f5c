"""Server-side sessions and login throttling state.

A session row is the only thing a cookie points at: the cookie carries a random token, the
table keeps its SHA-256 (a database dump cannot be replayed as cookies). Ending a session is an
UPDATE here, so every process sees it on the next request.
"""

from __future__ import annotations

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
)

from gridapp.db import BaseModel, utcnow
from gridapp.org.models import User

SESSION_KINDS = ("web", "device")


class UserSession(BaseModel):
    id = AutoField()
    token_hash = CharField(max_length=64, unique=True)
    # The hash the token had before its last rotation: honoured for a short grace period so
    # requests already in flight with the old cookie do not fail.
    prev_hash = CharField(max_length=64, null=True, index=True)
    rotated_at = DateTimeField(default=utcnow)
    user = ForeignKeyField(User, on_delete="CASCADE", backref="sessions")
    kind = CharField(max_length=10, default="web")
    remember = BooleanField(default=False)
    created_at = DateTimeField(default=utcnow)
    last_seen_at = DateTimeField(default=utcnow)
    idle_expires_at = DateTimeField()
    expires_at = DateTimeField()
    user_agent = CharField(max_length=120, default="")
    ip = CharField(max_length=64, default="")
    revoked_at = DateTimeField(null=True)
    revoked_reason = CharField(max_length=20, default="")

    class Meta:
        table_name = "user_session"
        indexes = ((("user", "revoked_at"), False),)


class LoginThrottle(BaseModel):
    """Failed-login counters per account (``u:<name>``) and per address (``a:<ip>``) when no
    Redis is configured: the database is shared by every process, process memory is not."""

    key = CharField(max_length=100, primary_key=True)
    failures = IntegerField(default=0)
    last_failure_at = DateTimeField(default=utcnow)
    locked_until = DateTimeField(null=True)
