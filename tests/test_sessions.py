"""Server-side sessions: logout, password change, disable, revoke-others and an admin's revoke
end a session on the server (the kept cookie answers 401, in every process); idle and absolute
timeouts; device sessions; remember only when asked, rotated on use; CSRF under a device
session survives a long offline stretch but not a new login."""

from __future__ import annotations

import datetime as dt

import pytest

from gridapp.accounts.models import UserSession
from gridapp.db import utcnow
from tests.conftest import PASSWORD, csrf_token


def _login(app, user, **extra):
    client = app.test_client()
    token = csrf_token(client)
    resp = client.post(
        "/api/v1/auth/login",
        json={"username": user.username, "password": PASSWORD, **extra},
        headers={"X-CSRFToken": token},
    )
    assert resp.status_code == 200, resp.get_json()
    client.environ_base["HTTP_X_CSRFTOKEN"] = resp.get_json()["csrf_token"]
    return client, resp


def _cookie(client) -> str:
    return client.get_cookie("session").value


def _replay(app, cookie: str):
    """A different client (another process would do the same) presenting a kept cookie."""
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other.get("/api/v1/me")


def test_logout_ends_the_session_on_the_server(app, make_user):
    user = make_user()
    client, resp = _login(app, user)
    assert "remember_token" not in resp.headers.get("Set-Cookie", "")
    kept = _cookie(client)
    assert client.post("/api/v1/auth/logout").status_code == 200
    assert client.get("/api/v1/me").status_code == 401
    assert _replay(app, kept).status_code == 401
    row = UserSession.get()
    assert row.revoked_reason == "logout"
    assert len(row.token_hash) == 64 and row.token_hash not in kept  # only a hash at rest


def test_the_cookie_dies_in_another_process_too(app, make_user, tmp_path, database_url):
    from gridapp import create_app
    from tests.conftest import app_config

    user = make_user()
    client, _ = _login(app, user)
    kept = _cookie(client)
    second = create_app(app_config(tmp_path, database_url))  # same instance, secret and DB
    other = second.test_client()
    other.set_cookie("session", kept)
    assert other.get("/api/v1/me").status_code == 200
    client.post("/api/v1/auth/logout")
    assert other.get("/api/v1/me").status_code == 401


def test_password_reset_and_disable_end_every_session(app, make_user):
    from gridapp.accounts.service import set_active, set_password

    user = make_user()
    a, _ = _login(app, user)
    b, _ = _login(app, user, device=True)
    set_password(user, "another-long-password")
    assert a.get("/api/v1/me").status_code == 401 and b.get("/api/v1/me").status_code == 401
    c, _ = _login(app, make_user())
    set_active(user.__class__.get_by_id(c.get("/api/v1/me").get_json()["id"]), False)
    assert c.get("/api/v1/me").status_code == 401


def test_my_sessions_revoke_one_and_revoke_others(app, make_user):
    user = make_user()
    web, _ = _login(app, user)
    phone, _ = _login(app, user, device=True)
    tablet, _ = _login(app, user, device=True)
    mine = web.get("/api/v1/sessions").get_json()
    assert len(mine) == 3 and sum(s["current"] for s in mine) == 1
    assert {s["kind"] for s in mine} == {"web", "device"}
    assert all(s["last_seen_at"].endswith("Z") or "+" in s["last_seen_at"] for s in mine)
    phone_id = next(s["id"] for s in phone.get("/api/v1/sessions").get_json() if s["current"])
    assert web.delete(f"/api/v1/sessions/{phone_id}").status_code == 204
    assert phone.get("/api/v1/me").status_code == 401
    assert tablet.post("/api/v1/sessions/revoke-others").get_json() == {"revoked": 1}
    assert web.get("/api/v1/me").status_code == 401
    assert tablet.get("/api/v1/me").status_code == 200


def test_only_an_admin_ends_someone_elses_session(app, make_user, login_as):
    victim = make_user()
    victim_client, _ = _login(app, victim)
    sid = UserSession.get(UserSession.user == victim.id).id
    intruder = login_as(make_user())
    assert intruder.delete(f"/api/v1/sessions/{sid}").status_code == 404
    assert victim_client.get("/api/v1/me").status_code == 200
    admin = login_as(make_user("admin"))
    page = admin.get("/console/sessions").get_data(as_text=True)
    assert f'data-session="{sid}"' in page
    assert admin.delete(f"/api/v1/sessions/{sid}").status_code == 204
    assert victim_client.get("/api/v1/me").status_code == 401


@pytest.mark.parametrize("column", ["idle_expires_at", "expires_at"])
def test_idle_and_absolute_timeouts(app, make_user, column):
    client, _ = _login(app, make_user())
    UserSession.update({column: utcnow() - dt.timedelta(seconds=1)}).execute()
    assert client.get("/api/v1/me").status_code == 401


