"""Admin: who is logged in where (web sessions and app devices, with last seen), ending a
session or all of a user's, and accounts locked by repeated failed logins, with unlock."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from gridapp.accounts import throttle
from gridapp.accounts.sessions import live_sessions, revoke_session, revoke_user_sessions
from gridapp.audit import write_audit
from gridapp.console import lists
from gridapp.console.blueprint import bp
from gridapp.console.guard import ADMINS, actor, roles_required
from gridapp.org.models import User


@bp.route("/sessions")
@roles_required(*ADMINS)
def sessions():
    user_id = lists.int_arg("user")
    rows = list(live_sessions(user_id).limit(500))
    by_user: dict[int, dict] = {}
    for row in rows:
        entry = by_user.setdefault(row.user_id, {"user": row.user, "sessions": []})
        entry["sessions"].append(row)
    locked = [
        {"key": key, "username": key[2:], "state": state}
        for key, state in throttle.locked_accounts()
    ]
    return render_template(
        "console/sessions.html",
        groups=sorted(by_user.values(), key=lambda e: e["user"].username),
        locked=locked,
        user_filter=User.get_or_none(User.id == user_id) if user_id else None,
    )


@bp.route("/sessions/<int:session_id>/revoke", methods=["POST"])
@roles_required(*ADMINS)
def session_revoke(session_id: int):
    revoke_session(actor(), session_id, reason="admin")
    flash(_("The session was ended."))
    return redirect(url_for("console.sessions"))


@bp.route("/sessions/user/<int:user_id>/revoke", methods=["POST"])
@roles_required(*ADMINS)
def session_revoke_user(user_id: int):
    user = User.get_or_none(User.id == user_id)
    if user is not None:
        n = revoke_user_sessions(user.id, reason="admin")
        write_audit(actor().id, "session.revoke_all", "user", user.id, ip=request.remote_addr or "")
        flash(_("%(n)d sessions of %(name)s were ended.", n=n, name=user.username))
    return redirect(url_for("console.sessions"))


@bp.route("/sessions/unlock", methods=["POST"])
@roles_required(*ADMINS)
def session_unlock():
    key = request.form.get("key", "")
    if key.startswith("u:"):
        throttle.unlock(key[2:])
        write_audit(actor().id, "account.unlock", "user", key[2:], ip=request.remote_addr or "")
        flash(_("%(name)s can log in again.", name=key[2:]))
    return redirect(url_for("console.sessions"))
