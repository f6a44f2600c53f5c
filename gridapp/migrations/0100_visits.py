"""Visit log and the service-pack catalogue (便民服务包), seeded with common services."""

from peewee import *

SERVICES = [
    ("blood_pressure", "血压测量", 10),
    ("policy", "政策宣传", 20),
    ("errand", "代办", 30),
    ("repair", "小修小补", 40),
    ("health_advice", "健康咨询", 50),
    ("mediation", "矛盾调解", 60),
    ("psych_support", "心理疏导", 70),
]


def up(migrator, db):
    class Grid(Model):
        class Meta:
            database = db
            table_name = "grid"

    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Household(Model):
        class Meta:
            database = db
            table_name = "household"

    class ServiceItem(Model):
        code = CharField(max_length=40, unique=True)
        name = CharField(max_length=40, unique=True)
        sort = IntegerField(default=0)
        is_active = BooleanField(default=True)

        class Meta:
            database = db
            table_name = "service_item"

    class Visit(Model):
        id = CharField(max_length=36, primary_key=True)
        worker = ForeignKeyField(User, on_delete="RESTRICT")
        household = ForeignKeyField(Household, on_delete="RESTRICT")
        grid = ForeignKeyField(Grid, on_delete="RESTRICT")
        visited_at = DateTimeField()
        mode = CharField(max_length=10, default="home")
        lat = FloatField(null=True)
        lon = FloatField(null=True)
        accuracy = FloatField(null=True)
        notes = TextField(default="")
        resident_ids = TextField(default="[]")
        services = TextField(default="[]")
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "visit"
            indexes = (
                (("grid", "visited_at"), False),
                (("household", "visited_at"), False),
            )

    db.create_tables([ServiceItem, Visit])
    ServiceItem.insert_many(
        [{"code": c, "name": n, "sort": s, "is_active": True} for c, n, s in SERVICES]
    ).execute()
