"""Console pages of one-stop appointments (supervisors, admins), on the console's blueprint:
the day's desk (``/console/appointments``: queue, call next, arrived / handled / no-show, send
an at-home booking to the grid worker), the catalogue editor and the figures per service.
Every read goes through ``scope_for`` in the verbs (``desk``, ``catalogue``, ``stats``)."""

from __future__ import annotations

import datetime as dt
import re

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from gridapp.appointments import catalogue, contact, desk, rules, stats
from gridapp.appointments.service import queue_number
from gridapp.console import lists
from gridapp.console.blueprint import bp
from gridapp.console.guard import SUPERVISORS, actor, roles_required
from gridapp.errors import NotFound, Problem, ValidationFailed
from gridapp.masking import mask_name
from gridapp.times import local_today

WEEKDAYS = range(7)
WINDOW = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–~]\s*(\d{1,2}:\d{2})\s*[/×x*]\s*(\d{1,3})\s*$")


def _day_arg(raw: str | None = None) -> dt.date:
    """The day asked for (``?day=`` unless given), today when absent or not a date."""
    raw = request.args.get("day", "") if raw is None else raw
    try:
        return dt.date.fromisoformat(raw[:10])
    except ValueError:
        return local_today()


def _community(required: bool = True) -> int:
    try:
        return desk.default_community(actor(), lists.int_arg("community_id"))
    except NotFound:
        if required:
            raise
        return 0


@bp.route("/appointments")
@roles_required(*SUPERVISORS)
def appointments():
    """The day's bookings of a community: the 取号 queue and each booking's actions."""
    return _day_page(_community(), _day_arg())


def _day_page(
    cid: int,
    day: dt.date,
    revealed: dict | None = None,
    error: Problem | None = None,
    error_booking: int | None = None,
):
    view = desk.day_view(actor(), cid, day)
    return render_template(
        "console/appointments/day.html",
        view=view,
        communities=desk.communities(actor()),
        community_id=cid,
        day=day,
        prev_day=day - dt.timedelta(days=1),
        next_day=day + dt.timedelta(days=1),
        revealed=revealed or {},
        may_reveal=contact.may_reveal_phone(actor()),
        reveal_reasons=REVEAL_REASONS(),
        error=error,
        error_booking=error_booking,
    ), (error.status if error else 200)


def REVEAL_REASONS() -> list[str]:  # noqa: N802 — a translated constant
    return [_("Call about a missed visit"), _("Move the booking"), _("Arrange a home visit")]


@bp.route("/appointments/bookings/<int:booking_id>/phone", methods=["POST"])
@roles_required(*SUPERVISORS)
def appointments_phone(booking_id: int):
    """Show one booking's full phone on the day's page (reason required; audited)."""
    f = request.form
    reason = f.get("reason_text", "").strip() or f.get("reason", "")
    day = _day_arg(f.get("day", ""))
    booking = desk.get_booking(actor(), booking_id)
    try:
        out = contact.reveal_phone(actor(), booking_id, reason, ip=request.remote_addr or "")
    except Problem as exc:
        if exc.status == 404:
            raise
        return _day_page(booking.community_id, day, error=exc, error_booking=booking_id)
    return _day_page(booking.community_id, day, revealed={out["id"]: out["phone"]})


def _back(cid: int, day: str):
    return redirect(url_for("console.appointments", community_id=cid, day=day[:10] or None))


@bp.route("/appointments/bookings/<int:booking_id>", methods=["POST"])
@roles_required(*SUPERVISORS)
def appointments_act(booking_id: int):
    f = request.form
    day = f.get("day", "")
    try:
        version = lists.form_int("version")
        action = f.get("action", "")
        if action == "send":
            b = desk.send_to_worker(actor(), booking_id, lists.form_int("worker_id"))
            flash(_("Sent to the grid worker as a task."))
        else:
            b = desk.act(actor(), booking_id, action, version=version, result=f.get("result", ""))
            flash(_("Saved."))
    except Problem as exc:
        if exc.status == 404:
            raise
        flash(str(exc.detail or exc.title), "error")
        return redirect(url_for("console.appointments", day=day[:10] or None))
    return _back(b.community_id, day)


