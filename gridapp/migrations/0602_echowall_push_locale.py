"""Echo wall: echo_push_subscription.locale, the language the resident read the tracking page
in when following it, so its pushes speak that language ('' = the default, zh_CN)."""

from peewee import CharField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column(
            "echo_push_subscription", "locale", CharField(max_length=10, default="")
        )
    )


def down(migrator, db):
    migrator.migrate(migrator.drop_column("echo_push_subscription", "locale"))
