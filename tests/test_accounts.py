"""Login, logout, rate limiting, CSRF, disabled users, JSON vs browser auth errors."""

from __future__ import annotations

import re

from tests.conftest import PASSWORD, csrf_token


def _form_token(client, path="/login") -> str:
    html = client.get(path, follow_redirects=True).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_login_page_is_chinese_by_default_and_english_when_asked(client):
    html = client.get("/login").get_data(as_text=True)
    assert "登录" in html and '<html lang="zh-CN">' in html and ">English</button>" in html
    assert "Log in" in client.get("/login?lang=en").get_data(as_text=True)
    client.set_cookie("lang", "en")
    assert "Username" in client.get("/login").get_data(as_text=True)


def test_form_login_and_logout(client, make_user):
    # A supervisor: a grid worker's home redirects to the app shell (pwa), which has no form.
    user = make_user("supervisor", display_name="王小明")
    token = _form_token(client)
    resp = client.post(
        "/login", data={"username": user.username, "password": PASSWORD, "csrf_token": token}
    )
    assert resp.status_code == 302
    assert client.get("/api/v1/me").get_json()["username"] == user.username
    token = _form_token(client, "/")  # any page (here the role's home) carries a token
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/api/v1/me").status_code == 401


def test_wrong_password_and_unknown_user_are_the_same_clear_error(client, make_user):
    user = make_user()
    token = _form_token(client)
    bad = client.post(
        "/login", data={"username": user.username, "password": "nope-nope", "csrf_token": token}
    )
    unknown = client.post(
        "/login", data={"username": "ghost", "password": "nope-nope", "csrf_token": token}
    )
    assert bad.status_code == unknown.status_code == 401
    assert "用户名或密码错误" in bad.get_data(as_text=True)
    assert "用户名或密码错误" in unknown.get_data(as_text=True)


def test_api_login_errors_are_problem_json_in_the_users_language(client, make_user):
    make_user(username="wang")
    token = csrf_token(client)
    resp = client.post(
        "/api/v1/auth/login",
        json={"username": "wang", "password": "wrong-pass"},
        headers={"X-CSRFToken": token},
    )
    assert resp.status_code == 401
    assert resp.content_type == "application/problem+json"
    assert resp.get_json()["detail"] == "用户名或密码错误。"
    resp = client.post(
        "/api/v1/auth/login?lang=en",
        json={"username": "wang", "password": "wrong-pass"},
        headers={"X-CSRFToken": token},
    )
    assert resp.get_json()["detail"] == "Wrong username or password."


def test_disabled_user_cannot_log_in_and_loses_existing_sessions(app, make_user, login_as):
    from gridapp.accounts.service import set_active

    user = make_user()
    client = login_as(user)
    assert client.get("/api/v1/me").status_code == 200
    set_active(user, False)
    assert client.get("/api/v1/me").status_code == 401
    fresh = app.test_client()
    token = csrf_token(fresh)
    resp = fresh.post(
        "/api/v1/auth/login",
        json={"username": user.username, "password": PASSWORD},
        headers={"X-CSRFToken": token},
    )
    assert resp.status_code == 403
    assert resp.get_json()["code"] == "disabled"


def test_missing_or_wrong_csrf_token_is_rejected(client, make_user):
    user = make_user()
    resp = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert resp.status_code == 400
    resp = client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD})
    assert resp.status_code == 400
    assert resp.get_json()["field"] == "csrf_token"
    resp = client.post(
        "/api/v1/auth/login",
        json={"username": user.username, "password": PASSWORD},
        headers={"X-CSRFToken": "forged"},
    )
    assert resp.status_code == 400


def test_csrf_token_does_not_expire_with_time(app):
    # A visit queued offline for hours must replay: no time limit on the token.
    assert app.config["WTF_CSRF_TIME_LIMIT"] is None


def test_json_clients_get_401_and_browsers_a_redirect(client):
    resp = client.get("/api/v1/me")
    assert resp.status_code == 401 and resp.content_type == "application/problem+json"
    resp = client.get("/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_open_redirect_is_refused(client, make_user):
    user = make_user()
    token = _form_token(client)
    resp = client.post(
        "/login?next=//evil.example/x",
        data={"username": user.username, "password": PASSWORD, "csrf_token": token},
    )
    assert resp.headers["Location"] == "/"


def test_session_cookie_flags(client, make_user):
    user = make_user()
    token = csrf_token(client)
    resp = client.post(
        "/api/v1/auth/login",
        json={"username": user.username, "password": PASSWORD},
        headers={"X-CSRFToken": token},
    )
    cookie = resp.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_production_defaults_to_secure_cookies(monkeypatch, tmp_path):
    from gridapp.config import build_config

    monkeypatch.delenv("GRIDAPP_SECURE_COOKIES", raising=False)
    cfg = build_config(tmp_path)
    assert cfg["SESSION_COOKIE_SECURE"] is True
    assert (tmp_path / "secret_key").exists()
    assert cfg["SECRET_KEY"] == build_config(tmp_path)["SECRET_KEY"]
