"""Catalogue and rule pages: the service-pack catalogue (admin), deadline rules and calendar
overrides (admin, with the matters feature), roster import/export (supervisors and admin).
Each write is one verb of the owning feature; this module only reads forms and renders."""

from __future__ import annotations

import io
from typing import Any

from flask import flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _

from gridapp.api import current_scope
from gridapp.console import lists
from gridapp.console.blueprint import bp
from gridapp.console.guard import ADMINS, SUPERVISORS, actor, roles_required
from gridapp.errors import Problem, ValidationFailed
from gridapp.org.models import Community, Grid
from gridapp.registry import roster as roster_files
from gridapp.throttle import read_upload, throttle_upload
from gridapp.visits.models import ServiceItem
from gridapp.visits.service import save_service_item

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _ip() -> str:
    return request.remote_addr or ""


def _int(name: str, default: int | None = None) -> int | None:
    return lists.form_int(name, default)


@bp.route("/admin/services", methods=["GET", "POST"])
@bp.route("/admin/services/<int:item_id>", methods=["POST"])
@roles_required(*ADMINS)
def admin_services(item_id: int | None = None):
    error = None
    if request.method == "POST":
        f = request.form
        try:
            save_service_item(
                actor(),
                item_id,
                {
                    "code": f.get("code", "").strip(),
                    "name": f.get("name", "").strip(),
                    "sort": _int("sort", 0),
                    "is_active": bool(f.get("is_active")),
                },
                ip=_ip(),
            )
        except Problem as exc:
            error = exc
        else:
            flash(_("Saved."))
            return redirect(url_for("console.admin_services"))
    rows = list(ServiceItem.select().order_by(ServiceItem.sort, ServiceItem.id))
    return render_template("console/admin/services.html", rows=rows, error=error), (
        error.status if error else 200
    )


def _scope_grids() -> list[Grid]:
    scope = current_scope()
    q = Grid.select(Grid, Community).join(Community).order_by(Community.name, Grid.sort)
    if scope.grid_ids is not None:
        q = q.where(Grid.id.in_(sorted(scope.grid_ids) or [0]))
    return list(q)


def _roster_page(result: dict[str, Any] | None = None, error: Problem | None = None):
    grids = _scope_grids()
    communities = {g.community_id: g.community for g in grids}
    return render_template(
        "console/roster.html",
        grids=grids,
        communities=sorted(communities.values(), key=lambda c: c.name),
        result=result,
        error=error,
        row_errors=(error.errors or []) if error is not None else [],
    ), (error.status if error else 200)


@bp.route("/roster")
@roles_required(*SUPERVISORS)
def roster():
    return _roster_page()


@bp.route("/roster/import", methods=["POST"])
@roles_required(*SUPERVISORS)
def roster_import():
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise ValidationFailed("file", _("Choose a file to upload."))
        throttle_upload("roster", actor().id, _ip())
        result = roster_files.import_roster(
            actor(),
            upload.filename,
            read_upload(upload),
            grid_id=_int("grid_id"),
            ip=_ip(),
            scope=current_scope(),
        )
    except Problem as exc:
        # nothing was written; the report names each bad row and column
        return _roster_page(error=exc)
    return _roster_page(result=result)


@bp.route("/roster/export")
@roles_required(*SUPERVISORS)
def roster_export():
    grid_id = lists.int_arg("grid_id")
    data, filename = roster_files.export_roster(
        actor(),
        grid_id=grid_id,
        community_id=lists.int_arg("community_id") if grid_id is None else None,
        fmt="csv" if request.args.get("format") == "csv" else "xlsx",
        ip=_ip(),
        scope=current_scope(),
    )
    mimetype = "text/csv" if filename.endswith(".csv") else XLSX
    return send_file(
        io.BytesIO(data), mimetype=mimetype, as_attachment=True, download_name=filename
    )
