"""The database: one peewee proxy, bound at app start to SQLite (default) or PostgreSQL.

SQLite runs with WAL, foreign keys and ``BEGIN IMMEDIATE`` transactions: with the default deferred
begin, read-then-write transactions from several threads failed with "database is locked"
(DEPENDENCIES.md pitfall 1). A connection is opened at a request's first statement and closed on
teardown (on PostgreSQL: taken from a per-process pool and given back).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote, urlparse

from peewee import (
    BigIntegerField,
    Database,
    DatabaseProxy,
    DateTimeField,
    Model,
    SqliteDatabase,
    Value,
)
from peewee import fn as sql_fn
from playhouse.postgres_ext import Psycopg3Database

from gridapp.pgpool import PooledPostgres

db = DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": "normal",
    "cache_size": -16000,
}


def utcnow() -> dt.datetime:
    """Naive UTC: every stored time is UTC; Asia/Shanghai is applied only for display."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


_BEFORE_COMMIT: list = []  # callables(database) run as the last statements of every commit


def before_commit(fn):
    """Register ``fn(database)`` to run inside every transaction just before it commits (the
    change log numbers its rows there, so the counter row is always the last lock taken)."""
    _BEFORE_COMMIT.append(fn)
    return fn


def after_commit(fn: Callable[[], None]) -> None:
    """Run ``fn()`` once the current transaction has committed (at once outside one); a
    rollback drops it. For telling others of what is now durable (``gridapp.sync.quiet``)."""
    database = db.obj
    if not database.in_transaction():
        fn()
        return
    database._state.__dict__.setdefault("gridapp_after_commit", []).append(fn)


class _CommitHooks:
    """Runs the ``before_commit`` callbacks; a failing one rolls the transaction back (peewee's
    ``_transaction.__exit__`` rolls back when ``commit()`` raises)."""

    def commit(self):
        for fn in _BEFORE_COMMIT:
            fn(self)
        done = super().commit()
        for fn in self._state.__dict__.pop("gridapp_after_commit", None) or ():
            fn()
        return done

    def rollback(self):
        for key in ("gridapp_pending", "gridapp_change_keys", "gridapp_after_commit"):
            self._state.__dict__.pop(key, None)
        return super().rollback()


_WATCHERS: list[tuple[Callable[[str], bool], Callable[[], None]]] = []


def watch_writes(matches: Callable[[str], bool], committed: Callable[[], None]) -> None:
    """Call ``committed()`` once after each transaction that sent a statement ``matches`` (at
    once for a statement outside a transaction). Seen where statements are sent, so no code
    path can write without it (the session cache, ``gridapp.accounts.authcache``). A
    transaction rolled back calls nothing; one whose commit failed calls it anyway."""
    if (matches, committed) not in _WATCHERS:
        _WATCHERS.append((matches, committed))


class _WatchedWrites:
    def execute_sql(self, sql, params=None, *args, **kwargs):
        cursor = super().execute_sql(sql, params, *args, **kwargs)
        self.watch(sql)
        return cursor

    def watch(self, sql: str) -> None:
        """``sql`` was sent (or its equivalent, for ``COPY``): tell the watchers."""
        for matches, committed in _WATCHERS:
            if matches(sql):
                if self.in_transaction():
                    pending = self._state.__dict__.setdefault("gridapp_watch", [])
                    if committed not in pending:
                        pending.append(committed)
                else:
                    committed()

    def commit(self):
        pending = self._state.__dict__.pop("gridapp_watch", None)
        try:
            return super().commit()
        finally:
            for committed in pending or ():
                committed()

    def rollback(self):
        self._state.__dict__.pop("gridapp_watch", None)
        return super().rollback()


class _CountedRoundTrips:
    """Counts the statements this thread sends (``BEGIN``, ``COMMIT``, ``ROLLBACK`` and
    savepoints included): on PostgreSQL each is a round trip, and under load a request's
    latency follows its round trips more than its Python (docs/scale.md). The count is per
    request (reset in ``before_request``); tests bound it and the morning benchmark prints it
    (``X-Query-Count`` with ``QUERY_COUNT_HEADER``)."""

    def _count_one(self) -> None:
        state = self._state.__dict__
        state["gridapp_queries"] = state.get("gridapp_queries", 0) + 1

    def execute_sql(self, sql, params=None, *args, **kwargs):
        self._count_one()
        return super().execute_sql(sql, params, *args, **kwargs)

    def begin(self, *args, **kwargs):
        self._count_one()
        return super().begin(*args, **kwargs)

    def commit(self):
        self._count_one()
        return super().commit()

    def rollback(self):
        self._count_one()
        return super().rollback()


class GridSqliteDatabase(_WatchedWrites, _CommitHooks, _CountedRoundTrips, SqliteDatabase):
    pass


class GridPooledPostgres(_WatchedWrites, _CommitHooks, _CountedRoundTrips, PooledPostgres):
    pass


def query_count() -> int:
    """Statements this thread sent since the current request began (or since ``reset``)."""
    obj = db.obj
    return obj._state.__dict__.get("gridapp_queries", 0) if obj is not None else 0