@bp.route("/appointments/call-next", methods=["POST"])
@roles_required(*SUPERVISORS)
def appointments_call_next():
    # The day the desk is looking at (a queue kept for another day is called there, not today's).
    try:
        day = dt.date.fromisoformat(request.form.get("day", "")[:10])
    except ValueError:
        day = local_today()
    try:
        cid = desk.default_community(actor(), lists.form_int("community_id"))
        b = desk.call_next(actor(), cid, day)
    except ValidationFailed as exc:
        flash(str(exc.detail), "error")
        return redirect(url_for("console.appointments"))
    except Problem as exc:
        if exc.status == 404:
            raise
        flash(str(exc.detail or exc.title), "error")
        return redirect(url_for("console.appointments", community_id=cid, day=day.isoformat()))
    flash(_("Calling No. %(n)d: %(name)s", n=queue_number(b), name=mask_name(b.name)))
    return redirect(url_for("console.appointments", community_id=cid, day=day.isoformat()))


# ---- catalogue ---------------------------------------------------------------------------------


def hours_lines(service) -> dict[int, str]:
    """Opening hours as the form shows them: ``09:00-11:30/4, 14:00-17:00/4`` per weekday."""
    return {
        d: ", ".join(f"{s}-{e}/{c}" for s, e, c in ws)
        for d, ws in catalogue.hours_of(service).items()
    }


def parse_hours_form(form) -> dict[str, list]:
    out: dict[str, list] = {}
    for d in WEEKDAYS:
        raw = (form.get(f"hours_{d}") or "").strip()
        if not raw:
            continue
        windows = []
        for part in re.split(r"[,，;；]", raw):
            if not part.strip():
                continue
            m = WINDOW.match(part)
            if not m:
                raise ValidationFailed(
                    f"hours_{d}", _("Write each window as 09:00-11:30/4 (start-end/places).")
                )
            start, end, cap = m.groups()
            windows.append([start.zfill(5), end.zfill(5), int(cap)])
        out[str(d)] = windows
    return out


def _service_form(service=None, error: Problem | None = None):
    cid = _community()
    form = request.form if request.method == "POST" else None
    return render_template(
        "console/appointments/service.html",
        service=service,
        form=form,
        hours=hours_lines(service) if service else {},
        materials="\n".join(catalogue.materials_of(service)) if service else "",
        communities=desk.communities(actor()),
        community_id=service.community_id if service else cid,
        error=error,
        weekdays=WEEKDAYS,
    ), (error.status if error else 200)


@bp.route("/appointments/services")
@roles_required(*SUPERVISORS)
def appointments_services():
    cid = _community()
    return render_template(
        "console/appointments/services.html",
        services=[
            {
                "s": s,
                "hours": rules.hours_text(catalogue.hours_of(s)),
                "materials": catalogue.materials_of(s),
            }
            for s in catalogue.list_services(cid, active_only=False)
        ],
        communities=desk.communities(actor()),
        community_id=cid,
        public_url=_public_url(cid),
    )


def _public_url(cid: int) -> str:
    from gridapp.echowall.service import token_for

    return url_for("appointments.catalogue_page", token=token_for("community", cid))


@bp.route("/appointments/services/new", methods=["GET", "POST"])
@bp.route("/appointments/services/<int:service_id>", methods=["GET", "POST"])
@roles_required(*SUPERVISORS)
def appointments_service(service_id: int | None = None):
    service = catalogue.get_service(actor(), service_id) if service_id else None
    if request.method == "GET":
        return _service_form(service)
    f = request.form
    try:
        data = {
            "name": f.get("name", ""),
            "description": f.get("description", ""),
            "location": f.get("location", ""),
            "place": f.get("place", "hall"),
            "materials": f.get("materials", ""),
            "duration_minutes": f.get("duration_minutes", "15"),
            "slot_minutes": f.get("slot_minutes", "30"),
            "sort": f.get("sort", "0") or "0",
            "active": f.get("active") == "1",
            "hours": parse_hours_form(f),
        }
        if service is None:
            data["community_id"] = lists.form_int("community_id")
        saved = catalogue.save_service(
            actor(),
            data,
            service_id=service.id if service else None,
            version=lists.form_int("version") if service else None,
        )
    except Problem as exc:
        return _service_form(service, exc)
    flash(_("Saved."))
    return redirect(url_for("console.appointments_services", community_id=saved.community_id))


@bp.route("/appointments/stats")
@roles_required(*SUPERVISORS)
def appointments_stats():
    """Bookings, no-show rate, waiting time and satisfaction per service, vs the seed's 95 %."""
    cid = lists.int_arg("community_id")
    if cid is not None:
        cid = desk.default_community(actor(), cid)
    days = lists.int_arg("days") or 90
    days = max(1, min(days, 366))
    return render_template(
        "console/appointments/stats.html",
        fig=stats.service_figures(actor(), cid, days=days),
        communities=desk.communities(actor()),
        community_id=cid,
        days=days,
    )
