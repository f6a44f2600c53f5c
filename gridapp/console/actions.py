"""What the current user may do to a matter, as the matters state machine says, and the words
for states and actions. Nothing here decides a rule: ``states.check`` does."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _p

from gridapp.matters import service as msvc
from gridapp.matters import states
from gridapp.org.models import User
from gridapp.scope import Scope

# With a context each: the worker app's catalog words some of the same English differently
# ("Closed", "Accept"), and one merged catalog would let either win.
STATE_NAMES = {
    "reported": _p("matter state", "Reported"),
    "triaged": _p("matter state", "Triaged"),
    "dispatched": _p("matter state", "Dispatched"),
    "in_progress": _p("matter state", "In progress"),
    "resolved": _p("matter state", "Resolved"),
    "verified": _p("matter state", "Verified"),
    "closed": _p("matter state", "Closed"),
    "returned": _p("matter state", "Returned"),
    "escalated": _p("matter state", "Escalated"),
    "reopened": _p("matter state", "Reopened"),
}
ACTION_NAMES = {
    "report": _p("matter action", "Report"),
    "triage": _p("matter action", "Triage"),
    "dispatch": _p("matter action", "Dispatch"),
    "accept": _p("matter action", "Accept"),
    "return": _p("matter action", "Return"),
    "progress": _p("matter action", "Report progress"),
    "resolve": _p("matter action", "Resolve"),
    "verify": _p("matter action", "Verify"),
    "reject": _p("matter action", "Reject the result"),
    "close": _p("matter action", "Close"),
    "rate": _p("matter action", "Rate"),
    "reopen": _p("matter action", "Reopen"),
    "escalate": _p("matter action", "Escalate"),
    "photo": _p(
        "matter action", "Photos added"
    ),  # a photo that arrived after its matter (not a move)
}
PART_STATE_NAMES = {
    "dispatched": _p("department part state", "Waiting to be accepted"),
    "in_progress": _p("department part state", "In progress"),
    "resolved": _p("department part state", "Resolved"),
    "returned": _p("department part state", "Returned"),
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
