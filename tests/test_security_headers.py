"""Open redirects (one helper, a corpus of known bypasses), security headers on every kind of
response, 405 with Allow, and wrong body types answered 4xx by every form/JSON endpoint."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PASSWORD

BYPASSES = [
    "//evil.example/x",
    "/\t/evil.example",
    "/%09/evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "%2f%2fevil.example",
    "/%2f%2fevil.example",
    "/%2F/evil.example",
    "/%5cevil.example",
    "https://evil.example/",
    "https:evil.example",
    "http:/evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/\r\nSet-Cookie: x=1",
    "/%0d%0aSet-Cookie:%20x=1",
    "/\n/evil.example",
    "/\x0b/evil.example",
    "/\u3000/evil.example",
    "/\u00a0/evil.example",
    "/\u200b/evil.example",
    "/\ufeff/evil.example",
    " //evil.example",
    "evil.example",
    "",
]


@pytest.mark.parametrize("target", BYPASSES)
def test_safe_target_refuses_known_bypasses(target):
    from gridapp.security import safe_target

    assert safe_target(target) is None


@pytest.mark.parametrize(
    "target", ["/", "/console/matters?state=open&page=2", "/app#/today", "/console/%E4%B8%AD"]
)
def test_safe_target_keeps_paths_on_this_site(target):
    from gridapp.security import safe_target

    assert safe_target(target) == target


def _form_token(client) -> str:
    html = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.mark.parametrize("target", BYPASSES[:12] + ["/\r\nSet-Cookie: x=1", "/%0d%0a"])
def test_login_and_lang_redirects_stay_on_site(client, make_user, target):
    from urllib.parse import quote

    user = make_user("supervisor")
    token = _form_token(client)
    resp = client.get(f"/login?next={quote(target, safe='')}")
    assert resp.status_code == 200
    resp = client.post(
        f"/login?next={quote(target, safe='')}",
        data={"username": user.username, "password": PASSWORD, "csrf_token": token},
    )
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', client.get("/console/").get_data(as_text=True)
    ).group(1)
    resp = client.post("/lang/en", data={"next": target, "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    for referer in ("http://evil.example/", "http://localhost"):
        resp = client.post(
            "/lang/en",
            data={"csrf_token": token},
            headers={"Referer": referer + quote(target, safe="/:%\\")},
        )
        assert resp.headers["Location"] == "/", referer


def test_lang_returns_to_the_page_it_was_asked_from(client):
    token = _form_token(client)
    resp = client.post(
        "/lang/en",
        data={"csrf_token": token},
        headers={"Referer": "http://localhost/t/ABCD2345?x=1"},
    )
    assert resp.headers["Location"] == "/t/ABCD2345?x=1"


def _headers_ok(resp, secure: bool = False) -> None:
    h = resp.headers
    csp = h["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert h["X-Frame-Options"] == "DENY"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"] == "same-origin"
    assert "camera=(self)" in h["Permissions-Policy"]
    assert "geolocation=(self)" in h["Permissions-Policy"]
    assert ("Strict-Transport-Security" in h) is secure


def test_every_kind_of_response_carries_the_headers(client, login_as, make_user):
    for path in ("/login", "/api/v1/me", "/api/v1/openapi.json", "/no/such/page", "/app"):
        _headers_ok(client.get(path))
    admin = login_as(make_user("admin"))
    for path in ("/console/", "/console/sessions", "/api/v1/sessions"):
        _headers_ok(admin.get(path))


def test_hsts_when_cookies_are_secure(app, make_user):
    app.config["SESSION_COOKIE_SECURE"] = True
    _headers_ok(app.test_client().get("/login", base_url="https://localhost"), secure=True)


def test_trace_and_unsupported_methods_answer_405_with_allow(client):
    for method, path in (
        ("TRACE", "/login"),
        ("TRACE", "/api/v1/me"),
        ("PUT", "/login"),
        ("DELETE", "/api/v1/auth/login"),
        ("PATCH", "/logout"),
    ):
        resp = client.open(path, method=method)
        assert resp.status_code == 405, (method, path)
        assert resp.headers.get("Allow"), (method, path)
        assert method not in resp.headers["Allow"]


WRONG_BODIES = [
    {"json": [1, 2]},
    {"json": "text"},
    {"json": None, "data": b"[", "content_type": "application/json"},
    {"data": b"\xff\xfe", "content_type": "application/json"},
    {"data": {"username": ["a", "b"], "x": "y"}},
    {"data": b"<x/>", "content_type": "text/xml"},
]


def _fill(rule) -> str:
    values = {}
    for arg in rule.arguments:
        conv = rule._converters.get(arg)
        values[arg] = (
            1
            if conv is not None
            and "Integer" in type(conv).__name__
            or (type(conv).__name__ == "IdConverter")
            else "x"
        )
    try:
        return rule.build(values, append_unknown=False)[1]
    except Exception:
        return ""


def test_every_form_and_json_endpoint_answers_a_wrong_body_with_4xx(app, login_as, make_user):
    """``POST /login`` with a JSON list body was a 500; now every state-changing route, for an
    admin (who reaches the most routes) and anonymously, answers a wrong body below 500."""
    admin = login_as(make_user("admin"))
    anonymous = app.test_client()
    anonymous_token = anonymous.get("/api/v1/auth/csrf").get_json()["csrf_token"]
    anonymous.environ_base["HTTP_X_CSRFTOKEN"] = anonymous_token
    checked = 0
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}):
            path = _fill(rule)
            if not path:
                continue
            for client in (admin, anonymous):
                for body in WRONG_BODIES:
                    kw = dict(body)
                    if kw.get("json") is None:
                        kw.pop("json", None)
                    resp = client.open(path, method=method, **kw)
                    assert resp.status_code < 500, (method, path, body, resp.get_data()[:300])
                    checked += 1
    assert checked > 300


def _kept(resp) -> bool:
    """Whether a browser or a proxy may store this answer."""
    directives = {d.strip() for d in resp.headers.get("Cache-Control", "").split(",")}
    return "no-store" not in directives


def test_no_answer_naming_people_may_be_stored(app, client, login_as, make_user, org):
    """ASVS 8.2.1: a JSON answer (``/api/v1/me`` had no ``Cache-Control``, so a shared office
    computer's disk cache could keep it) and any page a logged-in user is shown say
    ``no-store``, across every GET route, for the roles reaching the most of them; what may be
    kept (static files, photos, public feeds) says so itself."""
    admin = login_as(make_user("admin"))
    supervisor = login_as(make_user("supervisor", community=org.community))
    worker = login_as(make_user("grid_worker", grids=[org.grid]))
    checked = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()) or rule.endpoint == "static":
            continue
        path = _fill(rule)
        if not path:
            continue
        for who, c in (
            ("admin", admin),
            ("supervisor", supervisor),
            ("worker", worker),
            ("-", client),
        ):
            resp = c.get(path)
            signed_in = who != "-"
            mimetype = resp.mimetype
            if mimetype in ("application/json", "application/problem+json") or (
                signed_in and mimetype == "text/html"
            ):
                assert not _kept(resp), (
                    who,
                    path,
                    resp.status_code,
                    resp.headers.get("Cache-Control"),
                )
                checked += 1
    assert checked > 300
    # What the checks above stand on: a real answer with people in it, not only 404s.
    assert worker.get("/api/v1/me").status_code == 200
    assert not _kept(worker.get("/api/v1/me")) and not _kept(supervisor.get("/console/"))
    # A photo of a record: no-store too (its own header), though it is an image.
    from tests.photos.test_photos import jpeg_with_gps, upload

    pid, resp = upload(worker, jpeg_with_gps())
    assert resp.status_code == 201
    for kind in ("image", "thumb"):
        got = worker.get(f"/api/v1/photos/{pid}/{kind}")
        assert got.status_code == 200 and got.mimetype == "image/jpeg" and not _kept(got), kind
    # A public page shown to nobody logged in, and a static file, may still be kept.
    assert _kept(client.get("/login")) and _kept(client.get("/static/css/app.css"))
