"""The shell: manifest, service worker, offline page, role home (no browser needed)."""

from __future__ import annotations

from PIL import Image

from gridapp.config import ROOT


def test_manifest_is_installable_shape(client):
    resp = client.get("/manifest.webmanifest")
    assert resp.mimetype == "application/manifest+json"
    doc = resp.get_json(force=True)
    assert doc["name"] == "网格便民服务包" and doc["display"] == "standalone"
    assert doc["scope"] == "/" and doc["start_url"] == "/app"
    purposes = {(i["sizes"], i["purpose"]) for i in doc["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= purposes
    for icon in doc["icons"]:
        path = ROOT / icon["src"].lstrip("/")
        with Image.open(path) as img:
            assert img.format == "PNG" and f"{img.width}x{img.height}" == icon["sizes"]
        with client.get(icon["src"]) as got:
            assert got.status_code == 200


def test_service_worker_is_served_from_the_root_with_a_versioned_precache(client):
    resp = client.get("/sw.js")
    assert resp.status_code == 200 and resp.mimetype == "text/javascript"
    assert resp.headers["Service-Worker-Allowed"] == "/"
    assert "no-cache" in resp.headers["Cache-Control"]
    body = resp.get_data(as_text=True)
    shell = client.get("/app").get_data(as_text=True)
    version = shell.split('name="app-version" content="')[1].split('"')[0]
    assert f'"{version}"' in body
    for url in ("/app", "/offline", "/static/pwa/app.js", "/static/pwa/sync.js"):
        assert f'"{url}"' in body
        with client.get(url) as got:
            assert got.status_code == 200


def test_grid_worker_lands_on_the_app(make_user, login_as):
    client = login_as(make_user("grid_worker"))
    resp = client.get("/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/app")


def test_shell_speaks_chinese_first(client):
    html = client.get("/app").get_data(as_text=True)
    assert "网格便民服务包" in html and "待上传" in html or "今日" in html
    en = client.get("/app?lang=en").get_data(as_text=True)
    assert "Today" in en
