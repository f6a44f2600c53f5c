"""Login throttling and lockout, per account and per address, shared by every process.

State lives in Redis when ``REDIS_URL`` is set, in the ``login_throttle`` table otherwise —
never in process memory, so four gunicorn workers on two machines count the same failures.

- Per account (``u:<username>``, whether or not it exists, so the answer does not reveal
  which names are real): ``LOGIN_FREE_FAILURES`` failures are free; each further attempt must
  wait 1, 2, 4, … seconds (exponential backoff); at ``LOGIN_LOCK_FAILURES`` the account is
  locked for ``LOGIN_LOCK_MINUTES`` and its owner finds a notice in the inbox. An admin sees
  locked accounts and can unlock them. A successful login clears the account's counter.
- Per address (``a:<ip>``): ``LOGIN_ADDRESS_FREE_FAILURES`` failures across any accounts, then
  the same backoff, against password spraying. Many workers share one NAT address, so the
  address is slowed down, not locked.
Counters forget failures older than ``LOGIN_WINDOW_MINUTES``.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Protocol

from flask import current_app
from peewee import Case

from gridapp.accounts.models import LoginThrottle
from gridapp.db import utcnow

log = logging.getLogger(__name__)
MAX_BACKOFF = 300  # seconds
_EPOCH = dt.datetime(1970, 1, 1)


@dataclass
class State:
    failures: int = 0
    last_failure_at: dt.datetime | None = None
    locked_until: dt.datetime | None = None


class Backend(Protocol):
    def get(self, key: str) -> State: ...
    def fail(self, key: str, now: dt.datetime, window: dt.timedelta) -> int: ...
    def lock(self, key: str, until: dt.datetime) -> None: ...
    def clear(self, key: str) -> None: ...
    def locked(self, now: dt.datetime) -> list[tuple[str, State]]: ...


class DatabaseBackend:
    def get(self, key: str) -> State:
        row = LoginThrottle.get_or_none(LoginThrottle.key == key)
        if row is None:
            return State()
        return State(row.failures, row.last_failure_at, row.locked_until)

    def fail(self, key: str, now: dt.datetime, window: dt.timedelta) -> int:
        stale = LoginThrottle.last_failure_at < now - window
        (
            LoginThrottle.insert(key=key, failures=1, last_failure_at=now)
            .on_conflict(
                conflict_target=[LoginThrottle.key],
                update={
                    LoginThrottle.failures: Case(None, [(stale, 1)], LoginThrottle.failures + 1),
                    LoginThrottle.last_failure_at: now,
                },
            )
            .execute()
        )
        return self.get(key).failures

    def lock(self, key: str, until: dt.datetime) -> None:
        LoginThrottle.update(locked_until=until).where(LoginThrottle.key == key).execute()

    def clear(self, key: str) -> None:
        LoginThrottle.delete().where(LoginThrottle.key == key).execute()

    def locked(self, now: dt.datetime) -> list[tuple[str, State]]:
        rows = LoginThrottle.select().where(
            LoginThrottle.key.startswith("u:"), LoginThrottle.locked_until > now
        )
        return [(r.key, State(r.failures, r.last_failure_at, r.locked_until)) for r in rows]


_FAIL_LUA = """
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
local now = tonumber(ARGV[1])
if now - last > tonumber(ARGV[2]) then redis.call('HSET', KEYS[1], 'failures', 0) end
local n = redis.call('HINCRBY', KEYS[1], 'failures', 1)
redis.call('HSET', KEYS[1], 'last', ARGV[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < tonumber(ARGV[3]) then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
return n
"""


def _ts(value: dt.datetime) -> float:
    return (value - _EPOCH).total_seconds()


def _dt(value: bytes | None) -> dt.datetime | None:
    return _EPOCH + dt.timedelta(seconds=float(value)) if value else None


class RedisBackend:
    PREFIX = "gridapp:login:"

    def __init__(self, url: str) -> None:
        import redis

        self.r = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        self._fail = self.r.register_script(_FAIL_LUA)

    def get(self, key: str) -> State:
        data = self.r.hgetall(self.PREFIX + key)
        if not data:
            return State()
        return State(
            int(data.get(b"failures", 0)), _dt(data.get(b"last")), _dt(data.get(b"locked"))
        )

    def fail(self, key: str, now: dt.datetime, window: dt.timedelta) -> int:
        keep = int(window.total_seconds() + _cfg("LOGIN_LOCK_MINUTES") * 60)
        return int(
            self._fail(keys=[self.PREFIX + key], args=[_ts(now), window.total_seconds(), keep])
        )

    def lock(self, key: str, until: dt.datetime) -> None:
        self.r.hset(self.PREFIX + key, "locked", _ts(until))

    def clear(self, key: str) -> None:
        self.r.delete(self.PREFIX + key)

    def locked(self, now: dt.datetime) -> list[tuple[str, State]]:
        out = []
        for raw in self.r.scan_iter(match=self.PREFIX + "u:*", count=500):
            key = raw.decode()[len(self.PREFIX) :]
            state = self.get(key)
            if state.locked_until and state.locked_until > now:
                out.append((key, state))
        return out


def _cfg(name: str) -> int:
    return int(current_app.config[name])


class FallbackBackend:
    """Redis, and the ``login_throttle`` table while Redis is unreachable: a login must not
    fail because Redis is down, nor go unthrottled (docs/scale.md, "Faults")."""

    def __init__(self, primary: RedisBackend, secondary: DatabaseBackend) -> None:
        self.primary, self.secondary = primary, secondary

    def __getattr__(self, name: str):
        import redis

        def call(*args):
            try:
                return getattr(self.primary, name)(*args)
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                log.warning("login throttle: Redis unreachable (%s); counting in the database", exc)
                return getattr(self.secondary, name)(*args)

        return call


def backend() -> Backend:
    ext = current_app.extensions
    if "gridapp_throttle" not in ext:
        url = current_app.config.get("LOGIN_THROTTLE_REDIS") or current_app.config.get("REDIS_URL")
        ext["gridapp_throttle"] = (
            FallbackBackend(RedisBackend(url), DatabaseBackend()) if url else DatabaseBackend()
        )
    return ext["gridapp_throttle"]


def account_key(username: str) -> str:
    return "u:" + (username or "").strip().lower()[:64]


def address_key(ip: str) -> str:
    return "a:" + (ip or "?")[:64]


def _wait(state: State, free: int, now: dt.datetime, window: dt.timedelta) -> int:
    """Seconds to wait before the next attempt is heard (0: go ahead)."""
    if state.locked_until and state.locked_until > now:
        return int((state.locked_until - now).total_seconds()) + 1
    if not state.last_failure_at or now - state.last_failure_at > window:
        return 0
    if state.failures < free:
        return 0
    backoff = min(2 ** (state.failures - free), MAX_BACKOFF)
    ready = state.last_failure_at + dt.timedelta(seconds=backoff)
    return max(0, int((ready - now).total_seconds() + 0.999))


@dataclass
class Verdict:
    wait: int = 0  # seconds; 0 means the attempt may be checked
    locked: bool = False


def check(username: str, ip: str) -> Verdict:
    """May this attempt be checked at all? Called before the password is looked at."""
    now = utcnow()
    window = dt.timedelta(minutes=_cfg("LOGIN_WINDOW_MINUTES"))
    b = backend()
    account = b.get(account_key(username))
    if account.locked_until and account.locked_until > now:
        return Verdict(_wait(account, 0, now, window), locked=True)
    wait = max(
        _wait(account, _cfg("LOGIN_FREE_FAILURES"), now, window),
        _wait(b.get(address_key(ip)), _cfg("LOGIN_ADDRESS_FREE_FAILURES"), now, window),
    )
    return Verdict(wait)


def address_wait(ip: str) -> int:
    """Seconds this address must wait before a sign-in without a username is heard (企业微信's
    OAuth callback): the same per-address count as wrong passwords, so both slow it down."""
    window = dt.timedelta(minutes=_cfg("LOGIN_WINDOW_MINUTES"))
    state = backend().get(address_key(ip))
    return _wait(state, _cfg("LOGIN_ADDRESS_FREE_FAILURES"), utcnow(), window)


def record_address_failure(ip: str) -> None:
    """Count a failed sign-in from this address that names no account."""
    window = dt.timedelta(minutes=_cfg("LOGIN_WINDOW_MINUTES"))
    backend().fail(address_key(ip), utcnow(), window)


def record_failure(username: str, ip: str, user_id: int | None) -> bool:
    """Count a failed attempt; returns True when it has just locked the account."""
    now = utcnow()
    window = dt.timedelta(minutes=_cfg("LOGIN_WINDOW_MINUTES"))
    b = backend()
    b.fail(address_key(ip), now, window)
    key = account_key(username)
    failures = b.fail(key, now, window)
    if failures < _cfg("LOGIN_LOCK_FAILURES"):
        return False
    b.lock(key, now + dt.timedelta(minutes=_cfg("LOGIN_LOCK_MINUTES")))
    if user_id is not None:
        _notify_locked(user_id)
    return True


def record_success(username: str) -> None:
    backend().clear(account_key(username))


def locked_accounts() -> list[tuple[str, State]]:
    return sorted(backend().locked(utcnow()), key=lambda item: item[0])


def unlock(username: str) -> None:
    backend().clear(account_key(username))


def _notify_locked(user_id: int) -> None:
    from flask_babel import force_locale
    from flask_babel import gettext as _

    from gridapp.notifications.service import notify
    from gridapp.org.models import User

    user = User.get_or_none(User.id == user_id)
    if user is None:
        return
    minutes = _cfg("LOGIN_LOCK_MINUTES")
    with force_locale(user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        title = _("Your account was locked after repeated failed logins")
        body = _(
            "Someone entered a wrong password for your account many times. Logins are refused "
            "for %(minutes)d minutes. If this was not you, tell your administrator and change "
            "your password.",
            minutes=minutes,
        )
    notify([user.id], "account.locked", title, body, urgent=True)
