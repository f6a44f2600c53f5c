"""Pure delivery rules, without an app."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from gridapp.notifications import rules

D = dt.datetime


@pytest.mark.parametrize(
    "now_utc, start, end, expected",
    [
        # 22:00–07:00 Shanghai = 14:00–23:00 UTC
        (D(2026, 11, 25, 13, 59), "22:00", "07:00", None),
        (D(2026, 11, 25, 14, 0), "22:00", "07:00", D(2026, 11, 25, 23, 0)),
        (D(2026, 11, 25, 15, 30), "22:00", "07:00", D(2026, 11, 25, 23, 0)),  # 23:30 local
        (D(2026, 11, 25, 18, 0), "22:00", "07:00", D(2026, 11, 25, 23, 0)),  # 02:00 local
        (D(2026, 11, 25, 22, 59), "22:00", "07:00", D(2026, 11, 25, 23, 0)),
        (D(2026, 11, 25, 23, 0), "22:00", "07:00", None),  # 07:00 local: over
        (D(2026, 11, 25, 3, 0), "12:00", "14:00", None),  # 11:00 local, before the window
        (D(2026, 11, 25, 4, 30), "12:00", "14:00", D(2026, 11, 25, 6, 0)),
        (D(2026, 11, 25, 4, 30), "12:00", "12:00", None),  # empty window
    ],
)
def test_quiet_release(now_utc, start, end, expected):
    got = rules.quiet_release(now_utc, rules.parse_hhmm(start), rules.parse_hhmm(end))
    assert got == expected


@pytest.mark.parametrize("bad", ["24:00", "7:60", "x", ""])
def test_parse_hhmm_rejects(bad):
    with pytest.raises(ValueError):
        rules.parse_hhmm(bad)


NOW = D(2026, 11, 25, 10, 0, 0)


@pytest.mark.parametrize(
    "header, expected",
    [
        (None, None),
        ("", None),
        ("120", 120.0),
        ("Wed, 25 Nov 2026 10:01:30 GMT", 90.0),
        ("Wed, 25 Nov 2026 09:00:00 GMT", 0.0),  # in the past: now
        ("soon", None),
    ],
)
def test_parse_retry_after(header, expected):
    assert rules.parse_retry_after(header, NOW) == expected


@pytest.mark.parametrize(
    "attempt, retry_after, expected",
    [
        (1, None, 30),
        (2, None, 60),
        (3, None, 120),
        (10, None, 3600),
        (1, 120.0, 120),
        (4, 5.0, 5),
        (1, 0.0, 1),
        (1, 10**9, 86400),
    ],
)
def test_backoff_delay(attempt, retry_after, expected):
    assert rules.backoff_delay(attempt, retry_after) == expected


@pytest.mark.parametrize(
    "code, attempts, expected",
    [
        (201, 1, ("sent", None)),
        (404, 1, ("gone", None)),
        (410, 2, ("gone", None)),
        (429, 1, ("retry", 30)),
        (500, 2, ("retry", 60)),
        (503, 5, ("failed", None)),
        (None, 1, ("retry", 30)),  # network error
        (400, 1, ("failed", None)),
        (413, 1, ("failed", None)),
    ],
)
def test_judge(code, attempts, expected):
    v = rules.judge(code, attempts, max_attempts=5)
    assert (v.status, v.delay) == expected


@pytest.mark.parametrize(
    "endpoint, aud",
    [
        ("https://fcm.googleapis.com/fcm/send/abc", "https://fcm.googleapis.com"),
        ("https://push.example:443/x", "https://push.example"),
        ("https://push.example:8443/x", "https://push.example:8443"),
        ("http://127.0.0.1:5123/push/t", "http://127.0.0.1:5123"),
        ("https://[::1]:9000/p", "https://[::1]:9000"),
    ],
)
def test_audience_keeps_the_port(endpoint, aud):
    assert rules.audience(endpoint) == aud


def test_topic_is_short_urlsafe_and_stable():
    t = rules.topic("task.due_soon", "/tasks/12")
    assert len(t) <= 32 and all(c.isalnum() or c in "-_" for c in t)
    assert t == rules.topic("task.due_soon", "/tasks/12")
    assert t != rules.topic("task.due_soon", "/tasks/13")
    assert t != rules.topic("task.overdue", "/tasks/12")


def test_urgency():
    assert rules.urgency("task.assigned", False) == "high"
    assert rules.urgency("matter.escalated", False) == "high"
    assert rules.urgency("announcement", False) == "normal"
    assert rules.urgency("announcement", True) == "high"


@pytest.mark.parametrize("n", [10, 1000, 1400, 5000, 20000])
def test_payload_is_capped_and_stays_json(n):
    data = {"id": 1, "type": "announcement", "title": "停水通知", "body": "水" * n, "link": "/x"}
    raw = rules.build_payload(data)
    assert len(raw) <= rules.MAX_PLAINTEXT
    back = json.loads(raw)
    assert back["title"] == "停水通知"
    if len(json.dumps(data, ensure_ascii=False).encode()) > rules.MAX_PLAINTEXT:
        assert back["truncated"] is True and back["body"].endswith("…")
        assert len(raw) > rules.MAX_PLAINTEXT - 10  # filled, not cut short
    else:
        assert back == data


def test_payload_with_a_huge_title_cuts_the_title_too():
    raw = rules.build_payload({"title": "题" * 3000, "body": "x" * 3000, "link": ""})
    assert len(raw) <= rules.MAX_PLAINTEXT
    assert json.loads(raw)["body"] == ""


@pytest.mark.parametrize(
    "endpoint, local, ok",
    [
        ("https://fcm.googleapis.com/fcm/send/x", False, True),
        ("http://fcm.googleapis.com/fcm/send/x", False, False),
        ("http://127.0.0.1:9/x", False, False),
        ("http://127.0.0.1:9/x", True, True),
        ("http://10.0.0.1:9/x", True, False),
        ("ftp://x/y", True, False),
        ("https:///nohost", False, False),
    ],
)
def test_endpoint_problem(endpoint, local, ok):
    assert (rules.endpoint_problem(endpoint, local) is None) == ok


def _b(n: int, first: int = 4) -> str:
    return base64.urlsafe_b64encode(bytes([first]) + b"\1" * (n - 1)).decode().rstrip("=")


@pytest.mark.parametrize(
    "p256dh, auth, field",
    [
        (_b(65), _b(16, 1), None),
        (_b(64), _b(16, 1), "keys.p256dh"),
        (_b(65, 2), _b(16, 1), "keys.p256dh"),  # compressed point prefix
        (_b(65), _b(12, 1), "keys.auth"),
        ("@@@", _b(16, 1), "keys.p256dh"),
        (_b(65), "%%", "keys.auth"),
    ],
)
def test_key_problem(p256dh, auth, field):
    problem = rules.key_problem(p256dh, auth)
    assert (problem[0] if problem else None) == field
