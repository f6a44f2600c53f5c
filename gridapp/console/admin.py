"""Administration pages: organisation units, users and roles, care tags, the audit log.

Thin: read the form, call one verb of ``gridapp.org.service``, render. A verb's ``Problem`` is
shown on the same page with the form as it was sent (status 422 or 409), never a crash.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from peewee import fn

from gridapp.accounts.service import NewUser
from gridapp.audit import AuditLog
from gridapp.console import lists
from gridapp.console.blueprint import bp
from gridapp.console.fmt import local_date_to_utc
from gridapp.console.guard import ADMINS, actor, roles_required
from gridapp.errors import NotFound, Problem, ValidationFailed
from gridapp.org import service
from gridapp.org.models import ROLES, Community, Department, Grid, Street, User, UserGrid
from gridapp.registry.care import save_care_tag
from gridapp.registry.models import CareTag


def _ip() -> str:
    return request.remote_addr or ""


def _int(name: str) -> int | None:
    return lists.form_int(name)


def _org_tree() -> list[dict[str, Any]]:
    streets = list(Street.select().order_by(Street.name))
    communities = list(Community.select().order_by(Community.name))
    grids = list(Grid.select().order_by(Grid.sort, Grid.id))
    workers: dict[int, list[str]] = {}
    for gid, name in (
        UserGrid.select(UserGrid.grid, User.display_name)
        .join(User)
        .where(User.is_active == True)  # noqa: E712
        .tuples()
    ):
        workers.setdefault(gid, []).append(name)
    tree = []
    for s in streets:
        comms = []
        for c in communities:
            if c.street_id == s.id:
                comms.append(
                    {
                        "row": c,
                        "grids": [
                            {"row": g, "workers": workers.get(g.id, [])}
                            for g in grids
                            if g.community_id == c.id
                        ],
                    }
                )
        tree.append({"row": s, "communities": comms})
    return tree


def _render_org(error: Problem | None = None, status: int = 200):
    return render_template(
        "console/admin/org.html",
        tree=_org_tree(),
        streets=list(Street.select().order_by(Street.name)),
        communities=list(Community.select().order_by(Community.name)),
        error=error,
        form=request.form,
    ), (error.status if error else status)


@bp.route("/admin")
@roles_required(*ADMINS)
def admin_index():
    counts = {
        "streets": Street.select().count(),
        "communities": Community.select().count(),
        "grids": Grid.select().count(),
        "departments": Department.select().count(),
        "users": User.select().count(),
        "care_tags": CareTag.select().count(),
    }
    return render_template("console/admin/index.html", counts=counts)


@bp.route("/admin/org")
@roles_required(*ADMINS)
def admin_org():
    return _render_org()


@bp.route("/admin/org/<kind>", methods=["POST"])
@bp.route("/admin/org/<kind>/<int:row_id>", methods=["POST"])
@roles_required(*ADMINS)
def admin_org_save(kind: str, row_id: int | None = None):
    f = request.form
    try:
        if kind == "street":
            service.save_street(
                actor(), row_id, name=f.get("name", ""), code=f.get("code", ""), ip=_ip()
            )
        elif kind == "community":
            service.save_community(
                actor(),
                row_id,
                street_id=_int("street_id") or 0,
                name=f.get("name", ""),
                code=f.get("code", ""),
                ip=_ip(),
            )
        elif kind == "grid":
            service.save_grid(
                actor(),
                row_id,
                community_id=_int("community_id") or 0,
                name=f.get("name", ""),
                code=f.get("code", ""),
                sort=_int("sort") or 0,
                ip=_ip(),
            )
        else:
            raise NotFound()
    except ValidationFailed as exc:
        return _render_org(exc)
    flash(_("Saved."))
    return redirect(url_for("console.admin_org"))


@bp.route("/admin/departments", methods=["GET", "POST"])
@bp.route("/admin/departments/<int:row_id>", methods=["POST"])
@roles_required(*ADMINS)
def admin_departments(row_id: int | None = None):
    error = None
    if request.method == "POST":
        f = request.form
        try:
            service.save_department(
                actor(),
                row_id,
                name=f.get("name", ""),
                code=f.get("code", ""),
                street_id=_int("street_id"),
                is_active=bool(f.get("is_active")),
                ip=_ip(),
            )
        except ValidationFailed as exc:
            error = exc
        else:
            flash(_("Saved."))
            return redirect(url_for("console.admin_departments"))
    rows = list(Department.select().order_by(Department.name))
    handlers = dict(
        User.select(User.department, fn.COUNT(User.id))
        .where(User.role == "department")
        .group_by(User.department)
        .tuples()
    )
    return render_template(
        "console/admin/departments.html",
        rows=rows,
        handlers=handlers,
        streets=list(Street.select().order_by(Street.name)),
        error=error,
        form=request.form,
    ), (error.status if error else 200)


@bp.route("/admin/users")
@roles_required(*ADMINS)
def admin_users():
    q = User.select()
    role = lists.arg("role")
    if role in ROLES:
        q = q.where(User.role == role)
    text = lists.arg("q")
    if text:
        q = q.where(User.username.contains(text) | User.display_name.contains(text))
    active = lists.arg("active")
    if active in ("1", "0"):
        q = q.where(User.is_active == (active == "1"))
    listing = lists.paginate(
        q,
        {
            "username": User.username,
            "name": User.display_name,
            "role": User.role,
            "created": User.created_at,
            "login": User.last_login_at,
            "sync": User.last_sync_at,
        },
        "username",
        tiebreak=User.id,
    )
    return render_template(
        "console/admin/users.html", listing=listing, roles=ROLES, units=_units_by_user(listing.rows)
    )


def _units_by_user(users: list[User]) -> dict[int, str]:
    """One line per user naming their grids, community, street or department."""
    ids = [u.id for u in users]
    grids: dict[int, list[str]] = {}
    if ids:
        for uid, cname, gname in (
            UserGrid.select(UserGrid.user, Community.name, Grid.name)
            .join(Grid)
            .join(Community)
            .where(UserGrid.user.in_(ids))
            .tuples()
        ):
            grids.setdefault(uid, []).append(f"{cname} {gname}")
    names = {
        "c": dict(Community.select(Community.id, Community.name).tuples()),
        "s": dict(Street.select(Street.id, Street.name).tuples()),
        "d": dict(Department.select(Department.id, Department.name).tuples()),
    }
    out = {}
    for u in users:
        if u.id in grids:
            out[u.id] = "、".join(grids[u.id])
        elif u.community_id:
            out[u.id] = names["c"].get(u.community_id, "")
        elif u.street_id:
            out[u.id] = names["s"].get(u.street_id, "")
        elif u.department_id:
            out[u.id] = names["d"].get(u.department_id, "")
        else:
            out[u.id] = ""
    return out


def _user_form_context() -> dict[str, Any]:
    return {
        "roles": ROLES,
        "grids": list(
            Grid.select(Grid, Community).join(Community).order_by(Community.name, Grid.sort)
        ),
        "communities": list(Community.select().order_by(Community.name)),
        "streets": list(Street.select().order_by(Street.name)),
        "departments": list(Department.select().order_by(Department.name)),
    }


@bp.route("/admin/users/new", methods=["GET", "POST"])
@roles_required(*ADMINS)
def admin_user_new():
    error = None
    if request.method == "POST":
        f = request.form
        role = f.get("role", "")
        try:
            data = NewUser(
                username=f.get("username", ""),
                password=f.get("password", ""),
                display_name=f.get("display_name", ""),
                role=role,
                phone=f.get("phone", "").strip(),
                grid_ids=tuple(int(g) for g in f.getlist("grid_ids") if g.isdigit())
                if role == "grid_worker"
                else (),
                community_id=_int("community_id") if role == "supervisor" else None,
                street_id=_int("street_id") if role == "supervisor" else None,
                department_id=_int("department_id") if role == "department" else None,
            )
            user = service.admin_create_user(actor(), data, ip=_ip())
        except ValidationFailed as exc:
            error = exc
        else:
            flash(_("User %(name)s created.", name=user.username))
            return redirect(url_for("console.admin_user", user_id=user.id))
    return render_template(
        "console/admin/user_new.html", error=error, form=request.form, **_user_form_context()
    ), (error.status if error else 200)


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@roles_required(*ADMINS)
def admin_user(user_id: int):
    user = User.get_or_none(User.id == user_id)
    if user is None:
        raise NotFound()
    error = None
    if request.method == "POST":
        op = request.form.get("op", "")
        try:
            if op == "disable":
                service.admin_set_active(actor(), user.id, False, ip=_ip())
                flash(_("Account disabled."))
            elif op == "enable":
                service.admin_set_active(actor(), user.id, True, ip=_ip())
                flash(_("Account enabled."))
            elif op == "password":
                service.admin_reset_password(
                    actor(), user.id, request.form.get("password", ""), ip=_ip()
                )
                flash(_("Password reset; the user's sessions have ended."))
            elif op == "grids":
                service.set_worker_grids(
                    actor(),
                    user.id,
                    [int(g) for g in request.form.getlist("grid_ids") if g.isdigit()],
                    ip=_ip(),
                )
                flash(_("Grids saved."))
            else:
                raise ValidationFailed("op", _("Unknown action."))
        except ValidationFailed as exc:
            error = exc
        else:
            return redirect(url_for("console.admin_user", user_id=user.id))
    user_grids = {
        g for (g,) in UserGrid.select(UserGrid.grid).where(UserGrid.user == user.id).tuples()
    }
    return render_template(
        "console/admin/user.html",
        user=user,
        unit=_units_by_user([user]).get(user.id, ""),
        user_grids=user_grids,
        error=error,
        **_user_form_context(),
    ), (error.status if error else 200)


@bp.route("/admin/care-tags", methods=["GET", "POST"])
@bp.route("/admin/care-tags/<int:tag_id>", methods=["POST"])
@roles_required(*ADMINS)
def admin_care_tags(tag_id: int | None = None):
    error = None
    if request.method == "POST":
        f = request.form
        try:
            fields = {
                "code": f.get("code", "").strip(),
                "name": f.get("name", "").strip(),
                "interval_days": _int("interval_days") or 0,
                "sort": _int("sort") or 0,
                "is_active": bool(f.get("is_active")),
            }
            # the registry's verb: it also reschedules the households carrying the tag
            save_care_tag(actor(), tag_id, fields, ip=_ip())
        except ValidationFailed as exc:
            error = exc
        else:
            flash(_("Saved."))
            return redirect(url_for("console.admin_care_tags"))
    rows = list(CareTag.select().order_by(CareTag.sort, CareTag.id))
    return render_template(
        "console/admin/care_tags.html", rows=rows, error=error, edited=tag_id, form=request.form
    ), (error.status if error else 200)


def _date_arg(name: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(lists.arg(name))
    except ValueError:
        return None


@bp.route("/admin/audit")
@roles_required(*ADMINS)
def admin_audit():
    q = AuditLog.select()
    who = lists.arg("actor")
    if who:
        ids = [
            u
            for (u,) in User.select(User.id)
            .where((User.username == who) | User.display_name.contains(who))
            .tuples()
        ]
        q = q.where(AuditLog.actor_id.in_(ids or [0]))
    action = lists.arg("action")
    if action:
        q = q.where(AuditLog.action.startswith(action))
    since, until = _date_arg("from"), _date_arg("to")
    if since:
        q = q.where(AuditLog.at >= local_date_to_utc(since))
    if until:
        q = q.where(AuditLog.at < local_date_to_utc(until, end=True))
    listing = lists.paginate(
        q, {"at": AuditLog.at, "action": AuditLog.action}, "at", True, tiebreak=AuditLog.id
    )
    actor_ids = {r.actor_id for r in listing.rows if r.actor_id}
    actors = (
        dict(User.select(User.id, User.display_name).where(User.id.in_(list(actor_ids))).tuples())
        if actor_ids
        else {}
    )
    details = {r.id: _pretty(r.detail) for r in listing.rows}
    return render_template(
        "console/admin/audit.html", listing=listing, actors=actors, details=details
    )


def _pretty(detail: str) -> str:
    try:
        data = json.loads(detail or "{}")
    except ValueError:
        return detail
    return "; ".join(f"{k}={v}" for k, v in data.items()) if isinstance(data, dict) else detail
