"""The department handler's view: matters dispatched to my department."""

from __future__ import annotations

from flask import render_template

from gridapp.console.blueprint import bp
from gridapp.console.guard import DEPARTMENTS, roles_required


@bp.route("/department")
@roles_required(*DEPARTMENTS)
def department_matters():
    return render_template("console/department/matters.html", listing=None)
