"""The resident's contact phone on a matter: masked everywhere, revealed in full only to the
staff handling the matter (``privacy.may_see_full(..., "matter_contact")``), one explicit,
audited, throttled reveal at a time — the report form promises "仅办理人员可见"."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from gridapp import privacy
from gridapp.errors import Forbidden
from gridapp.masking import mask_phone
from gridapp.matters.models import Matter
from gridapp.matters.service import get_matter
from gridapp.org.models import User
from gridapp.scope import Scope, scope_for


def shown_contact(matter: Matter) -> str:
    """What every page and response carries: the masked number (or nothing)."""
    return mask_phone(matter.contact_phone)


def may_reveal_contact(actor: User, matter: Matter, scope: Scope | None = None) -> bool:
    return bool(matter.contact_phone) and privacy.may_see_full(
        actor, "matter_contact", scope=scope, matter=matter
    )


def reveal_contact(
    actor: User, matter_id: int, reason: str, *, ip: str = "", scope: Scope | None = None
) -> dict[str, Any]:
    """The full contact phone of a matter the actor handles, for a reason; audited. 404 for a
    matter out of scope, 403 for one in scope that the actor does not handle."""
    scope = scope or scope_for(actor)
    matter = get_matter(actor, matter_id, scope)
    if not may_reveal_contact(actor, matter, scope):
        raise Forbidden(_("Only the staff handling this matter may see the contact phone."))
    privacy.reveal(
        actor,
        reason,
        action="reveal.matter_contact",
        target_type="matter",
        target_id=matter.id,
        fields=["contact_phone"],
        ip=ip,
    )
    return {"id": matter.id, "contact_phone": matter.contact_phone}
