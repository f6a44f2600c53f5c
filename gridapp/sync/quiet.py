""" "Nothing new" answered from Redis: a warm pull that would find nothing sends no statement.

Why: most of a day's pulls find nothing (a phone checks every few minutes, its grid changes a
few times a day), and each cost a PostgreSQL statement on cores PostgreSQL shares with the web
processes. With Redis, each *visibility key* a change can carry (a grid, a user, a department,
the changes everyone sees, and ``a`` for every change, what an admin sees) holds an upper bound
of the change numbers committed under it. A pull whose cursor is at or past every key of its
scope, and whose cursor says nothing in its windows ages out yet, answers at once with the same
cursor.

Why it cannot lose a change (the sync invariant, docs/sync.md "Nothing new, from Redis"):

- **The fast answer never moves the cursor.** It is exactly the slow path's "nothing new"
  answer. A change it did not see is found by the next pull that reads the log, from the same
  cursor; an aging it skipped is found then too (the windows are checked from the cursor's time).
- **Keys only rise** (``SET`` only if greater, one Lua call), so a late or repeated write never
  lowers a bound. Each committing transaction raises its keys to its last change number *after*
  it commits, before its request answers: whoever was told "saved" then sees it in the next pull.
- **A key absent means "ask the database"**; the pull that asked fills it with the counter it
  read (an upper bound of everything committed by then; later commits raise it themselves), or
  with its cursor when it found none of the scope's changes after it up to that counter.
- **Bounded if a raise is lost** (the process died between commit and ``SET``, or Redis was
  unreachable): every key expires ``SYNC_QUIET_SECONDS`` (60) after it was last raised or filled,
  and the fill that follows reads the counter, which covers the lost change. Redis restarted
  empty: every key is absent.
- **Aging**: the pull that reads the log also checks whether anything in the scope's windows
  ages out within ``HORIZON`` and, if not, writes that time into the cursor: the fast answer is
  given only before it. A new or changed row that could age sooner is a change (it raises a key).
"""

from __future__ import annotations

import contextlib
import logging
import re
import time

from flask import request
from redis.exceptions import RedisError

from gridapp.accounts import authcache
from gridapp.changes import COMMITTED
from gridapp.scope import Scope

log = logging.getLogger(__name__)

HORIZON = 600  # seconds: how far ahead a pull that read the log vouches nothing ages out

# SET key value EX ttl, only where the key is absent or holds a smaller number.
_RAISE = """
for i, key in ipairs(KEYS) do
  local cur = redis.call('GET', key)
  if not cur or tonumber(cur) < tonumber(ARGV[1]) then
    redis.call('SET', key, ARGV[1], 'EX', ARGV[2])
  end
end
return 0
"""


def _on_commit(fn):
    COMMITTED.append(fn)
    return fn


def _cache() -> authcache.AuthCache | None:
    found = authcache.current()
    return found if found is not None and found.quiet_seconds > 0 else None


MAX_HINT = 120  # characters of keys a cursor carries (a street's supervisor's do not fit)
_HINT = re.compile(r"[aeudg]\d{0,19}(?:-[aeudg]\d{0,19})*")


def hint(scope: Scope) -> str | None:
    """The scope's keys as a cursor carries them (``u5-e-g12-d3``), or None (too many)."""
    text = "-".join(scope_keys(scope))
    return text if len(text) <= MAX_HINT else None


def hint_keys(text: str) -> list[str] | None:
    """The keys a cursor's hint names, or None when it is not a hint this server writes."""
    if len(text) > MAX_HINT or not _HINT.fullmatch(text):
        return None
    return text.split("-")


def cursor_riders() -> list[str]:
    """``authcache.RIDERS`` for the pull: the keys its cursor's hint names, read in the
    session's round trip, while the cursor still vouches for its windows. A forged or stale
    hint costs only the second round trip it was meant to save (``nothing_new`` checks it)."""
    found = _cache()
    parts = (request.args.get("cursor") or "").split(".")
    if found is None or len(parts) != 4:
        return []
    try:
        if int(parts[2]) <= time.time():
            return []
    except ValueError:
        return []
    keys = hint_keys(parts[3])
    return [found.quiet_prefix + k for k in keys] if keys else []


def scope_keys(scope: Scope) -> list[str]:
    if scope.grid_ids is None:
        return ["a"]
    keys = [f"u{scope.user_id}", "e", *(f"g{g}" for g in sorted(scope.grid_ids))]
    if scope.department_id:
        keys.append(f"d{scope.department_id}")
    return keys


def _raise(found: authcache.AuthCache, keys: list[str], seq: int) -> None:
    names = [found.quiet_prefix + k for k in keys]
    try:
        found.r.eval(_RAISE, len(names), *names, int(seq), max(1, int(found.quiet_seconds)))
    finally:
        found.wrote(*names)


@_on_commit
def committed(keys: set[str], last_seq: int) -> None:
    """A transaction whose change rows carry ``keys`` committed, numbered up to ``last_seq``."""
    found = _cache()
    if found is None or not keys:
        return
    try:
        _raise(found, sorted(keys), last_seq)
    except RedisError as exc:
        log.warning(
            "sync: could not publish change %s to Redis (%s); pulls see it within %s s",
            last_seq,
            exc,
            found.quiet_seconds,
        )


def nothing_new(scope: Scope, after: int) -> tuple[bool, list[str]]:
    """(True, []) when no key of ``scope`` is above ``after``; else (False, the keys absent)."""
    found = _cache()
    if found is None:
        return False, []
    keys = scope_keys(scope)
    names = [found.quiet_prefix + k for k in keys]
    values = authcache.ridden(names)  # read with the session, when the cursor named them all
    if values is None:
        try:
            values = found.mget(*names)
        except RedisError:
            return False, []
    missing = [k for k, v in zip(keys, values, strict=True) if v is None]
    if missing:
        return False, missing
    return all(int(v) <= after for v in values), []


def fill(keys: list[str], bound: int) -> None:
    """Keys found absent, after a pull that read the log: ``bound`` is at or above every change
    under them committed before it."""
    found = _cache()
    if found is None or not keys:
        return
    with contextlib.suppress(RedisError):
        _raise(found, keys, bound)


def active() -> bool:
    """Whether pulls may be answered from Redis here (Redis configured, keys kept)."""
    return _cache() is not None
