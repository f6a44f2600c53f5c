"""The task state machine, pure (standard library only).

``assigned → accepted → in_progress → done → verified``; the worker may send a task back
(``returned``, with a reason) before it is done; a supervisor may reject a done task back to
``in_progress`` (with a reason) or reassign a returned one.
"""

from __future__ import annotations

STATES = ("assigned", "accepted", "in_progress", "done", "verified", "returned")
OPEN_STATES = frozenset({"assigned", "accepted", "in_progress", "returned"})
WORKER_OPEN_STATES = frozenset({"assigned", "accepted", "in_progress"})

TRANSITIONS: dict[tuple[str, str], str] = {
    ("assigned", "accept"): "accepted",
    ("assigned", "return"): "returned",
    ("accepted", "start"): "in_progress",
    ("accepted", "return"): "returned",
    ("in_progress", "return"): "returned",
    ("in_progress", "done"): "done",
    ("done", "verify"): "verified",
    ("done", "reject"): "in_progress",
    ("returned", "reassign"): "assigned",
}
ACTIONS = tuple(sorted({a for (_s, a) in TRANSITIONS}))

WORKER_ACTIONS = frozenset({"accept", "start", "return", "done"})
SUPERVISOR_ACTIONS = frozenset({"verify", "reject", "reassign"})

REQUIRES: dict[str, tuple[str, ...]] = {
    "return": ("reason",),
    "done": ("note",),
    "reject": ("reason",),
    "reassign": ("assignee_id",),
}

PRIORITIES = {0: "normal", 1: "high", 2: "urgent"}


def role_may(action: str, role: str, is_assignee: bool) -> bool:
    if action in WORKER_ACTIONS:
        return role == "grid_worker" and is_assignee
    if action in SUPERVISOR_ACTIONS:
        return role in ("supervisor", "admin")
    return False


def target(state: str, action: str) -> str | None:
    return TRANSITIONS.get((state, action))


def missing(action: str, fields: dict[str, object]) -> str | None:
    for name in REQUIRES.get(action, ()):
        value = fields.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return name
    return None


def allowed(state: str, role: str, is_assignee: bool) -> list[str]:
    """The actions this role may take on a task in ``state`` now (``ACTIONS`` order): what a
    client offers. Missing input (a note, a reason) does not remove one: the form asks for it."""
    return [a for a in ACTIONS if role_may(a, role, is_assignee) and target(state, a) is not None]
