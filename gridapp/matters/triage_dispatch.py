"""Triage and dispatch as one verb, all or nothing: the console's triage queue sets the category
and dispatches in one go, so a dispatch that cannot go ahead (a 专事 with no department, an
unknown department, a bad deadline, a stale version) must leave no triage behind. Everything the
two moves need is checked before anything is written, and both moves run in one transaction
(the state machine still checks each move as ``transition_matter`` always does)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from flask_babel import gettext as _

from gridapp.db import db
from gridapp.errors import Conflict, ValidationFailed
from gridapp.matters import states
from gridapp.matters.models import Matter
from gridapp.matters.service import check_deadline, get_matter, transition_matter
from gridapp.org.models import Department, User
from gridapp.scope import Scope, scope_for


def triage_and_dispatch(
    actor: User,
    matter_id: int,
    *,
    version: int,
    category: str | None,
    department_ids: Sequence[int] = (),
    note: str = "",
    deadline: dt.date | None = None,
    dispatch: bool = True,
    scope: Scope | None = None,
) -> Matter:
    """Set ``category`` (unless the matter is already triaged as that) and, with ``dispatch``,
    dispatch it to ``department_ids`` (专事: exactly one; 难事: one or more, the first leads;
    个事/社事: none, the departments are ignored). 404 outside the actor's scope; 422 naming the
    field for bad input; 409 for a stale version. Nothing is written on any error."""
    scope = scope or scope_for(actor)
    matter = get_matter(actor, matter_id, scope)
    if category not in states.CATEGORIES:
        raise ValidationFailed("category", _("Choose a category."), code="missing")
    deps = list(dict.fromkeys(int(d) for d in department_ids or ()))
    if dispatch and category in states.DEPARTMENT_CATEGORIES:
        if not deps:
            raise ValidationFailed(
                "department_ids",
                _("Choose the department that handles this %(c)s.", c=category),
                code="missing",
            )
        if category == "专事" and len(deps) != 1:
            raise ValidationFailed(
                "department_ids",
                _("A 专事 goes to exactly one department; joint handling is a 难事."),
                code="invalid",
            )
        active = {
            d
            for (d,) in Department.select(Department.id)
            .where(Department.id.in_(deps), Department.is_active == True)  # noqa: E712
            .tuples()
        }
        if any(d not in active for d in deps):
            raise ValidationFailed("department_ids", _("Unknown department."), code="invalid")
    elif dispatch:
        deps = []
    if deadline is not None and not dispatch:
        raise ValidationFailed("deadline", _("A deadline can only be set when dispatching."))
    check_deadline(deadline)
    if version != matter.version:
        raise Conflict(_("This matter changed since you loaded it; reload it."), code="stale")
    with db.atomic():
        if matter.state != "triaged" or matter.category != category:
            matter = transition_matter(
                actor, matter_id, "triage", version=version, category=category, note=note
            )
        if dispatch:
            matter = transition_matter(
                actor,
                matter_id,
                "dispatch",
                version=matter.version,
                department_ids=deps,
                note=note,
                deadline=deadline,
            )
    return matter
