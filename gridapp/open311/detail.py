"""What an integrator sent with a matter's Open311 request, for the console's matter page: the
key's name, the typed address and the building it resolved to (the ``address_id``), the
coordinates, the service code, and the reporter's name and e-mail — those two masked, revealed in
full only by the contact phone's rule (``privacy.may_see_full(..., "matter_contact")``: the staff
handling the matter), with a reason, throttled and audited like the phone. The public Open311
GETs never read this (``public.py``)."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from gridapp import privacy
from gridapp.errors import Forbidden, NotFound
from gridapp.masking import mask_email, mask_name
from gridapp.matters.models import Matter
from gridapp.matters.service import get_matter
from gridapp.open311.models import Open311Key, Open311Request
from gridapp.org.models import User
from gridapp.registry.models import Building
from gridapp.scope import Scope, scope_for


def request_of(matter: Matter) -> Open311Request | None:
    """The Open311 request that created ``matter`` (None for any other source)."""
    if matter.source != "open311":
        return None
    return Open311Request.get_or_none(Open311Request.matter == matter.id)


def may_reveal_reporter(actor: User, matter: Matter, scope: Scope | None = None) -> bool:
    """The same people who may reveal the matter's contact phone."""
    return privacy.may_see_full(actor, "matter_contact", scope=scope, matter=matter)


def summary(
    actor: User, matter: Matter, scope: Scope | None = None, *, revealed: bool = False
) -> dict[str, Any] | None:
    """The Open311 box of a matter the caller has already read through its scope
    (``get_matter``): None when it did not come through Open311. Name and e-mail are masked
    unless ``revealed`` (set only by ``reveal_reporter``'s caller)."""
    req = request_of(matter)
    if req is None:
        return None
    key = Open311Key.get_or_none(Open311Key.id == req.key_id) if req.key_id else None
    building = Building.get_or_none(Building.id == req.building_id) if req.building_id else None
    has_personal = bool(req.contact_name or req.contact_email)
    return {
        "integrator": key.name if key else "",
        "key_prefix": key.prefix if key else "",
        "service_code": req.service_code,
        "address_string": req.address_string,
        "address_id": req.building_id,
        "building": " ".join(p for p in (building.name, building.address) if p) if building else "",
        "lat": req.lat,
        "lon": req.lon,
        "contact_name": req.contact_name if revealed else mask_name(req.contact_name),
        "contact_email": req.contact_email if revealed else mask_email(req.contact_email),
        "revealed": revealed,
        "revealable": has_personal and not revealed and may_reveal_reporter(actor, matter, scope),
    }


def reveal_reporter(
    actor: User, matter_id: int, reason: str, *, ip: str = "", scope: Scope | None = None
) -> Matter:
    """Pay for one reveal of the integrator-given name and e-mail (a reason, the shared reveal
    throttle) and audit it. 404 out of scope or not an Open311 matter, 403 for staff in scope
    who do not handle it. Returns the matter, to render its box with ``revealed=True``."""
    scope = scope or scope_for(actor)
    matter = get_matter(actor, matter_id, scope)
    req = request_of(matter)
    if req is None:
        raise NotFound()
    if not may_reveal_reporter(actor, matter, scope):
        raise Forbidden(_("Only the staff handling this matter may see the reporter's details."))
    privacy.reveal(
        actor,
        reason,
        action="reveal.open311_reporter",
        target_type="matter",
        target_id=matter.id,
        fields=["contact_name", "contact_email"],
        ip=ip,
    )
    return matter
