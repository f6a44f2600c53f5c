"""企业微信: wecom_binding (a user's WeCom userid, unique per corp, disabled with a reason when
the API says the member is gone) and wecom_token (the shared access token and its fetch lock
when there is no Redis)."""

from peewee import *


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class WecomBinding(Model):
        user = ForeignKeyField(User, unique=True, on_delete="CASCADE")
        corp_id = CharField(max_length=64)
        userid = CharField(max_length=64)
        bound_at = DateTimeField()
        bound_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
        via = CharField(max_length=10, default="admin")
        disabled_at = DateTimeField(null=True)
        disabled_reason = CharField(max_length=200, default="")

        class Meta:
            database = db
            table_name = "wecom_binding"
            indexes = ((("corp_id", "userid"), True),)

    class WecomToken(Model):
        key = CharField(max_length=160, primary_key=True)
        token = CharField(max_length=600, default="")
        expires_at = DateTimeField(null=True)
        lock_until = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "wecom_token"

    db.create_tables([WecomBinding, WecomToken])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("wecom_token"), migrator.drop_table("wecom_binding"))
