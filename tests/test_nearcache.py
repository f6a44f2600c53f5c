"""The process's copy of Redis keys (gridapp/nearcache.py), against a real Redis: a value
written anywhere is what the next read returns; anything that could lose news of a write drops
the copy instead of serving it."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import redis

from gridapp import nearcache
from gridapp.nearcache import NearCache
from tests.conftest import REDIS_URL


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def r():
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    yield client
    client.close()


@pytest.fixture
def prefix(r):
    p = f"gridapp-test-near:{uuid.uuid4().hex}:"
    yield p
    keys = list(r.scan_iter(match=p + "*"))
    if keys:
        r.delete(*keys)


class Fetcher:
    """``MGET`` on a connection of its own, counting round trips."""

    def __init__(self, r: redis.Redis) -> None:
        self.r = r
        self.calls = 0

    def __call__(self, keys):
        self.calls += 1
        return self.r.mget(keys)


def near_for(r, prefix, **kw) -> NearCache:
    return NearCache(redis.Redis.from_url(REDIS_URL, socket_timeout=2), prefix, **kw)


def test_a_value_read_twice_costs_one_round_trip(r, prefix):
    near, fetch = near_for(r, prefix), Fetcher(r)
    r.set(prefix + "a", "1")
    try:
        assert near.mget([prefix + "a", prefix + "none"], fetch) == [b"1", None]
        assert near.mget([prefix + "a", prefix + "none"], fetch) == [b"1", None]
        assert fetch.calls == 1 and near.hits == 1
    finally:
        near.close()


def test_every_write_from_another_connection_is_seen_by_the_next_read(r, prefix):
    """The property a revoke needs: once a write has answered, no read answers the old value.
    Writes of each kind (SET, SET with expiry, DEL, a script, MSET) from another connection,
    each followed at once by a read through the copy, which had the old value."""
    near, fetch = near_for(r, prefix), Fetcher(r)
    a, b = prefix + "a", prefix + "b"
    script = r.register_script("redis.call('SET', KEYS[1], ARGV[1]) return 1")
    try:
        for i in range(400):
            near.mget([a, b], fetch)  # the copy holds the current values
            kind = i % 5
            if kind == 0:
                r.set(a, i)
            elif kind == 1:
                r.set(a, i, ex=60)
            elif kind == 2:
                r.delete(a)
            elif kind == 3:
                script(keys=[a], args=[i])
            else:
                r.mset({a: i, b: -i})
            want = [r.get(a), r.get(b)]
            assert near.mget([a, b], fetch) == want, (i, kind)
        assert near.hits > 0  # reads between writes were served from the copy
    finally:
        near.close()


def test_readers_on_many_threads_never_go_back_behind_a_finished_write(r, prefix):
    """A writer counts up; each reader notes the last count whose write had answered before it
    read, and must read at least that. Bounded: 1.5 s."""
    near = near_for(r, prefix)
    key = prefix + "n"
    r.set(key, 0)
    done = [0]
    stop = time.monotonic() + 1.5
    failures: list[str] = []
    local = threading.local()

    def fetch(keys):
        if not hasattr(local, "r"):
            local.r = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
        return local.r.mget(keys)

    def writer():
        w = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
        n = 0
        while time.monotonic() < stop:
            n += 1
            w.set(key, n)
            done[0] = n

    def reader():
        while time.monotonic() < stop:
            floor = done[0]
            (value,) = near.mget([key], fetch)
            if int(value) < floor:
                failures.append(f"read {int(value)} after write {floor} had answered")

    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=reader) for _ in range(4)
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        near.close()
    assert not failures, failures[:5]
    assert done[0] > 50 and near.hits > 0


def test_a_value_fetched_while_it_was_written_is_not_kept(r, prefix):
    near, key = near_for(r, prefix), prefix + "k"
    r.set(key, "old")
    near.mget([key], Fetcher(r))  # connected; the copy holds "old"
    r.set(key, "older read")  # dropped from the copy

    def racing_fetch(keys):
        values = r.mget(keys)  # read...
        r.set(key, "new")  # ...then written before the fetch hands its answer over
        time.sleep(0.01)  # the news has surely arrived (loopback)
        return values

    try:
        assert near.mget([key], racing_fetch) == [b"older read"]
        fetch = Fetcher(r)
        assert near.mget([key], fetch) == [b"new"] and fetch.calls == 1
    finally:
        near.close()


def test_a_lost_news_connection_sends_reads_to_redis_until_a_new_one(r, prefix):
    clock = Clock()
    near, fetch, key = near_for(r, prefix, clock=clock), Fetcher(r), prefix + "k"
    r.set(key, "1")
    try:
        near.mget([key], fetch)
        assert r.client_kill_filter(_id=near._conn.handshake_metadata[b"id"]) == 1
        time.sleep(0.05)
        r.set(key, "2")  # this news can no longer arrive
        assert near.mget([key], fetch) == [b"2"] and fetch.calls == 2
        assert near._conn is None
        assert near.mget([key], fetch) == [b"2"] and fetch.calls == 3  # no retry yet
        clock.now += nearcache.RETRY_SECONDS + 0.1
        assert near.mget([key], fetch) == [b"2"] and fetch.calls == 4  # connected afresh
        assert near.mget([key], fetch) == [b"2"] and fetch.calls == 4
    finally:
        near.close()


def test_news_piling_up_starts_the_copy_again(r, prefix, monkeypatch):
    monkeypatch.setattr(nearcache, "BACKLOG", 50)
    near, fetch, key = near_for(r, prefix), Fetcher(r), prefix + "k"
    r.set(key, "1")
    try:
        near.mget([key], fetch)
        near.mget([key], fetch)
        first = near._conn
        with r.pipeline(transaction=False) as p:
            for i in range(200):
                p.set(f"{prefix}other{i}", i)
            p.execute()
        time.sleep(0.02)
        assert near.mget([key], fetch) == [b"1"] and fetch.calls == 2  # not from the copy
        assert near._conn is None and first is not None
    finally:
        near.close()


def test_a_flushed_database_empties_the_copy(r, prefix):
    near, fetch, key = near_for(r, prefix), Fetcher(r), prefix + "k"
    r.set(key, "1")
    spare = redis.Redis.from_url(REDIS_URL, db=(r.connection_pool.connection_kwargs["db"] + 1) % 16)
    try:
        near.mget([key], fetch)
        spare.flushdb()  # any flush: Redis says "everything", and nothing is kept
        time.sleep(0.01)
        near.mget([key], fetch)
        assert fetch.calls == 2
    finally:
        near.close()
        spare.close()


def test_the_copy_is_kept_at_most_its_age(r, prefix):
    clock = Clock()
    near, fetch, key = near_for(r, prefix, max_age=5, clock=clock), Fetcher(r), prefix + "k"
    r.set(key, "1")
    try:
        near.mget([key], fetch)
        clock.now += 4.9
        near.mget([key], fetch)
        assert fetch.calls == 1
        clock.now += 0.2
        near.mget([key], fetch)
        assert fetch.calls == 2
    finally:
        near.close()


def test_a_process_that_stops_reading_closes_its_connection(r, prefix, monkeypatch):
    monkeypatch.setattr(nearcache, "IDLE_SECONDS", 0.3)
    monkeypatch.setattr(nearcache, "DRAIN_EVERY", 0.05)
    near = NearCache(redis.Redis.from_url(REDIS_URL, socket_timeout=2), prefix)
    near.mget([prefix + "k"], Fetcher(r))
    assert near._conn is not None
    deadline = time.monotonic() + 3
    # The reader thread drops the connection, then itself, in one hold of the lock: wait for
    # the last of the two, so that both are seen done.
    while near._drainer is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert near._conn is None and near._drainer is None
    fetch = Fetcher(r)
    near.mget([prefix + "k"], fetch)  # used again: a new connection, a fresh copy
    assert fetch.calls == 1 and near._conn is not None
    near.close()


def test_without_a_reachable_redis_every_read_is_fetched(prefix):
    near = NearCache(redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2), prefix)
    calls = []

    def fetch(keys):
        calls.append(keys)
        return [b"x"] * len(keys)

    assert near.mget([prefix + "k"], fetch) == [b"x"]
    assert near.mget([prefix + "k"], fetch) == [b"x"]
    assert len(calls) == 2 and near._conn is None


def test_a_redis_that_refuses_tracking_leaves_the_copy_off_for_minutes(r, prefix):
    """An ACL without CLIENT (or a Redis too old for RESP3): every read goes to Redis, and
    the refusal is not asked again on every request."""
    user, password = f"near-test-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    r.acl_setuser(
        user, enabled=True, passwords=[f"+{password}"], keys=["*"], commands=["+@all", "-client"]
    )
    kw = r.connection_pool.connection_kwargs
    url = f"redis://{user}:{password}@{kw['host']}:{kw['port']}/{kw['db']}"
    clock = Clock()
    near = NearCache(redis.Redis.from_url(url), prefix, clock=clock)
    fetch = Fetcher(r)
    try:
        for _ in range(3):
            assert near.mget([prefix + "k"], fetch) == [None]
        assert fetch.calls == 3 and near._conn is None
        assert near._retry_at == clock.now + nearcache.REFUSED_SECONDS
    finally:
        near.close()
        r.acl_deluser(user)


def test_a_key_outside_the_prefix_is_never_kept(r, prefix):
    near, fetch = near_for(r, prefix), Fetcher(r)
    try:
        for _ in range(3):
            near.mget([prefix + "k", "elsewhere:" + prefix], fetch)
        assert fetch.calls == 3 and near.hits == 0
    finally:
        near.close()
