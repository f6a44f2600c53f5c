"""receipts.mark_delivered / mark_failed: the channels' receipts, idempotent (CHANNELS.md)."""

from __future__ import annotations

import datetime as dt

from gridapp.notifications.models import Delivery
from gridapp.notifications.receipts import mark_delivered, mark_failed
from gridapp.notifications.service import notify


def test_delivered_is_recorded_once(subscribed, push_service, clock):
    worker, _client, _sub = subscribed
    (nid,) = notify([worker.id], "task.assigned", "t", "", "/tasks/1")
    d = Delivery.get(Delivery.notification == nid)
    at = dt.datetime(2026, 11, 30, 8, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert mark_delivered(d.id, at) is True
    assert mark_delivered(d.id) is False  # idempotent: the first receipt's time stays
    d = Delivery.get_by_id(d.id)
    assert (d.status, d.delivered_at) == ("sent", dt.datetime(2026, 11, 30, 0, 1))
    assert mark_failed(d.id, "late") is False  # delivered stays delivered
    assert mark_delivered(999999) is False and mark_failed(999999, "x") is False


def test_a_late_failure_is_recorded_once(subscribed, push_service, clock):
    worker, _client, _sub = subscribed
    (nid,) = notify([worker.id], "task.assigned", "t", "", "/tasks/1")
    d = Delivery.get(Delivery.notification == nid)
    assert mark_failed(d.id, "DELIVRD=0 undelivered") is True
    assert mark_failed(d.id, "again") is False
    d = Delivery.get_by_id(d.id)
    assert (d.status, d.error) == ("failed", "DELIVRD=0 undelivered")
    assert mark_delivered(d.id) is False
