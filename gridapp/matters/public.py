"""The resident's view of a matter by tracking code: status and timeline in plain words, the
public reply, and whether it may be rated. Reveals no names, phones or internal notes."""

from __future__ import annotations

import json
from typing import Any

from flask_babel import gettext as _

from gridapp.errors import NotFound
from gridapp.matters.deadlines import to_local
from gridapp.matters.models import Matter, MatterEvent
from gridapp.org.models import Department


def status_text(state: str) -> str:
    return {
        "reported": _("Received, waiting to be handled"),
        "triaged": _("Being assigned"),
        "dispatched": _("Passed to the handler"),
        "in_progress": _("Being handled"),
        "resolved": _("Handled, being checked"),
        "verified": _("Handled and checked"),
        "closed": _("Completed"),
        "returned": _("Being reassigned"),
        "escalated": _("Raised to a higher level"),
        "reopened": _("Reopened"),
    }.get(state, state)


def _event_text(ev: MatterEvent, departments: dict[int, str]) -> str | None:
    data = json.loads(ev.data or "{}")
    a = ev.action
    if a == "report":
        return _("Your report was received.")
    if a == "triage":
        return _("Classified as %(c)s.", c=data.get("category") or "")
    if a == "dispatch":
        names = "、".join(departments.get(int(d), "") for d in data.get("department_ids") or [])
        if names:
            return _("Passed to %(d)s.", d=names)
        return _("Passed to the handler.")
    if a == "accept":
        return _("The handler took it on.")
    if a == "progress":
        return _("Work is in progress.")
    if a == "resolve" and ev.to_state == "resolved":
        return _("Handled.")
    if a == "verify":
        return _("The result was checked.")
    if a == "close":
        return _("Completed. Please rate the result.")
    if a == "rate":
        return _("You rated it: %(r)s.", r=data.get("rating") or "")
    if a in ("reopen",) or ev.to_state == "reopened":
        return _("Reopened for further handling.")
    if a == "escalate":
        return _("Raised to a higher level for handling.")
    if a == "return":
        return _("Being passed to the right handler.") if ev.to_state == "returned" else None
    return None


def public_view(code: str) -> dict[str, Any]:
    """What the tracking page shows (404 for an unknown code)."""
    matter = Matter.get_or_none(Matter.code == (code or "").strip().upper())
    if matter is None:
        raise NotFound()
    events = list(
        MatterEvent.select()
        .where(MatterEvent.matter == matter.id)
        .order_by(MatterEvent.at, MatterEvent.id)
    )
    dep_ids = {
        int(d) for ev in events for d in json.loads(ev.data or "{}").get("department_ids") or []
    }
    departments = dict(
        Department.select(Department.id, Department.name)
        .where(Department.id.in_(sorted(dep_ids) or [0]))
        .tuples()
    )
    timeline = []
    for ev in events:
        text = _event_text(ev, departments)
        if text:
            timeline.append({"at": to_local(ev.at).strftime("%Y-%m-%d %H:%M"), "text": text})
    public_reply = matter.result if matter.state in ("resolved", "verified", "closed") else ""
    return {
        "code": matter.code,
        "status": matter.state,
        "status_text": status_text(matter.state),
        "category": matter.category,
        "reply": public_reply,
        "rating": matter.rating,
        "can_rate": matter.state == "closed" and matter.rating is None,
        "timeline": timeline,
    }
