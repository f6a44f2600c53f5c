"""Sync: an index for the changes every device sees (no grid, community, department or user).

A warm pull read them as ``user_id IS NULL`` on the (user_id, seq) index, which holds nearly
every change (visits, households and residents are logged by grid): each pull walked every
change in the city since its cursor. The partial index holds only the global ones."""

from peewee import *

WHERE = "grid_id IS NULL AND community_id IS NULL AND department_id IS NULL AND user_id IS NULL"


def up(migrator, db):
    db.execute_sql(f"CREATE INDEX IF NOT EXISTS change_everyone_seq ON change (seq) WHERE {WHERE}")


def down(migrator, db):
    db.execute_sql("DROP INDEX IF EXISTS change_everyone_seq")
