"""Flask extensions, created unbound and initialised by the app factory."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, g, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect, generate_csrf
from itsdangerous import BadSignature

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

    req = request._get_current_object()  # asked up to three times a request: once is enough
    free = req.__dict__.get("_gridapp_limit_free")
    if free is not None:
        return free
    endpoint = req.endpoint
    if not endpoint:
        return False
    known = current_app.extensions.setdefault("gridapp_limit_free", {})
    key = (endpoint, req.blueprint)
    if key not in known:
        manager = limiter.limit_manager
        free = not manager.application_limits
        for in_middleware in (False, True):
            defaults, decorated = manager.resolve_limits(
                current_app, endpoint, request.blueprint, None, in_middleware, in_middleware
            )
            free = free and not defaults and not decorated
        known[key] = free
    req.__dict__["_gridapp_limit_free"] = known[key]
    return known[key]


def skip_limiter_where_free(app: Flask) -> None:
    """Flask-Limiter's hooks still ran for endpoints the request filter had exempted: its
    ``before_request`` evaluated (empty) limits (5 % of a ``/api/v1/me``), its ``after_request``
    and teardown built and reset a per-request context to add no header (3 %). For endpoints
    without limits, do not call them at all. (Limits hit from inside a view, ``throttle.py``,
    go to the storage directly and set no header: nothing is lost.)"""
    before = app.before_request_funcs.setdefault(None, [])
    check = limiter._check_request_limit
    for i, fn in enumerate(before):
        if fn == check:

            def _limits_where_they_apply() -> None:
                if not _endpoint_without_limits():
                    check()

            before[i] = _limits_where_they_apply

    def limited() -> bool:
        return not _endpoint_without_limits()

    def after_where_limited(fn):
        def hook(response):
            return fn(response) if limited() else response

        return hook

    def teardown_where_limited(fn):
        def hook(exc: BaseException | None = None) -> None:
            if limited():
                fn(exc)

        return hook

    for funcs, wrap in (
        (app.after_request_funcs.setdefault(None, []), after_where_limited),
        (app.teardown_request_funcs.setdefault(None, []), teardown_where_limited),
    ):
        for i, fn in enumerate(funcs):
            if getattr(fn, "args", None) == (limiter,) or getattr(fn, "__self__", None) is limiter:
                funcs[i] = wrap(fn)


MEMO_CAP = 10_000  # entries per process; past it the memo starts again (a few MB at most)
_SCALARS = (str, int, float, bool, type(None))


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer built once per secret key
    instead of on every request, and each cookie's verified contents kept per process.

    Verifying a cookie (a key derivation, an HMAC, base64, JSON) was a tenth of an
    ``/api/v1/me``, on every request of a phone that sends the same cookie all day. A cookie
    is kept only after its signature verified under the current key; a hit still checks its
    age against ``PERMANENT_SESSION_LIFETIME`` as ``loads`` would. The memo belongs to the
    serializer, so a new secret key starts an empty one. Only flat sessions (strings, numbers)
    are kept: the request gets its own dict, so nothing it changes reaches the memo."""

    def _signing(self, app: Flask) -> tuple[Any, dict[str, tuple[int, dict[str, Any]]]]:
        """The serializer for the current key and its memo of verified cookies."""
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = app.extensions.get("gridapp.session_serializer")
        if cached is None or cached[0] != key:
            cached = app.extensions["gridapp.session_serializer"] = (
                key,
                super().get_signing_serializer(app),
                {},
            )
        return cached[1], cached[2]

    def get_signing_serializer(self, app: Flask):
        return self._signing(app)[0]

    def open_session(self, app: Flask, request) -> SecureCookieSession | None:
        s, memo = self._signing(app)
        val = request.cookies.get(self.get_cookie_name(app))
        if s is None or not val:
            return super().open_session(app, request)
        max_age = int(app.permanent_session_lifetime.total_seconds())
        hit = memo.get(val)
        if hit is not None and 0 <= int(time.time()) - hit[0] <= max_age:  # as ``loads``
            return self.session_class(hit[1])
        try:
            data, signed_at = s.loads(val, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        if isinstance(data, dict) and all(isinstance(v, _SCALARS) for v in data.values()):
            if len(memo) >= MEMO_CAP:
                memo.clear()
            memo[val] = (int(signed_at.timestamp()), dict(data))
        return self.session_class(data)


def csrf_token() -> str:
    """Flask-WTF's ``generate_csrf``, with the signed form of each session's raw token kept per
    process. Signing it again on every ``/api/v1/me`` (a key derivation and an HMAC) was a tenth
    of that request. With ``WTF_CSRF_TIME_LIMIT`` unset (config.py) a token carries no expiry,
    so the earlier signature of the same raw token is exactly as good; with a time limit set,
    every call signs afresh as Flask-WTF does."""
    from flask import current_app

    cfg = current_app.config
    field = cfg.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    if field in g or cfg.get("WTF_CSRF_TIME_LIMIT") is not None:
        return generate_csrf()
    raw = session.get(field)
    if not isinstance(raw, str):
        return generate_csrf()
    secret = cfg.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key
    memo = current_app.extensions.setdefault("gridapp.csrf_signed", {})
    key = (secret, raw)
    signed = memo.get(key)
    if signed is None:
        signed = generate_csrf()
        if len(memo) >= MEMO_CAP:
            memo.clear()
        memo[key] = signed
    else:
        setattr(g, field, signed)
    return signed
