"""One-stop appointment tables: a community's service catalogue, slots (one row per service and
start time, created when first booked, holding the place counter), bookings and their
append-only timeline."""

from __future__ import annotations

from peewee import (
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from gridapp.db import BaseModel, VersionedModel, utcnow
from gridapp.org.models import Community, Grid, User
from gridapp.tasks.models import Task


class ApptService(VersionedModel):
    community = ForeignKeyField(Community, backref="appt_services", on_delete="CASCADE")
    name = CharField(max_length=60)
    description = TextField(default="")
    materials = TextField(default="[]")  # JSON list of strings (材料清单)
    place = CharField(max_length=8, default="hall")  # "hall" | "home" (the grid worker comes)
    location = CharField(max_length=100, default="")  # e.g. 社区党群服务中心一楼 3 号窗口
    duration_minutes = IntegerField(default=15)
    slot_minutes = IntegerField(default=30)
    hours = TextField(default="{}")  # JSON {weekday: [[start, end, capacity], ...]}
    active = BooleanField(default=True)
    sort = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "appt_service"
        indexes = ((("community", "active", "sort"), False),)


class ApptSlot(BaseModel):
    """The place counter of one slot: booking is ``UPDATE … SET booked = booked + 1 WHERE
    booked < capacity`` on this row, so two phones racing for the last place cannot both win."""

    service = ForeignKeyField(ApptService, backref="slots", on_delete="CASCADE", index=False)
    starts_at = DateTimeField()  # naive UTC
    ends_at = DateTimeField()
    capacity = IntegerField()
    booked = IntegerField(default=0)

    class Meta:
        table_name = "appt_slot"
        indexes = ((("service", "starts_at"), True),)


class Booking(VersionedModel):
    code = CharField(max_length=16, unique=True)
    service = ForeignKeyField(ApptService, backref="bookings", on_delete="CASCADE")
    slot = ForeignKeyField(ApptSlot, backref="bookings", on_delete="CASCADE")
    community = ForeignKeyField(Community, on_delete="CASCADE", index=False)
    grid = ForeignKeyField(Grid, null=True, on_delete="SET NULL")  # the resident's grid
    starts_at = DateTimeField()  # the slot's start, copied for the day view's index
    name = CharField(max_length=40)
    phone = CharField(max_length=20)
    address = CharField(max_length=120, default="")  # for an at-home service
    note = TextField(default="")
    state = CharField(max_length=12, default="booked")
    created_at = DateTimeField(default=utcnow)
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
        table_name = "appt_booking"
        indexes = ((("community", "starts_at"), False), (("service", "state"), False))


class BookingEvent(BaseModel):
    """Append-only timeline of a booking (who, when, from, to, note)."""

    booking = ForeignKeyField(Booking, backref="events", on_delete="CASCADE")
    at = DateTimeField(default=utcnow)
    actor = ForeignKeyField(User, null=True, on_delete="SET NULL")
    action = CharField(max_length=16)
    from_state = CharField(max_length=12, default="")
    to_state = CharField(max_length=12, default="")
    note = TextField(default="")

    class Meta:
        table_name = "appt_booking_event"
