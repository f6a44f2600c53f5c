"""The 企业微信 channel against the fake WeCom API: text cards, the token flow and every errcode
path's outcome (retry / gone with the binding disabled / failed)."""

from __future__ import annotations

from gridapp.notifications.channels import Message, channels
from gridapp.notifications.wecom.models import WecomBinding


def msg(user, **kw) -> Message:
    fields = dict(delivery_id=1, notification_id=1, recipient_id=user.id, type="task.assigned",
                  title="新任务：入户走访", body="请今天走访 3 号楼", link="/app#/tasks/7",
                  urgent=True)  # fmt: skip
    fields.update(kw)
    return Message(**fields)


def test_configured_only_with_credentials(app, make_user, bind, fake_wecom):
    from gridapp.notifications import wecom

    assert wecom.configured(app)
    assert "wecom" in channels(app)
    app.config["WECOM_SECRET"] = ""
    assert not wecom.configured(app)


def test_textcard_reaches_the_member(app, make_user, bind, fake_wecom):
    worker = make_user("grid_worker")
    bind(worker, "zhangsan")
    out = channels(app)["wecom"].send(msg(worker))
    assert out.status_code == 200, out
    [sent] = fake_wecom.sent
    assert sent.touser == ["zhangsan"]
    assert sent.agentid == fake_wecom.agent_id
    assert sent.textcard["title"] == "新任务：入户走访"
    assert sent.textcard["url"] == "https://grid.example.cn/app#/tasks/7"
    assert sent.textcard["btntxt"] == "详情"
    assert fake_wecom.gettoken_calls == 1


def test_long_text_fits_the_card_limits(app, make_user, bind, fake_wecom):
    worker = make_user("grid_worker")
    bind(worker, "zhangsan")
    out = channels(app)["wecom"].send(msg(worker, title="标题" * 100, body="<b>正文</b>" * 200))
    assert out.status_code == 200, out
    card = fake_wecom.sent[0].textcard
    assert len(card["title"].encode()) <= 128 and card["title"].endswith("…")
    assert len(card["description"].encode()) <= 512
    assert "<b>" not in card["description"]  # the user's text is not markup


def test_oauth_links_sign_in_on_the_way(app, make_user, bind, fake_wecom):
    from gridapp.notifications.wecom import client

    app.config["WECOM_OAUTH_ENABLED"] = True
    app.extensions.pop("gridapp.channels", None)
    app.extensions.pop("gridapp.wecom", None)
    worker = make_user("grid_worker")
    bind(worker, "zhangsan")
    assert channels(app)["wecom"].send(msg(worker)).status_code == 200
    assert client(app).settings.oauth_enabled
    url = fake_wecom.sent[0].textcard["url"]
    assert url == "https://grid.example.cn/auth/wecom?next=%2Fapp%23%2Ftasks%2F7"


def test_announcement_fan_out_is_one_call_per_card(app, make_user, bind, fake_wecom):
    users = [make_user("grid_worker") for _ in range(3)]
    for u, userid in zip(users, ["zhangsan", "lisi", "wangwu"], strict=True):
        bind(u, userid)
    outs = channels(app)["wecom"].send_many(
        [msg(u, delivery_id=i, notification_id=i, type="announcement") for i, u in enumerate(users)]
    )
    assert [o.status_code for o in outs] == [200, 200, 200]
    assert len(fake_wecom.sent) == 1
    assert sorted(fake_wecom.sent[0].touser) == ["lisi", "wangwu", "zhangsan"]


def test_not_bound_is_gone_without_a_call(app, make_user, bind, fake_wecom):
    worker = make_user("grid_worker")
    out = channels(app)["wecom"].send(msg(worker))
    assert out.status_code == 404
    assert fake_wecom.calls == []


def test_invaliduser_disables_that_binding_only(app, make_user, bind, fake_wecom):
    a, b = make_user("grid_worker"), make_user("grid_worker")
    bind(a, "zhangsan")
    bind(b, "left-the-corp")
    outs = channels(app)["wecom"].send_many(
        [msg(a, type="announcement"), msg(b, delivery_id=2, notification_id=2, type="announcement")]
    )
    assert [o.status_code for o in outs] == [200, 410]
    gone = WecomBinding.get(WecomBinding.user == b.id)
    assert gone.disabled_at is not None and "invaliduser" in gone.disabled_reason
    assert WecomBinding.get(WecomBinding.user == a.id).disabled_at is None
    assert channels(app)["wecom"].reachable([a.id, b.id]) == {a.id}
    # The next message to the disabled binding is gone at once, without calling the API.
    calls = len(fake_wecom.calls)
    assert channels(app)["wecom"].send(msg(b)).status_code == 410
    assert len(fake_wecom.calls) == calls
    from gridapp.audit import AuditLog

    assert AuditLog.select().where(AuditLog.action == "wecom.disable").count() == 1


def test_user_not_found_errcode_is_gone(app, make_user, bind, fake_wecom):
    worker = make_user("grid_worker")
    bind(worker, "nobody")
    out = channels(app)["wecom"].send(msg(worker))
    assert out.status_code == 410 and "81013" in out.error
    assert WecomBinding.get(WecomBinding.user == worker.id).disabled_at is not None


