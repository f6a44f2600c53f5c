"""Echo wall: echo_push_subscription, a resident's Web Push subscription to one matter's
tracking page (no user; unique per matter and endpoint)."""

from peewee import *


def up(migrator, db):
    class Matter(Model):
        class Meta:
            database = db
            table_name = "matter"

    class EchoPushSubscription(Model):
        matter = ForeignKeyField(Matter, on_delete="CASCADE", index=False)
        endpoint = CharField(max_length=2000)
        p256dh = CharField(max_length=100)
        auth = CharField(max_length=40)
        created_at = DateTimeField()
        last_success_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "echo_push_subscription"
            indexes = ((("matter", "endpoint"), True),)

    db.create_tables([EchoPushSubscription])
