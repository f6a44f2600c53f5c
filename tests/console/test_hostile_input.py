"""Console pages answer hostile query strings and form values with a page, never a 500: every
GET page with each list/filter argument set to junk (as an admin, who reaches every page), every
POST route with every form field the console reads set to junk (as an admin and a supervisor)."""

from __future__ import annotations

import re

from tests.sync.conftest import Registry

VALUES = ["", "abc", "-1", "999999", "99999999999999999999999", "1.5", "x" * 5000]
QUERY = ("page", "per_page", "sort", "dir", "grid_id", "community_id", "street_id", "state",
         "category", "q", "from", "to", "days")  # fmt: skip
FORM = ("version", "worker_id", "assignee_id", "community_id", "grid_id", "grid_ids",
        "department_id", "department_ids", "street_id", "user_id", "priority", "due_at",
        "deadline", "day", "title", "name", "interval_days", "sort", "category", "is_working",
        "role", "username", "password", "action", "note", "reason", "result", "target", "code",
        "start", "end")  # fmt: skip


def _url(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?\w+>", "1", rule)


def test_console_never_answers_junk_with_a_server_error(app, org, make_user, login_as):
    reg = Registry()
    reg.resident(reg.household(reg.building(org.grid)))
    failures = []
    admin, sup = login_as(make_user("admin")), login_as(make_user("supervisor"))
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/console")]
    for client in (admin, sup):
        for rule in rules:
            url = _url(rule.rule)
            for value in VALUES:
                if "GET" in rule.methods and client is admin and value not in ("", "1.5"):
                    for name in QUERY:
                        resp = client.get(url, query_string={name: value})
                        if resp.status_code >= 500:
                            failures.append(f"GET {url}?{name}={value[:12]!r}")
                if "POST" in rule.methods:
                    resp = client.post(url, data={name: value for name in FORM})
                    if resp.status_code >= 500:
                        failures.append(f"POST {url} with {value[:12]!r}")
    assert len(rules) > 20
    assert not failures, "\n".join(failures[:40])
