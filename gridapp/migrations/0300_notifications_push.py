"""Notifications: announcements, push subscriptions, deliveries, preferences, quiet hours;
notification.announcement_id with one row per (announcement, recipient)."""

from peewee import *


def up(migrator, db):
    class Notification(Model):
        class Meta:
            database = db
            table_name = "notification"

    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Announcement(Model):
        author = ForeignKeyField(User, null=True, on_delete="SET NULL")
        title = CharField(max_length=200)
        body = TextField(default="")
        link = CharField(max_length=300, default="")
        urgent = BooleanField(default=False)
        community_id = IntegerField(index=True, null=True)
        grid_ids = TextField(default="")
        recipients = IntegerField(default=0)
        status = CharField(max_length=12, default="pending")
        created_at = DateTimeField()
        finished_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "announcement"

    db.create_tables([Announcement])

    class PushSubscription(Model):
        user = ForeignKeyField(User, on_delete="CASCADE")
        endpoint = CharField(unique=True, max_length=2000)
        p256dh = CharField(max_length=100)
        auth = CharField(max_length=40)
        expiration_time = DateTimeField(null=True)
        user_agent = CharField(max_length=300, default="")
        created_at = DateTimeField()
        last_success_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "push_subscription"

    db.create_tables([PushSubscription])

    class Delivery(Model):
        notification = ForeignKeyField(Notification, on_delete="CASCADE")
        channel = CharField(max_length=20)
        subscription = ForeignKeyField(PushSubscription, null=True, on_delete="SET NULL")
        dedupe_key = CharField(unique=True, max_length=60)
        status = CharField(max_length=10, default="queued")
        attempts = IntegerField(default=0)
        status_code = IntegerField(null=True)
        error = TextField(default="")
        next_attempt_at = DateTimeField(null=True)
        claim = CharField(null=True, max_length=32)
        created_at = DateTimeField()
        updated_at = DateTimeField()
        sent_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "delivery"
            indexes = ((("status", "next_attempt_at"), False),)

    db.create_tables([Delivery])

    class NotificationPreference(Model):
        user = ForeignKeyField(User, on_delete="CASCADE")
        type = CharField(max_length=40)
        channel = CharField(max_length=20)
        enabled = BooleanField()

        class Meta:
            database = db
            table_name = "notification_preference"
            indexes = ((("user", "type", "channel"), True),)

    db.create_tables([NotificationPreference])

    class QuietHours(Model):
        user = ForeignKeyField(User, unique=True, on_delete="CASCADE")
        enabled = BooleanField(default=True)
        start_min = IntegerField(default=1320)
        end_min = IntegerField(default=420)
        timezone = CharField(max_length=40, default="Asia/Shanghai")

        class Meta:
            database = db
            table_name = "quiet_hours"

    db.create_tables([QuietHours])

    migrator.migrate(
        migrator.add_column(
            "notification",
            "announcement_id",
            ForeignKeyField(Announcement, field=Announcement.id, null=True, on_delete="CASCADE"),
        )
    )
    migrator.migrate(
        migrator.add_index("notification", ("announcement_id", "recipient_id"), unique=True)
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_index("notification", "notification_announcement_id_recipient_id")
    )
    migrator.migrate(migrator.drop_index("notification", "notification_announcement_id"))
    migrator.migrate(migrator.drop_column("notification", "announcement_id"))
    migrator.migrate(migrator.drop_table("quiet_hours"))
    migrator.migrate(migrator.drop_table("notification_preference"))
    migrator.migrate(migrator.drop_table("delivery"))
    migrator.migrate(migrator.drop_table("push_subscription"))
    migrator.migrate(migrator.drop_table("announcement"))
