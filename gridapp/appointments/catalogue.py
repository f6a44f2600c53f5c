"""A community's service catalogue (supervisors edit it, residents read it) and the slots a
service offers on the working-day calendar, with the places left in each.

- ``save_service(actor, data, service_id=None, version=None) -> ApptService`` — create or edit
  (scoped to the actor's communities; 409 ``stale`` on an old version).
- ``list_services(community_id, active_only=True)``, ``get_service(actor, id)``.
- ``open_slots(service, days=...) -> list[dict]`` — the bookable slots with places left.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask_babel import gettext as _
from peewee import IntegrityError

from gridapp.appointments import rules
from gridapp.appointments.models import ApptService, ApptSlot
from gridapp.db import db, utcnow
from gridapp.errors import Conflict, Forbidden, NotFound, ValidationFailed
from gridapp.matters.calendar import working_calendar
from gridapp.matters.deadlines import to_local, to_utc
from gridapp.org.models import User
from gridapp.scope import scope_for
from gridapp.textrules import has_control
from gridapp.times import local_today

MANAGERS = ("supervisor", "admin")


def hours_of(service: ApptService) -> rules.Hours:
    try:
        return rules.parse_hours(json.loads(service.hours or "{}"))
    except (ValueError, TypeError):
        return {}


def materials_of(service: ApptService) -> list[str]:
    try:
        value = json.loads(service.materials or "[]")
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def _text(data: dict, name: str, limit: int, required: bool = False) -> str:
    value = data.get(name, "")
    value = value.strip() if isinstance(value, str) else ""
    if required and not value:
        raise ValidationFailed(name, _("This field is required."))
    if len(value) > limit:
        raise ValidationFailed(name, _("At most %(n)d characters.", n=limit))
    if has_control(value):
        raise ValidationFailed(name, _("Control characters are not allowed."))
    return value


def _int(data: dict, name: str, lo: int, hi: int, default: int) -> int:
    value = data.get(name, default)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ValidationFailed(name, _("A whole number from %(lo)d to %(hi)d.", lo=lo, hi=hi))
    return value


def check_service(data: dict[str, Any]) -> dict[str, Any]:
    """Validate a catalogue entry (everything before anything is written)."""
    place = data.get("place", "hall")
    if place not in rules.PLACES:
        raise ValidationFailed("place", _("Choose the service hall or at home."))
    materials = data.get("materials", [])
    if isinstance(materials, str):
        materials = [m.strip() for m in materials.splitlines()]
    if not isinstance(materials, list) or len(materials) > 20:
        raise ValidationFailed("materials", _("At most 20 items."))
    clean = []
    for i, m in enumerate(materials):
        if not isinstance(m, str):
            raise ValidationFailed(f"materials.{i}", _("Text expected."))
        m = m.strip()
        if len(m) > 100 or has_control(m):
            raise ValidationFailed(f"materials.{i}", _("At most %(n)d characters.", n=100))
        if m:
            clean.append(m)
    hours = data.get("hours", {})
    if isinstance(hours, str):
        try:
            hours = json.loads(hours or "{}")
        except ValueError:
            raise ValidationFailed("hours", _("Opening hours are not valid.")) from None
    try:
        parsed = rules.parse_hours(hours)
    except ValueError as exc:
        where, why = exc.args if len(exc.args) == 2 else ("", str(exc))
        raise ValidationFailed(
            f"hours.{where}" if where != "hours" else "hours",
            _("Opening hours are not valid: %(why)s", why=why),
        ) from None
    return {
        "name": _text(data, "name", 60, required=True),
        "description": _text(data, "description", 1000),
        "location": _text(data, "location", 100),
        "place": place,
        "materials": json.dumps(clean, ensure_ascii=False),
        "duration_minutes": _int(data, "duration_minutes", 5, 480, 15),
        "slot_minutes": _int(data, "slot_minutes", 5, 240, 30),
        "hours": json.dumps({str(d): [list(w) for w in ws] for d, ws in parsed.items()}),
        "active": bool(data.get("active", True)),
        "sort": _int(data, "sort", 0, 1000, 0),
    }


def save_service(
    actor: User,
    data: dict[str, Any],
    *,
    service_id: int | None = None,
    version: int | None = None,
) -> ApptService:
    """Create (``data["community_id"]``) or edit a catalogue entry; capacity changes apply to
    slots not yet begun (never below the places already booked)."""
    if actor.role not in MANAGERS:
        raise Forbidden(_("Your role may not do this."))
    scope = scope_for(actor)
    fields = check_service(data)
    now = utcnow()
    with db.atomic():
        if service_id is None:
            community_id = data.get("community_id")
            if not isinstance(community_id, int) or not scope.sees_community(community_id):
                raise ValidationFailed("community_id", _("Unknown community."))
            return ApptService.create(
                community=community_id, created_at=now, updated_at=now, **fields
            )
        service = get_service(actor, service_id)
        if version is not None and version != service.version:
            raise Conflict(_("Someone changed this service meanwhile; reload it."), code="stale")
        n = (
            ApptService.update(version=service.version + 1, updated_at=now, **fields)
            .where(ApptService.id == service.id, ApptService.version == service.version)
            .execute()
        )
        if n != 1:
            raise Conflict(_("Someone changed this service meanwhile; reload it."), code="stale")
        service = ApptService.get_by_id(service.id)
        _resize_future_slots(service, now)
        return service


def _resize_future_slots(service: ApptService, now: dt.datetime) -> None:
    hours = hours_of(service)
    for slot in ApptSlot.select().where(ApptSlot.service == service.id, ApptSlot.starts_at > now):
        local = to_local(slot.starts_at)
        cap = 0
        for start, end, c in hours.get(local.weekday(), []) or hours.get(0, []):
            if start <= local.strftime("%H:%M") < end:
                cap = c
        new = max(cap, slot.booked)
        if new != slot.capacity:
            ApptSlot.update(capacity=new).where(ApptSlot.id == slot.id).execute()


def get_service(actor: User, service_id: int) -> ApptService:
    """A catalogue entry in the actor's communities (404 outside)."""
    service = ApptService.get_or_none(ApptService.id == service_id)
    if service is None or not scope_for(actor).sees_community(service.community_id):
        raise NotFound()
    return service


