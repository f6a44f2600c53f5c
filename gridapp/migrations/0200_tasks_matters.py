"""Tasks, campaigns, matters (四事分办) with their department parts and timeline, deadline rules
(seeded with the DESIGN defaults) and the admin's calendar overrides."""

from peewee import *

DEFAULT_RULES = (
    ("个事", 3, "workdays", None),
    ("社事", 7, "workdays", None),
    ("专事", 5, "workdays", None),
    ("难事", 15, "workdays", 5),
)


def up(migrator, db):
    class Community(Model):
        class Meta:
            database = db
            table_name = "community"

    class Department(Model):
        class Meta:
            database = db
            table_name = "department"

    class Grid(Model):
        class Meta:
            database = db
            table_name = "grid"

    class Household(Model):
        class Meta:
            database = db
            table_name = "household"

    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class CalendarDay(Model):
        day = DateField(unique=True)
        is_working = BooleanField()
        note = CharField(max_length=200, default="")

        class Meta:
            database = db
            table_name = "calendar_day"

    db.create_tables([CalendarDay])

    class Campaign(Model):
        title = CharField(max_length=200)
        description = TextField(default="")
        kind = CharField(max_length=12)
        community = ForeignKeyField(Community, null=True, on_delete="SET NULL")
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
        due_at = DateTimeField(null=True)
        priority = IntegerField(default=0)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "campaign"

    db.create_tables([Campaign])

    class DeadlineRule(Model):
        community = ForeignKeyField(Community, null=True, on_delete="CASCADE")
        department = ForeignKeyField(Department, null=True, on_delete="CASCADE")
        category = CharField(max_length=10)
        amount = IntegerField()
        unit = CharField(max_length=10, default="workdays")
        progress_every = IntegerField(null=True)

        class Meta:
            database = db
            table_name = "deadline_rule"
            indexes = ((("category", "community", "department"), True),)

    db.create_tables([DeadlineRule])

    class Matter(Model):
        version = BigIntegerField(default=1)
        updated_at = DateTimeField()
        code = CharField(unique=True, max_length=12)
        source = CharField(max_length=12)
        reporter = ForeignKeyField(User, null=True, on_delete="SET NULL")
        contact_phone = CharField(max_length=20, default="")
        grid = ForeignKeyField(Grid, on_delete="RESTRICT")
        community = ForeignKeyField(Community, on_delete="RESTRICT")
        title = CharField(max_length=200, default="")
        text = TextField()
        photo_ids = TextField(default="[]")
        state = CharField(max_length=12, default="reported")
        category = CharField(null=True, max_length=10)
        urgent = BooleanField(default=False)
        level = IntegerField(default=0)
        result = TextField(default="")
        rating = CharField(null=True, max_length=10)
        deadline_start = DateTimeField(null=True)
        deadline_at = DateTimeField(null=True)
        warn_at = DateTimeField(index=True, null=True)
        escalate_at = DateTimeField(index=True, null=True)
        progress_every = IntegerField(null=True)
        progress_due_at = DateTimeField(index=True, null=True)
        created_at = DateTimeField()
        closed_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "matter"
            indexes = ((("grid", "state", "created_at"), False),)

    db.create_tables([Matter])

    class MatterEvent(Model):
        matter = ForeignKeyField(Matter, on_delete="CASCADE")
        at = DateTimeField()
        actor = ForeignKeyField(User, null=True, on_delete="SET NULL")
        actor_role = CharField(max_length=20)
        action = CharField(max_length=20)
        from_state = CharField(max_length=12)
        to_state = CharField(max_length=12)
        department = ForeignKeyField(Department, null=True, on_delete="SET NULL")
        note = TextField(default="")
        photo_ids = TextField(default="[]")
        data = TextField(default="{}")

        class Meta:
            database = db
            table_name = "matter_event"
            indexes = ((("matter", "at"), False),)

    db.create_tables([MatterEvent])

    class MatterPart(Model):
        version = BigIntegerField(default=1)
        updated_at = DateTimeField()
        matter = ForeignKeyField(Matter, on_delete="CASCADE")
        department = ForeignKeyField(Department, on_delete="RESTRICT")
        state = CharField(max_length=12, default="dispatched")
        lead = BooleanField(default=False)
        note = TextField(default="")
        result = TextField(default="")
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "matter_part"
            indexes = ((("matter", "department"), True), (("department", "state"), False))

    db.create_tables([MatterPart])

    class Task(Model):
        version = BigIntegerField(default=1)
        updated_at = DateTimeField()
        title = CharField(max_length=200)
        description = TextField(default="")
        priority = IntegerField(default=0)
        due_at = DateTimeField(null=True)
        state = CharField(max_length=12, default="assigned")
        assignee = ForeignKeyField(User, on_delete="RESTRICT")
        grid = ForeignKeyField(Grid, null=True, on_delete="SET NULL")
        campaign = ForeignKeyField(Campaign, null=True, on_delete="CASCADE")
        household = ForeignKeyField(Household, null=True, on_delete="SET NULL")
        matter = ForeignKeyField(Matter, null=True, on_delete="SET NULL")
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
        result_note = TextField(default="")
        photo_ids = TextField(default="[]")
        return_reason = TextField(default="")
        created_at = DateTimeField()
        done_at = DateTimeField(null=True)
        warn_at = DateTimeField(index=True, null=True)
        overdue_at = DateTimeField(index=True, null=True)

        class Meta:
            database = db
            table_name = "task"
            indexes = (
                (("assignee", "state", "due_at"), False),
                (("grid", "state"), False),
                (("campaign", "grid", "state"), False),
            )

    db.create_tables([Task])

    class TaskEvent(Model):
        task = ForeignKeyField(Task, on_delete="CASCADE")
        at = DateTimeField()
        actor = ForeignKeyField(User, null=True, on_delete="SET NULL")
        action = CharField(max_length=20)
        from_state = CharField(max_length=12)
        to_state = CharField(max_length=12)
        note = TextField(default="")

        class Meta:
            database = db
            table_name = "task_event"

    db.create_tables([TaskEvent])

    DeadlineRule.insert_many(
        [
            {"category": c, "amount": a, "unit": u, "progress_every": p}
            for c, a, u, p in DEFAULT_RULES
        ]
    ).execute()


def down(migrator, db):
    migrator.migrate(migrator.drop_table("task_event"))
    migrator.migrate(migrator.drop_table("task"))
    migrator.migrate(migrator.drop_table("matter_part"))
    migrator.migrate(migrator.drop_table("matter_event"))
    migrator.migrate(migrator.drop_table("matter"))
    migrator.migrate(migrator.drop_table("deadline_rule"))
    migrator.migrate(migrator.drop_table("campaign"))
    migrator.migrate(migrator.drop_table("calendar_day"))
