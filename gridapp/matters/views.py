"""JSON API for matters: thin views over ``gridapp.matters.service``."""

from __future__ import annotations

import json

from flask import Blueprint, request
from flask_login import current_user

from gridapp import privacy
from gridapp.api import current_scope, endpoint
from gridapp.matters import contact, public, service
from gridapp.matters.models import CalendarDay, DeadlineRule
from gridapp.matters.schemas import (
    CalendarDayDeleted,
    CalendarDayIn,
    CalendarDayOut,
    ContactRevealIn,
    ContactRevealOut,
    EventOut,
    MatterDetail,
    MatterIn,
    MatterOut,
    MatterQuery,
    PartOut,
    PublicView,
    QueueQuery,
    RatingIn,
    ReportedOut,
    RuleIn,
    RuleOut,
    Suggestion,
    TransitionIn,
)

bp = Blueprint("matters_api", __name__, url_prefix="/api/v1")

SOURCE_OF_ROLE = {"grid_worker": "worker", "supervisor": "supervisor", "admin": "supervisor"}
CONFLICTS = {403: "Role may not", 404: "Not found", 409: "Stale version or illegal transition"}


def detail(matter) -> MatterDetail:
    user = current_user._get_current_object()
    base = MatterOut.of(matter).model_dump()
    return MatterDetail(
        **base,
        # masked for everyone; the handlers reveal it (POST …/contact/reveal, audited)
        contact_phone=contact.shown_contact(matter),
        contact_revealable=contact.may_reveal_contact(user, matter, current_scope()),
        parts=[
            PartOut(
                department_id=p.department_id,
                department_name=p.department.name,
                state=p.state,
                lead=p.lead,
                note=p.note,
                result=p.result,
            )
            for p in service.parts_of(matter)
        ],
        timeline=[
            EventOut(
                at=e.at,
                actor_id=e.actor_id,
                actor_name=e.actor.display_name if e.actor_id else "",
                actor_role=e.actor_role,
                action=e.action,
                from_state=e.from_state,
                to_state=e.to_state,
                department_id=e.department_id,
                note=e.note,
                photo_ids=json.loads(e.photo_ids or "[]"),
                data=json.loads(e.data or "{}"),
            )
            for e in service.timeline(matter)
        ],
        allowed_actions=service.allowed_actions(user, matter, current_scope()),
    )


@endpoint(
    bp,
    "/matters",
    methods=["POST"],
    body=MatterIn,
    response=ReportedOut,
    status=201,
    roles=("grid_worker", "supervisor", "admin"),
    tags=["matters"],
)
def create_matter(body: MatterIn):
    """Report a matter (worker in the field, supervisor for a walk-in or phone call)."""
    user = current_user._get_current_object()
    m = service.report_matter(
        user,
        source=SOURCE_OF_ROLE[user.role],
        grid_id=body.grid_id,
        text=body.text,
        title=body.title,
        contact_phone=body.contact_phone,
        photo_ids=body.photo_ids,
        urgent=body.urgent,
    )
    return ReportedOut(matter=MatterOut.of(m), tracking_code=m.code)


@endpoint(bp, "/matters", query=MatterQuery, response=list[MatterOut], tags=["matters"])
def list_matters(query: MatterQuery):
    """Matters in the caller's scope (department handlers: those dispatched to them)."""
    rows = service.list_matters(
        current_user._get_current_object(),
        state=query.state,
        category=query.category,
        limit=query.limit,
        offset=query.offset,
    )
    return [MatterOut.of(m) for m in rows]


@endpoint(
    bp,
    "/matters/triage-queue",
    query=QueueQuery,
    response=list[MatterOut],
    roles=("supervisor", "admin"),
    tags=["matters"],
)
def triage_queue(query: QueueQuery):
    """The supervisor's queue: reported, returned, escalated and reopened matters."""
    rows = service.triage_queue(
        current_user._get_current_object(), limit=query.limit, offset=query.offset
    )
    return [MatterOut.of(m) for m in rows]


@endpoint(bp, "/matters/<int:matter_id>", response=MatterDetail, tags=["matters"])
def get_matter(matter_id: int):
    """One matter with its department parts and full timeline."""
    return detail(
        service.get_matter(current_user._get_current_object(), matter_id, current_scope())
    )


