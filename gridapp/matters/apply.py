"""What each matter action does once the state machine has allowed it (called by
``service.transition_matter`` inside its transaction; never on its own)."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from gridapp.db import utcnow
from gridapp.errors import ValidationFailed
from gridapp.matters import people, rules, states
from gridapp.matters.models import Matter, MatterPart
from gridapp.matters.service import (
    _event,
    _link,
    _save,
    handlers_of,
    record_matter,
)
from gridapp.notifications.service import notify
from gridapp.org.models import Department, User
from gridapp.times import iso_utc


def _dispatch(matter: Matter, fields: dict[str, Any], now) -> list[int]:
    """Make the listed departments the matter's active parts; returns departments it left."""
    if not matter.category:
        raise ValidationFailed("category", _("Triage the matter first."), code="missing")
    wanted: list[int] = []
    if matter.category in states.DEPARTMENT_CATEGORIES:
        wanted = [int(d) for d in fields["department_ids"]]
        if matter.category == "专事" and len(wanted) != 1:
            raise ValidationFailed(
                "department_ids",
                _("A 专事 goes to exactly one department; joint handling is a 难事."),
                code="invalid",
            )
        found = {
            d
            for (d,) in Department.select(Department.id)
            .where(Department.id.in_(wanted), Department.is_active == True)  # noqa: E712
            .tuples()
        }
        for i, d in enumerate(wanted):
            if d not in found:
                raise ValidationFailed(f"department_ids.{i}", _("Unknown department."))
    existing = {
        p.department_id: p for p in MatterPart.select().where(MatterPart.matter == matter.id)
    }
    left = []
    for dep, part in existing.items():
        if dep not in wanted and part.state != "returned":
            part.state = "returned"
            part.version += 1
            part.updated_at = now
            part.save()
            left.append(dep)
    for i, dep in enumerate(wanted):
        part = existing.get(dep)
        if part is None:
            MatterPart.create(matter=matter.id, department=dep, lead=(i == 0), created_at=now)
        else:
            part.state, part.lead, part.result = "dispatched", i == 0, ""
            part.version += 1
            part.updated_at = now
            part.save()
    rule_due = rules.start_deadline(
        matter, now, wanted[0] if wanted else None, due_day=fields.get("deadline")
    )
    if fields.get("deadline") is not None:
        # The trace of an override: the day chosen and what the rule would have given.
        fields["deadline_trace"] = {
            "deadline": fields["deadline"].isoformat(),
            "deadline_at": iso_utc(matter.deadline_at),
            "rule_deadline_at": iso_utc(rule_due),
        }
    return left


def _part_move(matter: Matter, part: MatterPart, action: str, fields: dict[str, Any], now) -> None:
    part.state = states.part_target(part.state, action) or part.state
    if action == "progress":
        part.note = fields["note"]
    if action == "resolve":
        part.result = fields["result"]
    part.version += 1
    part.updated_at = now
    part.save()
    all_parts = list(MatterPart.select().where(MatterPart.matter == matter.id))
    matter.state = states.rollup(matter.state, [p.state for p in all_parts])
    if matter.state == "resolved":
        matter.result = "\n".join(p.result for p in all_parts if p.state == "resolved")


def apply(
    matter: Matter,
    actor: User | None,
    role: str,
    action: str,
    fields: dict[str, Any],
    photo_ids: list[str],
    version: int,
    part: MatterPart | None,
) -> None:
    now = utcnow()
    before = matter.state
    left: list[int] = []
    note = fields["note"] or fields["reason"] or fields["result"]
    data: dict[str, Any] = {}
    title = matter.title
    sends: list[tuple[list[int], str, str, bool]] = []

    if part is not None and action in states.PART_ACTIONS:
        _part_move(matter, part, action, fields, now)
        if action == "return":
            left.append(part.department_id)
    else:
        matter.state = states.target(before, action, rating=fields["rating"]) or before

    if action == "triage":
        data = {"category": fields["category"], "previous": matter.category}
        matter.category = fields["category"]
    elif action == "dispatch":
        left += _dispatch(matter, fields, now)
        data = {"category": matter.category, "department_ids": fields["department_ids"]}
        data.update(fields.get("deadline_trace") or {})
        sends.append(
            (
                handlers_of(matter),
                "matter.dispatched",
                _("Matter for you: %(t)s", t=title),
                matter.urgent,
            )
        )
    elif action == "return":
        data = {"reason": fields["reason"]}
        if matter.state == "returned":
            rules.stop_deadline(matter)
        sends.append(
            (
                people.supervisors(matter.community_id),
                "matter.returned",
                _("Matter sent back: %(t)s", t=title),
                False,
            )
        )
    elif action == "progress" and matter.progress_every:
        matter.progress_due_at = rules.next_progress_due(matter, now)
    elif action == "resolve" and matter.state == "resolved":
        if part is None:
            matter.result = fields["result"]
        rules.stop_deadline(matter)
        who = people.supervisors(matter.community_id)
        if matter.reporter_id:
            who.append(matter.reporter_id)
        sends.append((who, "matter.resolved", _("Matter resolved: %(t)s", t=title), False))
    elif action == "reject":
        for p in MatterPart.select().where(
            MatterPart.matter == matter.id, MatterPart.state == "resolved"
        ):
            p.state, p.version, p.updated_at = "in_progress", p.version + 1, now
            p.save()
        lead = active_lead(matter)
        rules.start_deadline(matter, now, lead, due_day=rules.day_set_by_hand(matter, now))
        sends.append(
            (
                handlers_of(matter),
                "matter.returned",
                _("Result not accepted: %(t)s", t=title),
                False,
            )
        )
    elif action == "close":
        matter.closed_at = now
    elif action == "rate":
        matter.rating = fields["rating"]
        data = {"rating": fields["rating"]}
        if matter.state == "reopened":
            matter.closed_at = None
        who = people.supervisors(matter.community_id) + handlers_of(matter)
        sends.append(
            (who, "resident.rated", _("Rated %(r)s: %(t)s", r=fields["rating"], t=title), False)
        )
    elif action == "reopen":
        matter.closed_at = None
        data = {"reason": fields["reason"]}
    elif action == "escalate":
        previous_handlers = handlers_of(matter)
        new = fields["category"] or states.escalated_category(matter.category)
        data = {"from_category": matter.category, "category": new, "level": matter.level + 1}
        matter.category = new
        matter.level += 1
        rules.stop_deadline(matter)
        who = people.supervisors(matter.community_id) + previous_handlers
        sends.append((who, "matter.escalated", _("Matter escalated: %(t)s", t=title), True))

    _save(matter, version)
    _event(
        matter,
        actor,
        role if role != states.REPORTER else (actor.role if actor else "resident"),
        action,
        before,
        note=note,
        photo_ids=photo_ids,
        department_id=part.department_id if part is not None else None,
        data=data,
    )
    record_matter(matter, left_departments=left)
    for who, kind, text, urgent in sends:
        recipients = [u for u in who if not actor or u != actor.id]
        if recipients:
            notify(recipients, kind, text, note[:200], _link(matter), urgent=urgent)


def active_lead(matter: Matter) -> int | None:
    row = (
        MatterPart.select(MatterPart.department)
        .where(MatterPart.matter == matter.id, MatterPart.state != "returned")
        .order_by(MatterPart.lead.desc(), MatterPart.id)
        .first()
    )
    return row.department_id if row else None
