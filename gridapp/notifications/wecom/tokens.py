"""The WeCom access token, shared by every process and fetched by one at a time.

WeCom allows a limited number of gettoken calls and hands out a token valid ``expires_in``
seconds (7200). Each (corp, agent) token is cached in Redis when the app has ``REDIS_URL``,
else in the ``wecom_token`` table, and refreshed ``token_margin`` seconds before it expires or at
once when the API calls it invalid (only if it is still the cached one: a worker holding a stale
token must not throw away the fresh one another worker has just fetched). A lock (Redis
``SET NX PX``, or a conditional UPDATE of the row) lets one process fetch while the others wait
for its result, so 30 job workers starting together make one gettoken call.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import secrets
import time
from collections.abc import Callable
from typing import Protocol

from peewee import IntegrityError

from gridapp.db import utcnow
from gridapp.notifications.wecom.models import WecomToken

log = logging.getLogger("gridapp.notifications.wecom")

LOCK_SECONDS = 15  # a fetch lock outlives one gettoken call (timeout 10 s) and then lapses
WAIT_SECONDS = 20.0  # how long a process waits for another's fetch before giving up


class TokenUnavailable(Exception):
    """No token could be had in time (another process holds the lock and has not finished)."""


class TokenCache(Protocol):
    def get(self, key: str) -> str | None: ...
    def put(self, key: str, token: str, ttl: int) -> None: ...
    def invalidate(self, key: str, token: str) -> None: ...
    def lock(self, key: str) -> str | None: ...
    def unlock(self, key: str, owner: str) -> None: ...


_UNLOCK_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisTokens:
    PREFIX = "gridapp:wecom:"

    def __init__(self, url: str) -> None:
        import redis

        self.r = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        self._cad = self.r.register_script(_UNLOCK_LUA)  # compare-and-delete

    def get(self, key: str) -> str | None:
        value = self.r.get(self.PREFIX + "token:" + key)
        return value.decode() if value else None

    def put(self, key: str, token: str, ttl: int) -> None:
        self.r.set(self.PREFIX + "token:" + key, token, ex=max(1, ttl))

    def invalidate(self, key: str, token: str) -> None:
        self._cad(keys=[self.PREFIX + "token:" + key], args=[token])

    def lock(self, key: str) -> str | None:
        owner = secrets.token_hex(8)
        ok = self.r.set(self.PREFIX + "lock:" + key, owner, nx=True, px=LOCK_SECONDS * 1000)
        return owner if ok else None

    def unlock(self, key: str, owner: str) -> None:
        self._cad(keys=[self.PREFIX + "lock:" + key], args=[owner])


class DatabaseTokens:
    """The ``wecom_token`` row; every statement stands alone (autocommit), so a lock taken
    here is seen at once by the other processes."""

    def _row(self, key: str) -> None:
        if not WecomToken.select().where(WecomToken.key == key).exists():
            with contextlib.suppress(IntegrityError):  # a racing insert
                WecomToken.insert(key=key).on_conflict_ignore().execute()

    def get(self, key: str) -> str | None:
        row = (
            WecomToken.select(WecomToken.token)
            .where(WecomToken.key == key, WecomToken.expires_at > utcnow(), WecomToken.token != "")
            .first()
        )
        return row.token if row else None

    def put(self, key: str, token: str, ttl: int) -> None:
        self._row(key)
        WecomToken.update(
            token=token, expires_at=utcnow() + dt.timedelta(seconds=max(1, ttl))
        ).where(WecomToken.key == key).execute()

    def invalidate(self, key: str, token: str) -> None:
        WecomToken.update(token="", expires_at=None).where(
            WecomToken.key == key, WecomToken.token == token
        ).execute()

    def lock(self, key: str) -> str | None:
        self._row(key)
        now = utcnow()
        until = now + dt.timedelta(seconds=LOCK_SECONDS)
        taken = (
            WecomToken.update(lock_until=until)
            .where(
                WecomToken.key == key,
                WecomToken.lock_until.is_null() | (WecomToken.lock_until < now),
            )
            .execute()
        )
        return until.isoformat() if taken else None

    def unlock(self, key: str, owner: str) -> None:
        WecomToken.update(lock_until=None).where(
            WecomToken.key == key, WecomToken.lock_until == dt.datetime.fromisoformat(owner)
        ).execute()


class FallbackTokens:
    """Redis first; the database while Redis does not answer (as the login throttle does), so
    a Redis outage slows nothing down to a stop."""

    def __init__(self, primary: RedisTokens, secondary: DatabaseTokens) -> None:
        self.primary, self.secondary = primary, secondary

    def __getattr__(self, name: str):
        import redis

        def call(*args):
            try:
                return getattr(self.primary, name)(*args)
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                log.warning("wecom token: Redis unreachable (%s); using the database", exc)
                return getattr(self.secondary, name)(*args)

        return call


def token_cache(redis_url: str | None) -> TokenCache:
    if redis_url:
        return FallbackTokens(RedisTokens(redis_url), DatabaseTokens())  # type: ignore[return-value]
    return DatabaseTokens()


def lifetime(expires_in: int, margin: int) -> int:
    """Seconds to keep a token: ``expires_in`` less the margin, or half of it when it is short."""
    if expires_in > 2 * margin:
        return expires_in - margin
    return max(1, expires_in // 2)


class TokenManager:
    """``token()`` returns the cached token or fetches one (one process at a time)."""

    def __init__(
        self,
        cache: TokenCache,
        key: str,
        fetch: Callable[[], tuple[str, int]],
        margin: int = 300,
        wait: float = WAIT_SECONDS,
    ) -> None:
        self.cache, self.key, self.fetch, self.margin, self.wait = cache, key, fetch, margin, wait

    def token(self) -> str:
        found = self.cache.get(self.key)
        if found:
            return found
        deadline = time.monotonic() + self.wait
        pause = 0.02
        while True:
            owner = self.cache.lock(self.key)
            if owner:
                try:
                    found = self.cache.get(self.key)  # fetched while we waited for the lock
                    if found:
                        return found
                    token, expires_in = self.fetch()
                    self.cache.put(self.key, token, lifetime(expires_in, self.margin))
                    return token
                finally:
                    self.cache.unlock(self.key, owner)
            time.sleep(pause)
            pause = min(pause * 2, 0.25)
            found = self.cache.get(self.key)
            if found:
                return found
            if time.monotonic() > deadline:
                raise TokenUnavailable("another process is fetching the WeCom token")

    def invalidate(self, token: str) -> None:
        """Forget ``token`` if it is still the cached one (the API said it is invalid)."""
        self.cache.invalidate(self.key, token)
