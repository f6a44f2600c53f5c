"""One-stop appointments: appt_service (catalogue per community), appt_slot (per-slot place
counter), appt_booking and its timeline appt_booking_event."""

from peewee import *


def up(migrator, db):
    class Community(Model):
        class Meta:
            database = db
            table_name = "community"

    class Grid(Model):
        class Meta:
            database = db
            table_name = "grid"

    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Task(Model):
        class Meta:
            database = db
            table_name = "task"

    class ApptService(Model):
        version = BigIntegerField(default=1)
        updated_at = DateTimeField()
        community = ForeignKeyField(Community, on_delete="CASCADE")
        name = CharField(max_length=60)
        description = TextField(default="")
        materials = TextField(default="[]")
        place = CharField(max_length=8, default="hall")
        location = CharField(max_length=100, default="")
        duration_minutes = IntegerField(default=15)
        slot_minutes = IntegerField(default=30)
        hours = TextField(default="{}")
        active = BooleanField(default=True)
        sort = IntegerField(default=0)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "appt_service"
            indexes = ((("community", "active", "sort"), False),)

    class ApptSlot(Model):
        service = ForeignKeyField(ApptService, on_delete="CASCADE", index=False)
        starts_at = DateTimeField()
        ends_at = DateTimeField()
        capacity = IntegerField()
        booked = IntegerField(default=0)

        class Meta:
            database = db
            table_name = "appt_slot"
            indexes = ((("service", "starts_at"), True),)

    class Booking(Model):
        version = BigIntegerField(default=1)
        updated_at = DateTimeField()
        code = CharField(max_length=16, unique=True)
        service = ForeignKeyField(ApptService, on_delete="CASCADE")
        slot = ForeignKeyField(ApptSlot, on_delete="CASCADE")
        community = ForeignKeyField(Community, on_delete="CASCADE", index=False)
        grid = ForeignKeyField(Grid, null=True, on_delete="SET NULL")
        starts_at = DateTimeField()
        name = CharField(max_length=40)
        phone = CharField(max_length=20)
        address = CharField(max_length=120, default="")
        note = TextField(default="")
        state = CharField(max_length=12, default="booked")
        created_at = DateTimeField()
        arrived_at = DateTimeField(null=True)
        called_at = DateTimeField(null=True)
        handled_at = DateTimeField(null=True)
        handled_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
        result = TextField(default="")
        task = ForeignKeyField(Task, null=True, on_delete="SET NULL")
        rating = CharField(max_length=8, null=True)
        rating_note = TextField(default="")
        rated_at = DateTimeField(null=True)
        reminded_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "appt_booking"
            indexes = ((("community", "starts_at"), False), (("service", "state"), False))

    class BookingEvent(Model):
        booking = ForeignKeyField(Booking, on_delete="CASCADE")
        at = DateTimeField()
        actor = ForeignKeyField(User, null=True, on_delete="SET NULL")
        action = CharField(max_length=16)
        from_state = CharField(max_length=12, default="")
        to_state = CharField(max_length=12, default="")
        note = TextField(default="")

        class Meta:
            database = db
            table_name = "appt_booking_event"

    db.create_tables([ApptService, ApptSlot, Booking, BookingEvent])
