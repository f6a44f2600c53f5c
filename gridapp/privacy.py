"""The one privacy rule: who sees full phone and ID numbers, where, and on what terms.

Everything else shows them masked (``gridapp.masking``). ``may_see_full`` answers for every place
a full number can leave the server — the registry (API, console), roster exports (API and console
alike), a matter's resident contact phone and a booking's phone — and ``reveal`` is the toll paid
for each explicit reveal: a reason and at most ``REVEAL_LIMIT`` reveals per user
(``check_reveal``; Flask-Limiter's storage, so Redis shares the count between processes when
configured), then the audit row naming the fields shown and why.

Decisions (docs/security.md, "Personal data"):
- registry: grid workers (own grids), supervisors (their community or street) and admins may
  reveal one household or resident at a time; department handlers never.
- roster exports: full numbers for supervisors and admins only. A grid worker's export of their
  own grid (the API; grid workers have no console) carries masked numbers — the same rule for the
  API and the console: bulk personal numbers are the register keepers', a worker reveals one
  person when needed, and each reveal is audited.
- a matter's contact phone (the resident's, "仅办理人员可见"): the staff handling the matter — a
  department handler whose department the matter is dispatched to, the grid worker of the grid
  for a 个事 or a 社事 (which they co-handle, ``states.CO_HANDLER_ROLES``), a supervisor whose
  scope holds the matter (who triages it) — by an explicit, audited reveal; nobody else (not an
  admin, not the reporting worker as such, not another department).
- a booking's phone (一站式预约): the desk's staff (supervisors and admins of the booking's
  community), and the grid worker an at-home booking was sent to while its task is open (to
  agree the hour and find the door: the task names the resident masked, like everyone's), by an
  explicit, audited reveal; nobody else (not the grid's other workers, not after the task is
  done).
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import gettext as _

from gridapp.errors import Problem, ValidationFailed
from gridapp.matters import states
from gridapp.org.models import User
from gridapp.scope import Scope, scope_for

REGISTRY_ROLES = ("admin", "supervisor", "grid_worker")
EXPORT_FULL_ROLES = ("admin", "supervisor")
CONTACT_ROLES = ("supervisor", "grid_worker", "department")
BOOKING_ROLES = ("admin", "supervisor")
SUBJECTS = ("registry", "roster_export", "matter_contact", "booking_phone")
REVEAL_LIMIT = "30 per hour"
REASON_MAX = 200


def may_see_full(
    user: User,
    subject: str,
    *,
    scope: Scope | None = None,
    matter: Any = None,
    task: Any = None,
) -> bool:
    """Whether ``user`` may see full numbers of ``subject`` (``SUBJECTS``); the record itself
    must already be in the user's scope (``scope.get_scoped``) — this adds who, not where.
    For a booking, ``task`` is the at-home booking's task when the asker comes through it."""
    role = getattr(user, "role", None)
    if subject == "registry":
        return role in REGISTRY_ROLES
    if subject == "roster_export":
        return role in EXPORT_FULL_ROLES
    if subject == "booking_phone":
        if role in BOOKING_ROLES:
            return True
        if role != "grid_worker" or task is None:
            return False
        from gridapp.tasks.states import WORKER_OPEN_STATES

        return task.assignee_id == user.id and task.state in WORKER_OPEN_STATES
    if subject == "matter_contact":
        if matter is None or role not in CONTACT_ROLES:
            return False
        if role == "department":
            from gridapp.matters.service import active_department_ids

            return user.department_id in active_department_ids(matter.id)
        scope = scope or scope_for(user)
        if not scope.sees_grid(matter.grid_id):
            return False
        category = matter.category or ""
        return (
            role == "supervisor"
            or states.HANDLER_ROLE.get(category) == role
            or role in states.CO_HANDLER_ROLES.get(category, ())
        )
    raise ValueError(f"unknown privacy subject {subject!r}")


def clean_reason(reason: str | None) -> str:
    """A reveal names why (free text or one of the offered choices)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("reason", _("Say why you need the full number."))
    return reason[:REASON_MAX]


def check_reveal(user: User, reason: str | None) -> str:
    """Pay for one reveal: the cleaned reason, or 422 (no reason) / 429 (too many reveals)."""
    from limits import parse

    from gridapp.extensions import limiter

    reason = clean_reason(reason)
    if not limiter.enabled:  # RATELIMIT_ENABLED off: no limits at all, not a 500
        return reason
    item = parse(current_app.config.get("PRIVACY_REVEAL_LIMIT") or REVEAL_LIMIT)
    if not limiter.limiter.hit(item, "privacy-reveal", str(user.id)):
        raise Problem(
            _("Too many personal numbers revealed; try again later."),
            status=429,
            title=_("Too many requests"),
            field="reason",
            code="reveal_throttled",
        )
    return reason


def reveal(
    user: User,
    reason: str | None,
    *,
    action: str,
    target_type: str,
    target_id: Any,
    fields: list[str],
    ip: str = "",
) -> str:
    """One explicit reveal, paid and recorded: the reason checked and the limit counted
    (``check_reveal``), then the audit row naming what was shown and why, in its own
    transaction. Returns the cleaned reason. Callers decide who may (``may_see_full``) first."""
    from gridapp.audit import write_audit
    from gridapp.db import db

    reason = check_reveal(user, reason)
    with db.atomic():
        write_audit(
            user.id,
            action,
            target_type,
            target_id,
            ip=ip,
            detail={"fields": fields, "reason": reason},
        )
    return reason
