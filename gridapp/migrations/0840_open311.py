"""Open311: integrator keys, jurisdiction ids, building points and the requests filed."""

from peewee import *


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Community(Model):
        class Meta:
            database = db
            table_name = "community"

    class Building(Model):
        class Meta:
            database = db
            table_name = "building"

    class Matter(Model):
        class Meta:
            database = db
            table_name = "matter"

    class Open311Key(Model):
        name = CharField(max_length=100)
        prefix = CharField(max_length=16)
        key_hash = CharField(max_length=64, unique=True)
        community_ids = TextField(default="[]")
        rate_limit = CharField(max_length=40, default="")
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
        created_at = DateTimeField()
        revoked_at = DateTimeField(null=True)
        revoked_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
        last_used_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "open311_key"

    class Open311Jurisdiction(Model):
        community = ForeignKeyField(Community, unique=True, on_delete="CASCADE")
        jurisdiction_id = CharField(max_length=100, unique=True)

        class Meta:
            database = db
            table_name = "open311_jurisdiction"

    class Open311BuildingPoint(Model):
        building = ForeignKeyField(Building, unique=True, on_delete="CASCADE")
        lat = DoubleField()
        lon = DoubleField()
        source = CharField(max_length=10, default="admin")
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "open311_building_point"
            indexes = ((("lat", "lon"), False),)

    class Open311Request(Model):
        matter = ForeignKeyField(Matter, unique=True, on_delete="CASCADE")
        key = ForeignKeyField(Open311Key, null=True, on_delete="SET NULL")
        service_code = CharField(max_length=40)
        building = ForeignKeyField(Building, null=True, on_delete="SET NULL")
        lat = DoubleField(null=True)
        lon = DoubleField(null=True)
        address_string = CharField(max_length=200, default="")
        media_url = CharField(max_length=500, default="")
        contact_name = CharField(max_length=100, default="")
        contact_email = CharField(max_length=200, default="")
        attributes = TextField(default="{}")
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "open311_request"

    db.create_tables([Open311Key, Open311Jurisdiction, Open311BuildingPoint, Open311Request])


def down(migrator, db):
    migrator.migrate(
        migrator.drop_table("open311_request"),
        migrator.drop_table("open311_building_point"),
        migrator.drop_table("open311_jurisdiction"),
        migrator.drop_table("open311_key"),
    )
