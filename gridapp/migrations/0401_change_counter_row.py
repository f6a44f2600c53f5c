"""Sync: the change counter row exists from the start (at 1, so a cold pull on an empty change
log hands out cursor "1", a real warm cursor, never "0" = start cold; and first writers no
longer race to insert it), and change numbers are given at commit (``seq`` null until then)."""

from peewee import *


def up(migrator, db):
    db.execute_sql(
        "INSERT INTO change_counter (id, value) SELECT 1, 1"
        " WHERE NOT EXISTS (SELECT 1 FROM change_counter WHERE id = 1)"
    )
    db.execute_sql("UPDATE change_counter SET value = 1 WHERE id = 1 AND value < 1")
    migrator.migrate(migrator.drop_not_null("change", "seq"))


def down(migrator, db):
    db.execute_sql("DELETE FROM change WHERE seq IS NULL")
    migrator.migrate(migrator.add_not_null("change", "seq"))
