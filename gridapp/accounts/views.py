"""Login/logout pages and their JSON twins. Thin: parse, call the service, respond."""

from __future__ import annotations

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user, user_logged_in

from gridapp.accounts import schemas
from gridapp.accounts.service import attempt_login
from gridapp.accounts.sessions import revoke_user_session_row, start_session
from gridapp.api import endpoint
from gridapp.errors import Problem
from gridapp.extensions import csrf_token
from gridapp.org.models import Grid, User, UserGrid
from gridapp.security import safe_redirect_target, safe_target, same_site_referrer

bp = Blueprint("accounts", __name__)
api = Blueprint("accounts_api", __name__, url_prefix="/api/v1")


def client_ip() -> str:
    return request.remote_addr or ""


def begin_session(user: User, *, kind: str = "web", remember: bool = False) -> None:
    """Start a server-side session and point the cookie at it. The cookie's old contents (and
    its CSRF secret) are dropped: a new login gets new tokens, so a previous user's queued
    requests cannot be replayed under this account."""
    row, token = start_session(
        user,
        kind=kind,
        remember=remember,
        user_agent=request.headers.get("User-Agent", ""),
        ip=client_ip(),
    )
    session.clear()
    g.pop("csrf_token", None)
    session["_user_id"] = token  # flask-login's key; load_user reads the row behind it
    session["_fresh"] = True
    session.permanent = kind == "device" or remember
    g.user_session = row
    current_app.login_manager._update_request_context_with_user(user)
    user_logged_in.send(current_app._get_current_object(), user=user)


def end_session() -> None:
    """Logout: the row is revoked, so the cookie is dead on every process, even if kept."""
    row = g.get("user_session") if current_user.is_authenticated else None
    if row is not None:
        revoke_user_session_row(row.id, reason="logout")
    logout_user()
    session.clear()
    g.pop("csrf_token", None)


def _form_body() -> dict[str, str]:
    """The login form's fields; a body of any other shape (JSON, a list) is just empty."""
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return {}
    return {k: request.form.get(k, "") for k in ("username", "password", "remember")}


@bp.route("/login", methods=["GET", "POST"])
def login():
    target = safe_redirect_target(request.args.get("next"), url_for("core.home"))
    if request.method == "POST":
        form = _form_body()
        try:
            user = attempt_login(form.get("username", ""), form.get("password", ""), client_ip())
        except Problem as exc:
            resp = current_app.make_response(
                (
                    render_template(
                        "accounts/login.html", error=exc.detail, username=form.get("username", "")
                    ),
                    exc.status if exc.status in (401, 403, 429) else 401,
                )
            )
            resp.headers.update(getattr(exc, "headers", None) or {})
            return resp
        begin_session(user, remember=bool(form.get("remember")))
        return redirect(target)
    if current_user.is_authenticated:
        return redirect(target)
    return render_template("accounts/login.html", error=None, username="")


@bp.route("/logout", methods=["POST"])
def logout():
    end_session()
    return redirect(url_for("accounts.login"))


@bp.route("/lang/<code>", methods=["POST"])
def set_lang(code: str):
    if code not in current_app.config["LANGUAGES"]:
        raise Problem(_("Unknown language."), field="lang")
    if current_user.is_authenticated:
        User.update(locale=code).where(User.id == current_user.id).execute()
    back = safe_target(request.form.get("next")) or same_site_referrer()
    resp = redirect(back or url_for("core.home"))
    resp.set_cookie("lang", code, max_age=365 * 24 * 3600, samesite="Lax", httponly=False)
    return resp


def me_payload(user: User) -> schemas.MeOut:
    preloaded = getattr(user, "_grid_rows", None)  # read with the session (one query)
    if preloaded is not None:
        grids = [schemas.GridRef(id=g[0], name=g[1], community_id=g[2]) for g in preloaded]
    else:
        grids = [
            schemas.GridRef(id=g.id, name=g.name, community_id=g.community_id)
            for g in Grid.select(Grid.id, Grid.name, Grid.community)
            .join(UserGrid)
            .where(UserGrid.user == user.id)
            .order_by(Grid.sort, Grid.id)
        ]
    return schemas.MeOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        locale=user.locale or "",
        community_id=user.community_id,
        street_id=user.street_id,
        department_id=user.department_id,
        grids=grids,
        csrf_token=csrf_token(),
    )


@endpoint(
    api,
    "/auth/login",
    methods=["POST"],
    body=schemas.LoginIn,
    response=schemas.MeOut,
    auth=False,
    summary="Log in with username and password (sets the session cookie)",
    responses={
        401: "Wrong username or password",
        403: "Account disabled",
        429: "Too many attempts",
    },
)
def api_login(body: schemas.LoginIn):
    user = attempt_login(body.username, body.password, client_ip())
    begin_session(user, kind="device" if body.device else "web", remember=body.remember)
    return me_payload(user)


@endpoint(
    api,
    "/auth/logout",
    methods=["POST"],
    response=schemas.OkOut,
    auth=False,
    summary="End the session (on the server: the cookie stops working everywhere)",
)
def api_logout():
    end_session()
    return schemas.OkOut(ok=True)


@endpoint(
    api,
    "/auth/csrf",
    response=schemas.CsrfOut,
    auth=False,
    summary="A CSRF token for this session (send it as X-CSRFToken)",
)
def api_csrf():
    return schemas.CsrfOut(csrf_token=csrf_token())


@endpoint(
    api, "/me", response=schemas.MeOut, summary="The logged-in user, their grids and a CSRF token"
)
def me():
    return me_payload(current_user._get_current_object())


@endpoint(
    api,
    "/me/locale",
    methods=["PUT"],
    body=schemas.LocaleIn,
    response=schemas.LocaleIn,
    summary="Choose the UI language",
)
def me_locale(body: schemas.LocaleIn):
    User.update(locale=body.locale).where(User.id == current_user.id).execute()
    return schemas.LocaleIn(locale=body.locale)


from gridapp.accounts import jobs, session_views  # noqa: E402,F401  (sessions API, prune job)

__all__ = ["bp", "api", "login_required"]
