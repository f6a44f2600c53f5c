"""Console pages for 企业微信 bindings (admins): a user's binding on their edit page, and the
bindings overview with the account import (用户名 + 企业微信账号 columns). The routes land on
the console's blueprint (imported before it is registered), so its guard and layout apply."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from gridapp.console.blueprint import bp
from gridapp.console.guard import ADMINS, actor, roles_required
from gridapp.errors import NotFound, Problem
from gridapp.notifications.wecom import binding
from gridapp.notifications.wecom.models import WecomBinding
from gridapp.org.models import User, UserGrid
from gridapp.throttle import read_upload, throttle_upload


def _ip() -> str:
    return request.remote_addr or ""


@bp.route("/admin/users/<int:user_id>/wecom", methods=["POST"])
@roles_required(*ADMINS)
def admin_user_wecom(user_id: int):
    """Set or clear (empty field) the user's 企业微信 account."""
    try:
        result = binding.set_binding(
            actor(), user_id, request.form.get("wecom_userid", ""), ip=_ip()
        )
    except Problem as exc:
        return _user_page(user_id, exc)
    flash(
        {
            "bound": _("企业微信 account saved."),
            "unbound": _("企业微信 account removed."),
            "unchanged": _("Nothing changed."),
        }[result]
    )
    return redirect(url_for("console.admin_user", user_id=user_id))


def _user_page(user_id: int, error: Problem):
    """The user's edit page again, the error under the 企业微信 field (nothing was saved)."""
    from gridapp.console.admin import _units_by_user, _user_form_context

    user = User.get_or_none(User.id == user_id)
    if user is None:
        raise NotFound()
    user_grids = {
        g for (g,) in UserGrid.select(UserGrid.grid).where(UserGrid.user == user.id).tuples()
    }
    return render_template(
        "console/admin/user.html",
        user=user,
        unit=_units_by_user([user]).get(user.id, ""),
        user_grids=user_grids,
        error=error,
        wecom_value=request.form.get("wecom_userid", ""),
        **_user_form_context(),
    ), error.status


@bp.route("/admin/wecom")
@roles_required(*ADMINS)
def admin_wecom():
    return _wecom_page()


@bp.route("/admin/wecom/import", methods=["POST"])
@roles_required(*ADMINS)
def admin_wecom_import():
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise Problem(_("Choose a file to upload."), field="file", status=422)
        throttle_upload("roster", actor().id, _ip())
        result = binding.import_bindings(actor(), upload.filename, read_upload(upload), ip=_ip())
    except Problem as exc:
        return _wecom_page(error=exc)
    return _wecom_page(result=result)


def _wecom_page(error: Problem | None = None, result: dict | None = None):
    from gridapp.notifications import wecom

    rows = list(
        WecomBinding.select(WecomBinding, User)
        .join(User, on=(WecomBinding.user == User.id))
        .order_by(WecomBinding.disabled_at.desc(nulls="LAST"), User.username)
        .limit(500)
    )
    return render_template(
        "wecom/admin.html",
        rows=rows,
        total=WecomBinding.select().count(),
        disabled=WecomBinding.select().where(WecomBinding.disabled_at.is_null(False)).count(),
        configured=wecom.configured(current_app),
        oauth=wecom.settings(current_app).oauth_enabled,
        error=error,
        row_errors=(error.errors or []) if error else [],
        result=result,
    ), (error.status if error else 200)
