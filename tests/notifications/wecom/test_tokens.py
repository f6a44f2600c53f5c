"""The access token is shared across processes: two app instances on one Redis make one
gettoken call; many workers at once make one (the fetch lock); the database keeps it when there
is no Redis; an invalidation never throws away a newer token."""

from __future__ import annotations

import threading

import pytest
import redis

from gridapp import create_app
from gridapp.db import db
from gridapp.notifications.wecom import client
from gridapp.notifications.wecom.tokens import DatabaseTokens, RedisTokens, TokenManager
from tests.conftest import REDIS_URL, app_config


@pytest.fixture
def shared_redis(fake_wecom):
    r = redis.Redis.from_url(REDIS_URL)
    try:
        r.ping()
    except redis.exceptions.ConnectionError:
        pytest.fail(f"Redis at {REDIS_URL} is needed for the shared-token tests")
    for key in r.scan_iter(RedisTokens.PREFIX + "*"):
        r.delete(key)
    yield REDIS_URL
    for key in r.scan_iter(RedisTokens.PREFIX + "*"):
        r.delete(key)
    r.close()


def test_two_apps_share_one_token_through_redis(
    app, tmp_path, database_url, fake_wecom, shared_redis
):
    apps = [
        create_app(app_config(tmp_path / name, database_url, REDIS_URL=shared_redis,
                              **fake_wecom.config()))
        for name in ("web1", "web2")
    ]  # fmt: skip
    tokens = []
    for a in apps:
        with a.app_context():
            tokens.append(client(a).tokens.token())
    assert tokens[0] == tokens[1]
    assert fake_wecom.gettoken_calls == 1
    # One of them is told the token expired (42001): it fetches a new one, which the other
    # then uses without a gettoken of its own.
    fake_wecom.expire_tokens()
    with apps[0].app_context():
        data = client(apps[0]).call("GET", "auth/getuserinfo", params={"code": "x"})
    assert data["errcode"] == 40029  # the call went through with the fresh token
    with apps[1].app_context():
        assert client(apps[1]).tokens.token() != tokens[0]
    assert fake_wecom.gettoken_calls == 2


def test_thirty_workers_make_one_gettoken(app, fake_wecom, shared_redis):
    api = client(app)
    cache = RedisTokens(shared_redis)
    managers = [TokenManager(cache, "corp:1", api._gettoken) for _ in range(30)]
    barrier = threading.Barrier(30)
    got: list[str] = []

    def work(m: TokenManager) -> None:
        barrier.wait()
        got.append(m.token())

    threads = [threading.Thread(target=work, args=(m,)) for m in managers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 30 and len(set(got)) == 1
    assert fake_wecom.gettoken_calls == 1


def test_database_lock_without_redis(app, fake_wecom, database_url):
    """Without Redis the wecom_token row holds the token and the lock: eight threads with their
    own connections make one gettoken call."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite serialises writers anyway; the lock is exercised on PostgreSQL")
    api = client(app)
    barrier = threading.Barrier(8)
    got: list[str] = []

    def work() -> None:
        with db.connection_context():
            barrier.wait()
            got.append(TokenManager(DatabaseTokens(), "corp:db", api._gettoken).token())

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and len(set(got)) == 1
    assert fake_wecom.gettoken_calls == 1


@pytest.mark.parametrize("kind", ["database", "redis"])
def test_invalidate_keeps_a_newer_token(app, fake_wecom, shared_redis, kind):
    cache = DatabaseTokens() if kind == "database" else RedisTokens(shared_redis)
    cache.put("k", "old", 100)
    assert cache.get("k") == "old"
    cache.put("k", "new", 100)  # another worker refreshed meanwhile
    cache.invalidate("k", "old")  # this worker's stale token was refused
    assert cache.get("k") == "new"
    cache.invalidate("k", "new")
    assert cache.get("k") is None
    owner = cache.lock("k")
    assert owner and cache.lock("k") is None
    cache.unlock("k", owner)
    assert cache.lock("k")
