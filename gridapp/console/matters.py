"""Matter pages: the triage queue, the matter list (with its .xlsx export), the matter page with
its whole timeline, and the department's view. Every move is ``transition_matter``; which moves
a page offers is asked of the matters feature (``allowed_actions``, via ``actions.available``),
never decided here."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from gridapp.api import current_scope
from gridapp.console import actions, lists, stats, xlsx
from gridapp.console.blueprint import bp
from gridapp.console.fmt import local_time
from gridapp.console.guard import DEPARTMENTS, SUPERVISORS, actor, roles_required
from gridapp.db import utcnow
from gridapp.errors import Forbidden, NotFound, Problem, ValidationFailed
from gridapp.matters import contact, states
from gridapp.matters import service as msvc
from gridapp.matters.models import Matter, MatterPart
from gridapp.matters.triage_dispatch import triage_and_dispatch
from gridapp.open311 import detail as open311_detail
from gridapp.org.models import Community, Department, Grid

TRIAGE_QUEUE_STATES = sorted(states.TRIAGE_STATES | {"triaged"})
MATTER_SORTS = {
    "created": Matter.created_at,
    "deadline": Matter.deadline_at,
    "state": Matter.state,
    "category": Matter.category,
    "updated": Matter.updated_at,
}


def _photos(raw: str) -> list[str]:
    try:
        return [str(p) for p in json.loads(raw or "[]")]
    except ValueError:
        return []


def _grid_names(grid_ids: set[int]) -> dict[int, str]:
    if not grid_ids:
        return {}
    return {
        g: f"{c} {n}"
        for g, n, c in Grid.select(Grid.id, Grid.name, Community.name)
        .join(Community)
        .where(Grid.id.in_(sorted(grid_ids)))
        .tuples()
    }


def _departments() -> list[Department]:
    return list(
        Department.select().where(Department.is_active == True).order_by(Department.name)  # noqa: E712
    )


def filtered_matters(scope) -> Any:
    """The matter list's query with the page's filters (every dashboard link lands here)."""
    q = msvc.matter_query(scope)
    state = lists.arg("state")
    if state == "open":
        q = q.where(Matter.state != "closed")
    elif state == "queue":
        q = q.where(Matter.state.in_(TRIAGE_QUEUE_STATES))
    elif state in states.STATES:
        q = q.where(Matter.state == state)
    category = lists.arg("category")
    if category in states.CATEGORIES:
        q = q.where(Matter.category == category)
    elif category == "none":
        q = q.where(Matter.category.is_null())
    grid = lists.int_arg("grid")
    if grid is not None:
        q = q.where(Matter.grid == grid)
    community = lists.int_arg("community")
    if community is not None:
        q = q.where(Matter.community == community)
    street = lists.int_arg("street")
    if street is not None:
        q = q.where(
            Matter.community.in_(Community.select(Community.id).where(Community.street == street))
        )
    alarm = lists.arg("alarm")
    now = utcnow()
    if alarm == "overdue":
        q = q.where(stats.overdue_condition(now))
    elif alarm == "warned":
        q = q.where(stats.warned_condition(now))
    rating = lists.arg("rating")
    if rating in states.RATINGS:
        q = q.where(Matter.rating == rating)
    text = lists.arg("q")
    if text:
        q = q.where(
            Matter.text.contains(text) | Matter.title.contains(text) | (Matter.code == text.upper())
        )
    return q


def _filter_fields() -> list[dict[str, Any]]:
    state_names = actions.state_names()
    return [
        {"name": "q", "label": _("Text or tracking code")},
        {
            "name": "state",
            "label": _("State"),
            "type": "select",
            "options": [("open", _("Not yet closed")), ("queue", _("To triage"))]
            + [(s, state_names[s]) for s in states.STATES],
        },
        {
            "name": "category",
            "label": _("Category"),
            "type": "select",
            "options": [(c, c) for c in states.CATEGORIES] + [("none", _("Not triaged"))],
        },
        {
            "name": "alarm",
            "label": _("Deadline"),
            "type": "select",
            "options": [("overdue", _("Overdue")), ("warned", _("Warned"))],
        },
        {
            "name": "rating",
            "label": _("Rating"),
            "type": "select",
            "options": [(r, r) for r in states.RATINGS],
        },
    ]


@bp.route("/matters")
@roles_required(*SUPERVISORS)
def matters():
    listing = lists.paginate(
        filtered_matters(current_scope()), MATTER_SORTS, "created", True, tiebreak=Matter.id
    )
    return render_template(
        "console/matters/list.html",
        listing=listing,
        grid_names=_grid_names({m.grid_id for m in listing.rows}),
        fields=_filter_fields(),
        state_names=actions.state_names(),
        now=utcnow(),
        export_url=url_for("console.matters_export", **request.args),
    )


@bp.route("/matters.xlsx")
@roles_required(*SUPERVISORS)
def matters_export():
    q = filtered_matters(current_scope()).order_by(Matter.created_at.desc(), Matter.id.desc())
    state_names = actions.state_names()
    rows = list(q.limit(xlsx.MAX_ROWS))
    grid_names = _grid_names({m.grid_id for m in rows})
    return xlsx.send(
        "matters",
        [
            _("Tracking code"),
            xlsx.time_header(_("Reported at")),
            _("Grid"),
            _("Source"),
            _("Title"),
            _("Category"),
            _("State"),
            xlsx.time_header(_("Deadline")),
            xlsx.time_header(_("Closed")),
            _("Rating"),
        ],
        (
            [
                m.code,
                xlsx.local(m.created_at),
                grid_names.get(m.grid_id, ""),
                m.source,
                m.title,
                m.category or "",
                state_names.get(m.state, m.state),
                xlsx.local(m.deadline_at),
                xlsx.local(m.closed_at),
                m.rating or "",
            ]
            for m in rows
        ),
        actor=actor(),
        ip=request.remote_addr or "",
        filters=request.args.to_dict(),
    )


def _form_deadline(form) -> dt.date | None:
    """The optional deadline (a date input) replacing the rule's, checked like the API's."""
    raw = (form.get("deadline") or "").strip()
    if not raw:
        return None
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(
            "deadline", _("Enter the deadline as a date (YYYY-MM-DD)."), code="invalid"
        ) from None
    msvc.check_deadline(day)
    return day


def _today() -> str:
    return local_time(utcnow(), "%Y-%m-%d")


@bp.route("/triage")
@roles_required(*SUPERVISORS)
def triage():
    return _triage_page()


def _triage_page(error: Problem | None = None, error_matter: int | None = None):
    q = msvc.matter_query(current_scope()).where(Matter.state.in_(TRIAGE_QUEUE_STATES))
    listing = lists.paginate(
        q,
        {"oldest": [Matter.urgent.desc(), Matter.created_at], "created": Matter.created_at},
        "oldest",
        tiebreak=Matter.id,
    )
    communities = {m.community_id for m in listing.rows}
    return render_template(
        "console/matters/triage.html",
        listing=listing,
        grid_names=_grid_names({m.grid_id for m in listing.rows}),
        photos={m.id: _photos(m.photo_ids) for m in listing.rows},
        departments=_departments(),
        rules={c: actions.default_deadlines(c) for c in communities},
        state_names=actions.state_names(),
        categories=states.CATEGORIES,
        department_categories=states.DEPARTMENT_CATEGORIES,
        today=_today(),
        error=error,
        error_matter=error_matter,
        form=request.form,
    ), (error.status if error else 200)


@bp.route("/triage/<int:matter_id>", methods=["POST"])
@roles_required(*SUPERVISORS)
def triage_dispatch(matter_id: int):
    """Set the category and dispatch, from the queue: one all-or-nothing verb, so a dispatch that
    cannot go ahead leaves the matter as it was (no triage event), and the page shows the error
    beside the card with what was chosen. Outside the supervisor's scope: 404, naming nothing."""
    f = request.form
    scope = current_scope()
    msvc.get_matter(actor(), matter_id, scope)  # 404 outside scope, before anything else
    try:
        version = lists.form_int("version", -1)
        m = triage_and_dispatch(
            actor(),
            matter_id,
            version=version if version is not None else -1,
            category=f.get("category") or None,
            department_ids=lists.form_ids("department_ids"),
            note=f.get("note", ""),
            deadline=_form_deadline(f),
            dispatch=bool(f.get("dispatch")),
            scope=scope,
        )
    except NotFound:
        raise
    except Problem as exc:
        return _triage_page(exc, matter_id)
    flash(
        _(
            "%(title)s: now %(state)s.",
            title=m.title or _("Matter"),
            state=actions.state_names()[m.state],
        )
    )
    return redirect(url_for("console.triage"))


