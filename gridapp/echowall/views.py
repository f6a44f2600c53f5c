"""Echo wall pages: the public report form ``/e/<token>``, the tracking page ``/t/<code>`` (with
its service worker ``/t/sw.js`` and ``/api/v1/track/<code>/push`` to follow it by Web Push), the
community wall ``/w/<token>``, and the grid poster for supervisors and admins."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from gridapp.api import API_PREFIX, endpoint
from gridapp.config import ROOT
from gridapp.echowall import push, rules, schemas, service
from gridapp.echowall import sms as echo_sms
from gridapp.errors import Conflict, Forbidden, NotFound, Problem
from gridapp.extensions import limiter
from gridapp.matters import public
from gridapp.matters.service import rate_matter_by_code
from gridapp.org.models import Grid
from gridapp.scope import get_scoped, scope_for

bp = Blueprint("echowall", __name__)
api = Blueprint("echowall_api", __name__, url_prefix=API_PREFIX)

RATINGS = ("满意", "基本满意", "不满意")


def _limit(name: str):
    return lambda: current_app.config.get(name) or DEFAULT_LIMITS[name]


DEFAULT_LIMITS = {
    "ECHOWALL_SUBMIT_LIMIT": "5 per 10 minutes",
    "ECHOWALL_PAGE_LIMIT": "60 per minute",
    "ECHOWALL_TRACK_LIMIT": "60 per minute",
    "ECHOWALL_RATE_LIMIT": "10 per minute",
    "ECHOWALL_PUSH_LIMIT": "10 per minute",
}


def public_base_url() -> str:
    """Where residents reach the public pages (posters, tracking links)."""
    return current_app.config.get("ECHOWALL_PUBLIC_URL") or request.url_root


@bp.route("/e/<token>", methods=["GET", "POST"])
@limiter.limit(_limit("ECHOWALL_PAGE_LIMIT"), methods=["GET"])
@limiter.limit(_limit("ECHOWALL_SUBMIT_LIMIT"), methods=["POST"])
def report(token: str):
    """The resident's form for one grid (no account; CSRF through the session cookie)."""
    try:
        grid = service.grid_by_token(token)
    except NotFound:
        return _not_found(_("This report page does not exist. Please scan the poster's QR again."))
    errors: dict[str, str] = {}
    form = {"text": "", "contact_phone": ""}
    status = 200
    if request.method == "POST":
        form = {
            "text": request.form.get("text", "")[: rules.TEXT_MAX * 2],
            "contact_phone": request.form.get("contact_phone", "")[:40],
        }
        upload = request.files.get("photo")
        data = None
        if upload is not None:
            try:
                data = upload.read(rules.PHOTO_MAX_BYTES + 1) if upload.filename else None
            finally:
                upload.close()
        try:
            matter = service.submit_need(grid, form["text"], form["contact_phone"], data)
        except Problem as exc:
            errors[(exc.field or "text").split(".")[0]] = str(exc.detail or exc.title)
            status = 422
        else:
            resp = current_app.make_response(
                render_template(
                    "echowall/submitted.html",
                    grid=grid,
                    code=matter.code,
                    token=token,
                    rating_key=matter.issued_rating_key,
                )
            )
            _set_rating_key(resp, matter.code, matter.issued_rating_key)
            resp.headers["Cache-Control"] = "no-store"
            return resp
    return (
        render_template(
            "echowall/report.html",
            grid=grid,
            worker=service.grid_worker(grid),
            form=form,
            errors=errors,
            text_max=rules.TEXT_MAX,
        ),
        status,
    )


RATING_KEY_COOKIE = "echo_rk"
RATING_KEY_MAX_AGE = 366 * 24 * 3600


def _set_rating_key(resp: Response, code: str, key: str | None) -> None:
    """The resident's rating key, in an HttpOnly cookie for this tracking page only."""
    if key:
        resp.set_cookie(
            RATING_KEY_COOKIE,
            key[:200],
            max_age=RATING_KEY_MAX_AGE,
            path=url_for("echowall.track", code=code),
            httponly=True,
            samesite="Lax",
            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        )


