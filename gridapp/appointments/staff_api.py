"""The staff's JSON operations under ``/api/v1/appointments``: the catalogue, the day's desk,
the actions on a booking (and sending an at-home one to a grid worker), the figures, and the
audited reveal of a booking's phone."""

from __future__ import annotations

from flask import Blueprint, request
from flask_login import current_user

from gridapp.api import API_PREFIX, endpoint
from gridapp.appointments import catalogue, contact, desk, schemas, stats
from gridapp.appointments.models import ApptService

api = Blueprint("appointments_api", __name__, url_prefix=API_PREFIX + "/appointments")
# The at-home booking's phone reached from its task (the grid worker's way in)
task_api = Blueprint("appointments_task_api", __name__, url_prefix=API_PREFIX)

STAFF = ("supervisor", "admin")


def _actor():
    return current_user._get_current_object()


def service_out(s: ApptService) -> schemas.ServiceOut:
    return schemas.ServiceOut(
        id=s.id,
        version=s.version,
        community_id=s.community_id,
        name=s.name,
        description=s.description,
        materials=catalogue.materials_of(s),
        place=s.place,
        location=s.location,
        duration_minutes=s.duration_minutes,
        slot_minutes=s.slot_minutes,
        hours={str(d): ws for d, ws in catalogue.hours_of(s).items()},
        active=s.active,
    )


@endpoint(
    api,
    "/services",
    query=schemas.ServiceQuery,
    response=list[schemas.ServiceOut],
    roles=STAFF,
    tags=["appointments"],
)
def list_services(query: schemas.ServiceQuery):
    """The catalogue of a community in scope (the first one when none is named)."""
    cid = desk.default_community(_actor(), query.community_id)
    return [service_out(s) for s in catalogue.list_services(cid, active_only=False)]


@endpoint(
    api,
    "/services",
    methods=["POST"],
    body=schemas.ServiceIn,
    response=schemas.ServiceOut,
    status=201,
    roles=STAFF,
    tags=["appointments"],
)
def create_service(body: schemas.ServiceIn):
    """Add a service to a community's catalogue."""
    return service_out(catalogue.save_service(_actor(), body.model_dump()))


@endpoint(
    api,
    "/services/<int:service_id>",
    methods=["PUT"],
    body=schemas.ServiceIn,
    response=schemas.ServiceOut,
    roles=STAFF,
    tags=["appointments"],
    responses={409: "Changed meanwhile (stale version)"},
)
def update_service(service_id: int, body: schemas.ServiceIn):
    """Replace a catalogue entry (``version`` guards against a concurrent edit)."""
    data = body.model_dump()
    return service_out(
        catalogue.save_service(_actor(), data, service_id=service_id, version=body.version)
    )


def booking_out(b, queue_no: int | None = None) -> schemas.BookingOut:
    return schemas.BookingOut(**desk.row(b, b.service), queue_no=queue_no)


@endpoint(
    api,
    "/day",
    query=schemas.DayQuery,
    response=schemas.DayOut,
    roles=STAFF,
    tags=["appointments"],
)
def day(query: schemas.DayQuery):
    """A community's bookings of one day (Asia/Shanghai), the 取号 queue and counts."""
    actor = _actor()
    cid = desk.default_community(actor, query.community_id)
    return desk.day_view(actor, cid, query.day)


@endpoint(
    api,
    "/bookings/<int:booking_id>/actions",
    methods=["POST"],
    body=schemas.ActIn,
    response=schemas.BookingOut,
    roles=STAFF,
    tags=["appointments"],
    responses={409: "Not possible in the booking's state, or changed meanwhile"},
)
def act(booking_id: int, body: schemas.ActIn):
    """Mark arrived, call to the counter, handled (with the result) or no-show."""
    b = desk.act(_actor(), booking_id, body.action, version=body.version, result=body.result)
    return booking_out(b)


@endpoint(
    api,
    "/bookings/<int:booking_id>/send",
    methods=["POST"],
    response=schemas.BookingOut,
    roles=STAFF,
    tags=["appointments"],
    responses={409: "Not a booked at-home service, or already sent"},
)
def send(booking_id: int):
    """Make an at-home booking a task for the resident's grid worker."""
    return booking_out(desk.send_to_worker(_actor(), booking_id))


@endpoint(
    api,
    "/call-next",
    methods=["POST"],
    body=schemas.CallNextIn,
    response=schemas.BookingOut,
    roles=STAFF,
    tags=["appointments"],
    responses={409: "Nobody is waiting"},
)
def call_next(body: schemas.CallNextIn):
    """Call the first resident waiting today (arrival order)."""
    actor = _actor()
    cid = desk.default_community(actor, body.community_id)
    return booking_out(desk.call_next(actor, cid))


@endpoint(
    api,
    "/stats",
    query=schemas.StatsQuery,
    response=schemas.StatsOut,
    roles=STAFF,
    tags=["appointments"],
)
def figures(query: schemas.StatsQuery):
    """Bookings, no-show rate, waiting time and satisfaction per service (vs the seed's 95 %)."""
    actor = _actor()
    cid = None
    if query.community_id is not None:
        cid = desk.default_community(actor, query.community_id)
    return stats.service_figures(actor, cid, days=query.days)


@endpoint(
    api,
    "/bookings/<int:booking_id>/phone/reveal",
    methods=["POST"],
    body=schemas.PhoneRevealIn,
    response=schemas.PhoneRevealOut,
    roles=STAFF,
    tags=["appointments"],
    responses={422: "No reason given", 429: "Too many numbers revealed"},
)
def reveal_phone(booking_id: int, body: schemas.PhoneRevealIn):
    """The booking's full phone, for a reason (audited; at most 30 reveals an hour)."""
    out = contact.reveal_phone(_actor(), booking_id, body.reason, ip=request.remote_addr or "")
    return schemas.PhoneRevealOut(**out)


@endpoint(
    task_api,
    "/tasks/<int:task_id>/contact/reveal",
    methods=["POST"],
    body=schemas.PhoneRevealIn,
    response=schemas.PhoneRevealOut,
    roles=("grid_worker", *STAFF),
    tags=["appointments"],
    responses={
        403: "Not the worker sent there, or the task is closed",
        404: "Not a task of yours, or not an at-home booking's",
        422: "No reason given",
        429: "Too many numbers revealed",
    },
)
def reveal_task_phone(task_id: int, body: schemas.PhoneRevealIn):
    """The full phone of the resident an at-home task serves, for the worker sent there while
    the task is open (and the desk's staff); a reason is required, audited, throttled. The
    answer's ``id`` is the task's."""
    out = contact.reveal_task_phone(_actor(), task_id, body.reason, ip=request.remote_addr or "")
    return schemas.PhoneRevealOut(**out)
