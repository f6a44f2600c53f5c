"""Echo wall: echo_token, the unguessable public token of a grid or community."""

from peewee import *


def up(migrator, db):
    class EchoToken(Model):
        kind = CharField(max_length=10)
        target_id = IntegerField()
        token = CharField(max_length=32, unique=True)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "echo_token"
            indexes = ((("kind", "target_id"), True),)

    db.create_tables([EchoToken])
