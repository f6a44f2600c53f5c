"""Sign in with 企业微信 (WECOM_OAUTH_ENABLED): ``/auth/wecom`` sends WeCom's browser to the
authorize page, ``/auth/wecom/callback`` exchanges the code for the member's userid and logs
the bound user in through the server-side sessions; a member not yet bound signs in once with
username and password on ``/auth/wecom/link``, which makes the binding. Thin: the checks live in
``oauth.py`` and ``binding.py``."""

from __future__ import annotations

import logging
import time

import requests
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from gridapp.accounts import throttle
from gridapp.errors import Problem
from gridapp.notifications import wecom
from gridapp.notifications.wecom import binding, oauth
from gridapp.notifications.wecom.api import ApiError
from gridapp.notifications.wecom.tokens import TokenUnavailable
from gridapp.security import safe_target

log = logging.getLogger("gridapp.notifications.wecom")
bp = Blueprint("wecom", __name__)
PENDING_MAX_AGE = 600  # seconds to finish the one password sign-in that binds


def _enabled() -> wecom.Settings:
    if not wecom.configured(current_app):
        abort(404)
    s = wecom.settings(current_app)
    if not s.oauth_enabled:
        abort(404)
    return s


def _ip() -> str:
    return request.remote_addr or ""


def _page(message: str, status: int, *, retry_after: int | None = None):
    resp = current_app.make_response(
        (render_template("wecom/message.html", message=message), status)
    )
    if retry_after:
        resp.headers["Retry-After"] = str(retry_after)
    return resp


def _target() -> str:
    return safe_target(request.args.get("next")) or url_for("core.home")


def _callback_url(s: wecom.Settings) -> str:
    if s.public_url:
        return s.public_url + url_for("wecom.callback")
    return url_for("wecom.callback", _external=True)


@bp.route("/auth/wecom")
def start():
    """Leave for WeCom's authorize page (inside WeCom's browser it comes straight back)."""
    s = _enabled()
    target = _target()
    if current_user.is_authenticated:
        return redirect(target)
    state, nonce = oauth.make_state(current_app.secret_key)
    device = request.args.get("device") == "1" or target.startswith("/app")
    session["wecom_oauth"] = {"nonce": nonce, "next": target, "device": device}
    return redirect(oauth.authorize_url(s.authorize_url, s.corp_id, s.agent_id,
                                        _callback_url(s), state))  # fmt: skip


@bp.route("/auth/wecom/callback")
def callback():
    _enabled()
    ip = _ip()
    wait = throttle.address_wait(ip)
    if wait:
        return _page(_("Too many failed logins. Wait %(seconds)d seconds.", seconds=wait), 429,
                     retry_after=wait)  # fmt: skip
    started = session.pop("wecom_oauth", None) or {}
    state, code = request.args.get("state", ""), request.args.get("code", "")
    if not oauth.check_state(current_app.secret_key, state, started.get("nonce")) or not code:
        throttle.record_address_failure(ip)
        return _page(_("This 企业微信 sign-in link has expired or was not started here. "
                       "Start again."), 400)  # fmt: skip
    try:
        userid = wecom.client(current_app).userid_for_code(code[:512])
    except ApiError as exc:
        if exc.errcode == 40029:  # a code used twice or too old
            throttle.record_address_failure(ip)
            return _page(_("This 企业微信 sign-in link has expired or was not started here. "
                           "Start again."), 400)  # fmt: skip
        log.error("wecom sign-in: the API refused: %s", exc)
        return _page(_("企业微信 cannot be reached just now. Log in with your password."), 502)
    except (requests.RequestException, TokenUnavailable) as exc:
        log.warning("wecom sign-in: %s", exc)
        return _page(_("企业微信 cannot be reached just now. Log in with your password."), 502)
    if userid is None:
        throttle.record_address_failure(ip)
        return _page(_("You are not a member of this organisation's 企业微信."), 403)
    target = safe_target(started.get("next")) or url_for("core.home")
    kind = "device" if started.get("device") else "web"
    found = binding.user_for_userid(wecom.settings(current_app).corp_id, userid)
    if found is not None:
        user, b = found
        if not user.is_active:
            return _page(_("This account has been disabled. Ask your administrator."), 403)
        binding.reenable(b, ip=ip)
        _begin(user, kind)
        return redirect(target)
    session["wecom_pending"] = {"userid": userid, "next": target, "kind": kind,
                                "at": int(time.time())}  # fmt: skip
    return redirect(url_for("wecom.link"))


def _begin(user, kind: str) -> None:
    from gridapp.accounts.views import begin_session

    begin_session(user, kind=kind)


@bp.route("/auth/wecom/link", methods=["GET", "POST"])
def link():
    """First 企业微信 sign-in of a member not yet bound: one password sign-in binds them."""
    _enabled()
    pending = session.get("wecom_pending") or {}
    if not pending or time.time() - int(pending.get("at", 0)) > PENDING_MAX_AGE:
        session.pop("wecom_pending", None)
        return _page(_("This 企业微信 sign-in link has expired or was not started here. "
                       "Start again."), 400)  # fmt: skip
    error, username = None, ""
    if request.method == "POST":
        from gridapp.accounts.service import attempt_login

        username = request.form.get("username", "")
        try:
            user = attempt_login(username, request.form.get("password", ""), _ip())
            binding.bind_self(user, pending["userid"], ip=_ip())
        except Problem as exc:
            error = exc.detail
            status = exc.status if exc.status in (401, 403, 422, 429) else 401
            resp = current_app.make_response((render_template(
                "wecom/link.html", error=error, username=username, userid=pending["userid"]
            ), status))  # fmt: skip
            resp.headers.update(getattr(exc, "headers", None) or {})
            return resp
        session.pop("wecom_pending", None)
        _begin(user, pending.get("kind", "web"))
        return redirect(safe_target(pending.get("next")) or url_for("core.home"))
    return render_template("wecom/link.html", error=error, username=username,
                           userid=pending["userid"])  # fmt: skip


def init_app(app: Flask) -> None:
    from gridapp.notifications.wecom import console  # noqa: F401  (routes on the console's bp)

    app.register_blueprint(bp)
    app.jinja_env.globals["wecom_binding"] = binding.binding_of

    @app.context_processor
    def _wecom_login() -> dict[str, bool]:
        # The login page offers "用企业微信登录" only where the deployment enabled it.
        def enabled() -> bool:
            return wecom.configured(current_app) and wecom.settings(current_app).oauth_enabled

        return {"wecom_login_enabled": enabled}