def _matter_page(
    matter_id: int,
    error: Problem | None = None,
    revealed: str = "",
    reporter_revealed: bool = False,
):
    scope = current_scope()
    m = msvc.get_matter(actor(), matter_id, scope)
    parts = msvc.parts_of(m)
    events = msvc.timeline(m)
    event_photos = {e.id: _photos(e.photo_ids) for e in events}
    set_deadlines = {e.id: _set_deadline(e) for e in events}
    return render_template(
        "console/matters/detail.html",
        m=m,
        parts=parts,
        events=events,
        event_photos=event_photos,
        set_deadlines=set_deadlines,
        today=_today(),
        photos=_photos(m.photo_ids),
        grid_name=_grid_names({m.grid_id}).get(m.grid_id, ""),
        available=actions.available(actor(), m, scope),
        departments=_departments(),
        state_names=actions.state_names(),
        action_names=actions.action_names(),
        categories=states.CATEGORIES,
        department_categories=states.DEPARTMENT_CATEGORIES,
        error=error,
        form=request.form,
        now=utcnow(),
        contact_shown=revealed or contact.shown_contact(m),
        contact_revealed=bool(revealed),
        contact_revealable=contact.may_reveal_contact(actor(), m, scope),
        reveal_reasons=REVEAL_REASONS(),
        open311=open311_detail.summary(actor(), m, scope, revealed=reporter_revealed),
        back=url_for(
            "console.department_matters" if actor().role == "department" else "console.matters"
        ),
    ), (error.status if error else 200)


