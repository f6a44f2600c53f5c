"""Booking verbs of the resident (no account: the booking code is the key) and the one way a
booking changes state (``move``: conditional on state and version, with its timeline event).

- ``book(community_id, service_id, starts_at, name, phone, *, grid_id=None, address="",
  note="") -> Booking`` — takes one place of the slot: ``UPDATE appt_slot SET booked = booked
  + 1 WHERE id = ? AND booked < capacity`` in the booking's transaction, so of two phones
  racing for the last place exactly one gets it (409 ``full`` for the other), on SQLite
  (``BEGIN IMMEDIATE`` serialises writers) and PostgreSQL (the row lock; READ COMMITTED
  re-checks ``booked < capacity`` after the winner commits).
- ``change_booking(code, starts_at)``, ``cancel_booking(code)``, ``rate_booking(code, rating,
  note="")`` (once, after handling), ``public_view(code)``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import gettext as _
from peewee import IntegrityError

from gridapp.appointments import catalogue, rules
from gridapp.appointments.models import ApptService, ApptSlot, Booking, BookingEvent
from gridapp.db import db, utcnow
from gridapp.errors import Conflict, NotFound, ValidationFailed
from gridapp.masking import mask_name, mask_phone
from gridapp.org.models import Grid, User
from gridapp.textrules import has_control
from gridapp.times import local_text


def _event(booking: Booking, action: str, before: str, after: str, actor: User | None, note=""):
    BookingEvent.create(
        booking=booking.id,
        at=utcnow(),
        actor=actor.id if actor else None,
        action=action,
        from_state=before,
        to_state=after,
        note=(note or "")[:1000],
    )


def move(
    booking: Booking,
    action: str,
    actor: User | None,
    *,
    note: str = "",
    version: int | None = None,
    **fields: Any,
) -> Booking:
    """Apply ``action`` (the state machine in ``rules``) with ``fields``; 409 ``illegal`` or
    ``stale`` when the booking moved meanwhile. Runs inside the caller's transaction."""
    to = rules.target(booking.state, action)
    if to is None:
        raise Conflict(
            _("This booking cannot be changed that way now."),
            code="illegal_transition",
            field="action",
            state=booking.state,
        )
    if version is not None and version != booking.version:
        raise Conflict(_("This booking changed meanwhile; reload it."), code="stale")
    now = utcnow()
    n = (
        Booking.update(state=to, version=booking.version + 1, updated_at=now, **fields)
        .where(
            Booking.id == booking.id,
            Booking.version == booking.version,
            Booking.state == booking.state,
        )
        .execute()
    )
    if n != 1:
        raise Conflict(_("This booking changed meanwhile; reload it."), code="stale")
    before = booking.state
    if to == "cancelled" or (to == "no_show" and booking.slot.starts_at > now):
        _release(booking.slot_id)
    _event(booking, action, before, to, actor, note)
    return Booking.get_by_id(booking.id)


def _claim(slot: ApptSlot) -> None:
    n = (
        ApptSlot.update(booked=ApptSlot.booked + 1)
        .where(ApptSlot.id == slot.id, ApptSlot.booked < ApptSlot.capacity)
        .execute()
    )
    if n != 1:
        raise Conflict(
            _("Sorry, this time has just been fully booked. Please choose another time."),
            code="full",
            field="slot",
        )


def _release(slot_id: int) -> None:
    ApptSlot.update(booked=ApptSlot.booked - 1).where(
        ApptSlot.id == slot_id, ApptSlot.booked > 0
    ).execute()


def check_resident(
    service: ApptService, name: str, phone: str, grid_id: int | None, address: str, note: str
) -> dict[str, Any]:
    """The resident's form, every field checked before anything is written; a 422 lists every
    failing field (``errors``) so the phone shows them all at once, the first in ``field``."""
    errors: list[tuple[str, str]] = []
    name = rules.clean_name(name)
    if not name:
        errors.append(("name", _("Please give your name.")))
    elif len(name) > rules.NAME_MAX or has_control(name):
        errors.append(("name", _("At most %(n)d characters.", n=rules.NAME_MAX)))
    phone = rules.normalise_phone(phone)
    if not rules.phone_ok(phone):
        msg = _("Enter an 11-digit mobile number or a landline with area code, e.g. 010-12345678.")
        errors.append(("phone", msg))
    address = (address or "").strip()
    note = (note or "").strip()
    if len(address) > rules.ADDRESS_MAX or has_control(address):
        errors.append(("address", _("At most %(n)d characters.", n=rules.ADDRESS_MAX)))
    if len(note) > rules.NOTE_MAX or has_control(note):
        errors.append(("note", _("At most %(n)d characters.", n=rules.NOTE_MAX)))
    if service.place == "home":
        if not address:
            errors.append(("address", _("Please give the address to visit.")))
        grid = Grid.get_or_none(Grid.id == grid_id) if grid_id else None
        if grid is None or grid.community_id != service.community_id:
            errors.append(("grid_id", _("Choose your grid.")))
    elif grid_id:
        grid = Grid.get_or_none(Grid.id == grid_id)
        if grid is None or grid.community_id != service.community_id:
            grid_id = None
    if errors:
        first = ValidationFailed(*errors[0])
        first.errors = [{"field": f, "message": str(m)} for f, m in errors]
        raise first
    return {"name": name, "phone": phone, "grid": grid_id or None, "address": address, "note": note}


def _insert(fields: dict[str, Any]) -> Booking:
    """Insert with a fresh code; a collision (31^10 codes: practically never) takes another in a
    savepoint instead of costing every booking a lookup first."""
    for attempt in range(5):
        try:
            with db.atomic():
                return Booking.create(code=rules.new_code(), **fields)
        except IntegrityError:
            if attempt == 4:
                raise
    raise RuntimeError("unreachable")


