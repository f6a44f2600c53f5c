"""Who may open which console page: one decorator, so a page cannot forget it.

A logged-out visitor is sent to the login page; a logged-in user whose role may not open the
page gets a 403 *page* (the foundation's error handler renders ``Forbidden`` as HTML).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask_babel import gettext as _
from flask_login import current_user

from gridapp.errors import Forbidden
from gridapp.extensions import login_manager

SUPERVISORS = ("supervisor", "admin")
ADMINS = ("admin",)
DEPARTMENTS = ("department",)


def roles_required(*roles: str) -> Callable:
    def decorator(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def view(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                raise Forbidden(_("This page is not open to your role."))
            return fn(*args, **kwargs)

        view.console_roles = roles  # type: ignore[attr-defined]  (read by the tests)
        return view

    return decorator


def actor():
    """The acting user as a plain model instance (services take it as an argument)."""
    return current_user._get_current_object()
