"""Flask extensions, created unbound and initialised by the app factory."""

from __future__ import annotations

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


def select_locale() -> str:
    """zh_CN unless English was chosen: the user's setting, then the ``lang`` cookie or query."""
    from flask import current_app, has_request_context
    from flask_login import current_user

    if not has_request_context():  # jobs and service calls from the CLI: the default locale
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    languages = current_app.config["LANGUAGES"]
    asked = request.args.get("lang") or request.cookies.get("lang")
    if asked in languages:
        return asked
    if getattr(current_user, "is_authenticated", False) and current_user.locale in languages:
        return current_user.locale
    return current_app.config["BABEL_DEFAULT_LOCALE"]


@limiter.request_filter
def _endpoint_without_limits() -> bool:
    """Skip Flask-Limiter's per-request work where no limit applies. It resolves every
    endpoint's limits on every request (a tenth of ``/api/v1/me``'s time in a profile), while
    whether an endpoint has any limit is fixed once the app is built: decided on its first
    request, kept per app. Limited endpoints (the echo wall, logins) go through as before."""
    from flask import current_app

    endpoint = request.endpoint
    if not endpoint:
        return False
    known = current_app.extensions.setdefault("gridapp_limit_free", {})
    key = (endpoint, request.blueprint)
    if key not in known:
        manager = limiter.limit_manager
        free = not manager.application_limits
        for in_middleware in (False, True):
            defaults, decorated = manager.resolve_limits(
                current_app, endpoint, request.blueprint, None, in_middleware, in_middleware
            )
            free = free and not defaults and not decorated
        known[key] = free
    return known[key]


def skip_limiter_where_free(app: Flask) -> None:
    """Flask-Limiter's ``before_request`` still evaluated (empty) limits after the request
    filter said there were none (5 % of a ``/api/v1/me``): for endpoints without limits, do
    not call it at all."""
    funcs = app.before_request_funcs.setdefault(None, [])
    check = limiter._check_request_limit
    for i, fn in enumerate(funcs):
        if fn == check:

            def _limits_where_they_apply() -> None:
                if not _endpoint_without_limits():
                    check()

            funcs[i] = _limits_where_they_apply


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer built once per secret key
    instead of on every request."""

    def get_signing_serializer(self, app: Flask):
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = app.extensions.get("gridapp.session_serializer")
        if cached is None or cached[0] != key:
            cached = app.extensions["gridapp.session_serializer"] = (
                key,
                super().get_signing_serializer(app),
            )
        return cached[1]
