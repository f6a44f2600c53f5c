"""A booking's phone: masked on every page and in every answer; revealed in full to the desk's
staff (``privacy.may_see_full(..., "booking_phone")``: to call a resident who has not come, or
to move a booking) by one explicit, audited, throttled reveal at a time, like a matter's."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from gridapp import privacy
from gridapp.appointments.desk import get_booking
from gridapp.errors import Forbidden
from gridapp.org.models import User


def may_reveal_phone(actor: User) -> bool:
    return privacy.may_see_full(actor, "booking_phone")


def reveal_phone(actor: User, booking_id: int, reason: str, *, ip: str = "") -> dict[str, Any]:
    """The full phone of a booking in the actor's communities, for a reason; audited. 404 for
    a booking out of scope, 403 for a role that does not work the desk."""
    booking = get_booking(actor, booking_id)
    if not may_reveal_phone(actor):
        raise Forbidden(_("Only the service desk's staff may see the full number."))
    privacy.reveal(
        actor,
        reason,
        action="reveal.booking_phone",
        target_type="booking",
        target_id=booking.id,
        fields=["phone"],
        ip=ip,
    )
    return {"id": booking.id, "phone": booking.phone}
