"""A request takes its connection at its first statement and gives it back at teardown
(gridapp/db.py). On PostgreSQL connections are pooled per process; SQLite opens one per request
(pooling it made a server thread's connection closable from another thread: a crash)."""

from __future__ import annotations

import threading

import pytest

from gridapp.db import db
from tests.conftest import BACKEND, PASSWORD, api_login

POOLED = pytest.mark.skipif(BACKEND != "postgres", reason="SQLite is not pooled")


def _opened(monkeypatch) -> list[int]:
    """Counts the driver connections the app's database opens from now on (the engine's own
    ``_connect``, which the pool calls when it has none to hand out)."""
    from playhouse.pool import PooledDatabase

    mro = type(db.obj).__mro__
    engine = next(c for c in mro[mro.index(PooledDatabase) + 1 :] if "_connect" in vars(c))
    original = engine._connect
    opened: list[int] = []

    def counting(self):
        conn = original(self)
        opened.append(id(conn))
        return conn

    monkeypatch.setattr(engine, "_connect", counting)
    return opened


@POOLED
def test_requests_reuse_the_pooled_connections(app, org, make_user, monkeypatch):
    worker = make_user("grid_worker", grids=[org.grid])
    client = api_login(app.test_client(), worker.username, PASSWORD)
    if not db.is_closed():
        db.close()
    opened = _opened(monkeypatch)
    for _ in range(20):
        assert client.get("/api/v1/sync").status_code == 200
    assert len(opened) <= 1, "one connection, kept for the next request"


@POOLED
def test_a_connection_given_back_inside_a_transaction_is_rolled_back(app, org):
    from gridapp.org.models import Grid

    if not db.is_closed():
        db.close()
    db.connect()
    db.begin()
    Grid.update(name="未提交").where(Grid.id == org.grid.id).execute()
    db.close()  # given back without commit
    db.connect()
    assert Grid.get_by_id(org.grid.id).name != "未提交"
    db.close()


def test_pooled_connections_serve_any_thread(app, org, make_user):
    """A connection opened by one thread is later handed to another (SQLite checks the thread
    by default: the pool turns that off, since a connection serves one thread at a time)."""
    worker = make_user("grid_worker", grids=[org.grid])
    client = api_login(app.test_client(), worker.username, PASSWORD)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with app.app_context():
                for _ in range(5):
                    assert app.test_client().get("/healthz").status_code == 200
                    assert (
                        api_login(app.test_client(), worker.username).get("/api/v1/me").status_code
                        == 200
                    )
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert client.get("/api/v1/me").status_code == 200
