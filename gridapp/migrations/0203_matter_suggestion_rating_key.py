"""Matters: ``suggested_category`` (the reporting worker's suggestion, which preselects the triage
form instead of being pasted into the description) and ``rating_key`` (SHA-256 of a secret given
only to the resident's browser at report time: the tracking code alone no longer lets anyone
rate, see docs/security.md)."""

from peewee import CharField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("matter", "suggested_category", CharField(max_length=10, null=True)),
        migrator.add_column("matter", "rating_key", CharField(max_length=64, null=True)),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column("matter", "suggested_category"),
        migrator.drop_column("matter", "rating_key"),
    )
