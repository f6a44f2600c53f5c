"""Sign in with 企业微信, end to end through the test client and the fake WeCom (its authorize
page plays WeCom's browser): a bound member is logged in; an unbound one signs in once with a
password and is bound; forged, replayed or stale states and codes are refused and throttled."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from gridapp.accounts.models import UserSession
from gridapp.notifications.wecom.models import WecomBinding
from tests.conftest import PASSWORD


@pytest.fixture
def app_overrides(clock, fake_wecom):
    return {"NOTIFY_CLOCK": clock, **fake_wecom.config(), "WECOM_OAUTH_ENABLED": "1"}


def through_wecom(client, fake, next_path: str = "/app") -> str:
    """Start at /auth/wecom, pass WeCom's authorize page; returns the callback path+query."""
    resp = client.get(f"/auth/wecom?next={next_path}")
    assert resp.status_code == 302
    authorize = resp.headers["Location"]
    assert authorize.startswith(fake.authorize_url) and authorize.endswith("#wechat_redirect")
    query = parse_qs(urlsplit(authorize).query)
    assert query["scope"] == ["snsapi_base"] and query["appid"] == [fake.corp_id]
    assert query["state"][0].isalnum() and len(query["state"][0]) <= 128
    back = requests.get(authorize.split("#")[0], allow_redirects=False, timeout=5)
    assert back.status_code == 302
    parts = urlsplit(back.headers["Location"])
    assert parts.path == "/auth/wecom/callback"
    return f"{parts.path}?{parts.query}"


def test_bound_member_is_logged_in(app, client, make_user, bind, fake_wecom):
    worker = make_user("grid_worker")
    bind(worker, "zhangsan")
    fake_wecom.signed_in = "zhangsan"
    resp = client.get(through_wecom(client, fake_wecom, "/app"))
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/app")
    me = client.get("/api/v1/me")
    assert me.status_code == 200 and me.get_json()["username"] == worker.username
    row = UserSession.get(UserSession.user == worker.id)
    assert row.kind == "device"  # the worker's app: the long-lived session kind


def test_userid_compared_without_case(app, client, make_user, bind, fake_wecom):
    worker = make_user("supervisor")
    bind(worker, "ZhangSan")
    fake_wecom.signed_in = "zhangsan"
    fake_wecom.members.add("ZhangSan")
    client.get(through_wecom(client, fake_wecom, "/console/"))
    assert client.get("/api/v1/me").get_json()["username"] == worker.username
    assert UserSession.get(UserSession.user == worker.id).kind == "web"


def test_unbound_member_links_with_password_once(app, client, make_user, fake_wecom):
    worker = make_user("grid_worker")
    fake_wecom.signed_in = "lisi"
    resp = client.get(through_wecom(client, fake_wecom, "/app"))
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/auth/wecom/link")
    page = client.get("/auth/wecom/link")
    assert page.status_code == 200 and "lisi" in page.get_data(as_text=True)
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    bad = client.post("/auth/wecom/link",
                      data={"username": worker.username, "password": "wrong", "csrf_token": token})  # fmt: skip
    assert bad.status_code == 401
    assert not WecomBinding.select().exists()
    ok = client.post("/auth/wecom/link",
                     data={"username": worker.username, "password": PASSWORD, "csrf_token": token})  # fmt: skip
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/app")
    b = WecomBinding.get(WecomBinding.user == worker.id)
    assert (b.userid, b.via, b.bound_by_id) == ("lisi", "oauth", worker.id)
    assert client.get("/api/v1/me").get_json()["username"] == worker.username
    # From now on WeCom alone signs them in (a fresh browser).
    other = app.test_client()
    other.get(through_wecom(other, fake_wecom))
    assert other.get("/api/v1/me").get_json()["username"] == worker.username


def test_state_from_another_browser_is_refused(app, client, make_user, bind, fake_wecom):
    worker = make_user("grid_worker")
    bind(worker, "zhangsan")
    fake_wecom.signed_in = "zhangsan"
    callback = through_wecom(client, fake_wecom)
    victim = app.test_client()  # never started a sign-in: no nonce in its session
    resp = victim.get(callback)
    assert resp.status_code == 400
    assert victim.get("/api/v1/me").status_code == 401


def test_tampered_or_replayed_state_is_refused(app, client, make_user, bind, fake_wecom):
    worker = make_user("grid_worker")
    bind(worker, "zhangsan")
    fake_wecom.signed_in = "zhangsan"
    callback = through_wecom(client, fake_wecom)
    tampered = callback.replace("state=", "state=0")
    assert client.get(tampered).status_code == 400
    callback = through_wecom(client, fake_wecom)
    assert client.get(callback).status_code == 302
    client.post(
        "/logout", headers={"X-CSRFToken": client.get("/api/v1/auth/csrf").get_json()["csrf_token"]}
    )
    assert client.get(callback).status_code == 400  # state used once (and the code too)


def test_stale_state_is_refused():
    from gridapp.notifications.wecom import oauth

    state, nonce = oauth.make_state("k", now=1_000_000)
    assert oauth.check_state("k", state, nonce, now=1_000_000 + 599)
    assert not oauth.check_state("k", state, nonce, now=1_000_000 + 601)
    assert not oauth.check_state("other-key", state, nonce, now=1_000_001)
    assert not oauth.check_state("k", state, "0" * 24, now=1_000_001)


def test_non_member_and_bad_code(app, client, fake_wecom):
    fake_wecom.signed_in = "openid:o-abc"
    assert client.get(through_wecom(client, fake_wecom)).status_code == 403
    fake_wecom.signed_in = "zhangsan"
    callback = through_wecom(client, fake_wecom)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    fake_wecom.codes.pop(code)  # the code expired at WeCom
    assert client.get(callback).status_code == 400


def test_failed_callbacks_are_throttled_like_logins(app, client, fake_wecom):
    app.config["LOGIN_ADDRESS_FREE_FAILURES"] = 3
    for _ in range(3):
        assert client.get("/auth/wecom/callback?code=x&state=forged").status_code == 400
    resp = client.get("/auth/wecom/callback?code=x&state=forged")
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) >= 1


def test_next_must_be_on_this_site(app, client, make_user, bind, fake_wecom):
    worker = make_user("grid_worker")
    bind(worker, "zhangsan")
    fake_wecom.signed_in = "zhangsan"
    resp = client.get(through_wecom(client, fake_wecom, "//evil.example/x"))
    assert resp.headers["Location"].endswith("/") and "evil" not in resp.headers["Location"]


def test_disabled_user_or_oauth_off(app, client, make_user, bind, fake_wecom):
    from gridapp.accounts.service import set_active

    worker = make_user("grid_worker")
    bind(worker, "zhangsan")
    set_active(worker, False)
    fake_wecom.signed_in = "zhangsan"
    assert client.get(through_wecom(client, fake_wecom)).status_code == 403
    app.config["WECOM_OAUTH_ENABLED"] = "0"
    assert client.get("/auth/wecom").status_code == 404
    assert client.get("/auth/wecom/callback?code=x&state=y").status_code == 404


def test_login_page_offers_wecom(app, client):
    page = client.get("/login").get_data(as_text=True)
    assert 'id="wecom-login"' in page
    app.config["WECOM_OAUTH_ENABLED"] = "0"
    assert 'id="wecom-login"' not in client.get("/login").get_data(as_text=True)
