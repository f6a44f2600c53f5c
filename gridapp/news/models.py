"""News tables: items (versioned: edits are optimistic), their images (photos pipeline) and
attachments, residents' Web Push follows per community, one delivery row per (item, follower)
for an idempotent fan-out, and de-duplicated read counts (no personal data: a daily-salted hash).
"""

from __future__ import annotations

import uuid

from peewee import (
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    SmallIntegerField,
    TextField,
)

from gridapp.db import BaseModel, VersionedModel, utcnow
from gridapp.org.models import Community, User


def new_uid() -> str:
    return str(uuid.uuid4())


class NewsItem(VersionedModel):
    """One news item or policy notice of a community. ``uid`` makes its Atom entry id
    (``urn:uuid:``), stable across edits. Visible publicly from ``publish_at`` (UTC) until
    ``expires_at``, unless withdrawn; ``released_at`` is set once the publish time has come and
    the fan-out was queued (exactly once: a claim ``UPDATE … WHERE released_at IS NULL``)."""

    community = ForeignKeyField(Community, backref="news", on_delete="CASCADE", index=False)
    author = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False)
    uid = CharField(max_length=36, unique=True, default=new_uid)
    kind = CharField(max_length=10, default="news")  # "news" | "policy"
    title = CharField(max_length=200)
    body = TextField(default="")
    publish_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField(null=True)
    pinned = BooleanField(default=False)
    withdrawn = BooleanField(default=False)
    released_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "news_item"
        indexes = (
            (("community", "publish_at"), False),
            (("released_at", "publish_at"), False),
        )


class NewsImage(BaseModel):
    item = ForeignKeyField(NewsItem, backref="images", on_delete="CASCADE", index=False)
    photo_id = CharField(max_length=36, unique=True)
    sort = SmallIntegerField(default=0)

    class Meta:
        table_name = "news_image"
        indexes = ((("item", "sort"), False),)


class NewsAttachment(BaseModel):
    item = ForeignKeyField(NewsItem, backref="attachments", on_delete="CASCADE")
    filename = CharField(max_length=200)
    content_type = CharField(max_length=100)
    size = IntegerField()
    storage_key = CharField(max_length=200)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "news_attachment"


class NewsFollower(BaseModel):
    """A resident's browser following a community's news (no account, no user): unique per
    community and endpoint. ``locale``: the page's language when it followed."""

    community = ForeignKeyField(Community, on_delete="CASCADE", index=False)
    endpoint = CharField(max_length=2000)
    p256dh = CharField(max_length=100)
    auth = CharField(max_length=40)
    locale = CharField(max_length=10, default="")
    created_at = DateTimeField(default=utcnow)
    last_success_at = DateTimeField(null=True)

    class Meta:
        table_name = "news_follower"
        indexes = ((("community", "endpoint"), True),)


class NewsDelivery(BaseModel):
    """One push of one item to one follower: the unique pair makes the fan-out idempotent.
    status: queued → sending → sent | failed (a retry puts it back to queued)."""

    item = ForeignKeyField(NewsItem, on_delete="CASCADE", index=False)
    follower = ForeignKeyField(NewsFollower, on_delete="CASCADE")
    status = CharField(max_length=10, default="queued")
    attempts = SmallIntegerField(default=0)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "news_delivery"
        indexes = ((("item", "follower"), True), (("item", "status"), False))


class NewsRead(BaseModel):
    """A read of an item: ``visitor`` is a hash of (the day's random salt, address, browser)
    for the public page, or of (the salt, user id) for the app; unique per item, day, kind and
    visitor, so each counts once a day. The salt is dropped after its day: nobody, us included,
    can tie a row to a person afterwards."""

    item = ForeignKeyField(NewsItem, on_delete="CASCADE", index=False)
    day = DateField()
    kind = CharField(max_length=4)  # "web" | "app"
    visitor = CharField(max_length=32)

    class Meta:
        table_name = "news_read"
        indexes = ((("item", "day", "kind", "visitor"), True),)


class NewsSalt(BaseModel):
    day = DateField(primary_key=True)
    salt = CharField(max_length=64)

    class Meta:
        table_name = "news_salt"


class NewsSmsFollower(BaseModel):
    """A resident's SMS opt-in for a community's news: a mainland mobile (E.164), proved by a
    code sent to it (``verified_at``; unverified rows get nothing). The consent text and version
    agreed to are kept; stopping deletes the row (a later opt-in starts again)."""

    community = ForeignKeyField(Community, on_delete="CASCADE", index=False)
    phone = CharField(max_length=20)
    code_hash = CharField(max_length=64, default="")
    code_sent_at = DateTimeField(null=True)
    code_attempts = SmallIntegerField(default=0)
    verified_at = DateTimeField(null=True)
    consent_version = CharField(max_length=20, default="")
    consent_text = TextField(default="")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "news_sms_follower"
        indexes = ((("community", "phone"), True), (("community", "verified_at"), False))
