"""The grid worker's installable app: shell, manifest, service worker, offline page.

The shell holds no personal data (everything comes from IndexedDB, filled by the sync API), so
it is served without login and cached by the service worker; a worker whose session expired
offline still opens the app and keeps working. ``/sw.js`` lives at the root so that its scope
is the whole app; its cache name carries a hash of the shell's files, so any change to them
installs a new version that the page offers to activate.
"""

from __future__ import annotations

import hashlib

from flask import Blueprint, Response, current_app, json, render_template, url_for

from gridapp.config import ROOT
from gridapp.pwa.strings import ui_strings

bp = Blueprint("pwa", __name__)

THEME = "#c0392b"
SHELL_FILES = ("static/pwa", "static/css/app.css", "static/icons", "templates/pwa")


def shell_version() -> str:
    """A hash of every file the shell is made of (computed once per process)."""
    cached = current_app.extensions.get("pwa_version")
    if cached and not current_app.debug:
        return cached
    digest = hashlib.sha256()
    for entry in SHELL_FILES:
        path = ROOT / entry
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            digest.update(str(f.relative_to(ROOT)).encode())
            digest.update(f.read_bytes())
    version = digest.hexdigest()[:12]
    current_app.extensions["pwa_version"] = version
    return version


def precache_urls() -> list[str]:
    static = ROOT / "static"
    assets = [url_for("static", filename="css/app.css")]
    for sub in ("pwa", "icons"):
        for f in sorted((static / sub).rglob("*")):
            if f.is_file():
                assets.append(url_for("static", filename=str(f.relative_to(static))))
    return [url_for("pwa.app"), url_for("pwa.offline"), url_for("pwa.manifest"), *assets]


def preload_modules() -> list[str]:
    """Every ES module of the app but the entry point (it is loaded by its own script tag)."""
    return sorted(p.name for p in (ROOT / "static/pwa").glob("*.js") if p.name != "app.js")


@bp.route("/app")
def app():
    return render_template(
        "pwa/app.html",
        strings=ui_strings(),
        version=shell_version(),
        theme=THEME,
        modules=preload_modules(),
    )


@bp.route("/offline")
def offline():
    return render_template("pwa/offline.html", theme=THEME)


@bp.route("/manifest.webmanifest")
def manifest():
    icons = [
        {
            "src": url_for("static", filename=f"icons/{kind}-{size}.png"),
            "sizes": f"{size}x{size}",
            "type": "image/png",
            "purpose": "maskable" if kind == "maskable" else "any",
        }
        for kind in ("icon", "maskable")
        for size in (192, 512)
    ]
    doc = {
        "id": "/app",
        "name": "网格便民服务包",
        "short_name": "网格服务",
        "description": "网格员便民服务包：走访、任务、事项上报，离线可用",
        "lang": "zh-CN",
        "dir": "ltr",
        "start_url": url_for("pwa.app"),
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "theme_color": THEME,
        "background_color": "#f5f6f8",
        "icons": icons,
    }
    resp = Response(json.dumps(doc, ensure_ascii=False), mimetype="application/manifest+json")
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.route("/sw.js")
def service_worker():
    body = render_template(
        "pwa/sw.js",
        version=shell_version(),
        precache=precache_urls(),
        shell=url_for("pwa.app"),
        offline=url_for("pwa.offline"),
    )
    resp = Response(body, mimetype="text/javascript")
    # The browser must always ask for a fresh copy, or updates would wait for the HTTP cache.
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["Service-Worker-Allowed"] = "/"
    return resp


def init_app(app) -> None:
    from gridapp.core import ROLE_HOMES

    ROLE_HOMES["grid_worker"] = "pwa.app"
    app.register_blueprint(bp)


__all__ = ["bp", "init_app"]
