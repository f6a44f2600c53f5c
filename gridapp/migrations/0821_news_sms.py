"""News: news_sms_follower, a resident's verified SMS opt-in for a community's news (frozen copy
of gridapp/news/models.py at this version)."""

from peewee import *


def up(migrator, db):
    class Community(Model):
        class Meta:
            database = db
            table_name = "community"

    class NewsSmsFollower(Model):
        community = ForeignKeyField(Community, on_delete="CASCADE", index=False)
        phone = CharField(max_length=20)
        code_hash = CharField(max_length=64, default="")
        code_sent_at = DateTimeField(null=True)
        code_attempts = SmallIntegerField(default=0)
        verified_at = DateTimeField(null=True)
        consent_version = CharField(max_length=20, default="")
        consent_text = TextField(default="")
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "news_sms_follower"
            indexes = ((("community", "phone"), True), (("community", "verified_at"), False))

    db.create_tables([NewsSmsFollower])


def down(migrator, db):
    db.execute_sql('DROP TABLE IF EXISTS "news_sms_follower"')
