"""Live sessions cached in each web process, exact across processes through one generation in
Redis.

Why: under a morning's load the session lookup was most of an authenticated read's cost
(docs/scale.md): a round trip to PostgreSQL on two cores that PostgreSQL itself shares, and
peewee reading the row back. A request now asks Redis for one short value instead (the
generation) and, when it matches the one its entry was read under, uses the session, user and
grids it read earlier in this process.

Why it stays exact (a revoke, logout, password change, disabling, a new role or grid ends or
changes the session on every process before the request that made it answers):

- **The generation** is a random token under ``AUTH_CACHE_PREFIX + "gen"``. An entry is used only
  while the generation is the one read *before* the database read that filled it; anything
  written after that read makes a new generation, so a fill that raced a write is never used.
  A random token, not a counter: a Redis restarted empty gets a new one, never an old one back.
- **Every write is seen where it is sent** (``gridapp.db`` hands each INSERT, UPDATE and DELETE to
  ``statement_invalidates``), not where someone remembered to call us: whatever code path, job
  or command writes ``user``, ``user_session``, ``user_grid`` or ``grid`` makes a new generation
  when its transaction commits. The tables are the ones the session query reads (checked by
  ``tests/test_authcache.py``). Only writes that cannot change what a cached entry decides
  are let through: a new user or session row, the once-a-minute ``last_seen_at`` touch (the
  process that touched updates its entry; another's entry is at most ``AUTH_CACHE_SECONDS``
  old), and ``last_login_at`` / ``last_sync_at``.
- **Redis unreachable**: every read goes to the database and the process drops its entries.
  A generation that could not be written is owed: the process uses no entry until it has
  written it. Another process that still reaches Redis may use an entry read before that write
  for at most ``AUTH_CACHE_SECONDS`` (60 s): the one window, documented in docs/scale.md.
- A row changed behind the application's back (``psql``) is seen after ``AUTH_CACHE_SECONDS``, or
  at once after ``gridapp auth-cache flush``.

Without ``REDIS_URL`` (the embedded default) or with ``AUTH_CACHE_SECONDS = 0`` there is no cache:
each request reads its session row, as before. The password hash is never kept.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, has_app_context

log = logging.getLogger(__name__)

# The tables the session query reads, and for each the columns a write may set without making a
# new generation (None: no UPDATE passes). INSERT passes where ``inserts_pass``.
WATCHED: dict[str, frozenset[str]] = {
    "user_session": frozenset({"last_seen_at", "idle_expires_at"}),
    "user": frozenset({"last_login_at", "last_sync_at"}),
    "user_grid": frozenset(),
    "grid": frozenset(),
}
INSERTS_PASS = frozenset({"user_session", "user"})  # a new row: nothing cached refers to it

_WRITE = re.compile(
    r'\b(INSERT(?:\s+OR\s+\w+)?\s+INTO|UPDATE|DELETE\s+FROM|REPLACE\s+INTO)\s+"?(\w+)"?', re.I
)
_SET_COLUMN = re.compile(r'"(\w+)"\s*=\s')
_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE", "insert", "update", "delete", "replace")


def statement_invalidates(sql: str) -> bool:
    """Whether ``sql`` (any statement the application sends) may change a cached session.
    Conservative: a write to a watched table anywhere in it (a CTE too) counts, unless the
    whole statement is one of the shapes let through above."""
    if not any(v in sql for v in _VERBS):
        return False
    targets = [(m, m.group(2).lower()) for m in _WRITE.finditer(sql)]
    watched = [(m, t) for m, t in targets if t in WATCHED]
    if not watched:
        return False
    if len(targets) > 1 or watched[0][0].start() != len(sql) - len(sql.lstrip()):
        return True  # not a plain single-table write: do not try to be clever
    m, table = watched[0]
    verb, upper = m.group(1).upper(), sql.upper()
    if verb == "INSERT INTO":
        # ``ON CONFLICT DO UPDATE`` changes an existing row: not a plain new row.
        return table not in INSERTS_PASS or "ON CONFLICT" in upper
    if verb != "UPDATE":
        return True
    start, end = upper.find(" SET "), upper.rfind(" WHERE ")
    if start < 0:
        return True
    columns = set(_SET_COLUMN.findall(sql[start + 5 : end if end > start else len(sql)]))
    return not columns or not columns <= WATCHED[table]


@dataclass
class Entry:
    generation: str
    read_at: float  # time.monotonic() when read from the database
    session: dict[str, Any]
    user: dict[str, Any]
    grid_rows: Any


class AuthCache:
    """One per app (``app.extensions["gridapp.authcache"]``): its entries, its Redis client."""

    MAX_ENTRIES = 20_000

    def __init__(self, redis_url: str, seconds: float, prefix: str) -> None:
        import redis

        self.r = redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1)
        self.seconds = seconds
        self.key = prefix + "gen"
        self.entries: dict[str, Entry] = {}
        self.owed = False  # a generation this process could not write yet
        self._lock = threading.Lock()

    # -- reading ----------------------------------------------------------------------------

    def generation(self) -> str | None:
        """The current generation, or None when Redis cannot be asked (then: no entry is used,
        none is kept). Pays an owed generation first."""
        import redis

        if self.seconds <= 0:
            return None
        try:
            if self.owed:
                self._new_generation()
                self.owed = False
            value = self.r.get(self.key)
            if value is None:
                # First use, or Redis restarted empty: a fresh token, never an old one.
                self.r.set(self.key, secrets.token_hex(12), nx=True)
                value = self.r.get(self.key)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            if self.entries:
                log.warning("session cache: Redis unreachable (%s); reading sessions", exc)
                self.entries.clear()
            return None
        return value.decode() if value is not None else None

    def get(self, token_hash: str, generation: str | None) -> Entry | None:
        if generation is None:
            return None
        entry = self.entries.get(token_hash)
        if entry is None:
            return None
        if entry.generation != generation or time.monotonic() - entry.read_at > self.seconds:
            self.entries.pop(token_hash, None)
            return None
        return entry

    def put(self, token_hash: str, generation: str | None, entry: Entry) -> None:
        """Keep what was read from the database under ``generation``, the one read before."""
        if generation is None or self.owed:
            return
        entry.generation = generation
        if len(self.entries) >= self.MAX_ENTRIES:
            with self._lock:
                while len(self.entries) >= self.MAX_ENTRIES:
                    self.entries.pop(next(iter(self.entries)), None)
        self.entries[token_hash] = entry

    def forget(self, token_hash: str) -> None:
        self.entries.pop(token_hash, None)

    # -- writing ----------------------------------------------------------------------------

    def _new_generation(self) -> None:
        self.r.set(self.key, secrets.token_hex(12))

    def changed(self) -> None:
        """A committed write may have changed a session: every process's entries end."""
        import redis

        self.entries.clear()
        try:
            self._new_generation()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            self.owed = True
            log.error(
                "session cache: could not end cached sessions, Redis unreachable (%s); this "
                "process reads sessions until it can, others stop within %s s",
                exc,
                self.seconds,
            )


