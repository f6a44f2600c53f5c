"""The matter state machine (四事分办), pure: which role may take which action from which state,
what each action requires, and where it leads. Imports only the standard library.

Matter-level transitions are in ``TRANSITIONS``. Matters handled by departments (专事, 难事) move
through *parts* (one per department, each with its own state, ``PART_TRANSITIONS``); the
matter's state then follows from its parts (``rollup``).
"""

from __future__ import annotations

from dataclasses import dataclass

STATES = (
    "reported",
    "triaged",
    "dispatched",
    "in_progress",
    "resolved",
    "verified",
    "closed",
    "returned",
    "escalated",
    "reopened",
)
OPEN_STATES = frozenset(STATES) - {"closed"}
TRIAGE_STATES = frozenset({"reported", "returned", "escalated", "reopened"})
# States in which a deadline runs (set on dispatch, stopped on resolve/escalate/return).
RUNNING_STATES = frozenset({"dispatched", "in_progress"})

CATEGORIES = ("个事", "社事", "专事", "难事")
DEPARTMENT_CATEGORIES = frozenset({"专事", "难事"})
# Who handles a dispatched matter of each category (DESIGN section 6).
HANDLER_ROLE = {
    "个事": "grid_worker",
    "社事": "supervisor",
    "专事": "department",
    "难事": "department",
}
# 社事社区办: the community handles a 社事, and the grid worker of the matter's grid is the
# community's hand in the field, so they may act on it too (accept, report progress, resolve,
# return) beside the supervisors. Other categories have one handler role.
CO_HANDLER_ROLES = {"社事": frozenset({"grid_worker"})}
# Escalation one level up: 个事 → 社事 → 难事, 专事 → 难事; 难事 stays 难事 at a higher level (督办).
ESCALATE_TO = {"个事": "社事", "社事": "难事", "专事": "难事", "难事": "难事"}

RATINGS = ("满意", "基本满意", "不满意")

SUPERVISOR = frozenset({"supervisor", "admin"})
HANDLER = "handler"  # placeholder: the handler role of the matter's category
SYSTEM = "system"
REPORTER = "reporter"  # whoever reported it (a resident by tracking code, or the reporting user)

TRANSITIONS: dict[tuple[str, str], str] = {
    ("reported", "triage"): "triaged",
    ("returned", "triage"): "triaged",
    ("escalated", "triage"): "triaged",
    ("reopened", "triage"): "triaged",
    ("triaged", "triage"): "triaged",
    ("triaged", "dispatch"): "dispatched",
    ("escalated", "dispatch"): "dispatched",
    ("reopened", "dispatch"): "dispatched",
    ("dispatched", "accept"): "in_progress",
    ("dispatched", "return"): "returned",
    ("in_progress", "return"): "returned",
    ("in_progress", "progress"): "in_progress",
    ("dispatched", "resolve"): "resolved",
    ("in_progress", "resolve"): "resolved",
    ("resolved", "verify"): "verified",
    ("resolved", "reject"): "in_progress",
    ("verified", "close"): "closed",
    ("closed", "rate"): "closed",  # 不满意 leads to "reopened" instead (see ``target``)
    ("closed", "reopen"): "reopened",
}
for _s in ("triaged", "dispatched", "in_progress", "reopened"):
    TRANSITIONS[(_s, "escalate")] = "escalated"

ACTIONS = tuple(sorted({a for (_s, a) in TRANSITIONS}))

# Who may take each action; HANDLER means the handler role of the matter's category.
ACTION_ROLES: dict[str, frozenset[str]] = {
    "triage": SUPERVISOR,
    "dispatch": SUPERVISOR,
    "accept": frozenset({HANDLER}),
    "return": frozenset({HANDLER}),
    "progress": frozenset({HANDLER}),
    "resolve": frozenset({HANDLER}),
    "verify": SUPERVISOR,
    "reject": SUPERVISOR,
    "close": SUPERVISOR,
    "rate": frozenset({REPORTER}),
    "reopen": SUPERVISOR,
    "escalate": SUPERVISOR | {SYSTEM},
}

