"""Login throttling: per account across the JSON and form logins, per address against spraying,
exponential backoff, lockout with an inbox notice and an admin unlock, shared across processes."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from tests.conftest import PASSWORD, api_login, csrf_token


def _form_token(client) -> str:
    html = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _json_guess(client, token, username, password="wrong-pass"):
    return client.post(
        "/api/v1/auth/login",
        json={"username": username, "password": password},
        headers={"X-CSRFToken": token},
    )


def _form_guess(client, token, username, password="wrong-pass"):
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )


def test_guesses_on_one_account_across_json_and_form_are_cut_off(app, make_user):
    """The audit got 19 JSON + 20 form guesses a minute through; now only the free ones are
    heard, on both endpoints together, and the right password during backoff is not checked."""
    user = make_user()
    api, form = app.test_client(), app.test_client()
    jt, ft = csrf_token(api), _form_token(form)
    codes = []
    for i in range(20):
        if i < 19:
            codes.append(_json_guess(api, jt, user.username).status_code)
        codes.append(_form_guess(form, ft, user.username).status_code)
    assert codes.count(401) == app.config["LOGIN_FREE_FAILURES"]
    assert codes.count(429) == 39 - app.config["LOGIN_FREE_FAILURES"]
    last = _json_guess(api, jt, user.username, PASSWORD)
    assert last.status_code == 429 and int(last.headers["Retry-After"]) >= 1
    assert last.content_type == "application/problem+json"
    assert last.get_json()["code"] == "throttled"
    page = _form_guess(form, ft, user.username, PASSWORD)
    assert page.status_code == 429 and "Retry-After" in page.headers
    # Another account from the same address is not held up by that.
    api_login(app.test_client(), make_user().username)


def _age_failures(seconds: int) -> None:
    from gridapp.accounts.models import LoginThrottle
    from gridapp.db import utcnow

    LoginThrottle.update(last_failure_at=utcnow() - dt.timedelta(seconds=seconds)).execute()


def test_backoff_doubles_and_a_success_clears_it(app, make_user):
    from gridapp.accounts.models import LoginThrottle
    from gridapp.accounts.throttle import account_key

    user = make_user()
    client = app.test_client()
    token = csrf_token(client)
    free = app.config["LOGIN_FREE_FAILURES"]
    for _ in range(free):
        assert _json_guess(client, token, user.username).status_code == 401
    assert _json_guess(client, token, user.username).status_code == 429
    _age_failures(2)  # backoff after `free` failures is 1 s
    assert _json_guess(client, token, user.username).status_code == 401
    resp = _json_guess(client, token, user.username)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "2"
    _age_failures(3)
    assert _json_guess(client, token, user.username, PASSWORD).status_code == 200
    assert LoginThrottle.get_or_none(LoginThrottle.key == account_key(user.username)) is None


def test_lockout_notifies_the_user_and_an_admin_unlocks(app, make_user, login_as):
    from gridapp.notifications.models import Notification

    app.config.update(LOGIN_FREE_FAILURES=0, LOGIN_LOCK_FAILURES=3)
    user = make_user(username="zhang")
    client = app.test_client()
    token = csrf_token(client)
    for _ in range(3):
        assert _json_guess(client, token, "zhang").status_code == 401
        _age_failures(60)
    resp = _json_guess(client, token, "zhang", PASSWORD)
    assert resp.status_code == 429 and resp.get_json()["code"] == "locked"
    assert int(resp.headers["Retry-After"]) > 14 * 60
    notes = list(Notification.select().where(Notification.recipient == user.id))
    assert [n.type for n in notes] == ["account.locked"] and notes[0].urgent

    admin = login_as(make_user("admin"))
    page = admin.get("/console/sessions").get_data(as_text=True)
    assert 'data-locked="zhang"' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = admin.post("/console/sessions/unlock", data={"key": "u:zhang", "csrf_token": token})
    assert resp.status_code == 302
    assert 'data-locked="zhang"' not in admin.get("/console/sessions").get_data(as_text=True)
    api_login(app.test_client(), "zhang")


def test_password_spraying_from_one_address_is_throttled(app, make_user):
    users = [make_user() for _ in range(26)]
    client = app.test_client()
    token = csrf_token(client)
    codes = [_json_guess(client, token, u.username).status_code for u in users]
    free = app.config["LOGIN_ADDRESS_FREE_FAILURES"]
    assert codes[:free] == [401] * free
    assert set(codes[free:]) == {429}
    # Another address is unaffected (workers behind other networks keep logging in).
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.9.8.7"
    api_login(other, users[-1].username)


@pytest.fixture
def redis_url():
    import redis

    from tests.conftest import REDIS_URL

    with redis.Redis.from_url(REDIS_URL) as r:  # closed: a leaked socket fails the run at exit
        r.flushdb()
    yield REDIS_URL
    with redis.Redis.from_url(REDIS_URL) as r:
        r.flushdb()


def test_throttle_is_shared_by_processes_through_redis(tmp_path, database_url, redis_url):
    """Two app instances (two gunicorn processes, or two machines) count the same failures."""
    from gridapp import create_app
    from gridapp.accounts.models import LoginThrottle
    from gridapp.accounts.service import NewUser, create_user
    from tests.conftest import Org, app_config

    cfg = app_config(tmp_path, database_url, LOGIN_THROTTLE_REDIS=redis_url)
    one, two = create_app(cfg), create_app(cfg)
    with one.app_context():
        Org()
        create_user(NewUser(username="li", password=PASSWORD, display_name="李", role="admin"))
        c1 = one.test_client()
        t1 = csrf_token(c1)
        for _ in range(one.config["LOGIN_FREE_FAILURES"]):
            assert _json_guess(c1, t1, "li").status_code == 401
        assert LoginThrottle.select().count() == 0  # the state lives in Redis
    with two.app_context():
        c2 = two.test_client()
        assert _json_guess(c2, csrf_token(c2), "li", PASSWORD).status_code == 429
