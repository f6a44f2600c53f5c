"""Login/logout pages and their JSON twins. Thin: parse, call the service, respond."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf.csrf import generate_csrf

from gridapp.accounts import schemas
from gridapp.accounts.service import authenticate
from gridapp.api import Ok, endpoint
from gridapp.errors import Problem
from gridapp.extensions import limiter
from gridapp.org.models import Grid, User, UserGrid

bp = Blueprint("accounts", __name__)
api = Blueprint("accounts_api", __name__, url_prefix="/api/v1")


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _login_key() -> str:
    """Per client address *and* per username: one phone cannot guess, nor can many phones
    hammer one account from one NAT address unnoticed."""
    from flask_limiter.util import get_remote_address

    name = (
        request.form.get("username") or (request.get_json(silent=True) or {}).get("username") or ""
    )
    return f"{get_remote_address()}|{str(name).strip().lower()[:64]}"


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("core.home")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, key_func=_login_key, methods=["POST"])
def login():
    error = None
    if request.method == "POST":
        try:
            user = authenticate(request.form.get("username", ""), request.form.get("password", ""))
        except Problem as exc:
            error = exc.detail
            status = 403 if exc.status == 403 else 401
            return render_template(
                "accounts/login.html", error=error, username=request.form.get("username", "")
            ), status
        login_user(user, remember=bool(request.form.get("remember")))
        return redirect(_safe_next(request.args.get("next")))
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    return render_template("accounts/login.html", error=error, username="")


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    return redirect(url_for("accounts.login"))


@bp.route("/lang/<code>", methods=["POST"])
def set_lang(code: str):
    if code not in current_app.config["LANGUAGES"]:
        raise Problem(_("Unknown language."), field="lang")
    if current_user.is_authenticated:
        User.update(locale=code).where(User.id == current_user.id).execute()
    resp = redirect(
        _safe_next(
            request.form.get("next")
            or request.referrer
            and request.referrer.split(request.host, 1)[-1]
        )
    )
    resp.set_cookie("lang", code, max_age=365 * 24 * 3600, samesite="Lax", httponly=False)
    return resp


def me_payload(user: User) -> schemas.MeOut:
    grids = (
        Grid.select(Grid.id, Grid.name, Grid.community)
        .join(UserGrid)
        .where(UserGrid.user == user.id)
        .order_by(Grid.sort, Grid.id)
    )
    return schemas.MeOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        locale=user.locale or "",
        community_id=user.community_id,
        street_id=user.street_id,
        department_id=user.department_id,
        grids=[schemas.GridRef(id=g.id, name=g.name, community_id=g.community_id) for g in grids],
        csrf_token=generate_csrf(),
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
@limiter.limit(_login_limit, key_func=_login_key)
def api_login(body: schemas.LoginIn):
    user = authenticate(body.username, body.password)
    login_user(user, remember=True)
    return me_payload(user)


@endpoint(api, "/auth/logout", methods=["POST"], auth=False, response=Ok, summary="End the session")
def api_logout():
    logout_user()
    return {"ok": True}


@endpoint(
    api,
    "/auth/csrf",
    response=schemas.CsrfOut,
    auth=False,
    summary="A CSRF token for this session (send it as X-CSRFToken)",
)
def api_csrf():
    return schemas.CsrfOut(csrf_token=generate_csrf())


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
    return {"locale": body.locale}


__all__ = ["bp", "api", "login_required"]
