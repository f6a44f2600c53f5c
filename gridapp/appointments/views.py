"""Public booking pages (``/b/…``, phone-first, no account, rate-limited like the echo wall);
the staff's JSON operations under ``/api/v1/appointments`` are in ``staff_api``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _

from gridapp.appointments import catalogue, desk, rules, service
from gridapp.appointments.models import ApptService
from gridapp.errors import Conflict, NotFound, Problem
from gridapp.extensions import limiter
from gridapp.org.models import Community, Grid
from gridapp.times import local_text

bp = Blueprint("appointments", __name__)

DEFAULT_LIMITS = {
    "APPT_PAGE_LIMIT": "60 per minute",
    "APPT_BOOK_LIMIT": "5 per 10 minutes",
    "APPT_CHANGE_LIMIT": "10 per minute",
}


def _limit(name: str):
    return lambda: current_app.config.get(name) or DEFAULT_LIMITS[name]


# ---- public pages ----------------------------------------------------------------------------


def _place(token: str) -> tuple[Community, Grid | None]:
    """``/b/<token>``: a grid's echo-wall token (the poster's page) or a community's."""
    from gridapp.echowall.models import EchoToken

    if not token or len(token) > 32:
        raise NotFound()
    row = EchoToken.get_or_none(EchoToken.token == token)
    if row is None:
        raise NotFound()
    if row.kind == "grid":
        grid = Grid.get_or_none(Grid.id == row.target_id)
        if grid is None:
            raise NotFound()
        return grid.community, grid
    community = Community.get_or_none(Community.id == row.target_id)
    if community is None:
        raise NotFound()
    return community, None


def _not_found(message: str):
    return render_template("appointments/not_found.html", message=message), 404


def _public(resp):
    resp = current_app.make_response(resp)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


@bp.route("/b/<token>")
@limiter.limit(_limit("APPT_PAGE_LIMIT"))
def catalogue_page(token: str):
    """The community's services: what to bring, where, how long, when open."""
    try:
        community, grid = _place(token)
    except NotFound:
        return _not_found(_("This booking page does not exist. Please scan the poster's QR again."))
    services = catalogue.list_services(community.id)
    return render_template(
        "appointments/catalogue.html",
        community=community,
        grid=grid,
        token=token,
        services=[
            {
                "s": s,
                "materials": catalogue.materials_of(s),
                "hours": rules.hours_text(catalogue.hours_of(s)),
            }
            for s in services
        ],
    )


