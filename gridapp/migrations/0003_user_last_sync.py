"""Remember when each user's device last synced (the supervisor's dashboard shows it)."""

from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_column("user", "last_sync_at", DateTimeField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("user", "last_sync_at"))
