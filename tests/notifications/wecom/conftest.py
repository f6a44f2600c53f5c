"""Fixtures for the 企业微信 tests: the fake WeCom server and an
app configured to use it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.notifications.fake_wecom import FakeWecom


@pytest.fixture
def fake_wecom() -> Iterator[FakeWecom]:
    fake = FakeWecom()
    yield fake
    fake.stop()


@pytest.fixture
def app_overrides(clock, fake_wecom: FakeWecom) -> dict[str, Any]:
    return {"NOTIFY_CLOCK": clock, "PUSH_MAX_ATTEMPTS": 3, **fake_wecom.config()}


@pytest.fixture
def bind(app):
    """``bind(user, userid)`` binds directly (the admin paths have their own tests)."""
    from gridapp.notifications.wecom.binding import corp_id
    from gridapp.notifications.wecom.models import WecomBinding

    def make(user, userid: str) -> None:
        WecomBinding.create(user=user.id, corp_id=corp_id(), userid=userid)

    return make
