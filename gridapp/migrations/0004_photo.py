"""Photos, stored apart from the records that reference them."""

from peewee import *


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Photo(Model):
        id = CharField(max_length=36, primary_key=True)
        uploader = ForeignKeyField(User, null=True, on_delete="SET NULL")
        grid_id = IntegerField(null=True, index=True)
        owner_type = CharField(max_length=20, default="")
        owner_id = CharField(max_length=64, default="")
        content_type = CharField(max_length=40, default="image/jpeg")
        width = IntegerField(default=0)
        height = IntegerField(default=0)
        size = IntegerField(default=0)
        storage_key = CharField(max_length=200)
        thumb_key = CharField(max_length=200, default="")
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "photo"
            indexes = ((("owner_type", "owner_id"), False),)

    db.create_tables([Photo])
