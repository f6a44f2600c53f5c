"""Echo wall tables: the unguessable public tokens of grids and communities (the QR on a poster
carries one instead of the sequential id), and the residents' Web Push subscriptions to a
matter's tracking page."""

from __future__ import annotations

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from gridapp.db import BaseModel, utcnow
from gridapp.matters.models import Matter


class EchoToken(BaseModel):
    kind = CharField(max_length=10)  # "grid" or "community"
    target_id = IntegerField()
    token = CharField(max_length=32, unique=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "echo_token"
        indexes = ((("kind", "target_id"), True),)


class EchoPushSubscription(BaseModel):
    """A browser subscribed to one matter's tracking page: bound to the matter (its tracking
    code), never to a user. One browser may follow several matters with one endpoint, so the
    endpoint is unique per matter, not overall. Gone with the matter."""

    # no index of its own: the unique (matter, endpoint) index serves lookups by matter
    matter = ForeignKeyField(Matter, backref="push_subscriptions", on_delete="CASCADE", index=False)
    endpoint = CharField(max_length=2000)
    p256dh = CharField(max_length=100)
    auth = CharField(max_length=40)
    # The tracking page's language when the browser followed it ('' = the default locale).
    locale = CharField(max_length=10, default="")
    created_at = DateTimeField(default=utcnow)
    last_success_at = DateTimeField(null=True)

    class Meta:
        table_name = "echo_push_subscription"
        indexes = ((("matter", "endpoint"), True),)


class EchoSmsConsent(BaseModel):
    """A resident's consent to SMS about their matter: one SMS when it is answered, one when it
    is closed, to the phone they left on the report. The record keeps what was agreed to (the
    consent text as shown, its version, the channel, when) and when it was withdrawn; a new
    opt-in after a withdrawal is a new row, so the history stays."""

    matter = ForeignKeyField(Matter, backref="sms_consents", on_delete="CASCADE")
    phone = CharField(max_length=20)  # E.164, copied from the report's contact phone
    channel = CharField(max_length=10, default="sms")
    source = CharField(max_length=20, default="tracking_page")
    consent_version = CharField(max_length=20)
    consent_text = TextField()
    locale = CharField(max_length=10, default="")
    consented_at = DateTimeField(default=utcnow)
    withdrawn_at = DateTimeField(null=True)

    class Meta:
        table_name = "echo_sms_consent"
        indexes = ((("matter", "withdrawn_at"), False),)
