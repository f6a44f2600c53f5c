"""SMS tables: every message sent or refused (``sms_message``), counters for the caps and the
monthly cost (``sms_counter``), and numbers the provider said cannot receive SMS
(``sms_number``, disabled with the reason)."""

from __future__ import annotations

from peewee import BigIntegerField, CharField, DateTimeField, IntegerField, TextField

from gridapp.db import BaseModel, utcnow


class SmsMessage(BaseModel):
    """One SMS. ``phone`` is kept (E.164) because the job and the receipts need it; every view
    shows it masked. ``dedupe_key`` makes a second request for the same thing a no-op."""

    phone = CharField(max_length=20)
    user_id = IntegerField(null=True)  # the staff member it went to, when it did
    delivery_id = IntegerField(null=True, index=True)  # the inbox delivery it carries, if any
    template = CharField(max_length=60)
    params = TextField(default="{}")  # JSON of the template parameters
    purpose = CharField(max_length=40)
    dedupe_key = CharField(max_length=120, unique=True)
    # queued | sending | retry | sent | delivered | failed | capped
    status = CharField(max_length=10, default="queued")
    provider = CharField(max_length=20, default="")
    serial = CharField(max_length=80, null=True, index=True)  # the provider's SerialNo / sid
    segments = IntegerField(default=0)
    cost = IntegerField(default=0)  # 厘 (0.001 CNY)
    attempts = IntegerField(default=0)
    status_code = IntegerField(null=True)
    error = TextField(default="")
    not_before = DateTimeField(null=True)  # held until then (quiet hours)
    created_at = DateTimeField(default=utcnow)
    claimed_at = DateTimeField(null=True)  # when a job took it (a crash leaves it "sending")
    sent_at = DateTimeField(null=True)
    receipt_at = DateTimeField(null=True)  # when the provider reported delivery or failure

    class Meta:
        table_name = "sms_message"
        indexes = ((("status", "not_before"), False), (("created_at",), False))


class SmsCounter(BaseModel):
    """A named counter: ``user:<id>:<day>``, ``phone:<e164>:<day>``, ``all:<day>`` (caps, local
    days), ``count:<month>``, ``segments:<month>``, ``cost:<month>`` (the month's spend)."""

    key = CharField(max_length=80, unique=True)
    value = BigIntegerField(default=0)

    class Meta:
        table_name = "sms_counter"


class SmsNumber(BaseModel):
    """A number the provider refused as invalid or blacklisted: no SMS goes to it again until
    someone changes it (``disabled_at`` cleared) or the phone on the record changes."""

    phone = CharField(max_length=20, unique=True)
    disabled_at = DateTimeField(null=True)
    reason = CharField(max_length=200, default="")

    class Meta:
        table_name = "sms_number"
