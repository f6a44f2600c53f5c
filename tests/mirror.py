"""The sync invariant as a check any test can switch on: every device's incremental state equals
a fresh cold pull.

``mirror_check`` (autouse in tests/sync, tests/visits, tests/photos) keeps one simulated device
per active worker/supervisor/department user. After every state-changing request the test makes
(and once more at teardown), each device pulls warm from its cursor onto its copy, and the copy
must equal a cold pull taken now. A write that changes what a device mirrors without a change-log
row (issue 15 item 4), or a window that cold and warm pulls apply differently (item 6), fails the
test that caused it, with the rows that differ.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from gridapp.db import db
from gridapp.org.models import User
from gridapp.scope import scope_for
from gridapp.sync import service

DEVICE_ROLES = ("grid_worker", "supervisor", "department")


def pull_state(user: User, rows: dict | None = None, cursor: str | None = None):
    """Pull to the end (cold when ``cursor`` is None) onto ``rows``, without stamping the user
    (a pull through the API writes ``last_sync_at``, which some tests check)."""
    scope = scope_for(user)
    epoch = service.scope_epoch(scope)
    rows = {} if rows is None else rows
    for _ in range(10_000):
        body = service.pull_page(scope, cursor, 500, None)  # as the API pulls, Redis included
        for r in body["rows"]:
            rows[(r["entity"], r["id"])] = r["data"]
        for t in body["tombstones"]:
            rows.pop((t["entity"], t["id"]), None)
        cursor = body["cursor"]
        if not body["more"]:
            return rows, cursor, epoch
    raise AssertionError("pull did not end")


def diff(a: dict, b: dict) -> list[str]:
    out = []
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            out.append(f"{key}: incremental={a.get(key)!r} cold={b.get(key)!r}")
    return out


class Mirror:
    def __init__(self) -> None:
        self.devices: dict[int, tuple[dict, str, str]] = {}
        self.failures: list[str] = []
        self.checks = 0
        # A test that simulates time passing by rewriting dates turns the check off.
        self.enabled = True

    def check(self, where: str) -> None:
        if not self.enabled:
            return
        users = User.select().where(User.role.in_(DEVICE_ROLES) & User.is_active)
        for user in users:
            known = self.devices.get(user.id)
            epoch = service.scope_epoch(scope_for(user))
            if known is None or known[2] != epoch:
                self.devices[user.id] = pull_state(user)
                continue
            rows, cursor, _ = pull_state(user, dict(known[0]), known[1])
            cold, _, _ = pull_state(user)
            self.checks += 1
            wrong = diff(rows, cold)
            if wrong:
                self.failures.append(f"after {where}, user {user.username}: " + "; ".join(wrong))
            self.devices[user.id] = (cold, cursor, epoch)


@pytest.fixture
def mirror_check(app) -> Any:
    from flask import request

    mirror = Mirror()
    lock = threading.Lock()
    in_flight = [0]

    @app.before_request
    def _enter():
        with lock:
            in_flight[0] += 1

    @app.after_request
    def _check(resp):
        with lock:
            # Concurrent requests (the race tests): a warm pull and the cold pull after it could
            # straddle another request's commit; those tests get the check at teardown.
            alone = in_flight[0] == 1
            in_flight[0] -= 1
            writes = request.method in ("POST", "PUT", "PATCH", "DELETE")
            if alone and writes and resp.status_code < 500:
                mirror.check(f"{request.method} {request.path}")
        return resp

    yield mirror
    db.connect(reuse_if_open=True)
    mirror.check("the test")
    assert not mirror.failures, "\n".join(mirror.failures[:5])
