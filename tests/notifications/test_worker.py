"""Delivery through a real job consumer process (huey on Redis), not immediate mode."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.conftest import REDIS_URL


@pytest.fixture
def app_overrides():
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    return {"HUEY_IMMEDIATE": False, "REDIS_URL": REDIS_URL}


def test_a_consumer_process_delivers_after_commit(app, database_url, subscribed, push_service):
    from gridapp.jobs import huey
    from gridapp.notifications.models import Delivery, QuietHours
    from gridapp.notifications.service import notify

    worker, client, sub = subscribed
    QuietHours.create(user=worker.id, enabled=False)  # whatever the hour of the test run
    (nid,) = notify([worker.id], "task.assigned", "后台送达", "", "/tasks/1")
    assert huey.pending_count() == 1 and push_service.received == []

    env = dict(os.environ, GRIDAPP_INSTANCE=app.instance_path, DATABASE_URL=database_url,
               REDIS_URL=REDIS_URL, GRIDAPP_PUSH_ALLOW_LOCAL_HTTP="1")  # fmt: skip
    consumer = subprocess.Popen(
        [sys.executable, "-m", "gridapp.cli", "worker", "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def sent() -> bool:  # the push arrives before the job records it: wait for both
        row = Delivery.get_or_none(Delivery.notification == nid)
        return bool(push_service.received) and row is not None and row.status == "sent"

    try:
        deadline = time.time() + 60
        while not sent() and time.time() < deadline:
            time.sleep(0.2)
    finally:
        consumer.terminate()
        try:
            consumer.wait(timeout=10)
        except subprocess.TimeoutExpired:
            consumer.kill()
    (got,) = push_service.received
    assert got.errors == [] and got.payload["id"] == nid
    d = Delivery.get(Delivery.notification == nid)
    assert (d.status, d.status_code) == ("sent", 201)