# What each action needs in its request: field name → why.
REQUIRES: dict[str, tuple[str, ...]] = {
    "triage": ("category",),
    "dispatch": (),  # department_ids for 专事/难事: see ``dispatch_requirements``
    "return": ("reason",),
    "progress": ("note",),
    "resolve": ("result",),
    "reject": ("reason",),
    "rate": ("rating",),
    "reopen": ("reason",),
    "escalate": ("reason",),
}

PART_STATES = ("dispatched", "in_progress", "resolved", "returned")
PART_TRANSITIONS: dict[tuple[str, str], str] = {
    ("dispatched", "accept"): "in_progress",
    ("dispatched", "return"): "returned",
    ("dispatched", "resolve"): "resolved",
    ("in_progress", "progress"): "in_progress",
    ("in_progress", "resolve"): "resolved",
    ("in_progress", "return"): "returned",
}
PART_ACTIONS = frozenset(a for (_s, a) in PART_TRANSITIONS)


@dataclass(frozen=True)
class Refusal:
    """Why an action is refused: ``kind`` is "role" (403), "state" (409) or "missing" (422)."""

    kind: str
    detail: str
    field: str | None = None


def role_may(action: str, role: str, category: str | None) -> bool:
    allowed = ACTION_ROLES.get(action, frozenset())
    if role in allowed:
        return True
    if HANDLER in allowed and category is not None:
        return HANDLER_ROLE.get(category) == role or role in CO_HANDLER_ROLES.get(category, ())
    return False


def target(state: str, action: str, *, rating: str | None = None) -> str | None:
    """The state after ``action`` from ``state``, or None when the move is illegal."""
    to = TRANSITIONS.get((state, action))
    if to is not None and action == "rate" and rating == "不满意":
        return "reopened"
    return to


def missing(action: str, fields: dict[str, object], category: str | None = None) -> str | None:
    """The first required field that is empty for ``action``, or None."""
    needed = list(REQUIRES.get(action, ()))
    if action == "dispatch" and category in DEPARTMENT_CATEGORIES:
        needed.append("department_ids")
    for name in needed:
        value = fields.get(name)
        if value is None or (isinstance(value, str | list | tuple | set) and not value):
            return name
    return None


def check(
    state: str,
    action: str,
    role: str,
    category: str | None,
    fields: dict[str, object],
    part_state: str | None = None,
) -> Refusal | None:
    """Everything the state machine says about one request; None when it may go ahead.

    ``part_state`` is the acting department's part of a 专事/难事: its own state decides
    whether a handler action is legal (the matter follows by ``rollup``)."""
    if action not in ACTION_ROLES:
        return Refusal("state", f"unknown action {action!r}", "action")
    if not role_may(action, role, category):
        return Refusal("role", f"role {role!r} may not {action} a {category or 'new'} matter")
    if part_state is not None and action in PART_ACTIONS:
        if state not in RUNNING_STATES or (part_state, action) not in PART_TRANSITIONS:
            return Refusal("state", f"cannot {action} a part that is {part_state}", "action")
    elif (state, action) not in TRANSITIONS:
        return Refusal("state", f"cannot {action} a matter that is {state}", "action")
    if action == "rate" and fields.get("rating") not in (None, "", *RATINGS):
        return Refusal("missing", "rating must be one of " + "/".join(RATINGS), "rating")
    if action in ("triage", "escalate") and fields.get("category") not in (None, "", *CATEGORIES):
        return Refusal("missing", "category must be one of " + "/".join(CATEGORIES), "category")
    field = missing(action, fields, fields.get("category") or category)  # type: ignore[arg-type]
    if field is not None:
        return Refusal("missing", f"{action} needs {field}", field)
    return None


def part_target(part_state: str, action: str) -> str | None:
    return PART_TRANSITIONS.get((part_state, action))


def rollup(matter_state: str, part_states: list[str]) -> str:
    """The matter's state implied by its department parts (for 专事/难事 while being handled)."""
    active = [s for s in part_states if s != "returned"]
    if not active:
        return "returned"
    if all(s == "resolved" for s in active):
        return "resolved"
    if any(s in ("in_progress", "resolved") for s in active):
        return "in_progress"
    return "dispatched" if matter_state == "dispatched" else matter_state


def escalated_category(category: str | None) -> str:
    return ESCALATE_TO.get(category or "个事", "难事")
