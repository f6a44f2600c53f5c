"""Echo wall: echo_sms_consent, a resident's recorded consent to one SMS when their matter is
answered and one when it is closed (text and version agreed to, channel, time, withdrawal)."""

from peewee import *


def up(migrator, db):
    class Matter(Model):
        class Meta:
            database = db
            table_name = "matter"

    class EchoSmsConsent(Model):
        matter = ForeignKeyField(Matter, on_delete="CASCADE")
        phone = CharField(max_length=20)
        channel = CharField(max_length=10, default="sms")
        source = CharField(max_length=20, default="tracking_page")
        consent_version = CharField(max_length=20)
        consent_text = TextField()
        locale = CharField(max_length=10, default="")
        consented_at = DateTimeField()
        withdrawn_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "echo_sms_consent"
            indexes = ((("matter", "withdrawn_at"), False),)

    db.create_tables([EchoSmsConsent])
