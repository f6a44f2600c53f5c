"""The service worker's acknowledgment of a push: the delivery id in the payload, and the
receipt endpoint (POST /api/v1/notifications/<id>/received)."""

from __future__ import annotations

import json

from gridapp.notifications import rules
from gridapp.notifications.channels import Message, Payloads


def _msg(nid: int, did: int, recipient: int = 7, body: str = "请今天完成") -> Message:
    return Message(did, nid, recipient, "announcement", "停水通知", body, "", False)


def test_the_payload_carries_the_delivery_id_for_workers_only():
    assert json.loads(_msg(12, 345).payload())["d"] == 345
    assert "d" not in json.loads(_msg(12, 345, recipient=0).payload())  # a resident's push


def test_the_batch_template_is_byte_identical_with_both_ids():
    many = Payloads()
    for nid, did, rcp in [(1, 2, 7), (987654321, 123456789012, 8), (5, 6, 0), (3, 4, 9)]:
        m = _msg(nid, did, rcp)
        assert many(m) == m.payload()
    # Near the size limit the template is not used and the body is shortened as before.
    long = _msg(10**12, 10**15, body="长" * 2000)
    assert many(long) == long.payload() and len(long.payload()) <= rules.MAX_PLAINTEXT
    assert json.loads(long.payload())["d"] == 10**15
