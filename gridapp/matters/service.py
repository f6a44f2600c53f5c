"""Matter verbs. Each takes the acting user (``None`` for a resident or the system) as its first
argument, runs in one ``db.atomic()``, writes a timeline event for every change of state, logs
the change for sync and notifies whoever the event concerns.

Verbs:
- ``report_matter(actor, *, source, grid_id, text, title="", contact_phone="", photo_ids=(),
  urgent=False) -> Matter`` — ``actor=None, source="resident"`` for the echo wall; the matter's
  ``code`` is the public tracking code.
- ``transition_matter(actor, matter_id, action, *, version, note="", reason="", result="",
  category=None, department_ids=(), rating=None, photo_ids=(), deadline=None) -> Matter`` —
  every lifecycle move (actions in ``states.ACTIONS``); 403 role, 409 stale version / illegal
  move, 422 missing; ``deadline`` lets a dispatch replace the rule's deadline
  (``check_deadline``).
- ``add_photos(actor, matter_id, photo_ids) -> list[str]`` — photos that arrived after their
  matter (an offline outbox's late upload) join it, with a ``photo`` timeline event.
- ``allowed_actions(actor, matter) -> list[str]`` — what ``transition_matter`` would accept from
  this actor now (the console's buttons, the API's ``allowed_actions``).
- ``rate_matter_by_code(code, rating, note="", key="") -> Matter`` — the resident's rating (needs
  the rating key issued at report time; once per matter).
- ``triage_and_dispatch(actor, matter_id, *, version, category, ...)`` — the console's
  triage-then-dispatch as one all-or-nothing verb (``matters.triage_dispatch``).
- ``get_matter(actor, matter_id)``, ``list_matters(actor, ...)``, ``triage_queue(actor, ...)``,
  ``timeline(actor, matter_id)``, ``public_view(code)``, ``suggest(actor, matter_id)``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Sequence
from typing import Any

from flask_babel import gettext as _
from peewee import JOIN

from gridapp.changes import record_change
from gridapp.db import db, utcnow
from gridapp.errors import Conflict, Forbidden, NotFound, ValidationFailed
from gridapp.matters import deadlines, people, public, states, triage
from gridapp.matters.models import Matter, MatterEvent, MatterPart
from gridapp.notifications.service import notify
from gridapp.org.models import Community, Department, Grid, User
from gridapp.photos.models import Photo
from gridapp.scope import Scope, in_scope, scope_for

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
SOURCES = ("worker", "resident", "supervisor", "open311")
# Reported without a user account: a resident on the echo wall, an integrator through Open311.
ANONYMOUS_SOURCES = ("resident", "open311")
# An 11-digit mobile, or a landline with optional area code and extension.
PHONE = re.compile(r"1[3-9]\d{9}|0\d{2,3}-?\d{7,8}(-\d{1,6})?|\d{7,8}")


# ---- reading ------------------------------------------------------------------------------


def matter_query(scope: Scope):
    """Matters the scope sees: grids for workers and supervisors, dispatched parts for a
    department, everything for an admin."""
    q = Matter.select()
    if scope.role == "admin":
        return q
    if scope.role == "department":
        if not scope.department_id:
            return q.where(False)
        sub = MatterPart.select(MatterPart.matter).where(
            MatterPart.department == scope.department_id, MatterPart.state != "returned"
        )
        return q.where(Matter.id.in_(sub))
    return in_scope(q, Matter.grid, scope)


def get_matter(actor: User, matter_id: int, scope: Scope | None = None) -> Matter:
    scope = scope or scope_for(actor)
    row = matter_query(scope).where(Matter.id == matter_id).first()
    if row is None:
        raise NotFound()
    return row


def list_matters(
    actor: User,
    *,
    state: str | None = None,
    category: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Matter]:
    q = matter_query(scope_for(actor))
    if state:
        q = q.where(Matter.state == state)
    if category:
        q = q.where(Matter.category == category)
    return list(q.order_by(Matter.created_at.desc(), Matter.id.desc()).limit(limit).offset(offset))


def triage_queue(actor: User, *, limit: int = 100, offset: int = 0) -> list[Matter]:
    """A supervisor's queue: reported, returned, escalated and reopened matters in scope,
    oldest first (urgent ones ahead)."""
    if actor.role not in states.SUPERVISOR:
        raise Forbidden(_("Your role may not do this."))
    q = matter_query(scope_for(actor)).where(Matter.state.in_(sorted(states.TRIAGE_STATES)))
    return list(
        q.order_by(Matter.urgent.desc(), Matter.created_at, Matter.id).limit(limit).offset(offset)
    )


def parts_of(matter: Matter) -> list[MatterPart]:
    return list(
        MatterPart.select(MatterPart, Department)
        .join(Department)
        .where(MatterPart.matter == matter.id)
        .order_by(MatterPart.id)
    )


def timeline(matter: Matter) -> list[MatterEvent]:
    return list(
        MatterEvent.select(MatterEvent, User)
        .join(User, JOIN.LEFT_OUTER, on=(MatterEvent.actor == User.id))
        .where(MatterEvent.matter == matter.id)
        .order_by(MatterEvent.at, MatterEvent.id)
    )


# ---- writing helpers ------------------------------------------------------------------------


def _new_code() -> str:
    for _i in range(20):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
        if not Matter.select().where(Matter.code == code).exists():
            return code
    raise RuntimeError("could not allocate a tracking code")


def _event(
    matter: Matter,
    actor: User | None,
    role: str,
    action: str,
    from_state: str,
    *,
    note: str = "",
    photo_ids: Sequence[str] = (),
    department_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> MatterEvent:
    event = MatterEvent.create(
        matter=matter.id,
        at=utcnow(),
        actor=actor.id if actor else None,
        actor_role=role,
        action=action,
        from_state=from_state,
        to_state=matter.state,
        department=department_id,
        note=note,
        photo_ids=people.dumps(photo_ids),
        data=json.dumps(data or {}, ensure_ascii=False),
    )
    if public.is_public(event):
        public.announce([(matter.id, event.id)])
    return event


def active_department_ids(matter_id: int) -> list[int]:
    return [
        d
        for (d,) in MatterPart.select(MatterPart.department)
        .where(MatterPart.matter == matter_id, MatterPart.state != "returned")
        .order_by(MatterPart.id)
        .tuples()
    ]


def record_matter(matter: Matter, *, left_departments: Sequence[int] = ()) -> None:
    """Change-log rows for the grid's devices and each dispatched department (tombstones for a
    department the matter left)."""
    record_change("matter", matter.id, grid_id=matter.grid_id, community_id=matter.community_id)
    for dep in active_department_ids(matter.id):
        record_change("matter", matter.id, department_id=dep)
    for dep in left_departments:
        record_change("matter", matter.id, department_id=dep, deleted=True)


def handlers_of(matter: Matter) -> list[int]:
    if matter.category == "个事":
        return people.grid_workers(matter.grid_id)
    if matter.category == "社事":  # the community's supervisors and the grid's workers
        return people.supervisors(matter.community_id) + people.grid_workers(matter.grid_id)
    return people.department_users(active_department_ids(matter.id))


def _save(matter: Matter, expected_version: int) -> None:
    """Save with an optimistic version check (a concurrent writer makes it 409)."""
    matter.version = expected_version + 1
    matter.updated_at = utcnow()
    n = (
        Matter.update({f.name: getattr(matter, f.name) for f in Matter._meta.sorted_fields[1:]})
        .where(Matter.id == matter.id, Matter.version == expected_version)
        .execute()
    )
    if n != 1:
        raise Conflict(
            _("Someone changed this matter meanwhile; reload it."),
            code="stale",
            current=matter_dict(Matter.get_by_id(matter.id)),
        )


def matter_dict(matter: Matter) -> dict[str, Any]:
    from gridapp.matters.schemas import MatterOut

    return MatterOut.of(matter).model_dump(mode="json")


def _link(matter: Matter) -> str:
    return f"/matters/{matter.id}"


# ---- reporting --------------------------------------------------------------------------------


def report_matter(
    actor: User | None,
    *,
    source: str,
    grid_id: int,
    text: str,
    title: str = "",
    contact_phone: str = "",
    photo_ids: Sequence[str] = (),
    urgent: bool = False,
    suggested_category: str | None = None,
    event_data: dict[str, Any] | None = None,
) -> Matter:
    """Create a matter in state ``reported``. ``actor=None`` with ``source="resident"`` is the echo
    wall (photos must be unattached uploads for that grid); workers report in their own grids,
    supervisors in theirs. Returns the matter; ``matter.code`` is its public tracking code.

    ``suggested_category`` (a worker's guess from the field) is kept apart from the text so the
    triage form can preselect it; a person still decides. A resident's matter also gets a rating
    key, returned once as ``matter.issued_rating_key`` (only its hash is stored): the tracking
    code lets anyone read the anonymised status, the key alone lets the resident rate.

    ``source="open311"`` (``actor=None``) is a resident's report relayed by an integrator
    (``gridapp.open311``); ``event_data`` notes on the report event who relayed it."""
    if source not in SOURCES:
        raise ValidationFailed("source", _("Unknown source."))
    if suggested_category not in (None, "", *states.CATEGORIES):
        raise ValidationFailed("category", _("Unknown category."))
    if (actor is None) != (source in ANONYMOUS_SOURCES):
        raise Forbidden(_("Your role may not do this."))
    text = (text or "").strip()
    if not text:
        raise ValidationFailed("text", _("Describe the matter."))
    if len(text) > 4000:
        raise ValidationFailed("text", _("The description is too long."))
    contact_phone = (contact_phone or "").strip()
    if contact_phone and not PHONE.fullmatch(contact_phone):
        raise ValidationFailed("contact_phone", _("Enter a mobile or landline number."))
    grid = Grid.get_or_none(Grid.id == grid_id)
    scope = scope_for(actor) if actor is not None else None
    if grid is None or (scope is not None and not scope.sees_grid(grid.id)):
        raise ValidationFailed("grid_id", _("Unknown grid."))
    if actor is not None and actor.role not in ("grid_worker", "supervisor", "admin"):
        raise Forbidden(_("Your role may not do this."))
    with db.atomic():
        ids = people.check_photos(photo_ids, actor=actor, scope=scope, grid_id=grid.id)
        now = utcnow()
        rating_key = secrets.token_urlsafe(24) if source == "resident" else None
        matter = Matter.create(
            code=_new_code(),
            suggested_category=suggested_category or None,
            rating_key=hash_rating_key(rating_key) if rating_key else None,
            source=source,
            reporter=actor.id if actor else None,
            contact_phone=contact_phone,
            grid=grid.id,
            community=grid.community_id,
            title=(title or text[:40]).strip()[:200],
            text=text,
            photo_ids=people.dumps(ids),
            urgent=bool(urgent),
            created_at=now,
            updated_at=now,
        )
        matter.issued_rating_key = rating_key
        people.attach_photos(ids, "matter", matter.id, grid_id=grid.id)
        _event(
            matter,
            actor,
            actor.role if actor else "resident",
            "report",
            "",
            photo_ids=ids,
            data=event_data,
        )
        record_matter(matter)
        sups = people.supervisors(grid.community_id)
        notify(
            sups,
            "matter.reported",
            _("New matter to triage: %(title)s", title=matter.title),
            matter.text[:200],
            _link(matter),
            urgent=matter.urgent,
        )
    return matter


def add_photos(
    actor: User, matter_id: int, photo_ids: Sequence[str], *, scope: Scope | None = None
) -> list[str]:
    """Attach photos that arrived after their matter was created. An offline outbox uploads each
    photo on its own and a matter never waits for a failed one (DESIGN section 9), so a photo
    can reach the server after the matter that names it: it joins ``matter.photo_ids`` then, and
    a ``photo`` timeline event records who added which photos when (the timeline is the trace).

    Idempotent: photos already on the matter, or attached to another record, are skipped, and
    nothing is written when none is left. Returns the ids attached now. 404 outside the actor's
    scope; 422 for a photo the actor neither uploaded nor may see."""
    scope = scope or scope_for(actor)
    with db.atomic():
        for _attempt in range(10):
            matter = get_matter(actor, matter_id, scope)
            ids = people.check_photos(photo_ids, actor=actor, scope=scope, grid_id=matter.grid_id)
            current = people.loads(matter.photo_ids)
            wanted = [p for p in ids if p not in current]
            if not wanted:
                return []
            free = {
                p
                for (p,) in Photo.select(Photo.id)
                .where(Photo.id.in_(wanted), people.claimable("matter", matter.id))
                .tuples()
            }
            wanted = [p for p in wanted if p in free]
            if not wanted:
                return []
            # Only photo_ids and the version change: a concurrent move of the matter makes this
            # update miss, and the loop reads the matter again instead of failing the upload.
            version = matter.version
            matter.photo_ids = people.dumps(current + wanted)
            matter.version, matter.updated_at = version + 1, utcnow()
            n = (
                Matter.update(
                    photo_ids=matter.photo_ids,
                    version=matter.version,
                    updated_at=matter.updated_at,
                )
                .where(Matter.id == matter.id, Matter.version == version)
                .execute()
            )
            if n == 1:
                break
        else:
            raise Conflict(_("Someone changed this matter meanwhile; reload it."), code="stale")
        people.attach_photos(wanted, "matter", matter.id, grid_id=matter.grid_id)
        _event(matter, actor, actor.role, "photo", matter.state, photo_ids=wanted)
        record_matter(matter)
    return wanted


# ---- transitions --------------------------------------------------------------------------------


def _check_role(actor: User | None, action: str, matter: Matter, scope: Scope | None) -> str:
    """The role the state machine sees for this actor on this matter (or 403)."""
    if action == "rate":
        # Staff who reported for a resident and handed over a rating link (``rating_key`` set)
        # no longer rate: the resident does (DESIGN §11, only the resident rates).
        if actor is None or (matter.reporter_id == actor.id and not matter.rating_key):
            return states.REPORTER
        return actor.role
    if actor is None:
        return states.SYSTEM
    role = actor.role
    handler = states.HANDLER_ROLE.get(matter.category or "")
    if role == handler == "department" and actor.department_id not in active_department_ids(
        matter.id
    ):
        return "department-not-dispatched"
    field_hand = role == "grid_worker" and (
        handler == role or role in states.CO_HANDLER_ROLES.get(matter.category or "", ())
    )
    if field_hand and not (scope and scope.sees_grid(matter.grid_id)):
        return "grid_worker-other-grid"
    return role


def allowed_actions(actor: User, matter: Matter, scope: Scope | None = None) -> list[str]:
    """The actions (``states.ACTIONS`` order) that ``transition_matter`` would let ``actor`` take
    on ``matter`` in its current state, given the fields each one asks for.

    Pages and clients ask this instead of re-deriving the rule: it sees the actor the way
    ``transition_matter`` does (a department only on its own dispatched part, a grid worker
    only in their grids, the reporter for ``rate``), so what is offered is exactly what would
    be accepted, and the rule stays in ``states``. Missing input (a reason, a category) does
    not remove an action: the form asks for it."""
    scope = scope if scope is not None else scope_for(actor)
    part_state: str | None = None
    if actor.role == "department" and matter.category in states.DEPARTMENT_CATEGORIES:
        part_state = (
            MatterPart.select(MatterPart.state)
            .where(MatterPart.matter == matter.id, MatterPart.department == actor.department_id)
            .scalar()
        )
    out = []
    for action in states.ACTIONS:
        if action == "rate" and matter.rating is not None:
            continue  # rated once (transition_matter answers 409)
        role = _check_role(actor, action, matter, scope)
        own_part = part_state if role == "department" else None  # as transition_matter does
        refusal = states.check(matter.state, action, role, matter.category, {}, own_part)
        if refusal is None or refusal.kind == "missing":
            out.append(action)
    return out


def field_label(name: str) -> str:
    """A request field in words, for messages people read (never the internal name)."""
    return {
        "category": _("the category"),
        "department_ids": _("the handling department"),
        "reason": _("the reason"),
        "note": _("the note"),
        "result": _("the result"),
        "rating": _("the rating"),
        "deadline": _("the deadline"),
        "action": _("the action"),
    }.get(name, _("the missing field"))


def check_deadline(day: dt.date | None, now: dt.datetime | None = None) -> None:
    """Validate a deadline a triager sets by hand when dispatching, instead of the rule's: a
    local (Asia/Shanghai) date from today to a year ahead. Raises 422 naming ``deadline``.
    Public so a page that triages and then dispatches can check it before either move."""
    if day is None:
        return
    problem = deadlines.set_deadline_problem(day, deadlines.to_local(now or utcnow()))
    if problem == "past":
        raise ValidationFailed("deadline", _("The deadline cannot be in the past."), code="past")
    if problem == "too_far":
        raise ValidationFailed("deadline", _("The deadline must be within a year."), code="too_far")


def transition_matter(
    actor: User | None,
    matter_id: int,
    action: str,
    *,
    version: int,
    note: str = "",
    reason: str = "",
    result: str = "",
    category: str | None = None,
    department_ids: Sequence[int] = (),
    rating: str | None = None,
    photo_ids: Sequence[str] = (),
    deadline: dt.date | None = None,
    _matter: Matter | None = None,
) -> Matter:
    """Move a matter by ``action`` (triage, dispatch, accept, return, progress, resolve, verify,
    reject, close, rate, reopen, escalate). ``version`` is the matter version the client saw.
    ``actor=None`` is the system (escalation) or, for ``rate``, the resident.
    ``deadline`` (dispatch only, optional): a local date that replaces the rule's deadline; the
    dispatch event records it with the rule's deadline.
    Errors: 404 outside scope, 403 role may not, 409 ``code=stale`` / ``code=illegal_transition``
    (with ``current``), 422 ``code=missing`` naming the field. Nothing is written on error."""
    with db.atomic():
        scope = scope_for(actor) if actor is not None else None
        if _matter is not None:
            matter = _matter
        elif scope is not None:
            matter = get_matter(actor, matter_id, scope)
        else:
            matter = Matter.get_or_none(Matter.id == matter_id)
            if matter is None:
                raise NotFound()
        role = _check_role(actor, action, matter, scope)
        fields: dict[str, Any] = {
            "note": (note or "").strip(),
            "reason": (reason or "").strip(),
            "result": (result or "").strip(),
            "category": category,
            "department_ids": list(dict.fromkeys(department_ids or ())),
            "rating": rating,
        }
        part = None
        if role == "department" and matter.category in states.DEPARTMENT_CATEGORIES:
            part = MatterPart.get_or_none(
                MatterPart.matter == matter.id, MatterPart.department == actor.department_id
            )
        refusal = states.check(
            matter.state, action, role, matter.category, fields, part.state if part else None
        )
        if action == "rate" and matter.rating is not None:
            raise Conflict(
                _("This matter has already been rated; each matter is rated once."),
                code="already_rated",
                field="rating",
            )
        if refusal is not None and refusal.kind == "role":
            raise Forbidden(
                _("Your role may not %(action)s this matter.", action=action), code="role"
            )
        if version != matter.version:
            raise Conflict(
                _("This matter changed since you loaded it; reload it."),
                code="stale",
                current=matter_dict(matter),
            )
        if refusal is not None and refusal.kind == "state":
            raise Conflict(
                _(
                    "A matter that is %(state)s cannot be %(action)s.",
                    state=matter.state,
                    action=action,
                ),
                code="illegal_transition",
                field="action",
                current=matter_dict(matter),
            )
        if refusal is not None:
            raise ValidationFailed(
                refusal.field or "body",
                _("Please fill in %(field)s.", field=field_label(refusal.field or "")),
                code="missing",
            )
        if deadline is not None:
            if action != "dispatch":
                raise ValidationFailed(
                    "deadline", _("A deadline can only be set when dispatching."), code="invalid"
                )
            check_deadline(deadline)
            fields["deadline"] = deadline
        ids = (
            people.check_photos(photo_ids, actor=actor, scope=scope, grid_id=matter.grid_id)
            if actor is not None
            else []
        )
        from gridapp.matters import apply

        apply.apply(matter, actor, role, action, fields, ids, version, part)
        people.attach_photos(ids, "matter", matter.id, grid_id=matter.grid_id)
    return matter


def hash_rating_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def rate_matter_by_code(code: str, rating: str, note: str = "", key: str = "") -> Matter:
    """The resident rates a closed matter by its tracking code and the rating key their browser
    was given at report time, or from the link the reporting worker gave them (不满意 reopens
    it). The code is a lookup code that staff in scope
    may see; the key is what only the resident has, so staff cannot rate as the resident.
    403 ``code=rating_key`` without the right key; 409 ``code=already_rated`` the second time."""
    matter = Matter.get_or_none(Matter.code == (code or "").strip().upper())
    if matter is None:
        raise NotFound()
    if not (
        matter.rating_key
        and key
        and hmac.compare_digest(matter.rating_key, hash_rating_key(str(key)[:200]))
    ):
        raise Forbidden(
            _("Only the resident who reported this matter can rate it, from their tracking link."),
            code="rating_key",
        )
    return transition_matter(
        None, matter.id, "rate", version=matter.version, rating=rating, note=note, _matter=matter
    )


def suggest(actor: User, matter_id: int, sample: int = 2000) -> dict[str, Any]:
    """Suggest a category and department from past triage decisions (a person decides)."""
    matter = get_matter(actor, matter_id)
    rows = list(
        Matter.select(Matter.text, Matter.category, MatterPart.department)
        .join(MatterPart, JOIN.LEFT_OUTER, on=((MatterPart.matter == Matter.id) & MatterPart.lead))
        .where(Matter.category.is_null(False), Matter.id != matter.id)
        .order_by(Matter.id.desc())
        .limit(sample)
        .tuples()
    )
    cat_model = triage.train((t, c) for t, c, _d in rows)
    dep_model = triage.train((t, str(d)) for t, _c, d in rows if d)
    cats = cat_model.scores(matter.text)[:3]
    deps = dep_model.scores(matter.text)[:3]
    names = dict(
        Department.select(Department.id, Department.name)
        .where(Department.id.in_([int(d) for d, _p in deps] or [0]))
        .tuples()
    )
    return {
        "categories": [{"category": c, "score": round(p, 3)} for c, p in cats],
        "departments": [
            {"department_id": int(d), "name": names.get(int(d), ""), "score": round(p, 3)}
            for d, p in deps
        ],
        "learned_from": len(rows),
    }


# ---- admin settings -----------------------------------------------------------------------------


def set_rule(actor: User, data) -> Any:
    """Create or replace a deadline rule (admin). ``data`` has category, community_id,
    department_id, amount, unit, progress_every; returns the saved row as ``RuleOut``."""
    from gridapp.audit import write_audit
    from gridapp.matters.models import DeadlineRule
    from gridapp.matters.schemas import RuleOut

    if actor.role != "admin":
        raise Forbidden(_("Your role may not do this."))
    if data.community_id is not None and not Community.get_or_none(
        Community.id == data.community_id
    ):
        raise ValidationFailed("community_id", _("Unknown community."))
    if data.department_id is not None and not Department.get_or_none(
        Department.id == data.department_id
    ):
        raise ValidationFailed("department_id", _("Unknown department."))
    with db.atomic():
        row = DeadlineRule.get_or_none(
            DeadlineRule.category == data.category,
            DeadlineRule.community.is_null()
            if data.community_id is None
            else DeadlineRule.community == data.community_id,
            DeadlineRule.department.is_null()
            if data.department_id is None
            else DeadlineRule.department == data.department_id,
        ) or DeadlineRule(
            category=data.category, community=data.community_id, department=data.department_id
        )
        row.amount, row.unit, row.progress_every = data.amount, data.unit, data.progress_every
        row.save()
        write_audit(
            actor.id, "deadline_rule.set", "deadline_rule", row.id, detail=data.model_dump()
        )
    return RuleOut(id=row.id, **data.model_dump())


def set_calendar_day(actor: User, data) -> Any:
    """Add or override one day of the working calendar (admin)."""
    from gridapp.audit import write_audit
    from gridapp.matters.models import CalendarDay
    from gridapp.matters.schemas import CalendarDayOut

    if actor.role != "admin":
        raise Forbidden(_("Your role may not do this."))
    with db.atomic():
        row = CalendarDay.get_or_none(CalendarDay.day == data.day) or CalendarDay(day=data.day)
        row.is_working, row.note = data.is_working, data.note
        row.save()
        write_audit(
            actor.id,
            "calendar_day.set",
            "calendar_day",
            row.id,
            detail=data.model_dump(mode="json"),
        )
    return CalendarDayOut(id=row.id, day=row.day, is_working=row.is_working, note=row.note)


def delete_calendar_day(actor: User, day: str) -> dict[str, str]:
    """Remove an override (the official calendar applies again); audited like setting one.
    ``day`` comes from the URL: anything but YYYY-MM-DD is a 422 naming it, not a query the
    database cannot run."""
    from gridapp.audit import write_audit
    from gridapp.matters.models import CalendarDay

    if actor.role != "admin":
        raise Forbidden(_("Your role may not do this."))
    try:
        when = dt.date.fromisoformat(day)
    except ValueError:
        raise ValidationFailed("day", _("Give the day as YYYY-MM-DD.")) from None
    with db.atomic():
        row = CalendarDay.get_or_none(CalendarDay.day == when)
        if row is None:
            raise NotFound()
        row.delete_instance()
        write_audit(actor.id, "calendar_day.delete", "calendar_day", row.id, detail={"day": day})
    return {"deleted": when.isoformat()}
