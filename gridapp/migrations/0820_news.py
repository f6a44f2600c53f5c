"""News (信息速递): news_item, news_image, news_attachment, news_follower, news_delivery,
news_read, news_salt (frozen copies of gridapp/news/models.py at this version)."""

from peewee import *


def up(migrator, db):
    class Community(Model):
        class Meta:
            database = db
            table_name = "community"

    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class NewsItem(Model):
        community = ForeignKeyField(Community, on_delete="CASCADE", index=False)
        author = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False)
        uid = CharField(max_length=36, unique=True)
        kind = CharField(max_length=10, default="news")
        title = CharField(max_length=200)
        body = TextField(default="")
        publish_at = DateTimeField()
        expires_at = DateTimeField(null=True)
        pinned = BooleanField(default=False)
        withdrawn = BooleanField(default=False)
        released_at = DateTimeField(null=True)
        created_at = DateTimeField()
        version = BigIntegerField(default=1)
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "news_item"
            indexes = (
                (("community", "publish_at"), False),
                (("released_at", "publish_at"), False),
            )

    class NewsImage(Model):
        item = ForeignKeyField(NewsItem, on_delete="CASCADE", index=False)
        photo_id = CharField(max_length=36, unique=True)
        sort = SmallIntegerField(default=0)

        class Meta:
            database = db
            table_name = "news_image"
            indexes = ((("item", "sort"), False),)

    class NewsAttachment(Model):
        item = ForeignKeyField(NewsItem, on_delete="CASCADE")
        filename = CharField(max_length=200)
        content_type = CharField(max_length=100)
        size = IntegerField()
        storage_key = CharField(max_length=200)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "news_attachment"

    class NewsFollower(Model):
        community = ForeignKeyField(Community, on_delete="CASCADE", index=False)
        endpoint = CharField(max_length=2000)
        p256dh = CharField(max_length=100)
        auth = CharField(max_length=40)
        locale = CharField(max_length=10, default="")
        created_at = DateTimeField()
        last_success_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "news_follower"
            indexes = ((("community", "endpoint"), True),)

    class NewsDelivery(Model):
        item = ForeignKeyField(NewsItem, on_delete="CASCADE", index=False)
        follower = ForeignKeyField(NewsFollower, on_delete="CASCADE")
        status = CharField(max_length=10, default="queued")
        attempts = SmallIntegerField(default=0)
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "news_delivery"
            indexes = ((("item", "follower"), True), (("item", "status"), False))

    class NewsRead(Model):
        item = ForeignKeyField(NewsItem, on_delete="CASCADE", index=False)
        day = DateField()
        kind = CharField(max_length=4)
        visitor = CharField(max_length=32)

        class Meta:
            database = db
            table_name = "news_read"
            indexes = ((("item", "day", "kind", "visitor"), True),)

    class NewsSalt(Model):
        day = DateField(primary_key=True)
        salt = CharField(max_length=64)

        class Meta:
            database = db
            table_name = "news_salt"

    db.create_tables(
        [NewsItem, NewsImage, NewsAttachment, NewsFollower, NewsDelivery, NewsRead, NewsSalt]
    )


def down(migrator, db):
    for name in ("news_salt", "news_read", "news_delivery", "news_follower", "news_attachment",
                 "news_image", "news_item"):  # fmt: skip
        db.execute_sql(f'DROP TABLE IF EXISTS "{name}"')
