"""A booking's phone: masked on every page and in every answer; revealed in full to the desk's
staff (``privacy.may_see_full(..., "booking_phone")``: to call a resident who has not come, or
to move a booking) and, through its task, to the grid worker an at-home booking was sent to
while that task is open (to agree the hour and find the door), by one explicit, audited,
throttled reveal at a time, like a matter's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from gridapp import privacy
from gridapp.appointments.desk import get_booking
from gridapp.appointments.models import Booking
from gridapp.errors import Forbidden, NotFound
from gridapp.masking import mask_phone
from gridapp.org.models import User
from gridapp.scope import Scope


def may_reveal_phone(actor: User) -> bool:
    return privacy.may_see_full(actor, "booking_phone")


def reveal_phone(actor: User, booking_id: int, reason: str, *, ip: str = "") -> dict[str, Any]:
    """The full phone of a booking in the actor's communities, for a reason; audited. 404 for
    a booking out of scope, 403 for a role that does not work the desk."""
    booking = get_booking(actor, booking_id)
    if not may_reveal_phone(actor):
        raise Forbidden(_("Only the service desk's staff may see the full number."))
    return {"id": booking.id, "phone": _revealed(actor, booking, reason, ip)}


def _revealed(actor: User, booking: Booking, reason: str, ip: str) -> str:
    """The reveal's toll (reason, limit, audit row on the booking), then the number."""
    privacy.reveal(
        actor,
        reason,
        action="reveal.booking_phone",
        target_type="booking",
        target_id=booking.id,
        fields=["phone"],
        ip=ip,
    )
    return booking.phone


@dataclass(frozen=True)
class _Asker:
    """Who a synced row is for, as the privacy rule reads a user (its id and role)."""

    id: int
    role: str


def task_contacts(tasks: list[Any], scope: Scope) -> dict[int, dict[str, Any]]:
    """For the tasks that are at-home bookings: the resident's masked phone and whether this
    user may reveal it (``tasks.service.ROW_EXTRAS``: the app shows it on the task's screen)."""
    by_id = {t.id: t for t in tasks}
    rows = (
        Booking.select(Booking.task, Booking.phone)
        .where(Booking.task.in_(list(by_id)), Booking.phone != "")
        .tuples()
    )
    asker = _Asker(scope.user_id, scope.role)
    return {
        task_id: {
            "contact_phone": mask_phone(phone),
            "contact_revealable": privacy.may_see_full(asker, "booking_phone", task=by_id[task_id]),
        }
        for task_id, phone in rows
    }


def reveal_task_phone(actor: User, task_id: int, reason: str, *, ip: str = "") -> dict[str, Any]:
    """The full phone of the at-home booking a task was made from, for a reason; audited as
    the booking's. 404 for a task out of scope or not from a booking, 403 for a user who is not
    the desk's staff nor the task's worker while it is open."""
    from gridapp.tasks.service import get_task

    task = get_task(actor, task_id)
    booking = Booking.get_or_none(Booking.task == task.id)
    if booking is None or not booking.phone:
        raise NotFound()
    if not privacy.may_see_full(actor, "booking_phone", task=task):
        raise Forbidden(
            _("Only the grid worker sent there, while the task is open, may see the full number.")
        )
    return {"id": task.id, "phone": _revealed(actor, booking, reason, ip)}