def book(
    community_id: int,
    service_id: int,
    starts_at: dt.datetime,
    name: str,
    phone: str,
    *,
    grid_id: int | None = None,
    address: str = "",
    note: str = "",
    now: dt.datetime | None = None,
) -> Booking:
    """Book one place (see the module docstring); all or nothing."""
    service = catalogue.public_service(community_id, service_id)
    fields = check_resident(service, name, phone, grid_id, address, note)
    with db.atomic():
        slot = catalogue.slot_for(service, starts_at, now=now)
        if (
            Booking.select()
            .where(
                Booking.slot == slot.id,
                Booking.phone == fields["phone"],
                Booking.state.in_(sorted(rules.OPEN_STATES)),
            )
            .exists()
        ):
            raise Conflict(
                _("This phone already has a booking at this time."), code="duplicate", field="slot"
            )
        at = now or utcnow()
        booking = _insert(
            {
                "service": service.id,
                "slot": slot.id,
                "community": service.community_id,
                "starts_at": slot.starts_at,
                "created_at": at,
                "updated_at": at,
                **fields,
            }
        )
        _event(booking, "book", "", "booked", None)
        # Last, so the slot row's lock (PostgreSQL) is held from this UPDATE to the commit only:
        # a full slot rolls the booking and its event back with it.
        _claim(slot)
    return booking


def by_code(code: str) -> Booking:
    code = rules.normalise_code(code)
    booking = (
        Booking.select(Booking, ApptService).join(ApptService).where(Booking.code == code).first()
        if code
        else None
    )
    if booking is None:
        raise NotFound()
    return booking


def change_booking(code: str, starts_at: dt.datetime, now: dt.datetime | None = None) -> Booking:
    """Move a booking to another slot of the same service: the new place is claimed before the
    old one is given back, in one transaction (a full slot leaves the booking as it was)."""
    with db.atomic():
        booking = by_code(code)
        if booking.state != "booked":
            raise Conflict(_("This booking can no longer be changed."), code="illegal_transition")
        if starts_at == booking.starts_at:
            return booking
        slot = catalogue.slot_for(booking.service, starts_at, now=now)
        _claim(slot)
        at = utcnow()
        n = (
            Booking.update(
                slot=slot.id, starts_at=slot.starts_at, version=booking.version + 1, updated_at=at
            )
            .where(
                Booking.id == booking.id,
                Booking.version == booking.version,
                Booking.state == "booked",
            )
            .execute()
        )
        if n != 1:
            raise Conflict(_("This booking changed meanwhile; reload it."), code="stale")
        _release(booking.slot_id)
        _event(
            booking,
            "change",
            "booked",
            "booked",
            None,
            f"{local_text(booking.starts_at)} → {local_text(slot.starts_at)}",
        )
    return Booking.get_by_id(booking.id)


def cancel_booking(code: str) -> Booking:
    with db.atomic():
        booking = by_code(code)
        if booking.state != "booked":
            raise Conflict(_("This booking can no longer be cancelled."), code="illegal_transition")
        return move(booking, "cancel", None)


def rate_booking(code: str, rating: str, note: str = "") -> Booking:
    """The resident's one rating after handling (满意 / 基本满意 / 不满意)."""
    if rating not in rules.RATINGS:
        raise ValidationFailed("rating", _("Choose one of the ratings."))
    note = (note or "").strip()
    if len(note) > rules.NOTE_MAX or has_control(note):
        raise ValidationFailed("note", _("At most %(n)d characters.", n=rules.NOTE_MAX))
    with db.atomic():
        booking = by_code(code)
        if booking.state != "handled":
            raise Conflict(_("You can rate once the service is done."), code="not_handled")
        at = utcnow()
        n = (
            Booking.update(rating=rating, rating_note=note, rated_at=at, updated_at=at)
            .where(Booking.id == booking.id, Booking.rating.is_null())
            .execute()
        )
        if n != 1:
            raise Conflict(
                _("This booking has already been rated; thank you."), code="already_rated"
            )
        _event(booking, "rate", "handled", "handled", None, f"{rating} {note}".strip())
    return Booking.get_by_id(booking.id)


def public_view(code: str) -> dict[str, Any]:
    """What the resident's booking page shows: nothing about anyone else, their own name and
    phone masked (the code's holder may not be the resident)."""
    b = by_code(code)
    s = b.service
    return {
        "code": b.code,
        "code_text": rules.format_code(b.code),
        "community_id": b.community_id,
        "service": s,
        "materials": catalogue.materials_of(s),
        "starts_at": b.starts_at,
        "ends_at": b.slot.ends_at,
        "state": b.state,
        "name": mask_name(b.name),
        "phone": mask_phone(b.phone),
        "address": "" if not b.address else b.address[:2] + "…",
        "result": b.result if b.state == "handled" else "",
        "rating": b.rating,
        "can_change": b.state == "booked" and b.starts_at > utcnow(),
        "can_rate": b.state == "handled" and not b.rating,
        "queue_no": queue_number(b) if b.state in ("arrived", "serving") else None,
    }


def queue_number(b: Booking) -> int:
    """The 取号 number: the booking's place among the day's arrivals at its community."""
    from gridapp.times import local_day_start_utc, to_local

    day = to_local(b.starts_at).date()
    return (
        Booking.select()
        .where(
            Booking.community == b.community_id,
            Booking.starts_at.between(local_day_start_utc(day), local_day_start_utc(day, True)),
            Booking.arrived_at.is_null(False),
            (Booking.arrived_at < b.arrived_at)
            | ((Booking.arrived_at == b.arrived_at) & (Booking.id <= b.id)),
        )
        .count()
    )
