"""Visit GPS fixes as double precision: PostgreSQL's ``real`` (peewee ``FloatField``) rounded
the client's float64, so a cold pull and the stored push answer disagreed on lat/lon/accuracy.
(SQLite's REAL is already 64-bit; the column type changes on both for one schema.)"""

from peewee import *


def up(migrator, db):
    migrator.migrate(
        migrator.alter_column_type("visit", "lat", DoubleField(null=True)),
        migrator.alter_column_type("visit", "lon", DoubleField(null=True)),
        migrator.alter_column_type("visit", "accuracy", DoubleField(null=True)),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.alter_column_type("visit", "lat", FloatField(null=True)),
        migrator.alter_column_type("visit", "lon", FloatField(null=True)),
        migrator.alter_column_type("visit", "accuracy", FloatField(null=True)),
    )