def test_error_paths(app, make_user, bind, fake_wecom):
    worker = make_user("grid_worker")
    bind(worker, "zhangsan")
    wecom = channels(app)["wecom"]
    cases = [
        (dict(errcode=45009), 429, "60"),  # API frequency limit: retry after a minute
        (dict(errcode=45033), 429, "60"),  # too many concurrent calls
        (dict(errcode=-1), 503, None),  # system busy: retry
        (dict(status=502), 502, None),  # the server's 5xx: retry
        (dict(errcode=60020), 403, None),  # this server's IP not allowed: configuration
        (dict(errcode=40058), 400, None),  # a bad field: failed
    ]
    for script, status, retry_after in cases:
        fake_wecom.fail("message/send", **script)
        out = wecom.send(msg(worker))
        assert (out.status_code, out.retry_after) == (status, retry_after), (script, out)
    # Nothing above disabled the binding.
    assert WecomBinding.get(WecomBinding.user == worker.id).disabled_at is None
    assert wecom.send(msg(worker)).status_code == 200


def test_network_error_is_a_retry(app, make_user, bind, fake_wecom):
    worker = make_user("grid_worker")
    bind(worker, "zhangsan")
    app.config["WECOM_API_BASE"] = "http://127.0.0.1:9"  # nothing listens on the discard port
    app.extensions.pop("gridapp.channels", None)
    app.extensions.pop("gridapp.wecom", None)
    out = channels(app)["wecom"].send(msg(worker))
    assert out.status_code is None and "ConnectionError" in out.error


def test_wrong_secret_is_a_loud_failure(app, make_user, bind, fake_wecom, caplog):
    worker = make_user("grid_worker")
    bind(worker, "zhangsan")
    app.config["WECOM_SECRET"] = "wrong"
    app.extensions.pop("gridapp.channels", None)
    app.extensions.pop("gridapp.wecom", None)
    out = channels(app)["wecom"].send(msg(worker))
    assert out.status_code == 403 and "40001" in out.error
    assert any(r.levelname == "ERROR" and "gettoken" in r.getMessage() for r in caplog.records)
    assert fake_wecom.sent == []


def test_token_is_cached_and_refreshed_on_expiry(app, make_user, bind, fake_wecom):
    worker = make_user("grid_worker")
    bind(worker, "zhangsan")
    wecom = channels(app)["wecom"]
    for _ in range(3):
        assert wecom.send(msg(worker)).status_code == 200
    assert fake_wecom.gettoken_calls == 1
    # WeCom ends the token early: the call answers 42001, a fresh token is fetched, the call
    # is made once more and succeeds.
    fake_wecom.expire_tokens()
    assert wecom.send(msg(worker)).status_code == 200
    assert fake_wecom.gettoken_calls == 2
    codes = [c for c in fake_wecom.calls if c[0] == "message/send"]
    assert len(codes) == 5


def test_token_refreshed_before_its_own_expiry(app, make_user, bind, fake_wecom):
    """Kept expires_in less the margin: past that, a new one is fetched before any call fails."""
    from gridapp.notifications.wecom.models import WecomToken

    fake_wecom.expires_in = 7200
    worker = make_user("grid_worker")
    bind(worker, "zhangsan")
    wecom = channels(app)["wecom"]
    assert wecom.send(msg(worker)).status_code == 200
    row = WecomToken.get()
    WecomToken.update(expires_at=row.expires_at.replace(year=2000)).execute()  # margin passed
    assert wecom.send(msg(worker)).status_code == 200
    assert fake_wecom.gettoken_calls == 2
    assert not any(c for c in fake_wecom.calls if "42001" in str(c))


def test_token_refused_twice_is_a_retry(app, make_user, bind, fake_wecom):
    worker = make_user("grid_worker")
    bind(worker, "zhangsan")
    fake_wecom.fail("message/send", errcode=42001)
    fake_wecom.fail("message/send", errcode=40014)
    out = channels(app)["wecom"].send(msg(worker))
    assert out.status_code == 503
    assert fake_wecom.gettoken_calls == 2


def test_half_configured_is_off_and_says_so(app, fake_wecom, caplog):
    from gridapp.notifications import wecom

    app.config["WECOM_AGENT_ID"] = "not-a-number"
    assert not wecom.configured(app)
    assert any("WECOM_AGENT_ID" in r.getMessage() for r in caplog.records)


def test_settings_from_the_environment(app, monkeypatch):
    from gridapp.notifications import wecom

    for key in ("CORP_ID", "AGENT_ID", "SECRET", "API_BASE", "OAUTH_ENABLED"):
        app.config.pop(f"WECOM_{key}", None)
    monkeypatch.setenv("GRIDAPP_WECOM_CORP_ID", "ww-env")
    monkeypatch.setenv("GRIDAPP_WECOM_AGENT_ID", "1000009")
    monkeypatch.setenv("GRIDAPP_WECOM_SECRET", "s")
    monkeypatch.setenv("GRIDAPP_WECOM_OAUTH_ENABLED", "1")
    s = wecom.settings(app)
    assert (s.corp_id, s.agent_id, s.oauth_enabled) == ("ww-env", 1000009, True)
    assert s.api_base == "https://qyapi.weixin.qq.com"
    assert wecom.configured(app)
