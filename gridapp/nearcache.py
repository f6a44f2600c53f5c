"""A process's own copy of the Redis keys under one prefix, kept exact by Redis itself.

Why: every authenticated request reads its session entry (and a pull its "nothing new" keys)
from Redis (``gridapp.accounts.authcache``). That round trip was the largest single cost of an
``/api/v1/me`` or a warm pull left under a morning's load: about 120 µs of the web process's CPU
and 30 µs of Redis's, against 130 µs for a whole bare Flask request (docs/scale.md). A phone's
requests come in bursts (``/me``, a pull, a push, a pull), so most of them find the keys they
need already read by the same process a moment before.

Why it stays exact (a revoke on one process is seen by the next request on every other):

- One connection per process asks Redis to tell it of every change to a key under the prefix
  (RESP3 ``CLIENT TRACKING ON BCAST PREFIX``). Redis queues the news of a write for this
  connection before the writer's own reply, and on one host writes it into this process's
  socket first; so by the time the writer knows its write happened, the news is readable here.
- Every read first reads all the news that has arrived (a non-blocking poll, about 3 µs) and
  drops the keys it names; only then may it answer from the copy.
- A value fetched while news of its key arrived is not kept: the fetch may have read it before
  the write.
- Anything that could have lost news drops the whole copy and the connection: the connection
  failing or closed by Redis, a ``FLUSHDB``, a fork, news piling up faster than it is read (more
  than ``BACKLOG`` keys in one read: Redis may then hold more that has not reached the socket).
  Until a new connection is made (at most once every ``RETRY_SECONDS``), every read goes to Redis.
- A copy is kept at most ``max_age`` seconds whatever happens, and a process that reads nothing
  for ``IDLE_SECONDS`` closes its connection (its socket would otherwise fill with news nobody
  reads).

Across hosts, the news and the writer's reply travel different network paths: a request
that follows a write only through another host's reply (phone → A → phone → B) still comes
after the news reaches B in practice, but that is not a guarantee the network gives; docs/scale.md
says so. Redis older than 6, or a Redis that refuses ``CLIENT TRACKING`` or ``HELLO 3``, leaves
the copy off: every read goes to Redis as before.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis
from redis.exceptions import RedisError, ResponseError

log = logging.getLogger(__name__)

BACKLOG = 1000  # keys of news in one read past which news may be waiting in Redis: start again
RETRY_SECONDS = 1.0  # after a failed connection, reads go to Redis this long before a new try
REFUSED_SECONDS = 300.0  # the same after Redis refused (too old for RESP3, an ACL without it)
IDLE_SECONDS = 60.0  # no read for this long: the connection is closed (opened again on use)
DRAIN_EVERY = 0.2  # seconds between the background reads of the news (so it never piles up)
CAP = 20_000  # keys kept per process; past it the copy starts again


class NearCache:
    """The copy for one Redis client and one key prefix. Thread-safe: one lock guards the
    connection, the copy and the bookkeeping of fetches in flight."""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        *,
        max_age: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.max_age = max_age
        self.clock = clock
        self.hits = 0  # reads answered from the copy (tests and benchmarks read it)
        self._lock = threading.Lock()
        self._conn: Any = None
        self._pid = os.getpid()
        self._values: dict[str, tuple[float, bytes | None]] = {}
        # News bookkeeping for fetches in flight: a fetch that started at ``_seq == s`` keeps a
        # key only if no news of it (``_dirty``) nor a flush (``_flushed``) came after ``s``.
        self._seq = 0
        self._flushed = 0
        self._dirty: dict[str, int] = {}
        self._inflight = 0
        self._retry_at = 0.0
        self._used_at = 0.0
        self._drainer: threading.Thread | None = None
        self._news_keys = 0  # keys named by the news of the current read (``BACKLOG``)

    # -- reading ----------------------------------------------------------------------------

    def mget(self, keys: Sequence[str], fetch: Callable[[Sequence[str]], list]) -> list:
        """The values of ``keys`` (all under the prefix), from the copy when every one is there
        and fresh, else from ``fetch`` (one round trip, kept when no news raced it)."""
        if not all(key.startswith(self.prefix) for key in keys):
            return fetch(keys)  # no news would ever come of a key outside the prefix
        now = self.clock()
        with self._lock:
            start = self._start(now)
            if start is not None:
                values = self._values
                out = []
                for key in keys:
                    hit = values.get(key)
                    if hit is None or now - hit[0] > self.max_age:
                        break
                    out.append(hit[1])
                else:
                    self.hits += 1
                    return out
                self._inflight += 1
        if start is None:
            return fetch(keys)
        fetched: list | None = None
        try:
            fetched = fetch(keys)
            return fetched
        finally:
            with self._lock:
                if fetched is not None:  # news read here still counts against this fetch
                    self._keep(keys, fetched, start, now)
                self._inflight -= 1
                if not self._inflight:
                    self._dirty.clear()

    def forget(self, *keys: str) -> None:
        """This process wrote ``keys``: drop them now (the news of it follows anyway)."""
        with self._lock:
            self._seq += 1
            for key in keys:
                self._values.pop(key, None)
                if self._inflight:
                    self._dirty[key] = self._seq

    def close(self) -> None:
        with self._lock:
            self._drop()

    # -- inside the lock --------------------------------------------------------------------

    def _start(self, now: float) -> int | None:
        """Read the news that has arrived; the sequence number a fetch starts from, or None
        when the copy cannot be used now (no connection: read Redis)."""
        if self._pid != os.getpid():  # a forked child shares the parent's socket: never read it
            self._conn, self._drainer, self._pid = None, None, os.getpid()
            self._reset()
        if self._conn is None and (now < self._retry_at or not self._connect()):
            return None
        self._used_at = now
        if not self._read_news():
            return None
        return self._seq

    def _connect(self) -> bool:
        pool = self.client.connection_pool
        conn = pool.connection_class(**{**pool.connection_kwargs, "protocol": 3})
        try:
            conn.connect()
            conn._parser.set_invalidation_push_handler(self._news)
            conn.send_command("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", self.prefix)
            if conn.read_response() not in (b"OK", "OK"):
                raise ResponseError("CLIENT TRACKING did not answer OK")
        except ResponseError as exc:  # asked and refused: it will not change in a second
            conn.disconnect()
            self._retry_at = self.clock() + REFUSED_SECONDS
            log.warning(
                "near cache off: Redis refused client tracking (%s); every read asks Redis. "
                "It needs Redis 6 or later and, with ACLs, HELLO and CLIENT for this user",
                exc,
            )
            return False
        except (RedisError, OSError, AttributeError, TypeError) as exc:
            conn.disconnect()
            self._retry_at = self.clock() + RETRY_SECONDS
            log.info("near cache off for now (%s): every read asks Redis", exc)
            return False
        self._reset()
        self._conn = conn
        if self._drainer is None:
            self._drainer = threading.Thread(
                target=self._drain_loop, name="nearcache-news", daemon=True
            )
            self._drainer.start()
        return True

    def _read_news(self) -> bool:
        """Every piece of news that has arrived, applied; False (and the copy dropped) when the
        connection failed or news may be waiting that has not arrived."""
        self._news_keys = 0
        try:
            while self._conn.can_read(timeout=0):
                self._conn.read_response(push_request=True)
                if self._news_keys > BACKLOG:
                    log.info("near cache: news piling up, starting again")
                    self._drop()
                    return False
        except (RedisError, OSError) as exc:
            log.info("near cache: news connection lost (%s)", exc)
            self._drop()
            self._retry_at = self.clock() + RETRY_SECONDS
            return False
        return True

    def _news(self, message: Sequence[Any]) -> None:
        """An ``invalidate`` push: its keys changed (None: the database was flushed)."""
        self._seq += 1
        keys = message[1] if len(message) > 1 else None
        if keys is None:
            self._values.clear()
            self._flushed = self._seq
            return
        self._news_keys += len(keys)
        for raw in keys:
            key = raw.decode() if isinstance(raw, bytes) else raw
            self._values.pop(key, None)
            if self._inflight:
                self._dirty[key] = self._seq
        if len(self._dirty) > CAP:  # fetches in flight all along: give up on them instead
            self._dirty.clear()
            self._flushed = self._seq

    def _keep(self, keys: Sequence[str], values: list, start: int, now: float) -> None:
        if self._conn is None or self._flushed > start or not self._read_news():
            return
        if len(self._values) + len(keys) > CAP:
            self._values.clear()
        dirty = self._dirty
        for key, value in zip(keys, values, strict=True):
            if dirty.get(key, 0) <= start:
                self._values[key] = (now, value)

    def _reset(self) -> None:
        self._values.clear()
        self._seq += 1
        self._flushed = self._seq

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._reset()
        if conn is not None:
            conn.disconnect()

    # -- the background reader --------------------------------------------------------------

    def _drain_loop(self) -> None:
        """Reads the news a few times a second, so that a quiet process's socket never fills
        (which would make its next read drop everything), and closes the connection of a
        process that has stopped reading."""
        while True:
            time.sleep(DRAIN_EVERY)
            with self._lock:
                if self._conn is None:
                    self._drainer = None
                    return
                if self.clock() - self._used_at > IDLE_SECONDS:
                    self._drop()
                    self._drainer = None
                    return
                self._read_news()
