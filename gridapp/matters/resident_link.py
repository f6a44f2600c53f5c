"""The resident's rating link for a matter staff reported for them.

A resident who reports on the echo wall gets a rating key in their browser. When the grid worker
reports for the resident, the worker asks for a link (``/t/<code>?k=<key>``) to give the
resident; opening it stores the key in the resident's browser, so the resident — not the staff —
rates the result. Only the key's hash is kept and each new link replaces the last one's, so the
link the worker gave last is the one that works."""

from __future__ import annotations

import secrets

from flask_babel import gettext as _

from gridapp.audit import write_audit
from gridapp.db import db
from gridapp.errors import Conflict, NotFound
from gridapp.matters.models import Matter
from gridapp.matters.service import get_matter, hash_rating_key
from gridapp.org.models import User
from gridapp.scope import Scope


def issue_resident_link(
    actor: User, matter_id: int, *, ip: str = "", scope: Scope | None = None
) -> tuple[Matter, str]:
    """A fresh rating key for the matter ``actor`` reported; returns the matter and the key
    (shown once). 404 out of scope or for anyone but the reporter; 409 ``code=resident_reported``
    for an echo-wall matter (the resident holds their own key), ``code=already_rated`` once
    rated. Audited."""
    with db.atomic():
        matter = get_matter(actor, matter_id, scope)
        if matter.source == "resident":
            raise Conflict(
                _(
                    "The resident reported this matter on the echo wall and already has "
                    "their own rating link."
                ),
                code="resident_reported",
            )
        if matter.reporter_id != actor.id:
            raise NotFound()
        if matter.rating is not None:
            raise Conflict(
                _("This matter has already been rated; each matter is rated once."),
                code="already_rated",
                field="rating",
            )
        key = secrets.token_urlsafe(24)
        # Not a change the app syncs (the key is never sent), so the version stays.
        Matter.update(rating_key=hash_rating_key(key)).where(Matter.id == matter.id).execute()
        write_audit(
            actor.id,
            "matter.resident_link",
            "matter",
            matter.id,
            ip=ip,
            detail={"code": matter.code},
        )
    return matter, key