def test_lifetimes_per_kind_and_last_seen_written_at_most_once_a_minute(app, make_user):
    user = make_user()
    web, resp = _login(app, user)
    assert "Expires" not in resp.headers["Set-Cookie"]  # a browser-session cookie
    _, resp = _login(app, user, device=True)
    assert "Expires" in resp.headers["Set-Cookie"]
    rows = {r.kind: r for r in UserSession.select()}
    web_life = rows["web"].expires_at - rows["web"].created_at
    device_life = rows["device"].expires_at - rows["device"].created_at
    assert web_life == app.config["WEB_SESSION_MAX"]
    assert device_life == app.config["DEVICE_SESSION_MAX"] >= dt.timedelta(days=30)
    seen = rows["web"].last_seen_at
    web.get("/api/v1/me")
    assert UserSession.get_by_id(rows["web"].id).last_seen_at == seen
    UserSession.update(last_seen_at=seen - dt.timedelta(minutes=2)).where(
        UserSession.id == rows["web"].id
    ).execute()
    web.get("/api/v1/me")
    assert UserSession.get_by_id(rows["web"].id).last_seen_at > seen - dt.timedelta(seconds=5)


def test_a_device_session_outlives_a_long_offline_stretch_with_its_csrf_token(app, make_user):
    """Three weeks offline, then the outbox replays with the token it was queued with."""
    user = make_user("grid_worker")
    phone, resp = _login(app, user, device=True)
    queued_token = resp.get_json()["csrf_token"]
    weeks = dt.timedelta(days=21)
    row = UserSession.get()
    UserSession.update(
        created_at=row.created_at - weeks,
        last_seen_at=row.last_seen_at - weeks,
        idle_expires_at=row.idle_expires_at - weeks,
    ).execute()
    resp = phone.post("/api/v1/sync", json={"ops": []}, headers={"X-CSRFToken": queued_token})
    assert resp.status_code == 200, resp.get_json()
    # The token is tied to the session: after a new login on the phone it no longer works.
    _login_again = phone.post(
        "/api/v1/auth/login",
        json={"username": make_user("grid_worker").username, "password": PASSWORD},
        headers={"X-CSRFToken": queued_token},
    )
    assert _login_again.status_code == 200
    resp = phone.post("/api/v1/sync", json={"ops": []}, headers={"X-CSRFToken": queued_token})
    assert resp.status_code == 400 and resp.get_json()["field"] == "csrf_token"


def test_remember_only_when_asked_and_rotated_on_use(app, make_user):
    user = make_user()
    client, resp = _login(app, user, remember=True)
    assert "Expires" in resp.headers["Set-Cookie"]
    first = _cookie(client)
    row = UserSession.get()
    assert row.remember and row.kind == "web"
    hour = dt.timedelta(hours=1, minutes=1)
    UserSession.update(
        rotated_at=row.rotated_at - hour, last_seen_at=row.last_seen_at - hour
    ).execute()
    assert client.get("/api/v1/me").status_code == 200
    second = _cookie(client)
    assert second != first and UserSession.get().prev_hash
    assert _replay(app, first).status_code == 200  # a request already in flight still works
    UserSession.update(rotated_at=utcnow() - dt.timedelta(minutes=5)).execute()
    assert _replay(app, first).status_code == 401
    assert _replay(app, second).status_code == 200


def test_old_remember_cookies_no_longer_log_in(app, make_user):
    """Before server-side sessions every API login set a one-year remember_token holding
    ``id:version``; such a cookie must not be accepted as a session."""
    from flask_login.utils import encode_cookie

    user = make_user()
    other = app.test_client()
    other.set_cookie("remember_token", encode_cookie(f"{user.id}:{user.version}"))
    assert other.get("/api/v1/me").status_code == 401


def test_ended_sessions_are_pruned_after_a_month(app, make_user):
    from gridapp.accounts.jobs import prune_sessions_job

    user = make_user()
    a, _ = _login(app, user)
    _login(app, user)
    a.post("/api/v1/auth/logout")
    assert prune_sessions_job.call_local() == 0
    UserSession.update(revoked_at=utcnow() - dt.timedelta(days=31)).where(
        UserSession.revoked_at.is_null(False)
    ).execute()
    assert prune_sessions_job.call_local() == 1
    assert UserSession.select().count() == 1


def test_a_phone_moving_between_networks_keeps_its_session_untouched(app, make_user, monkeypatch):
    """4G↔Wi-Fi changes the address (and an update the User-Agent): the device session goes on
    with the same cookie, and no request hashes the address (flask-login's session protection
    is off: docs/security.md says why; its identifier would be computed on every request)."""
    import flask_login.utils

    user = make_user()
    client, _ = _login(app, user, device=True)
    kept = _cookie(client)
    hashed: list[int] = []
    real = flask_login.utils.sha512
    monkeypatch.setattr(flask_login.utils, "sha512", lambda *a: hashed.append(1) or real(*a))
    for addr, agent in (("10.1.2.3", "4G"), ("192.168.1.20", "Wi-Fi"), ("10.9.8.7", "new")):
        resp = client.get(
            "/api/v1/me", environ_base={"REMOTE_ADDR": addr}, headers={"User-Agent": agent}
        )
        assert resp.status_code == 200 and resp.get_json()["id"] == user.id
        assert "Set-Cookie" not in resp.headers  # the session was not rewritten
    assert _cookie(client) == kept
    assert not hashed