def _not_found(message: str):
    """A friendly 404 for public pages, with the way back to the code lookup (never a link to
    the staff login)."""
    return render_template("echowall/not_found.html", message=message), 404


def _unknown_code():
    return _not_found(_("No report has this tracking code. Please check the code and try again."))


@bp.route("/t/")
@limiter.limit(_limit("ECHOWALL_TRACK_LIMIT"))
def lookup():
    """The poster's promise, 凭查询码查看办理进度: type the code, see the tracking page."""
    code = rules.normalise_code(request.args.get("code", ""))
    error = ""
    if "code" in request.args:
        if not code:
            error = _("Please enter your tracking code.")
        elif public.code_exists(code):
            return redirect(url_for("echowall.track", code=code))
        else:
            error = _("No report has this tracking code. Please check the code and try again.")
    return render_template("echowall/lookup.html", code=code, error=error), (
        404 if error and code else 200
    )


@bp.route("/t/<code>")
@limiter.limit(_limit("ECHOWALL_TRACK_LIMIT"))
def track(code: str):
    code = rules.normalise_code(code)
    try:
        view = public.public_view(code)
    except NotFound:
        return _unknown_code()
    if view["code"] != code:
        return redirect(url_for("echowall.track", code=view["code"]))
    key = request.args.get("k", "")
    if key:
        # The link from the confirmation page: keep the key in this browser, out of the URL.
        resp = redirect(url_for("echowall.track", code=view["code"]))
        _set_rating_key(resp, view["code"], key)
        resp.headers["Referrer-Policy"] = "no-referrer"
        return resp
    has_key = bool(request.cookies.get(RATING_KEY_COOKIE))
    sms_offer = echo_sms.offer(view["code"], request.cookies.get(RATING_KEY_COOKIE, ""))
    return render_template(
        "echowall/track.html", view=view, ratings=RATINGS, has_key=has_key, sms=sms_offer
    )


@bp.route("/t/<code>/sms", methods=["POST"])
@limiter.limit(_limit("ECHOWALL_RATE_LIMIT"))
def sms_choice(code: str):
    """The resident opts in to (``agree`` ticked) or withdraws from the SMS about their matter."""
    code = rules.normalise_code(code)
    key = request.cookies.get(RATING_KEY_COOKIE, "")
    try:
        if request.form.get("choice") == "off":
            echo_sms.withdraw(code, key)
            flash(_("You will get no text messages about this report."), "ok")
        elif request.form.get("agree") != "1":
            flash(_("Tick the box to agree to the text messages."), "error")
        else:
            echo_sms.opt_in(code, key)
            flash(
                _(
                    "You will get a text message when this report is answered and when it is closed."
                ),
                "ok",
            )
    except NotFound:
        return _unknown_code()
    except Problem as exc:
        flash(str(exc.detail or exc.title), "error")
    return redirect(url_for("echowall.track", code=code))


@bp.route("/t/<code>/rating", methods=["POST"])
@limiter.limit(_limit("ECHOWALL_RATE_LIMIT"))
def rate(code: str):
    code = rules.normalise_code(code)
    rating = request.form.get("rating", "")
    if rating not in RATINGS:
        flash(_("Choose one of the ratings."), "error")
        return redirect(url_for("echowall.track", code=code))
    key = request.cookies.get(RATING_KEY_COOKIE, "")
    try:
        rate_matter_by_code(code, rating, request.form.get("note", "")[:500], key=key)
    except NotFound:
        return _unknown_code()
    except Conflict as exc:
        if exc.code == "already_rated":
            flash(_("This matter has already been rated; thank you."), "error")
        else:
            flash(_("This matter cannot be rated now."), "error")
    except Forbidden:
        flash(
            _("Only the resident who reported it can rate it, on the phone they reported from."),
            "error",
        )
    except Problem:
        flash(_("This matter cannot be rated now."), "error")
    else:
        flash(_("Thank you for your rating."), "ok")
    return redirect(url_for("echowall.track", code=code))


