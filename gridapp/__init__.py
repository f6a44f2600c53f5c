"""gridapp: the grid worker's convenience service pack (便民服务包), as an app factory.

``create_app`` runs named steps in order; nothing happens at import time. Features are packages
under ``gridapp/`` listed in ``FEATURES``; each may provide ``models.py`` (tables) and
``views.py`` with ``init_app(app)`` (blueprints, CLI, role homes), so adding a feature does not
mean editing the factory.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from pathlib import Path
from typing import Any

from flask import Flask, g

from gridapp.config import ROOT, build_config, instance_path

FEATURES = [
    "accounts",
    "org",
    "registry",
    "visits",
    "photos",
    "tasks",
    "matters",
    "notifications",
    "notifications.sms",
    "notifications.wecom",
    "echowall",
    "news",
    "appointments",
    "sync",
    "pwa",
    "console",
    "open311",
]


def _feature_module(feature: str, module: str) -> Any | None:
    name = f"gridapp.{feature}.{module}"
    if importlib.util.find_spec(f"gridapp.{feature}") is None:
        return None
    if importlib.util.find_spec(name) is None:
        return None
    return importlib.import_module(name)


def import_models() -> list[type]:
    """Import every feature's models module and return all table models, dependencies first."""
    from peewee import sort_models

    from gridapp import audit, changes  # noqa: F401  (core tables)
    from gridapp.db import BaseModel

    for feature in FEATURES:
        _feature_module(feature, "models")

    def walk(cls: type) -> list[type]:
        out = []
        for sub in cls.__subclasses__():
            out.append(sub)
            out.extend(walk(sub))
        return out

    models = [
        m
        for m in dict.fromkeys(walk(BaseModel))
        if m.__module__.startswith("gridapp.")
        and not getattr(m._meta, "abstract", False)
        and m.__name__ not in {"VersionedModel"}
    ]
    return sort_models(models)


def configure(app: Flask, overrides: dict[str, Any] | None) -> None:
    app.config.update(build_config(Path(app.instance_path), overrides))
    Path(app.config["MEDIA_ROOT"]).mkdir(parents=True, exist_ok=True)

    @app.before_request
    def _fresh_g() -> None:
        # Per-request caches (the user, their scope, the locale) live on ``g``. When a request
        # reuses an app context that is already pushed (a CLI command or a test holding one),
        # they must not leak from one request to the next.
        g.__dict__.clear()


def register_database(app: Flask) -> None:
    from gridapp.db import db, make_database, register_request_hooks

    db.initialize(make_database(app.config["DATABASE_URL"]))
    import_models()
    register_request_hooks(app)


def register_extensions(app: Flask) -> None:
    from gridapp.accounts import authcache
    from gridapp.accounts.service import load_user
    from gridapp.extensions import (
        SessionInterface,
        babel,
        csrf,
        csrf_token,
        limiter,
        login_manager,
        select_locale,
        skip_limiter_where_free,
    )

    app.session_interface = SessionInterface()

    login_manager.init_app(app)
    # flask-login's remember-me cookie is never set here (a session is a server-side row, its
    # "remember" a longer lifetime, accounts/sessions.py); its after_request hook only asked
    # every response's session for a key nothing sets (12 µs a request).
    after = app.after_request_funcs.setdefault(None, [])
    after[:] = [fn for fn in after if fn != login_manager._update_remember_cookie]
    authcache.init_app(app)
    # Off. "strong" logs a worker out on 4G↔Wi-Fi (DEPENDENCIES pitfall 6); "basic", with
    # sessions that are permanent, only marks the session non-fresh when the address or browser
    # changes, and nothing here reads freshness (no fresh_login_required, no listener): it was a
    # SHA-512 of the address and User-Agent on every request (3 % of /api/v1/me) for nothing.
    # What protects a session is its server-side row: revocable, idle-expiring, listed per
    # device (accounts/sessions.py, docs/security.md). flask-login computes that identifier
    # before it looks at the mode, hence the generator too.
    login_manager.session_protection = None
    login_manager._session_identifier_generator = str
    login_manager.login_view = "accounts.login"
    login_manager.user_loader(load_user)

    @login_manager.unauthorized_handler
    def _unauthorized():
        from flask import redirect, request, url_for
        from flask_babel import gettext as _

        from gridapp.errors import Unauthorized, problem_response, wants_json

        if wants_json():
            return problem_response(Unauthorized(_("Please log in.")))
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))

    csrf.init_app(app)
    # Templates sign the CSRF token through the same per-process memo as the API.
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.context_processor(lambda: {"csrf_token": csrf_token})
    babel.init_app(app, locale_selector=select_locale)
    limiter.init_app(app)
    skip_limiter_where_free(app)

    @app.context_processor
    def _inject() -> dict[str, Any]:
        from flask_babel import get_locale

        # Babel names zh_CN "zh_Hans_CN"; templates compare against our own codes.
        return {"current_locale": "zh_CN" if str(get_locale()).startswith("zh") else "en"}


def register_time_model(app: Flask) -> None:
    """Datetimes in every ``jsonify`` body on the wire format (UTC with ``Z``; Flask's default
    is an HTTP date), and the ``localtime`` / ``isotime`` filters for every template."""
    from flask.json.provider import DefaultJSONProvider

    from gridapp.times import iso_utc, local_text

    class JSONProvider(DefaultJSONProvider):
        @staticmethod
        def default(o: Any) -> Any:
            import datetime as dt

            if isinstance(o, dt.date):
                return iso_utc(o)
            return DefaultJSONProvider.default(o)

    app.json = JSONProvider(app)
    app.add_template_filter(local_text, "localtime")
    app.add_template_filter(iso_utc, "isotime")


def register_jobs(app: Flask) -> None:
    from gridapp.jobs import init_jobs

    init_jobs(app)


def register_blueprints(app: Flask) -> None:
    from gridapp import core
    from gridapp.accounts import views as accounts_views

    app.register_blueprint(core.bp)
    app.register_blueprint(accounts_views.bp)
    app.register_blueprint(accounts_views.api)
    for feature in FEATURES:
        if feature == "accounts":
            continue
        views = _feature_module(feature, "views")
        if views is not None and hasattr(views, "init_app"):
            views.init_app(app)


def register_errors(app: Flask) -> None:
    from gridapp.errors import register_error_handlers

    register_error_handlers(app)


def register_security(app: Flask) -> None:
    from gridapp.security import register_security_headers

    register_security_headers(app)


def register_proxy(app: Flask) -> None:
    if app.config.get("PROXY_FIX"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app. ``overrides`` (tests, CLI) take precedence over the environment."""
    inst = Path((overrides or {}).get("INSTANCE_PATH") or instance_path())
    inst.mkdir(parents=True, exist_ok=True)
    app = Flask(
        __name__,
        instance_path=str(inst),
        static_folder=str(ROOT / "static"),
        template_folder=str(ROOT / "templates"),
    )
    from gridapp.api import IdConverter, register_input_guard

    app.url_map.converters["int"] = IdConverter  # before any route is added
    register_input_guard(app)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for step in (
        lambda a: configure(a, overrides),
        register_database,
        register_extensions,
        register_time_model,
        register_jobs,
        register_errors,
        register_blueprints,
        register_security,
        register_proxy,
    ):
        step(app)
    return app
