"""The background worker really consumes jobs: huey on SQLite (default) and on Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.conftest import REDIS_URL


@pytest.fixture(params=["sqlite", "redis"])
def queue_app(request, tmp_path, database_url):
    from gridapp import create_app
    from gridapp.db import db
    from tests.conftest import app_config

    redis_url = None
    if request.param == "redis":
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
        redis_url = REDIS_URL
    cfg = app_config(tmp_path, database_url, HUEY_IMMEDIATE=False, REDIS_URL=redis_url)
    application = create_app(cfg)
    env = dict(os.environ, GRIDAPP_INSTANCE=str(cfg["INSTANCE_PATH"]), DATABASE_URL=database_url)
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    with application.app_context():
        yield application, env, request.param
        db.close()


def test_worker_process_runs_enqueued_jobs(queue_app):
    from gridapp.jobs import huey, ping, storage_kind

    application, env, kind = queue_app
    assert storage_kind() == kind

    def pings() -> list:
        # Only ping: the consumer's scheduler may enqueue a periodic job at a minute boundary,
        # which this short-lived worker is stopped before running.
        return [t for t in huey.pending() if t.name.endswith("ping")]

    result = ping()  # enqueued, not run: no consumer yet
    assert huey.pending_count() == 1 and len(pings()) == 1
    worker = subprocess.Popen(
        [sys.executable, "-m", "gridapp.cli", "worker", "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        value = result.get(blocking=True, timeout=30)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()
    assert value == "pong"
    deadline = time.time() + 5
    while pings() and time.time() < deadline:
        time.sleep(0.1)
    assert pings() == []