def _set_deadline(event) -> dict[str, dt.datetime] | None:
    """A dispatch's deadline set by hand: the deadline given and what the rule would have given."""
    try:
        data = json.loads(event.data or "{}")
        if event.action != "dispatch" or not data.get("deadline_at"):
            return None
        return {
            "deadline_at": dt.datetime.fromisoformat(data["deadline_at"]),
            "rule_deadline_at": dt.datetime.fromisoformat(data["rule_deadline_at"]),
        }
    except (ValueError, KeyError, TypeError):
        return None


@bp.route("/matters/<int:matter_id>")
@roles_required(*SUPERVISORS, *DEPARTMENTS)
def matter(matter_id: int):
    return _matter_page(matter_id)


def REVEAL_REASONS() -> list[str]:  # noqa: N802 — a translated constant
    return [_("Call the resident back"), _("Arrange a visit"), _("Clarify the report")]


@bp.route("/matters/<int:matter_id>/contact", methods=["POST"])
@roles_required(*SUPERVISORS, *DEPARTMENTS)
def matter_contact(matter_id: int):
    """Reveal the resident's contact phone (handlers only; reason required; audited)."""
    reason = request.form.get("reason_text", "").strip() or request.form.get("reason", "")
    try:
        out = contact.reveal_contact(
            actor(), matter_id, reason, ip=request.remote_addr or "", scope=current_scope()
        )
    except (ValidationFailed, Forbidden) as exc:
        return _matter_page(matter_id, exc)
    except Problem as exc:
        if exc.status == 404:
            raise
        return _matter_page(matter_id, exc)
    return _matter_page(matter_id, revealed=out["contact_phone"])


@bp.route("/matters/<int:matter_id>/open311-reporter", methods=["POST"])
@roles_required(*SUPERVISORS, *DEPARTMENTS)
def matter_open311_reporter(matter_id: int):
    """Reveal the name and e-mail an Open311 integrator sent (the contact phone's rule)."""
    reason = request.form.get("reason_text", "").strip() or request.form.get("reason", "")
    try:
        open311_detail.reveal_reporter(
            actor(), matter_id, reason, ip=request.remote_addr or "", scope=current_scope()
        )
    except NotFound:
        raise
    except Problem as exc:
        return _matter_page(matter_id, exc)
    return _matter_page(matter_id, reporter_revealed=True)


@bp.route("/matters/<int:matter_id>/act", methods=["POST"])
@roles_required(*SUPERVISORS, *DEPARTMENTS)
def matter_act(matter_id: int):
    f = request.form
    action = f.get("action", "")
    try:
        version = int(f.get("version", ""))
    except ValueError:
        return _matter_page(matter_id, ValidationFailed("version", _("Reload the page.")))
    try:
        deadline = _form_deadline(f) if action == "dispatch" else None
        m = msvc.transition_matter(
            actor(),
            matter_id,
            action,
            version=version,
            deadline=deadline,
            note=f.get("note", ""),
            reason=f.get("reason", ""),
            result=f.get("result", ""),
            category=f.get("category") or None,
            department_ids=[int(d) for d in f.getlist("department_ids") if d.isdigit()],
        )
    except Problem as exc:
        return _matter_page(matter_id, exc)
    flash(
        _(
            "%(action)s: the matter is now %(state)s.",
            action=actions.action_names().get(action, action),
            state=actions.state_names()[m.state],
        )
    )
    try:
        msvc.get_matter(actor(), matter_id, current_scope())
    except NotFound:
        # e.g. a department that returned the matter no longer sees it
        return redirect(url_for("console.department_matters"))
    return redirect(url_for("console.matter", matter_id=matter_id))


@bp.route("/department")
@roles_required(*DEPARTMENTS)
def department_matters():
    me = actor()
    q = (
        msvc.matter_query(current_scope())
        .select(Matter, MatterPart.state.alias("part_state"), MatterPart.lead.alias("part_lead"))
        .join(
            MatterPart,
            on=((MatterPart.matter == Matter.id) & (MatterPart.department == me.department_id)),
        )
    )
    part_state = lists.arg("part")
    if part_state in states.PART_STATES:
        q = q.where(MatterPart.state == part_state)
    elif part_state != "all":
        q = q.where(MatterPart.state.in_(("dispatched", "in_progress")))
    # The aliased part columns land on the matter row itself (without ``objects()`` peewee put
    # them on a joined MatterPart and the "our part" column was always empty).
    q = q.objects()
    listing = lists.paginate(
        q,
        {"deadline": Matter.deadline_at, "created": Matter.created_at, "state": MatterPart.state},
        "deadline",
        tiebreak=Matter.id,
    )
    dept = Department.get_or_none(Department.id == me.department_id)
    return render_template(
        "console/department/matters.html",
        listing=listing,
        department=dept,
        grid_names=_grid_names({m.grid_id for m in listing.rows}),
        state_names=actions.state_names(),
        part_names=actions.part_state_names(),
        now=utcnow(),
    )