@bp.route("/t/sw.js")
def service_worker():
    """The tracking pages' service worker: its path gives it the scope ``/t/`` and no more."""
    resp = send_from_directory(ROOT / "static" / "echowall", "sw.js", max_age=0)
    resp.mimetype = "text/javascript"
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@endpoint(
    api,
    "/track/<code>/push",
    methods=["POST"],
    body=schemas.FollowIn,
    response=schemas.FollowOut,
    status=201,
    auth=False,
    tags=["echowall"],
    responses={200: "already following (the same endpoint)", 404: "Unknown tracking code"},
)
@limiter.limit(_limit("ECHOWALL_PUSH_LIMIT"))
def follow(code: str, body: schemas.FollowIn):
    """Public: this browser gets a Web Push when the matter changes (post subscription.toJSON())."""
    row, created = push.subscribe_updates(
        code, body.endpoint, body.keys.p256dh, body.keys.auth, locale=str(get_locale())
    )
    return row, 201 if created else 200


@endpoint(
    api,
    "/track/<code>/push",
    methods=["DELETE"],
    body=schemas.UnfollowIn,
    status=204,
    auth=False,
    tags=["echowall"],
)
@limiter.limit(_limit("ECHOWALL_PUSH_LIMIT"))
def unfollow(code: str, body: schemas.UnfollowIn):
    """Public: stop pushing this matter's changes to this browser (by endpoint)."""
    push.unsubscribe_updates(code, body.endpoint)
    return current_app.response_class(status=204)


@bp.route("/w/<token>")
@limiter.limit(_limit("ECHOWALL_PAGE_LIMIT"))
def community_wall(token: str):
    try:
        community = service.community_by_token(token)
    except NotFound:
        return _not_found(_("This echo wall does not exist."))
    page = request.args.get("page", "1")
    data = service.wall(community, int(page) if page.isdigit() else 1)
    return render_template("echowall/wall.html", community=community, token=token, **data)


# ---- for supervisors and admins -----------------------------------------------------------------


def _poster_grid(grid_id: int) -> Grid:
    user = current_user._get_current_object()
    if user.role not in ("supervisor", "admin"):
        abort(404)
    try:
        return get_scoped(Grid, grid_id, scope_for(user), grid_field=Grid.id)
    except NotFound:
        abort(404)


@bp.route("/echowall/grids/<int:grid_id>/poster.svg")
@login_required
def poster_svg(grid_id: int):
    grid = _poster_grid(grid_id)
    svg = rules.poster_svg(service.poster(grid, public_base_url()))
    resp = Response(svg, mimetype="image/svg+xml")
    resp.headers["Content-Disposition"] = f'inline; filename="poster-{grid.code}.svg"'
    return resp


@bp.route("/echowall/grids/<int:grid_id>/poster.pdf")
@login_required
def poster_pdf(grid_id: int):
    grid = _poster_grid(grid_id)
    pdf = rules.poster_pdf(service.poster(grid, public_base_url()))
    resp = Response(pdf, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'inline; filename="poster-{grid.code}.pdf"'
    return resp


@bp.route("/echowall/")
@login_required
def posters():
    """The supervisor's list of grids with poster downloads and the community wall links."""
    user = current_user._get_current_object()
    if user.role not in ("supervisor", "admin"):
        abort(404)
    scope = scope_for(user)
    grids = list(
        Grid.select().where(scope.grid_condition(Grid.id)).order_by(Grid.community, Grid.sort)
    )
    walls = {g.community_id: service.token_for("community", g.community_id) for g in grids}
    return render_template("echowall/posters.html", grids=grids, walls=walls)


_WRAPPED: dict = {}


def _limit_json_tracking(app) -> None:
    """The public JSON tracking endpoints of the matters feature get the same limits. The
    limiter is process-wide, so each view function is wrapped (and its limit registered) once,
    however many apps the process creates."""
    for view_name, name in (
        ("matters_api.track", "ECHOWALL_TRACK_LIMIT"),
        ("matters_api.rate", "ECHOWALL_RATE_LIMIT"),
    ):
        view = app.view_functions.get(view_name)
        if view is None:
            continue
        if view not in _WRAPPED:
            _WRAPPED[view] = limiter.limit(_limit(name))(view)
        app.view_functions[view_name] = _WRAPPED[view]


def init_app(app) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(api)
    _limit_json_tracking(app)
    push.init_push()
    echo_sms.init_sms()