def reset_query_count() -> None:
    if db.obj is not None:
        db.obj._state.__dict__["gridapp_queries"] = 0


def make_database(url: str) -> Database:
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path)
        if url.startswith("sqlite:////"):
            path = "/" + path.lstrip("/")
        return GridSqliteDatabase(
            path or ":memory:",
            pragmas=SQLITE_PRAGMAS,
            timeout=10,
            lock_type="IMMEDIATE",
        )
    if parsed.scheme in {"postgres", "postgresql", "postgresql+psycopg"}:
        # Pooled: a request takes an open connection and gives it back at teardown, instead
        # of starting a server process per request (milliseconds each on PostgreSQL). A pool
        # is per process and per thread-safe checkout; connections idle for 5 min are closed.
        # No round trip at checkout; a connection found dead at its first statement is
        # replaced and the statement retried once (gridapp/pgpool.py).
        pooled = GridPooledPostgres(
            unquote(parsed.path.lstrip("/")),
            max_connections=int(os.environ.get("GRIDAPP_DB_POOL", "32")),
            stale_timeout=300,
            timeout=30,
            user=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
            host=parsed.hostname or None,
            port=parsed.port or None,
        )
        _POOLS.append(pooled)
        return pooled
    raise ValueError(f"unsupported DATABASE_URL scheme: {parsed.scheme!r}")


_POOLS: list[Database] = []  # pooled databases this process made, for close_pools()


def close_pools() -> None:
    """Close every pooled connection this process opened (between tests; at shutdown): a pool
    dropped with connections open leaves them to the garbage collector."""
    while _POOLS:
        _POOLS.pop().close_all()


def dispose_after_fork() -> None:
    """gunicorn's ``post_fork``: a forked worker must not reuse the master's connections
    (pitfall 2). Without ``--preload`` the master never built the app, so the proxy is still
    unbound and there is nothing to drop (calling ``db.dispose()`` on it killed every worker)."""
    if db.obj is not None:
        db.obj.dispose()


def is_postgres() -> bool:
    return isinstance(db.obj, Psycopg3Database)


def in_ids(field: Any, ids: Iterable[Any]) -> Any:
    """``field IN ids``; on PostgreSQL ``field = ANY(%s)``, the ids as one array. A cold pull's
    page names hundreds of residents: as ``IN`` each id cost peewee a node to build and psycopg
    a placeholder to convert, and a text that changed with every length was never prepared."""
    ids = list(ids)
    if ids and is_postgres():
        # As it is: the column's converter would turn the list into one string.
        return field == sql_fn.ANY(Value(ids, converter=list, unpack=False))
    return field.in_(ids)


class BaseModel(Model):
    """Every table: snake_case names, bound to the proxy."""

    class Meta:
        database = db
        legacy_table_names = False


class VersionedModel(BaseModel):
    """Rows that clients edit offline: a version for optimistic concurrency, an update time."""

    version = BigIntegerField(default=1)
    updated_at = DateTimeField(default=utcnow)


def register_request_hooks(app) -> None:
    @app.before_request
    def _connect() -> None:
        # No connection yet: the first statement takes one (peewee's autoconnect, through the
        # pool's checks), so a request that needs no SQL (a cached session's /api/v1/me) never
        # checks one out of the pool and back.
        reset_query_count()

    if app.config.get("QUERY_COUNT_HEADER"):

        @app.after_request
        def _query_count(resp):
            resp.headers["X-Query-Count"] = str(query_count())
            return resp

    @app.teardown_request
    def _close(exc: BaseException | None) -> None:
        if not db.is_closed():
            db.close()


def insert_rows(model: type[Model], columns: list[str], rows: list[tuple]) -> None:
    """Bulk insert bypassing peewee's per-value SQL building (which took most of an import's
    time): ``COPY`` on PostgreSQL, ``executemany`` on SQLite. ``columns`` are column names and
    the values must be ready for the database (ids, not model instances)."""
    if not rows:
        return
    table = model._meta.table_name
    cols = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    insert = f'INSERT INTO "{table}" ({cols}) VALUES ({marks})'
    if is_postgres():
        with db.cursor() as cur, cur.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
    else:
        # Datetimes bind as text through sqlite3's adapter (peewee registers its own, same
        # format, where Python 3.12 deprecates the default one).
        db.cursor().executemany(insert, rows)
    db.obj.watch(insert)  # not sent through execute_sql: the watchers hear of it here


def reserve_ids(model: type[Model], n: int) -> list[int]:
    """``n`` new primary keys for ``model``; call inside the write transaction that uses them.

    PostgreSQL draws them from the table's sequence. On SQLite the transaction already holds
    the write lock (``BEGIN IMMEDIATE``), so the ids after the current maximum are ours."""
    if n <= 0:
        return []
    table = model._meta.table_name
    if is_postgres():
        cur = db.execute_sql(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            (f'"{table}"', n),
        )
        return [r[0] for r in cur.fetchall()]
    if not db.in_transaction():
        raise RuntimeError("reserve_ids() must be called inside db.atomic()")
    start = db.execute_sql(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"').fetchone()[0]
    return list(range(start + 1, start + n + 1))