def cache() -> AuthCache | None:
    """The app's session cache, or None (no Redis, or turned off)."""
    if not has_app_context():
        return None
    return current_app.extensions.get("gridapp.authcache")


def note_stamp(user: Any, **fields: Any) -> None:
    """A stamp let through above (``last_sync_at``) was written for the request's user: keep the
    entry it came from in step, or every request would write it again until the entry expires."""
    found = cache()
    key = getattr(user, "_authcache_key", None)
    entry = found.entries.get(key) if found is not None and key else None
    if entry is not None and entry.user.get("id") == user.id:
        entry.user.update(fields)


def init_app(app: Flask) -> None:
    """With Redis, every process (web, worker, command) writes new generations, even one that
    keeps no entries itself (``AUTH_CACHE_SECONDS = 0``): the others may."""
    url = app.config.get("REDIS_URL")
    if url:
        app.extensions["gridapp.authcache"] = AuthCache(
            url,
            float(app.config.get("AUTH_CACHE_SECONDS") or 0),
            app.config.get("AUTH_CACHE_PREFIX") or "gridapp:auth:",
        )


def writes_committed() -> None:
    """``gridapp.db``: a transaction that sent an invalidating statement has committed."""
    found = cache()
    if found is not None:
        found.changed()


def _register() -> None:
    from gridapp.db import watch_writes

    watch_writes(statement_invalidates, writes_committed)


_register()
