"""Versioned schema migrations (peewee's ``playhouse.migrations`` runner).

Files live in ``gridapp/migrations/NNNN_name.py`` and define ``up(migrator, db)`` with *frozen*
copies of the tables they create, so a later change to a model never rewrites history. Number
ranges per feature keep parallel work from colliding: 0001–0099 foundation, 0100 registry/visits,
0200 tasks/matters, 0300 notifications, 0400 sync/PWA, 0500 console, 0600 echo wall.
``gridapp db generate NAME`` writes a migration from the difference between models and database.
"""

from __future__ import annotations

from pathlib import Path

from peewee import Database
from playhouse.migrations import Runner, template
from playhouse.schema_diff import diff_models

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def runner(database: Database) -> Runner:
    return Runner(database, directory=str(MIGRATIONS_DIR), table_name="schema_migration")


def upgrade(database: Database, target: str | None = None) -> list[str]:
    """Apply pending migrations in order; returns the names applied."""
    with database.connection_context():
        return runner(database).up(target)


def status(database: Database) -> list[tuple[str, bool]]:
    with database.connection_context():
        return [(m.name, bool(m.applied)) for m in runner(database).status()]


def pending_diff(database: Database):
    """What the models have that the database lacks (empty when migrations are complete)."""
    from gridapp import import_models

    with database.connection_context():
        return diff_models(database, import_models())


def generate(database: Database, name: str) -> str | None:
    diff = pending_diff(database)
    if not diff:
        return None
    return runner(database).create(name, body=template(diff))
