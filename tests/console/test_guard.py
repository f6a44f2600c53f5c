"""Every console page refuses the roles it is not for with a 403 page, and lets in its own."""

from __future__ import annotations

import re

import pytest

from gridapp.org.models import ROLES

# Every console page a browser opens with GET, and the roles it is for. A new page must be added
# here (test_every_console_page_is_listed fails otherwise), so none escapes the guard test.
SUP = ("supervisor", "admin")
PAGES: dict[str, tuple[str, ...]] = {
    "console.dashboard": SUP,
    "console.admin_index": ("admin",),
    "console.admin_org": ("admin",),
    "console.admin_departments": ("admin",),
    "console.admin_users": ("admin",),
    "console.admin_user_new": ("admin",),
    "console.admin_user": ("admin",),
    "console.admin_care_tags": ("admin",),
    "console.admin_audit": ("admin",),
    "console.announcements": SUP,
    "console.admin_services": ("admin",),
    "console.roster": SUP,
    "console.roster_export": SUP,
}
# pages that answer 422 without their query arguments (still never 403 for their roles)
NEEDS_ARGS = {"console.roster_export"}
PAGES.update(
    {
        "console.triage": SUP,
        "console.matters": SUP,
        "console.matters_export": SUP,
        "console.matter": (*SUP, "department"),
        "console.department_matters": ("department",),
        "console.admin_deadlines": ("admin",),
    }
)
PAGES.update(
    {
        "console.tasks": SUP,
        "console.tasks_export": SUP,
        "console.task": SUP,
        "console.campaign": SUP,
    }
)
PAGES.update({"console.visits": SUP, "console.households_due": SUP})
PAGES.update({"console.sessions": ("admin",)})
PAGES.update(
    {"console.admin_notify_policy": ("admin",), "console.admin_notify_overview": ("admin",)}
)
PAGES.update({"console.admin_wecom": ("admin",)})


def _url(app, endpoint, people):
    rule = next(
        r for r in app.url_map.iter_rules() if r.endpoint == endpoint and "GET" in r.methods
    )
    url = rule.rule
    for name in re.findall(r"<(?:\w+:)?(\w+)>", url):
        url = re.sub(rf"<(?:\w+:)?{name}>", str(people["admin"].id), url)
    return url


def test_every_console_page_is_listed(app):
    get_endpoints = {
        r.endpoint
        for r in app.url_map.iter_rules()
        if r.endpoint.startswith("console.") and "GET" in r.methods
    }
    assert get_endpoints == set(PAGES), "add new console pages to PAGES"
    for endpoint, roles in PAGES.items():
        assert set(app.view_functions[endpoint].console_roles) == set(roles), endpoint


@pytest.mark.parametrize("endpoint", sorted(PAGES))
@pytest.mark.parametrize("role", ROLES)
def test_console_page_per_role(app, people, login_as, endpoint, role):
    client = login_as(people[role])
    resp = client.get(_url(app, endpoint, people), headers={"Accept": "text/html"})
    if role in PAGES[endpoint]:
        # a page about one row answers 404 for a row that does not exist, never 403
        expected = (200, 404) if "<" in str(app.url_map._rules_by_endpoint[endpoint][0]) else (200,)
        expected = (200, 422) if endpoint in NEEDS_ARGS else expected
        assert resp.status_code in expected, resp.get_data(as_text=True)[:500]
    else:
        assert resp.status_code == 403
        body = resp.get_data(as_text=True)
        assert "text/html" in resp.content_type and "403" in body
        assert "<form" not in body.split("<main", 1)[1]  # the page, not the console's forms


@pytest.mark.parametrize("endpoint", sorted(PAGES))
def test_console_page_needs_login(app, client, people, endpoint):
    resp = client.get(_url(app, endpoint, people))
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


@pytest.mark.parametrize(
    "role,home",
    [("supervisor", "/console/"), ("admin", "/console/"), ("department", "/console/department")],
)
def test_role_homes(app, people, login_as, role, home):
    resp = login_as(people[role]).get("/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(home)


def test_every_console_form_carries_csrf(app, people, login_as):
    """A POST without the token is refused; every form on the admin pages has the token."""
    client = login_as(people["admin"])
    for endpoint in PAGES:
        if "admin" not in PAGES[endpoint]:
            continue
        resp = client.get(_url(app, endpoint, people))
        if "text/html" not in resp.content_type:
            continue
        html = resp.get_data(as_text=True)
        for form in re.findall(r"<form[^>]*method=\"post\"[^>]*>(.*?)</form>", html, re.S):
            assert 'name="csrf_token"' in form, endpoint
    bare = app.test_client()
    from tests.conftest import api_login

    api_login(bare, "admin1")
    bare.environ_base.pop("HTTP_X_CSRFTOKEN")
    resp = bare.post("/console/admin/org/street", data={"name": "x", "code": "x"})
    assert resp.status_code == 400
