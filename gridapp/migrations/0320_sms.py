"""SMS: sms_message (every SMS with its template, provider serial, status, cost; phone kept for
the job and receipts, masked in every view), sms_counter (caps and monthly cost), sms_number
(numbers the provider refused: invalid or blacklisted)."""

from peewee import *


def up(migrator, db):
    class SmsMessage(Model):
        phone = CharField(max_length=20)
        user_id = IntegerField(null=True)
        delivery_id = IntegerField(null=True, index=True)
        template = CharField(max_length=60)
        params = TextField(default="{}")
        purpose = CharField(max_length=40)
        dedupe_key = CharField(max_length=120, unique=True)
        status = CharField(max_length=10, default="queued")
        provider = CharField(max_length=20, default="")
        serial = CharField(max_length=80, null=True, index=True)
        segments = IntegerField(default=0)
        cost = IntegerField(default=0)
        attempts = IntegerField(default=0)
        status_code = IntegerField(null=True)
        error = TextField(default="")
        not_before = DateTimeField(null=True)
        created_at = DateTimeField()
        claimed_at = DateTimeField(null=True)
        sent_at = DateTimeField(null=True)
        receipt_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "sms_message"
            indexes = ((("status", "not_before"), False), (("created_at",), False))

    class SmsCounter(Model):
        key = CharField(max_length=80, unique=True)
        value = BigIntegerField(default=0)

        class Meta:
            database = db
            table_name = "sms_counter"

    class SmsNumber(Model):
        phone = CharField(max_length=20, unique=True)
        disabled_at = DateTimeField(null=True)
        reason = CharField(max_length=200, default="")

        class Meta:
            database = db
            table_name = "sms_number"

    db.create_tables([SmsMessage, SmsCounter, SmsNumber])
