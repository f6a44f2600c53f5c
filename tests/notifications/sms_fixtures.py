"""Fixtures for SMS tests: the fake Tencent SMS API with the app's templates approved, and the
app pointed at it by configuration."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.notifications.fake_sms import FakeSms

CALLBACK_TOKEN = "cb-0123456789abcdef"


def approve_all(fake: FakeSms) -> dict[str, str]:
    """Approve every registered template on the fake (``{name}`` → Tencent's ``{1}``…) and
    return the ``SMS_TEMPLATES`` mapping of key → template id."""
    from gridapp.notifications.sms import catalog  # noqa: F401
    from gridapp.notifications.sms.rules import templates

    ids = {}
    for n, (key, tpl) in enumerate(sorted(templates().items())):
        tid = str(2000000 + n)
        text = tpl.text_zh
        for i, name in enumerate(tpl.params, 1):
            text = text.replace("{" + name + "}", "{" + str(i) + "}")
        assert not re.search(r"\{[a-z]", text)
        fake.approve(tid, text)
        ids[key] = tid
    return ids


@pytest.fixture
def fake_sms() -> Iterator[FakeSms]:
    fake = FakeSms()
    yield fake
    fake.stop()


@pytest.fixture
def sms_config(fake_sms: FakeSms) -> dict[str, Any]:
    return fake_sms.config(SMS_TEMPLATES=approve_all(fake_sms), SMS_CALLBACK_TOKEN=CALLBACK_TOKEN)
