"""Cross-cutting pages: home, health check, the OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template, url_for
from flask_login import current_user

from gridapp.api import API_PREFIX, openapi_document
from gridapp.db import db
from gridapp.jobs import huey, storage_kind

bp = Blueprint("core", __name__)

# Feature blueprints register a landing page per role here, so home knows where to send people
# without importing the features (``ROLE_HOMES["grid_worker"] = "pwa.app"``).
ROLE_HOMES: dict[str, str] = {}


@bp.route("/")
def home():
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login"))
    target = ROLE_HOMES.get(current_user.role)
    if target:
        return redirect(url_for(target))
    return render_template("home.html")


@bp.route("/healthz")
def healthz():
    checks: dict[str, str] = {}
    ok = True
    try:
        db.execute_sql("SELECT 1").fetchone()
        checks["database"] = "ok"
    except Exception as exc:  # the point is to report, not to raise
        checks["database"] = f"error: {type(exc).__name__}"
        ok = False
    try:
        checks["queue_pending"] = str(huey.pending_count())
        checks["queue"] = f"ok ({storage_kind()})"
    except Exception as exc:
        checks["queue"] = f"error: {type(exc).__name__}"
        ok = False
    return jsonify(status="ok" if ok else "error", checks=checks), 200 if ok else 503


@bp.route(f"{API_PREFIX}/openapi.json")
def openapi_json():
    return jsonify(openapi_document())
