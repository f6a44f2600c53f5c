"""Fixtures for news: a community with its supervisor, a street supervisor, a worker, a
controllable clock (``NEWS_CLOCK``), the fake push service, and the community's public token."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest

from tests.notifications.conftest import Clock, _fresh_jobs, push_service  # noqa: F401


@pytest.fixture
def clock() -> Clock:
    c = Clock()
    c.set(dt.datetime(2026, 11, 30, 2, 0))  # 10:00 in Shanghai
    return c


@pytest.fixture
def app_overrides(clock: Clock) -> dict[str, Any]:
    return {"NEWS_CLOCK": clock, "NOTIFY_CLOCK": clock, "PUSH_MAX_ATTEMPTS": 3}


@pytest.fixture
def news(app, org, make_user, login_as, clock):
    from gridapp.echowall.service import token_for

    sup = make_user("supervisor", community=org.community, display_name="社区网格长")
    street = make_user("supervisor", street=org.street, display_name="街道主任")
    worker = make_user("grid_worker", grids=[org.grid], display_name="王小网")
    other_sup = make_user("supervisor", community=org.other_community)
    return SimpleNamespace(
        sup=sup,
        street=street,
        worker=worker,
        other_sup=other_sup,
        sup_client=login_as(sup),
        street_client=login_as(street),
        worker_client=login_as(worker),
        other_client=login_as(other_sup),
        token=token_for("community", org.community.id),
        other_token=token_for("community", org.other_community.id),
        clock=clock,
        org=org,
    )


def publish(client, community_id: int, **fields):
    body = {"community_id": community_id, "title": "停水通知", "body": "明天停水。", **fields}
    resp = client.post("/api/v1/news", json=body)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()
