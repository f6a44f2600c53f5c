"""Live sessions cached in Redis for every web process, exact through one generation.

Why: under a morning's load the session lookup was most of an authenticated read's cost
(docs/scale.md): a round trip to PostgreSQL on cores that PostgreSQL itself shares, and peewee
reading the row back. A request now asks Redis once (``MGET`` of the generation, its
session's entry and any keys its endpoint names in ``RIDERS``) and, when the entry was read
under the current generation, uses the session,
user and grids it holds; otherwise it reads the row and leaves an entry for the next request,
whichever process that lands on.

Why it stays exact (a revoke, logout, password change, disabling, a new role or grid ends or
changes the session everywhere before the request that made it answers):

- **The generation** is a random token under ``AUTH_CACHE_PREFIX + "gen"``. An entry carries the
  generation read *before* the database read that filled it and is used only while that is
  still the generation: anything written after that read makes a new one, so a fill that raced a
  write is never used. A random token, not a counter: a Redis restarted empty gets a new one,
  never an old one back.
- **Every write is seen where it is sent** (``gridapp.db`` hands each statement to
  ``statement_invalidates``), not where someone remembered to call us: whatever code path, job
  or command writes ``user``, ``user_session``, ``user_grid`` or ``grid`` makes a new generation
  when its transaction commits. The tables are the ones the session query reads (checked by
  ``tests/test_authcache.py``). Only writes that cannot change what an entry decides pass: a
  new user or session row, the once-a-minute touch of ``last_seen_at`` and ``last_login_at`` /
  ``last_sync_at`` (the request that writes one of those updates its entry).
- **Redis unreachable**: every request reads its session from the database. A generation that
  could not be written is owed: the process keeps no entry until it has written it. Another
  process that still reaches Redis may use an entry read before that write for at most
  ``AUTH_CACHE_SECONDS`` (60 s): the one window, documented in docs/scale.md.
- A row changed behind the application's back (``psql``) is seen within ``AUTH_CACHE_SECONDS``.
- **Each process's copy** (``gridapp.nearcache``, ``AUTH_CACHE_LOCAL_SECONDS``): what ``mget``
  read is kept in the process for a few seconds, and a key is dropped as soon as Redis reports
  a write to it. Redis reports a write before it answers the writer, so the copy never outlives
  a generation or entry that another process replaced. The windows above grow by at most
  its age.

Without ``REDIS_URL`` (the embedded default) there is no cache: each request reads its session
row, as before; ``AUTH_CACHE_SECONDS = 0`` turns it off with Redis too. The password hash is
never kept.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
from flask import Flask, current_app, g, has_app_context, has_request_context, request
from redis.exceptions import RedisError

from gridapp.nearcache import NearCache

log = logging.getLogger(__name__)

# The tables the session query reads, and for each the columns an UPDATE may set without making
# a new generation (empty: none passes). A plain INSERT passes into the tables in INSERTS_PASS.
WATCHED: dict[str, frozenset[str]] = {
    "user_session": frozenset({"last_seen_at", "idle_expires_at"}),
    "user": frozenset({"last_login_at", "last_sync_at"}),
    "user_grid": frozenset(),
    "grid": frozenset(),
}
INSERTS_PASS = frozenset({"user_session", "user"})  # a new row: nothing cached refers to it

# Keys an endpoint wants read in the session's round trip, named from what the request carries
# (the sync pull: its scope's "nothing new" keys, from the cursor). A rider is only a guess
# made before the session is known: whoever uses a value (``ridden``) checks that the keys it
# needs are exactly the ones read, and asks Redis itself otherwise.
RIDERS: dict[str, Callable[[], Sequence[str]]] = {}
MAX_RIDERS = 32
# Decoded entries kept per process, keyed by the exact bytes Redis returned (so never stale:
# other bytes are another entry); past the cap the memo starts again.
DECODED_CAP = 4096

_WRITE = re.compile(
    r"\b(INSERT(?:\s+OR\s+\w+)?\s+INTO|UPDATE|DELETE\s+FROM|REPLACE\s+INTO|MERGE\s+INTO"
    r"|TRUNCATE(?:\s+TABLE)?)\s+(?:ONLY\s+)?(?:\"?\w+\"?\.)?\"?(\w+)\"?",
    re.I,
)
# One assignment of a bound value, as peewee writes them; a SET clause made only of these, for
# columns that pass, passes. Anything else (an expression, an unquoted column) does not.
_ASSIGN = re.compile(r'\s*"(\w+)"\s*=\s*(?:%s|\?)\s*(?:,|$)')


def _set_passes(clause: str, allowed: frozenset[str]) -> bool:
    columns, pos = set(), 0
    while pos < len(clause):
        m = _ASSIGN.match(clause, pos)
        if m is None:
            return False
        columns.add(m.group(1))
        pos = m.end()
    return bool(columns) and columns <= allowed


def statement_invalidates(sql: str) -> bool:
    """Whether ``sql`` (any statement the application sends) may change a cached session.
    Conservative: a write to a watched table anywhere in it (a CTE too) counts, unless the
    whole statement is one of the shapes let through above."""
    if sql.lstrip()[:6].upper() == "SELECT":
        return False  # a SELECT writes nothing here (a write inside one starts with WITH)
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
    start = upper.find(" SET ")
    if start < 0:
        return True
    end = upper.find(" WHERE ", start)
    return not _set_passes(sql[start + 5 : end if end > 0 else len(sql)], WATCHED[table])


@dataclass
class Entry:
    """What the session query returned, as JSON-able dicts (``sessions`` converts)."""

    generation: str
    session: dict[str, Any]
    user: dict[str, Any]
    grid_rows: Any
    # What a reader derives from this entry's bytes (``sessions``: typed rows), shared by every
    # copy decoded from the same bytes; never encoded.
    derived: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def encode(self) -> str:
        return json.dumps(
            {"g": self.generation, "s": self.session, "u": self.user, "grids": self.grid_rows},
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, raw: bytes) -> Entry | None:
        try:
            d = json.loads(raw)
            return cls(d["g"], d["s"], d["u"], d["grids"])
        except (ValueError, KeyError, TypeError):
            return None


class AuthCache:
    """One per app (``app.extensions["gridapp.authcache"]``). The entries live in Redis, shared
    by every process (a phone's requests land on any of them), each for ``seconds`` at most."""

    def __init__(
        self,
        redis_url: str,
        seconds: float,
        prefix: str,
        quiet_seconds: float = 0,
        local_seconds: float = 0,
    ) -> None:
        self.r = redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1)
        self._local = threading.local()  # each thread's own connection for ``mget``
        # The process's own copy of what it read, exact through Redis's news of every write.
        self.near = (
            NearCache(self.r, prefix, max_age=local_seconds)
            if local_seconds > 0 and seconds > 0
            else None
        )
        self.seconds = seconds
        self.gen_key = prefix + "gen"
        self.entry_prefix = prefix + "s:"
        self.owed = False  # a generation this process could not write yet
        # The sync's "nothing new" keys (gridapp.sync.quiet) share the client and connection.
        self.quiet_seconds = quiet_seconds
        self.quiet_prefix = prefix + "q:"
        self._decoded: dict[bytes, Entry] = {}

    # -- reading ----------------------------------------------------------------------------

    def lookup(
        self, token_hash: str, riders: Sequence[str] = ()
    ) -> tuple[str | None, Entry | None]:
        """The current generation and the session's entry if it was read under it: one round
        trip, which also reads ``riders`` (keys the request's endpoint wants, see ``RIDERS``;
        their values are kept for ``ridden``). ``(None, None)`` when Redis cannot be asked (then
        nothing is kept either). Pays an owed generation first."""
        if self.seconds <= 0:
            return None, None
        try:
            if self.owed:
                self._new_generation()
                self.owed = False
            generation, raw, *values = self.mget(
                self.gen_key, self.entry_prefix + token_hash, *riders
            )
            if riders and has_request_context():
                g._authcache_riders = dict(zip(riders, values, strict=True))
            if generation is None:
                # First use, or Redis restarted empty: a fresh token, never an old one.
                self.r.set(self.gen_key, secrets.token_hex(12), nx=True)
                self.wrote(self.gen_key)
                generation, raw = self.r.get(self.gen_key), None
        except RedisError as exc:  # unreachable or refusing (out of memory): the same to us
            log.warning("session cache: Redis unreachable (%s); reading the session", exc)
            return None, None
        if generation is None:
            return None, None
        generation = generation.decode()
        entry = self._decode(raw) if raw is not None else None
        if entry is None or entry.generation != generation:
            return generation, None
        return generation, entry

    def _decode(self, raw: bytes) -> Entry | None:
        """The entry in ``raw``, as a copy the request may change (``note_stamp``, the touch).
        A phone sends the same session all day and its entry's bytes change once a minute at
        most: decoding them again (JSON, then ``sessions`` typing the rows) was a tenth of an
        ``/api/v1/me``. The memo is keyed by the bytes themselves, so it cannot go stale."""
        proto = self._decoded.get(raw)
        if proto is None:
            proto = Entry.decode(raw)
            if proto is None:
                return None
            if len(self._decoded) >= DECODED_CAP:
                self._decoded.clear()
            self._decoded[raw] = proto
        return Entry(
            proto.generation, dict(proto.session), dict(proto.user), proto.grid_rows, proto.derived
        )

    def mget(self, *keys: str) -> list[bytes | None]:
        """The values of ``keys``: from the process's copy when it holds them all
        (``gridapp.nearcache``), else one ``MGET``."""
        if self.near is not None:
            return self.near.mget(keys, self._fetch)
        return self._fetch(keys)

    def wrote(self, *keys: str) -> None:
        """This process wrote ``keys`` (Redis's news of it follows; the copy drops them now)."""
        if self.near is not None:
            self.near.forget(*keys)

    def close(self) -> None:
        if self.near is not None:
            self.near.close()

    def _fetch(self, keys: Sequence[str]) -> list[bytes | None]:
        return self._command("MGET", *keys)

    def _command(self, *args: Any) -> Any:
        """One command on this thread's own connection (same settings as the client's pool).
        Checking a connection out of redis-py's pool and back (locks, health and
        observability hooks) cost as much CPU as the round trip itself, on every request. A
        connection that failed is closed; the next call opens a new one."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            pool = self.r.connection_pool
            conn = self._local.conn = pool.connection_class(**pool.connection_kwargs)
        try:
            conn.send_command(*args)
            return conn.read_response()
        except BaseException:
            conn.disconnect()
            raise

    def put(self, token_hash: str, generation: str | None, entry: Entry) -> None:
        """Keep what was read from the database under ``generation``, the one read before it:
        if anything was written since, the entry is never used."""
        if generation is None or self.owed or self.seconds <= 0:
            return
        entry.generation = generation
        key = self.entry_prefix + token_hash
        with contextlib.suppress(RedisError):
            self._command("SET", key, entry.encode(), "EX", max(1, int(self.seconds)))
        self.wrote(key)

    def forget(self, token_hash: str) -> None:
        key = self.entry_prefix + token_hash
        with contextlib.suppress(RedisError):
            self.r.delete(key)
        self.wrote(key)

    # -- writing ----------------------------------------------------------------------------

    def _new_generation(self) -> None:
        try:
            self.r.set(self.gen_key, secrets.token_hex(12))
        finally:
            self.wrote(self.gen_key)

    def changed(self) -> None:
        """A committed write may have changed a session: every entry ends."""
        try:
            self._new_generation()
        except RedisError as exc:  # unreachable or refusing (out of memory): the same to us
            self.owed = True
            log.error(
                "session cache: could not end cached sessions, Redis unreachable (%s); this "
                "process reads sessions until it can, others stop within %s s",
                exc,
                self.seconds,
            )


def cache() -> AuthCache | None:
    """The app's session cache, or None (no Redis)."""
    if not has_app_context():
        return None
    return current_app.extensions.get("gridapp.authcache")


