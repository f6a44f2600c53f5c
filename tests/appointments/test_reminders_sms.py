"""The day-before reminder texts the resident once through the SMS channel (the fake Tencent
API, configured like production), with the booking code and no name."""

from __future__ import annotations

import datetime as dt

import pytest

import gridapp.appointments.jobs  # noqa: F401  (registers the template before approval)
from tests.appointments.conftest import first_slot
from tests.notifications.conftest import Clock, _fresh_jobs  # noqa: F401
from tests.notifications.sms_fixtures import fake_sms, sms_config  # noqa: F401


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app_overrides(clock, sms_config):  # noqa: F811
    return {"NOTIFY_CLOCK": clock, **sms_config}


def test_reminder_sms_once_with_the_code(appt, fake_sms, clock):  # noqa: F811
    from gridapp.appointments import rules, service
    from gridapp.appointments.jobs import remind_tomorrow
    from gridapp.times import local_day_start_utc, to_local

    b = service.book(appt.community.id, appt.hall.id, first_slot(appt.hall), "张三丰",
                     "13812345678")  # fmt: skip
    landline = service.book(appt.community.id, appt.hall.id, b.starts_at, "李四",
                            "010-12345678")  # fmt: skip
    evening = local_day_start_utc(to_local(b.starts_at).date()) - dt.timedelta(hours=5)
    clock.set(evening)  # 19:00 in Shanghai the day before, outside quiet hours
    got = remind_tomorrow(evening)
    assert got["bookings"] == 2 and got["sms"] == 1 and landline.id
    (sent,) = fake_sms.sent
    assert sent.phone == "+8613812345678"
    assert rules.format_code(b.code) in sent.text and "张" not in sent.text
    assert remind_tomorrow(evening)["sms"] == 0
    assert len(fake_sms.sent) == 1
