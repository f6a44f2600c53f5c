"""The PostgreSQL connection pool: no round trip at checkout, one retry when a pooled connection
turns out to have died.

peewee's pool proves each connection it hands out with ``SELECT 1`` while holding the database's
lock, so the threads of a web process queued behind one another's round trips (py-spy under the
morning benchmark: a fifth of ``/api/v1/me`` spent in checkout). Here checkout trusts what the
driver knows locally, and the first statement on a checked-out connection is the proof: if it
fails because the connection is gone (PostgreSQL restarted, a backend terminated, a proxy
dropped it), nothing has been done on it yet, so the idle connections (which likely died with
it) are dropped and the statement runs again once on a fresh connection. A failure on any later
statement is raised as before: part of the request's work may have happened.
"""

from __future__ import annotations

import logging

from peewee import InterfaceError, OperationalError
from playhouse.postgres_ext import PooledPsycopg3Database

log = logging.getLogger(__name__)


class PooledPostgres(PooledPsycopg3Database):
    def _is_closed(self, conn) -> bool:
        return bool(conn.closed) or self._adapter.txn_status(conn) == self._adapter.txn_unknown

    def connect(self, reuse_if_open: bool = False) -> bool:
        opened = super().connect(reuse_if_open)
        if opened:
            self._state.unproven = True
        return opened

    def _lost(self, conn) -> bool:
        return bool(conn.closed) or self._adapter.txn_status(conn) == self._adapter.txn_unknown

    def _first_use(self, run):
        if self.is_closed():  # checked out here (a request connects at its first statement)
            self.connect()
        state = self._state
        unproven = getattr(state, "unproven", False)
        state.unproven = False
        try:
            return run()
        except (OperationalError, InterfaceError):
            conn = state.conn
            if not unproven or conn is None or not self._lost(conn):
                raise
            log.warning("a pooled PostgreSQL connection had died; retrying on a fresh one")
            with self._lock:
                self._close(conn, close_conn=True)
                self.close_idle()
                state.conn = self._connect()
            return run()

    def execute_sql(self, sql, params=None, named_cursor=None):
        parent = super()
        return self._first_use(lambda: parent.execute_sql(sql, params, named_cursor))

    def begin(self, isolation_level=None):
        parent = super()
        return self._first_use(lambda: parent.begin(isolation_level))
