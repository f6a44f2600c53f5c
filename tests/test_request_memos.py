"""What each request no longer recomputes (gridapp/extensions.py): a session cookie's verified
contents and a session's signed CSRF token are kept per process, and Flask-Limiter's hooks are
skipped where no limit applies. Each keeps exactly what it replaced: these tests pin the cases
where a shortcut would be wrong."""

from __future__ import annotations

import time

from flask import request

from tests.conftest import PASSWORD, api_login


def _open(app, cookie: str):
    with app.test_request_context("/", headers={"Cookie": f"session={cookie}"}):
        return app.session_interface.open_session(app, request)


def _cookie(client) -> str:
    return client.get_cookie("session").value


def test_a_kept_cookie_is_a_copy_and_a_forged_one_is_never_kept(app, org, make_user):
    worker = make_user("grid_worker", grids=[org.grid])
    client = api_login(app.test_client(), worker.username, PASSWORD)
    cookie = _cookie(client)
    first = _open(app, cookie)
    assert first.get("_user_id")
    first["_user_id"] = "someone else"  # what one request changes
    first["extra"] = 1
    second = _open(app, cookie)
    assert second["_user_id"] != "someone else" and "extra" not in second
    # One character off, after the genuine cookie was kept: refused as before.
    # (A character inside the payload: the signature's last one partly carries padding bits.)
    forged = cookie[:10] + ("A" if cookie[10] != "A" else "B") + cookie[11:]
    assert dict(_open(app, forged)) == {}
    assert client.get("/api/v1/me").status_code == 200


def test_a_kept_cookie_still_expires_and_a_new_secret_key_forgets_it(
    app, org, make_user, monkeypatch
):
    worker = make_user("grid_worker", grids=[org.grid])
    client = api_login(app.test_client(), worker.username, PASSWORD)
    assert client.get("/api/v1/me").status_code == 200  # kept
    lifetime = app.permanent_session_lifetime.total_seconds()
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + lifetime + 5)
    assert dict(_open(app, _cookie(client))) == {}, "past PERMANENT_SESSION_LIFETIME"
    monkeypatch.setattr(time, "time", real)
    assert _open(app, _cookie(client)).get("_user_id")

    app.secret_key = "a new key, the old one leaked"
    assert dict(_open(app, _cookie(client))) == {}
    assert client.get("/api/v1/me").status_code == 401


def test_the_signed_csrf_token_is_kept_per_session_and_still_checked(app, org, make_user):
    worker = make_user("grid_worker", grids=[org.grid])
    client = api_login(app.test_client(), worker.username, PASSWORD)
    token = client.get("/api/v1/me").get_json()["csrf_token"]
    assert client.get("/api/v1/me").get_json()["csrf_token"] == token
    assert client.get("/api/v1/auth/csrf").get_json()["csrf_token"] == token
    ok = client.post("/api/v1/auth/logout", headers={"X-CSRFToken": token})
    assert ok.status_code == 200
    # A new login is a new raw token, so a new signed one; the old one is refused.
    client = api_login(app.test_client(), worker.username, PASSWORD)
    fresh = client.get("/api/v1/me").get_json()["csrf_token"]
    assert fresh != token
    refused = client.post("/api/v1/auth/logout", headers={"X-CSRFToken": token})
    assert refused.status_code == 400
    # Another user's session never gets this one.
    other = api_login(app.test_client(), make_user("grid_worker", grids=[org.grid]).username)
    assert other.get("/api/v1/me").get_json()["csrf_token"] not in (token, fresh)


def test_with_a_csrf_time_limit_every_token_is_signed_afresh(app, org, make_user):
    app.config["WTF_CSRF_TIME_LIMIT"] = 3600
    app.extensions.pop("gridapp.csrf_signed", None)
    worker = make_user("grid_worker", grids=[org.grid])
    client = api_login(app.test_client(), worker.username, PASSWORD)
    token = client.get("/api/v1/me").get_json()["csrf_token"]
    assert not app.extensions.get("gridapp.csrf_signed")
    assert client.post("/api/v1/auth/logout", headers={"X-CSRFToken": token}).status_code == 200


def test_rate_limit_headers_only_where_a_limit_applies(app, org, make_user):
    worker = make_user("grid_worker", grids=[org.grid])
    client = api_login(app.test_client(), worker.username, PASSWORD)
    me = client.get("/api/v1/me")
    assert me.status_code == 200 and "X-RateLimit-Limit" not in me.headers
    limited = app.test_client().get("/n/no-such-token")
    assert limited.status_code == 404 and "X-RateLimit-Limit" in limited.headers
    assert int(limited.headers["X-RateLimit-Remaining"]) < int(limited.headers["X-RateLimit-Limit"])


def test_memos_are_bounded(app, org, make_user, monkeypatch):
    from gridapp import extensions

    monkeypatch.setattr(extensions, "MEMO_CAP", 3)
    worker = make_user("grid_worker", grids=[org.grid])
    for _ in range(5):
        client = api_login(app.test_client(), worker.username, PASSWORD)
        assert client.get("/api/v1/me").status_code == 200
    assert len(app.extensions["gridapp.session_serializer"][2]) <= 3
    assert len(app.extensions["gridapp.csrf_signed"]) <= 3
