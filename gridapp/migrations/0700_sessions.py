"""Accounts: server-side sessions (user_session) and login throttling (login_throttle)."""

from peewee import *


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class UserSession(Model):
        id = AutoField()
        token_hash = CharField(max_length=64, unique=True)
        prev_hash = CharField(max_length=64, null=True, index=True)
        rotated_at = DateTimeField()
        user = ForeignKeyField(User, on_delete="CASCADE")
        kind = CharField(max_length=10, default="web")
        remember = BooleanField(default=False)
        created_at = DateTimeField()
        last_seen_at = DateTimeField()
        idle_expires_at = DateTimeField()
        expires_at = DateTimeField()
        user_agent = CharField(max_length=120, default="")
        ip = CharField(max_length=64, default="")
        revoked_at = DateTimeField(null=True)
        revoked_reason = CharField(max_length=20, default="")

        class Meta:
            database = db
            table_name = "user_session"
            indexes = ((("user", "revoked_at"), False),)

    class LoginThrottle(Model):
        key = CharField(max_length=100, primary_key=True)
        failures = IntegerField(default=0)
        last_failure_at = DateTimeField()
        locked_until = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "login_throttle"

    db.create_tables([UserSession, LoginThrottle])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("login_throttle"), migrator.drop_table("user_session"))