def note_stamp(user: Any, **fields: Any) -> None:
    """A stamp let through above (``last_sync_at``) was written for the request's user: keep the
    entry it came from in step, or each request would write it again until the entry expires.
    ``sessions.load_session`` leaves ``(cache, token hash, generation, entry)`` on the user."""
    kept = getattr(user, "_authcache", None)
    if kept is None:
        return
    found, token_hash, generation, entry = kept
    entry.user.update(
        {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in fields.items()}
    )
    found.put(token_hash, generation, entry)


def init_app(app: Flask) -> None:
    """With Redis, every process (web, worker, command) writes new generations, even one that
    keeps no entries itself (``AUTH_CACHE_SECONDS = 0``): the others may."""
    global _LAST
    url = app.config.get("REDIS_URL")
    _LAST = None
    if url:
        _LAST = app.extensions["gridapp.authcache"] = AuthCache(
            url,
            float(app.config.get("AUTH_CACHE_SECONDS") or 0),
            app.config.get("AUTH_CACHE_PREFIX") or "gridapp:auth:",
            float(app.config.get("SYNC_QUIET_SECONDS") or 0),
            float(app.config.get("AUTH_CACHE_LOCAL_SECONDS") or 0),
        )


_LAST: AuthCache | None = None  # the process's app's (one app per process in production)


def current() -> AuthCache | None:
    """The app's cache, or outside an app context (a thread of its own) the process's app's."""
    return cache() if has_app_context() else _LAST


def riders() -> Sequence[str]:
    """The keys the current request's endpoint asked to read with its session (``RIDERS``)."""
    if not has_request_context():
        return ()
    name = request.endpoint
    found = RIDERS.get(name) if name else None
    keys = found() if found is not None else ()
    return keys if len(keys) <= MAX_RIDERS else ()


def ridden(keys: Sequence[str]) -> list[bytes | None] | None:
    """The values of ``keys`` as read with this request's session, or None unless every one of
    them was read then."""
    kept = g.get("_authcache_riders") if has_request_context() else None
    if not kept or any(k not in kept for k in keys):
        return None
    return [kept[k] for k in keys]


def writes_committed() -> None:
    """``gridapp.db``: a transaction that sent an invalidating statement has committed. Outside
    an app context the process's app's cache still hears of it."""
    found = current()
    if found is not None:
        found.changed()


def _register() -> None:
    from gridapp.db import watch_writes

    watch_writes(statement_invalidates, writes_committed)


_register()
