"""The in-app inbox: every notification is a row first; delivery channels only carry it.

Around it: announcements (one inbox row per recipient, unique per (announcement, recipient) so a
retried fan-out cannot write twice), push subscriptions (one per browser endpoint), per-user
preferences and quiet hours, and one ``Delivery`` row per (notification, channel, device) that
records status, attempts and the last error.
"""

from __future__ import annotations

from peewee import (
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from gridapp.db import BaseModel, utcnow
from gridapp.org.models import User


class Announcement(BaseModel):
    author = ForeignKeyField(User, null=True, backref="announcements", on_delete="SET NULL")
    title = CharField(max_length=200)
    body = TextField(default="")
    link = CharField(max_length=300, default="")
    urgent = BooleanField(default=False)
    community_id = IntegerField(null=True, index=True)
    grid_ids = TextField(default="")  # comma-separated grid ids when sent to a grid set
    recipients = IntegerField(default=0)
    status = CharField(max_length=12, default="pending")  # pending | done
    created_at = DateTimeField(default=utcnow)
    finished_at = DateTimeField(null=True)


class Notification(BaseModel):
    recipient = ForeignKeyField(User, backref="notifications", on_delete="CASCADE")
    type = CharField(max_length=40)  # task.assigned, matter.dispatched, announcement, ...
    title = CharField(max_length=200)
    body = TextField(default="")
    link = CharField(max_length=300, default="")
    urgent = BooleanField(default=False)
    created_at = DateTimeField(default=utcnow)
    read_at = DateTimeField(null=True)
    announcement = ForeignKeyField(
        Announcement, null=True, backref="notifications", on_delete="CASCADE"
    )
    # The escalation chain (policy.py): the next stage of the kind's policy and when it comes
    # due; both NULL once the chain has ended (read, nothing left, or a single-stage policy).
    hop_next = IntegerField(null=True)
    hop_due_at = DateTimeField(null=True, index=True)

    class Meta:
        indexes = (
            (("recipient", "read_at", "created_at"), False),
            (("announcement", "recipient"), True),
        )


class PushSubscription(BaseModel):
    """One browser's push resource; the same endpoint posted twice is one row."""

    user = ForeignKeyField(User, backref="push_subscriptions", on_delete="CASCADE")
    endpoint = CharField(max_length=2000, unique=True)
    p256dh = CharField(max_length=100)
    auth = CharField(max_length=40)
    expiration_time = DateTimeField(null=True)
    user_agent = CharField(max_length=300, default="")
    created_at = DateTimeField(default=utcnow)
    last_success_at = DateTimeField(null=True)


class NotificationPreference(BaseModel):
    """A user's choice for one (notification type, channel); no row means the channel default."""

    user = ForeignKeyField(User, backref="notification_preferences", on_delete="CASCADE")
    type = CharField(max_length=40)
    channel = CharField(max_length=20)
    enabled = BooleanField()

    class Meta:
        indexes = ((("user", "type", "channel"), True),)


class QuietHours(BaseModel):
    """Per-user quiet hours (minutes after local midnight); no row means the default 22:00–07:00
    Asia/Shanghai."""

    user = ForeignKeyField(User, unique=True, on_delete="CASCADE")
    enabled = BooleanField(default=True)
    start_min = IntegerField(default=22 * 60)
    end_min = IntegerField(default=7 * 60)
    timezone = CharField(max_length=40, default="Asia/Shanghai")


class Delivery(BaseModel):
    notification = ForeignKeyField(Notification, backref="deliveries", on_delete="CASCADE")
    channel = CharField(max_length=20)
    subscription = ForeignKeyField(
        PushSubscription, null=True, backref="deliveries", on_delete="SET NULL"
    )
    # "<notification>:<channel>:<subscription or 0>": a re-run dispatch inserts nothing twice.
    dedupe_key = CharField(max_length=60, unique=True)
    # queued | held (quiet hours) | retry | sending | sent | gone (404/410) | failed | skipped
    status = CharField(max_length=10, default="queued")
    attempts = IntegerField(default=0)
    status_code = IntegerField(null=True)
    error = TextField(default="")
    next_attempt_at = DateTimeField(null=True)
    claim = CharField(max_length=32, null=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    sent_at = DateTimeField(null=True)
    # The stage of the kind's escalation policy this row belongs to (0: the first).
    hop = IntegerField(null=True, default=0)
    # A channel's receipt (receipts.mark_delivered): SMS status report, service-worker ack.
    delivered_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("status", "next_attempt_at"), False),)


class NotificationPolicy(BaseModel):
    """An admin's escalation policy for one notification kind (no row: the default in code).
    ``hops`` is JSON: ``[{"channels": ["webpush", "console"], "wait": 0}, ...]``, wait in minutes
    after the previous stage went out."""

    kind = CharField(max_length=40, unique=True)
    urgent = BooleanField(default=False)
    hops = TextField(default="[]")
    updated_at = DateTimeField(default=utcnow)
    updated_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
