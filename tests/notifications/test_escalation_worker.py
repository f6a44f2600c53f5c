"""Escalation through a real job consumer process (huey on Redis): an urgent task to a worker
with no Web Push reaches 企业微信 at once, then SMS when the policy's window (1 minute here)
passes unread; the one read in the app meanwhile gets no SMS. The consumer gets its loopback
channels through configuration (``GRIDAPP_NOTIFY_EXTRA_CHANNELS``), not by patching."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.conftest import REDIS_URL
from tests.notifications.fakechannel import FakeProvider


@pytest.fixture
def providers():
    found = {"wecom": FakeProvider(), "sms": FakeProvider()}
    yield found
    for p in found.values():
        p.stop()


@pytest.fixture
def app_overrides():
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    return {
        "HUEY_IMMEDIATE": False,
        "REDIS_URL": REDIS_URL,
        "NOTIFY_EXTRA_CHANNELS": "",  # the web side sends nothing itself: the consumer does
    }


def _wait(cond, seconds: float) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.2)
    return cond()


def test_the_consumer_escalates_and_reading_stops_it(
    app, database_url, worker, make_user, login_as, providers
):
    from gridapp.notifications.models import Delivery, QuietHours
    from gridapp.notifications.policy import save_policy
    from gridapp.notifications.service import notify

    save_policy(
        make_user("admin"), "task.assigned", True,
        [{"channels": ["webpush"], "wait": 0}, {"channels": ["wecom"], "wait": 1},
         {"channels": ["sms"], "wait": 1}],
    )  # fmt: skip
    QuietHours.create(user=worker.id, enabled=False)
    client = login_as(worker)
    env = dict(
        os.environ, GRIDAPP_INSTANCE=app.instance_path, DATABASE_URL=database_url,
        REDIS_URL=REDIS_URL,
        GRIDAPP_NOTIFY_EXTRA_CHANNELS="wecom=tests.notifications.fakechannel:wecom_from_env,"
        "sms=tests.notifications.fakechannel:sms_from_env",
        GRIDAPP_FAKE_WECOM_URL=providers["wecom"].url,
        GRIDAPP_FAKE_WECOM_ADDRESSES=f"{worker.id}=wx{worker.id}",
        GRIDAPP_FAKE_SMS_URL=providers["sms"].url,
        GRIDAPP_FAKE_SMS_ADDRESSES=f"{worker.id}=+8613800000001",
        PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]),
    )  # fmt: skip
    unread, read = (
        notify([worker.id], "task.assigned", title, "", f"/tasks/{i}", urgent=True)[0]
        for i, title in ((1, "紧急任务甲"), (2, "紧急任务乙"))
    )
    consumer = subprocess.Popen(
        [sys.executable, "-m", "gridapp.cli", "worker", "--workers", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        # No subscription: the push hop cannot reach the worker, 企业微信 goes at once.
        assert _wait(lambda: len(providers["wecom"].received) == 2, 60)
        assert client.post(f"/api/v1/notifications/{read}/read").status_code == 200
        assert providers["sms"].received == []
        # One minute later, still unread: the SMS hop (the eta job or the minute's scan).
        assert _wait(lambda: providers["sms"].received, 100)
        # A provider has its message before the job records it: wait for both chains' last
        # rows, not a fixed time (a loaded machine took longer than two seconds).
        settled = Delivery.select().where(
            (Delivery.hop == 2) & Delivery.status.in_(["sent", "skipped"])
        )
        assert _wait(lambda: settled.count() == 2, 60)
    finally:
        consumer.terminate()
        try:
            consumer.wait(timeout=10)
        except subprocess.TimeoutExpired:
            consumer.kill()
    assert [g.notification_id for g in providers["sms"].received] == [unread]
    chain = {
        n: [(d.hop, d.channel, d.status, d.error) for d in
            Delivery.select().where(Delivery.notification == n).order_by(Delivery.id)]
        for n in (unread, read)
    }  # fmt: skip
    assert chain[unread] == [
        (0, "webpush", "skipped", "unreachable"), (1, "wecom", "sent", ""), (2, "sms", "sent", "")
    ]  # fmt: skip
    assert chain[read] == [
        (0, "webpush", "skipped", "unreachable"), (1, "wecom", "sent", ""),
        (2, "sms", "skipped", "read"),
    ]  # fmt: skip