def _slot_days(slots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    days: dict[str, dict[str, Any]] = {}
    for s in slots:
        key = local_text(s["starts_at"], "%Y-%m-%d")
        day = days.setdefault(
            key, {"date": key, "weekday": dt.date.fromisoformat(key).weekday(), "slots": []}
        )
        day["slots"].append({**s, "value": s["starts_at"].strftime("%Y-%m-%dT%H:%M:%SZ")})
    for d in days.values():
        d["left"] = sum(max(0, s["left"]) for s in d["slots"])
    return list(days.values())


def _parse_slot(raw: str) -> dt.datetime | None:
    try:
        value = dt.datetime.strptime((raw or "")[:20], "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return None
    return value


@bp.route("/b/<token>/<int:service_id>", methods=["GET", "POST"])
@limiter.limit(_limit("APPT_PAGE_LIMIT"), methods=["GET"])
@limiter.limit(_limit("APPT_BOOK_LIMIT"), methods=["POST"])
def book_page(token: str, service_id: int):
    """Choose a slot, give name and phone, get the booking code."""
    try:
        community, grid = _place(token)
        svc = catalogue.public_service(community.id, service_id)
    except NotFound:
        return _not_found(_("This service is not offered here."))
    form = {"slot": "", "name": "", "phone": "", "address": "", "note": "", "grid_id": ""}
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        form = {k: request.form.get(k, "")[:200] for k in form}
        starts = _parse_slot(form["slot"])
        grid_id = (
            grid.id
            if grid
            else (
                int(form["grid_id"])
                if form["grid_id"].isdigit() and len(form["grid_id"]) < 10
                else None
            )
        )
        try:
            if starts is None:
                errors["slot"] = _("Please choose a time.")
                service.check_resident(svc, form["name"], form["phone"], grid_id,
                                       form["address"], form["note"])  # fmt: skip
                raise Problem(errors["slot"], field="slot", status=422)
            b = service.book(
                community.id,
                svc.id,
                starts,
                form["name"],
                form["phone"],
                grid_id=grid_id,
                address=form["address"],
                note=form["note"],
            )
        except Problem as exc:
            for err in exc.errors or [{"field": exc.field, "message": exc.detail or exc.title}]:
                errors.setdefault((err["field"] or "slot").split(".")[0], str(err["message"]))
            status = 409 if isinstance(exc, Conflict) else 422
        else:
            return redirect(url_for("appointments.booking_page", code=b.code, new=1), 303)
    return (
        _public(
            render_template(
                "appointments/book.html",
                community=community,
                grid=grid,
                token=token,
                svc=svc,
                materials=catalogue.materials_of(svc),
                days=_slot_days(catalogue.open_slots(svc)),
                grids=list(Grid.select().where(Grid.community == community.id).order_by(Grid.sort))
                if svc.place == "home" and grid is None
                else [],
                form=form,
                errors=errors,
            )
        ),
        status,
    )


@bp.route("/b/m/")
@limiter.limit(_limit("APPT_PAGE_LIMIT"))
def lookup():
    """Find my booking by its code."""
    code = rules.normalise_code(request.args.get("code", ""))
    error = ""
    if "code" in request.args:
        if not code:
            error = _("Please enter your booking code.")
        else:
            try:
                service.by_code(code)
            except NotFound:
                error = _("No booking has this code. Please check the code and try again.")
            else:
                return redirect(url_for("appointments.booking_page", code=code), 303)
    status = 404 if error and code else 200
    return _public(render_template("appointments/lookup.html", code=code, error=error)), status


def _view_or_404(code: str):
    try:
        return service.public_view(code), None
    except NotFound:
        return None, _not_found(_("No booking has this code. Please check the code and try again."))


@bp.route("/b/m/<code>")
@limiter.limit(_limit("APPT_PAGE_LIMIT"))
def booking_page(code: str):
    view, missing = _view_or_404(code)
    if missing:
        return missing
    if view["code"] != code:
        return redirect(url_for("appointments.booking_page", code=view["code"]), 303)
    return _public(
        render_template(
            "appointments/booking.html",
            v=view,
            new=request.args.get("new") == "1",
            ratings=rules.RATINGS,
            message=request.args.get("msg", "")[:20],
        )
    )


@bp.route("/b/m/<code>/change", methods=["GET", "POST"])
@limiter.limit(_limit("APPT_PAGE_LIMIT"), methods=["GET"])
@limiter.limit(_limit("APPT_CHANGE_LIMIT"), methods=["POST"])
def change_page(code: str):
    view, missing = _view_or_404(code)
    if missing:
        return missing
    error = ""
    status = 200
    if request.method == "POST":
        starts = _parse_slot(request.form.get("slot", ""))
        try:
            if starts is None:
                raise Problem(_("Please choose a time."), field="slot", status=422)
            service.change_booking(view["code"], starts)
        except Problem as exc:
            error = str(exc.detail or exc.title)
            status = 409 if isinstance(exc, Conflict) else 422
        else:
            return redirect(
                url_for("appointments.booking_page", code=view["code"], msg="changed"), 303
            )
    svc: ApptService = view["service"]
    return _public(
        render_template(
            "appointments/change.html",
            v=view,
            days=_slot_days(catalogue.open_slots(svc)) if view["can_change"] else [],
            error=error,
        )
    ), status


@bp.route("/b/m/<code>/cancel", methods=["POST"])
@limiter.limit(_limit("APPT_CHANGE_LIMIT"))
def cancel(code: str):
    view, missing = _view_or_404(code)
    if missing:
        return missing
    try:
        service.cancel_booking(view["code"])
    except Problem as exc:
        return _public(
            render_template(
                "appointments/booking.html",
                v=view,
                new=False,
                ratings=rules.RATINGS,
                error=str(exc.detail or exc.title),
            )  # fmt: skip
        ), exc.status
    return redirect(url_for("appointments.booking_page", code=view["code"], msg="cancelled"), 303)


@bp.route("/b/m/<code>/rating", methods=["POST"])
@limiter.limit(_limit("APPT_CHANGE_LIMIT"))
def rate(code: str):
    view, missing = _view_or_404(code)
    if missing:
        return missing
    try:
        service.rate_booking(
            view["code"], request.form.get("rating", ""), request.form.get("note", "")[:400]
        )
    except Problem as exc:
        return _public(
            render_template(
                "appointments/booking.html",
                v=view,
                new=False,
                ratings=rules.RATINGS,
                error=str(exc.detail or exc.title),
            )  # fmt: skip
        ), exc.status
    return redirect(url_for("appointments.booking_page", code=view["code"], msg="rated"), 303)


def init_app(app) -> None:
    from gridapp.appointments import jobs  # noqa: F401  (the reminder job)
    from gridapp.appointments.contact import task_contacts
    from gridapp.appointments.staff_api import api, task_api
    from gridapp.tasks.service import DONE_LISTENERS, ROW_EXTRAS

    app.register_blueprint(bp)
    app.register_blueprint(api)
    app.register_blueprint(task_api)
    if desk.on_task_done not in DONE_LISTENERS:
        DONE_LISTENERS.append(desk.on_task_done)
    if task_contacts not in ROW_EXTRAS:
        ROW_EXTRAS.append(task_contacts)
