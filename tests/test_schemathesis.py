"""Schemathesis against the live app (a real HTTP server on 127.0.0.1) for each role: a grid
worker, a supervisor, a department handler, an admin and an anonymous caller.

Every operation of the served OpenAPI document gets a few generated requests per role, valid ones
(``positive``) and invalid ones (``negative``); every answer must not be a server error, must carry
a documented status code and content type, and must match its response schema (``format:
date-time`` included). Bounded: ``EXAMPLES`` per operation, mode and role, no shrinking, no
example database, so a run is the same size every time and well under two minutes here.
Failures are collected, not raised one by one, so a run reports every broken operation at once.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import PASSWORD
from tests.sync.conftest import Registry

# Generated requests per operation and mode; each is sent once per role.
EXAMPLES = {GenerationMode.POSITIVE: 2, GenerationMode.NEGATIVE: 1}
ROLES = ("grid_worker", "supervisor", "department", "admin", "anonymous")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Operations that end the caller's session (the rest of its run would be 401s).
SKIP = {("POST", "/api/v1/auth/logout")}


def _session(base: str, username: str | None) -> requests.Session:
    s = requests.Session()
    token = s.get(f"{base}/api/v1/auth/csrf", timeout=10).json()["csrf_token"]
    s.headers["X-CSRFToken"] = token
    if username is not None:
        resp = s.post(
            f"{base}/api/v1/auth/login",
            json={"username": username, "password": PASSWORD},
            timeout=10,
        )
        assert resp.status_code == 200, resp.text
        s.headers["X-CSRFToken"] = resp.json()["csrf_token"]
    return s


def _world(org, make_user) -> dict[str, str | None]:
    """A user per role and a few records, so generated ids sometimes name something real."""
    names = {
        "grid_worker": make_user("grid_worker", username="st_worker", grids=[org.grid]).username,
        "supervisor": make_user("supervisor", username="st_sup").username,
        "department": make_user("department", username="st_dept").username,
        "admin": make_user("admin", username="st_admin").username,
        "anonymous": None,
    }
    reg = Registry()
    reg.resident(reg.household(reg.building(org.grid)))
    return names


def _runner(operation, mode, base, sessions, failures, statuses):
    """One operation in one mode: ``EXAMPLES`` generated requests, each sent as every role (the
    generation is the costly part), failures collected."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        for role, session in sessions.items():
            resp = case.call(base_url=base, session=session, timeout=30)
            statuses[resp.status_code] += 1
            try:
                case.validate_response(resp, checks=CHECKS)
            except FailureGroup as exc:
                key = f"{role} {case.method} {case.path} → {resp.status_code}"
                failures.setdefault(key, str(exc)[:1500])

    return run


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    app, org, make_user, live_server
):
    users = _world(org, make_user)
    base = live_server.url
    doc = requests.get(f"{base}/api/v1/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(doc)
    operations = [
        r.ok()
        for r in schema.get_all_operations()
        if (r.ok().method.upper(), r.ok().path) not in SKIP
    ]
    assert len(operations) > 40
    failures: dict[str, str] = {}
    statuses: Counter[int] = Counter()
    started = time.monotonic()
    sessions = {role: _session(base, users[role]) for role in ROLES}
    for operation in operations:
        for mode in EXAMPLES:
            # Unsatisfiable: nothing to generate (e.g. a negative of an empty body).
            with contextlib.suppress(Unsatisfiable):
                _runner(operation, mode, base, sessions, failures, statuses)()
    calls = sum(statuses.values())
    elapsed = time.monotonic() - started
    print(f"schemathesis: {calls} requests in {elapsed:.1f} s, statuses {dict(statuses)}")
    assert calls > len(operations) * len(ROLES)
    assert statuses[500] == 0
    assert not failures, f"{len(failures)} failing:\n" + "\n\n".join(
        f"{k}\n{v}" for k, v in list(failures.items())[:15]
    )
