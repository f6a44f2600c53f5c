"""Escalation (issue 13): ``delivery.hop`` (which stage of the kind's policy the row belongs to)
and ``delivery.delivered_at`` (a channel's receipt: SMS status report, the service worker's
acknowledgment); ``notification.hop_next`` / ``hop_due_at`` (the chain's next stage and when it
comes due, NULL when the chain has ended); ``notification_policy`` (an admin's policy for one
notification kind; no row means the default in code)."""

from peewee import *


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class NotificationPolicy(Model):
        kind = CharField(max_length=40, unique=True)
        urgent = BooleanField(default=False)
        hops = TextField(default="[]")
        updated_at = DateTimeField()
        updated_by = ForeignKeyField(User, null=True, on_delete="SET NULL")

        class Meta:
            database = db
            table_name = "notification_policy"

    db.create_tables([NotificationPolicy])
    migrator.migrate(
        migrator.add_column("delivery", "hop", IntegerField(null=True)),
        migrator.add_column("delivery", "delivered_at", DateTimeField(null=True)),
        migrator.add_column("notification", "hop_next", IntegerField(null=True)),
        migrator.add_column("notification", "hop_due_at", DateTimeField(null=True)),
    )
    migrator.migrate(migrator.add_index("notification", ("hop_due_at",), unique=False))


def down(migrator, db):
    migrator.migrate(migrator.drop_index("notification", "notification_hop_due_at"))
    migrator.migrate(
        migrator.drop_column("notification", "hop_due_at"),
        migrator.drop_column("notification", "hop_next"),
        migrator.drop_column("delivery", "delivered_at"),
        migrator.drop_column("delivery", "hop"),
    )
    migrator.migrate(migrator.drop_table("notification_policy"))
