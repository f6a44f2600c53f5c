"""Initial schema: organisation, accounts, registry, change log, inbox, audit log."""

from peewee import *


def up(migrator, db):
    class AuditLog(Model):
        at = DateTimeField(index=True)
        actor_id = IntegerField(index=True, null=True)
        action = CharField(index=True, max_length=60)
        target_type = CharField(max_length=40, default="")
        target_id = CharField(max_length=64, default="")
        ip = CharField(max_length=64, default="")
        detail = TextField(default="{}")

        class Meta:
            database = db
            table_name = "audit_log"

    db.create_tables([AuditLog])

    class Street(Model):
        name = CharField(max_length=100)
        code = CharField(unique=True, max_length=40)

        class Meta:
            database = db
            table_name = "street"

    db.create_tables([Street])

    class Community(Model):
        street = ForeignKeyField(Street, on_delete="RESTRICT")
        name = CharField(max_length=100)
        code = CharField(unique=True, max_length=40)

        class Meta:
            database = db
            table_name = "community"

    db.create_tables([Community])

    class Grid(Model):
        community = ForeignKeyField(Community, on_delete="RESTRICT")
        name = CharField(max_length=100)
        code = CharField(unique=True, max_length=40)
        sort = IntegerField(default=0)

        class Meta:
            database = db
            table_name = "grid"

    db.create_tables([Grid])

    class Building(Model):
        version = BigIntegerField(default=1)
        updated_at = DateTimeField()
        grid = ForeignKeyField(Grid, on_delete="RESTRICT")
        name = CharField(max_length=100)
        address = CharField(max_length=200, default="")
        deleted = BooleanField(default=False)

        class Meta:
            database = db
            table_name = "building"

    db.create_tables([Building])

    class CareTag(Model):
        code = CharField(unique=True, max_length=40)
        name = CharField(unique=True, max_length=40)
        interval_days = IntegerField()
        sort = IntegerField(default=0)
        is_active = BooleanField(default=True)

        class Meta:
            database = db
            table_name = "care_tag"

    db.create_tables([CareTag])

    class Change(Model):
        seq = BigIntegerField(unique=True)
        entity = CharField(max_length=40)
        entity_id = CharField(max_length=64)
        grid_id = IntegerField(null=True)
        community_id = IntegerField(null=True)
        department_id = IntegerField(null=True)
        user_id = IntegerField(null=True)
        deleted = BooleanField(default=False)
        at = DateTimeField()

        class Meta:
            database = db
            table_name = "change"
            indexes = (
                (("grid_id", "seq"), False),
                (("community_id", "seq"), False),
                (("department_id", "seq"), False),
                (("user_id", "seq"), False),
                (("entity", "entity_id"), False),
            )

    db.create_tables([Change])

    class ChangeCounter(Model):
        id = IntegerField(primary_key=True)
        value = BigIntegerField(default=0)

        class Meta:
            database = db
            table_name = "change_counter"

    db.create_tables([ChangeCounter])

    class Department(Model):
        name = CharField(max_length=100)
        code = CharField(unique=True, max_length=40)
        street = ForeignKeyField(Street, null=True, on_delete="SET NULL")
        is_active = BooleanField(default=True)

        class Meta:
            database = db
            table_name = "department"

    db.create_tables([Department])

    class Household(Model):
        version = BigIntegerField(default=1)
        updated_at = DateTimeField()
        grid = ForeignKeyField(Grid, on_delete="RESTRICT")
        building = ForeignKeyField(Building, on_delete="RESTRICT")
        unit = CharField(max_length=20, default="")
        room = CharField(max_length=20, default="")
        address = CharField(max_length=200, default="")
        phone = CharField(max_length=20, default="")
        notes = TextField(default="")
        last_visit_at = DateTimeField(null=True)
        visit_interval_days = IntegerField(default=180)
        next_visit_due = DateTimeField(index=True, null=True)
        deleted = BooleanField(default=False)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "household"
            indexes = ((("grid", "next_visit_due"), False),)

    db.create_tables([Household])

    class User(Model):
        version = BigIntegerField(default=1)
        updated_at = DateTimeField()
        username = CharField(unique=True, max_length=64)
        password_hash = CharField()
        display_name = CharField(max_length=100)
        role = CharField(index=True, max_length=20)
        phone = CharField(max_length=20, default="")
        street = ForeignKeyField(Street, null=True, on_delete="SET NULL")
        community = ForeignKeyField(Community, null=True, on_delete="SET NULL")
        department = ForeignKeyField(Department, null=True, on_delete="SET NULL")
        is_active = BooleanField(default=True)
        locale = CharField(max_length=10, default="")
        created_at = DateTimeField()
        last_login_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "user"

    db.create_tables([User])

    class Notification(Model):
        recipient = ForeignKeyField(User, on_delete="CASCADE")
        type = CharField(max_length=40)
        title = CharField(max_length=200)
        body = TextField(default="")
        link = CharField(max_length=300, default="")
        urgent = BooleanField(default=False)
        created_at = DateTimeField()
        read_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "notification"
            indexes = ((("recipient", "read_at", "created_at"), False),)

    db.create_tables([Notification])

    class Resident(Model):
        version = BigIntegerField(default=1)
        updated_at = DateTimeField()
        grid = ForeignKeyField(Grid, on_delete="RESTRICT")
        household = ForeignKeyField(Household, on_delete="RESTRICT")
        name = CharField(max_length=50)
        name_pinyin = CharField(index=True, max_length=200, default="")
        name_initials = CharField(index=True, max_length=50, default="")
        gender = CharField(max_length=1, default="")
        birth_year = IntegerField(null=True)
        phone = CharField(max_length=20, default="")
        phone_tail = CharField(index=True, max_length=4, default="")
        id_number = CharField(max_length=18, default="")
        relation = CharField(max_length=20, default="")
        notes = TextField(default="")
        deleted = BooleanField(default=False)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "resident"
            indexes = ((("grid", "name"), False),)

    db.create_tables([Resident])

    class ResidentTag(Model):
        resident = ForeignKeyField(Resident, on_delete="CASCADE")
        tag = ForeignKeyField(CareTag, on_delete="CASCADE")

        class Meta:
            database = db
            table_name = "resident_tag"
            primary_key = CompositeKey("resident", "tag")

    db.create_tables([ResidentTag])

    class UserGrid(Model):
        user = ForeignKeyField(User, on_delete="CASCADE")
        grid = ForeignKeyField(Grid, on_delete="CASCADE")

        class Meta:
            database = db
            table_name = "user_grid"
            primary_key = CompositeKey("user", "grid")

    db.create_tables([UserGrid])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("user_grid"))
    migrator.migrate(migrator.drop_table("resident_tag"))
    migrator.migrate(migrator.drop_table("resident"))
    migrator.migrate(migrator.drop_table("notification"))
    migrator.migrate(migrator.drop_table("user"))
    migrator.migrate(migrator.drop_table("household"))
    migrator.migrate(migrator.drop_table("department"))
    migrator.migrate(migrator.drop_table("change_counter"))
    migrator.migrate(migrator.drop_table("change"))
    migrator.migrate(migrator.drop_table("care_tag"))
    migrator.migrate(migrator.drop_table("building"))
    migrator.migrate(migrator.drop_table("grid"))
    migrator.migrate(migrator.drop_table("community"))
    migrator.migrate(migrator.drop_table("street"))
    migrator.migrate(migrator.drop_table("audit_log"))
