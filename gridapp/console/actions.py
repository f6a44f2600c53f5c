"""What the current user may do to a matter, as the matters state machine says, and the words
for states and actions. Nothing here decides a rule: ``states.check`` does."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from gridapp.matters import service as msvc
from gridapp.matters import states
from gridapp.org.models import User
from gridapp.scope import Scope

STATE_NAMES = {
    "reported": _l("Reported"),
    "triaged": _l("Triaged"),
    "dispatched": _l("Dispatched"),
    "in_progress": _l("In progress"),
    "resolved": _l("Resolved"),
    "verified": _l("Verified"),
    "closed": _l("Closed"),
    "returned": _l("Returned"),
    "escalated": _l("Escalated"),
    "reopened": _l("Reopened"),
}
ACTION_NAMES = {
    "report": _l("Report"),
    "triage": _l("Triage"),
    "dispatch": _l("Dispatch"),
    "accept": _l("Accept"),
    "return": _l("Return"),
    "progress": _l("Report progress"),
    "resolve": _l("Resolve"),
    "verify": _l("Verify"),
    "reject": _l("Reject the result"),
    "close": _l("Close"),
    "rate": _l("Rate"),
    "reopen": _l("Reopen"),
    "escalate": _l("Escalate"),
    "photo": _l("Photos added"),  # a photo that arrived after its matter (not a move)
}
PART_STATE_NAMES = {
    "dispatched": _l("Waiting to be accepted"),
    "in_progress": _l("In progress"),
    "resolved": _l("Resolved"),
    "returned": _l("Returned"),
}


def state_names() -> dict[str, str]:
    return {k: str(v) for k, v in STATE_NAMES.items()}


def action_names() -> dict[str, str]:
    return {k: str(v) for k, v in ACTION_NAMES.items()}


def part_state_names() -> dict[str, str]:
    return {k: str(v) for k, v in PART_STATE_NAMES.items()}


@dataclass(frozen=True)
class Available:
    action: str
    fields: tuple[str, ...]  # what the form must ask for


def available(actor: User, matter, scope: Scope) -> list[Available]:
    """The actions ``matters.service.allowed_actions`` allows this user on this matter now (the
    page offers these and no other), with the fields each form asks for. ``rate`` belongs to the
    reporter (the resident) and has no console form."""
    out = []
    for action in msvc.allowed_actions(actor, matter, scope):
        if action == "rate":
            continue
        needed = list(states.REQUIRES.get(action, ()))
        if action == "dispatch":
            needed.append("department_ids")
        if action == "escalate":
            needed.append("category")
        out.append(Available(action, tuple(needed)))
    return out


def default_deadlines(community_id: int) -> dict[str, str]:
    """Per category, the deadline the rules give (without a department): "5 working days"."""
    from gridapp.matters.rules import rule_for

    out = {}
    for category in states.CATEGORIES:
        amount, unit, _every = rule_for(community_id, category, None)
        out[category] = (
            str(_l("%(n)s working days", n=amount))
            if unit == "workdays"
            else str(_l("%(n)s hours", n=amount))
        )
    return out