@endpoint(
    bp,
    "/matters/<int:matter_id>/contact/reveal",
    methods=["POST"],
    body=ContactRevealIn,
    response=ContactRevealOut,
    roles=privacy.CONTACT_ROLES,
    tags=["matters"],
    responses={403: "Not handling this matter", 429: "Too many reveals"},
)
def reveal_contact(matter_id: int, body: ContactRevealIn):
    """The resident's full contact phone, for the staff handling the matter (reason required;
    audited; throttled per user)."""
    return contact.reveal_contact(
        current_user._get_current_object(),
        matter_id,
        body.reason,
        ip=request.remote_addr or "",
        scope=current_scope(),
    )


@endpoint(
    bp,
    "/matters/<int:matter_id>/transition",
    methods=["POST"],
    body=TransitionIn,
    response=MatterDetail,
    tags=["matters"],
    responses=CONFLICTS,
)
def transition(matter_id: int, body: TransitionIn):
    """Move a matter through its lifecycle; ``version`` is the one the client saw."""
    m = service.transition_matter(
        current_user._get_current_object(),
        matter_id,
        body.action,
        version=body.version,
        note=body.note,
        reason=body.reason,
        result=body.result,
        category=body.category,
        department_ids=body.department_ids,
        rating=body.rating,
        photo_ids=body.photo_ids,
        deadline=body.deadline,
    )
    return detail(m)


@endpoint(
    bp,
    "/matters/<int:matter_id>/suggestion",
    response=Suggestion,
    roles=("supervisor", "admin"),
    tags=["matters"],
)
def suggestion(matter_id: int):
    """A suggested category and department learned from past triage (a person decides)."""
    return service.suggest(current_user._get_current_object(), matter_id)


@endpoint(bp, "/track/<code>", response=PublicView, auth=False, tags=["matters"])
def track(code: str):
    """Public: a matter's status and timeline in plain words, by tracking code."""
    return public.public_view(code)


@endpoint(
    bp,
    "/track/<code>/rating",
    methods=["POST"],
    body=RatingIn,
    response=PublicView,
    auth=False,
    tags=["matters"],
    responses=CONFLICTS,
)
def rate(code: str, body: RatingIn):
    """Public: the resident rates a closed matter once (不满意 reopens it), with the rating key
    their browser was given at report time (403 without it, 409 when already rated)."""
    service.rate_matter_by_code(code, body.rating, body.note, body.key)
    return public.public_view(code)


# ---- admin: deadline rules and calendar overrides ------------------------------------------


@endpoint(
    bp, "/deadline-rules", response=list[RuleOut], roles=("admin", "supervisor"), tags=["matters"]
)
def list_rules():
    """Deadline rules (community/department-specific rows override street-wide ones)."""
    return [
        RuleOut(
            id=r.id,
            category=r.category,
            community_id=r.community_id,
            department_id=r.department_id,
            amount=r.amount,
            unit=r.unit,
            progress_every=r.progress_every,
        )
        for r in DeadlineRule.select().order_by(DeadlineRule.id)
    ]


@endpoint(
    bp,
    "/deadline-rules",
    methods=["PUT"],
    body=RuleIn,
    response=RuleOut,
    roles=("admin",),
    tags=["matters"],
)
def put_rule(body: RuleIn):
    """Create or replace the rule for (category, community, department)."""
    return service.set_rule(current_user._get_current_object(), body)


@endpoint(
    bp,
    "/calendar-days",
    response=list[CalendarDayOut],
    roles=("admin", "supervisor"),
    tags=["matters"],
)
def list_days():
    """The admin's overrides of the official working-day calendar."""
    return [
        CalendarDayOut(id=d.id, day=d.day, is_working=d.is_working, note=d.note)
        for d in CalendarDay.select().order_by(CalendarDay.day)
    ]


@endpoint(
    bp,
    "/calendar-days",
    methods=["PUT"],
    body=CalendarDayIn,
    response=CalendarDayOut,
    roles=("admin",),
    tags=["matters"],
)
def put_day(body: CalendarDayIn):
    """Mark a day as working or not (overrides the official calendar)."""
    return service.set_calendar_day(current_user._get_current_object(), body)


@endpoint(
    bp,
    "/calendar-days/<day>",
    methods=["DELETE"],
    roles=("admin",),
    tags=["matters"],
    response=CalendarDayDeleted,
)
def delete_day(day: str):
    """Remove an override (the official calendar applies again)."""
    return service.delete_calendar_day(current_user._get_current_object(), day)


def init_app(app) -> None:
    from gridapp.matters import jobs  # noqa: F401  (registers the periodic deadline job)

    app.register_blueprint(bp)
