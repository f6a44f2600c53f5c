"""Sync: answers to pushed operations, keyed by (user, client op id), for idempotent replay."""

from peewee import *


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class SyncOp(Model):
        user = ForeignKeyField(User, on_delete="CASCADE")
        op_id = CharField(max_length=64)
        type = CharField(max_length=40)
        status = CharField(max_length=12)
        entity = CharField(max_length=40, default="")
        client_id = CharField(max_length=64, default="")
        server_id = CharField(max_length=64, default="")
        result = TextField()
        created_at = DateTimeField(index=True)

        class Meta:
            database = db
            table_name = "sync_op"
            indexes = ((("user", "op_id"), True), (("user", "entity", "client_id"), False))

    db.create_tables([SyncOp])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("sync_op"))
