"""Fixtures for notifications: the fake push service, a controllable clock, a subscribed user."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from tests.notifications.fakepush import FakePushService
from tests.notifications.sms_fixtures import fake_sms, sms_config  # noqa: F401  (the fake SMS API)


class Clock:
    def __init__(self) -> None:
        # Tomorrow 03:00 UTC = 11:00 in Shanghai (outside the default quiet hours), and in the
        # future so that huey keeps retries scheduled instead of running them at once.
        today = dt.datetime.now(dt.UTC).replace(tzinfo=None).date()
        self.now = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(3, 0))

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, when: dt.datetime) -> None:
        self.now = when


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app_overrides(clock: Clock) -> dict[str, Any]:
    return {"NOTIFY_CLOCK": clock, "PUSH_MAX_ATTEMPTS": 3}


@pytest.fixture(autouse=True)
def _fresh_jobs(app) -> Iterator[None]:
    from gridapp.jobs import huey
    from gridapp.notifications.vapid import tokens

    huey.flush()
    tokens.clear()
    yield
    huey.flush()


@pytest.fixture
def push_service(app) -> Iterator[FakePushService]:
    """The fake push service on 127.0.0.1, allowed explicitly: loopback is refused otherwise."""
    from gridapp.notifications.channels import channels

    app.config["PUSH_ALLOW_LOCAL_HTTP"] = True
    key = channels(app)["webpush"].keys().application_server_key
    service = FakePushService(expected_key=key)
    yield service
    channels(app)["webpush"].close()
    service.stop()


@pytest.fixture
def worker(make_user):
    return make_user("grid_worker")


@pytest.fixture
def subscribed(worker, login_as, push_service):
    """A grid worker whose phone subscribed through the API: (user, client, subscriber)."""
    client = login_as(worker)
    sub = push_service.subscriber()
    resp = client.post("/api/v1/push/subscriptions", json=sub.to_json())
    assert resp.status_code == 201, resp.get_json()
    return worker, client, sub