def list_services(community_id: int, active_only: bool = True) -> list[ApptService]:
    q = ApptService.select().where(ApptService.community == community_id)
    if active_only:
        q = q.where(ApptService.active == True)  # noqa: E712
    return list(q.order_by(ApptService.sort, ApptService.id))


def public_service(community_id: int, service_id: int) -> ApptService:
    service = ApptService.get_or_none(
        ApptService.id == service_id,
        ApptService.community == community_id,
        ApptService.active == True,  # noqa: E712
    )
    if service is None:
        raise NotFound()
    return service


def open_slots(
    service: ApptService,
    *,
    today: dt.date | None = None,
    days: int = rules.BOOK_AHEAD_DAYS,
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """Every slot from now to ``days`` ahead with its places left (one query for the counters
    of slots already booked); past slots and rest days are not offered."""
    today = today or local_today()
    now = now or utcnow()
    is_working = working_calendar(today, days + 1)
    hours = hours_of(service)
    wanted = []
    for day in rules.bookable_days(today, days):
        for s in rules.slots_for_day(hours, service.slot_minutes, day, is_working):
            starts = to_utc(s.starts)
            if starts > now:
                wanted.append((starts, to_utc(s.ends), s.capacity))
    if not wanted:
        return []
    booked = {
        starts: (cap, n)
        for starts, cap, n in ApptSlot.select(
            ApptSlot.starts_at, ApptSlot.capacity, ApptSlot.booked
        )
        .where(
            ApptSlot.service == service.id,
            ApptSlot.starts_at.between(wanted[0][0], wanted[-1][0]),
        )
        .tuples()
    }
    out = []
    for starts, ends, cap in wanted:
        cap_now, n = booked.get(starts, (cap, 0))
        out.append({"starts_at": starts, "ends_at": ends, "capacity": cap_now, "left": cap_now - n})
    return out


def slot_for(
    service: ApptService, starts_at: dt.datetime, now: dt.datetime | None = None
) -> ApptSlot:
    """The counter row of the slot starting at ``starts_at`` (naive UTC), created on first use.
    422 ``slot`` when the hours and calendar offer no such slot or it has begun."""
    now = now or utcnow()
    local = to_local(starts_at)
    is_working = working_calendar(local.date(), 1)
    s = rules.slot_at(hours_of(service), service.slot_minutes, local, is_working)
    if s is None or starts_at <= now:
        raise ValidationFailed("slot", _("This time is not open for booking; choose another."))
    if (local.date() - local_today()).days > rules.BOOK_AHEAD_DAYS:
        raise ValidationFailed("slot", _("This time is not open for booking; choose another."))
    row = ApptSlot.get_or_none(ApptSlot.service == service.id, ApptSlot.starts_at == starts_at)
    if row is not None:
        return row
    try:
        with db.atomic():  # a savepoint: a racing insert of the same slot is not an error
            return ApptSlot.create(
                service=service.id,
                starts_at=starts_at,
                ends_at=to_utc(s.ends),
                capacity=s.capacity,
                booked=0,
            )
    except IntegrityError:  # the other phone created it first
        pass
    return ApptSlot.get(ApptSlot.service == service.id, ApptSlot.starts_at == starts_at)
