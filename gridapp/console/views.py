"""Registers the console: its blueprint, role homes, template helpers and the nav per role."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from gridapp.console import fmt
from gridapp.console.blueprint import bp
from gridapp.console.guard import ADMINS, DEPARTMENTS, SUPERVISORS

# (endpoint, label, roles): a link shows only to its roles and only once the page exists.
NAV: list[tuple[str, Any, tuple[str, ...]]] = [
    ("console.dashboard", _l("Dashboard"), SUPERVISORS),
    ("console.triage", _l("Triage"), SUPERVISORS),
    ("console.matters", _l("Matters"), SUPERVISORS),
    ("console.tasks", _l("Tasks"), SUPERVISORS),
    ("console.announcements", _l("Announcements"), SUPERVISORS),
    ("console.appointments", _l("Appointments"), SUPERVISORS),
    ("console.roster", _l("Roster"), SUPERVISORS),
    ("console.department_matters", _l("My department's matters"), DEPARTMENTS),
    ("console.admin_index", _l("Administration"), ADMINS),
    ("console.sessions", _l("Sessions"), ADMINS),
]


def nav_items() -> list[dict[str, Any]]:
    if not current_user.is_authenticated:
        return []
    out = []
    for endpoint, label, roles in NAV:
        if current_user.role in roles and endpoint in current_app.view_functions:
            out.append(
                {
                    "endpoint": endpoint,
                    "label": label,
                    "active": (request.endpoint or "").startswith(endpoint),
                }
            )
    return out


def init_app(app: Flask) -> None:
    from gridapp.appointments import console as _appointments  # noqa: F401  (pages on bp)
    from gridapp.console import (  # noqa: F401  (their routes land on bp)
        admin,
        announcements,
        dashboard,
        deadlines,
        matters,
        notify,
        sessions,
        settings,
        tasks,
        visits,
    )
    from gridapp.core import ROLE_HOMES

    app.register_blueprint(bp)
    fmt.register(app)
    app.jinja_env.globals["console_nav"] = nav_items
    app.jinja_env.globals["has_endpoint"] = lambda name: name in current_app.view_functions
    ROLE_HOMES["supervisor"] = "console.dashboard"
    ROLE_HOMES["admin"] = "console.dashboard"
    ROLE_HOMES["department"] = "console.department_matters"
