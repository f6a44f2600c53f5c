"""The resident's contact phone on a matter: masked for everyone, revealed in full only to the
staff handling it (the department it is dispatched to, the grid's worker for a 个事, the
supervisors who triage it) by an explicit reveal with a reason — audited and throttled."""

from __future__ import annotations

import re

import pytest

from gridapp.audit import AuditLog

PHONE = "13812341234"


def _dispatched(flow, category="专事", **extra):
    mid = flow.report("sup", text="3栋水管爆裂", contact_phone=PHONE)
    flow.move(mid, "sup", "triage", category=category)
    flow.move(mid, "sup", "dispatch", **extra)
    return mid


def reveal(client, mid, reason="回访居民"):
    return client.post(f"/api/v1/matters/{mid}/contact/reveal", json={"reason": reason})


def test_only_handlers_reveal_and_every_reveal_is_audited(flow, people, login_as):
    mid = _dispatched(flow, department_ids=[flow.org.department.id])
    street = login_as(people.street_sup)
    expect = {  # who: (status of GET, revealable, status of reveal)
        "sup": (200, True, 200),
        "water": (200, True, 200),
        "worker": (200, False, 403),  # a 专事 is not the worker's to handle
        "admin": (200, False, 403),
        "power": (404, None, 404),  # not dispatched to it
        "other_worker": (404, None, 404),
    }
    for who, (status, revealable, reveal_status) in expect.items():
        client = people.api[who]
        got = client.get(f"/api/v1/matters/{mid}")
        assert got.status_code == status, who
        if status == 200:
            assert got.get_json()["contact_phone"] == "138****1234", who
            assert got.get_json()["contact_revealable"] is revealable, who
        resp = reveal(client, mid)
        assert resp.status_code == reveal_status, (who, resp.get_json())
        if reveal_status == 200:
            assert resp.get_json()["contact_phone"] == PHONE
        else:
            assert PHONE not in resp.get_data(as_text=True)
    assert reveal(street, mid).status_code == 200  # the street's supervisor triages too
    audits = list(AuditLog.select().where(AuditLog.action == "reveal.matter_contact"))
    assert sorted(a.actor_id for a in audits) == sorted(
        [people.sup.id, people.water.id, people.street_sup.id]
    )
    assert all("回访居民" in a.detail and a.target_id == str(mid) for a in audits)


def test_the_grid_worker_handling_an_individual_matter_reveals(flow, people):
    mid = _dispatched(flow, category="个事")
    assert flow.get(mid, "worker")["contact_revealable"] is True
    assert reveal(people.api["worker"], mid).get_json()["contact_phone"] == PHONE


def test_the_grid_worker_co_handling_a_community_matter_reveals_in_grid_only(flow, people, org):
    """A 社事 is the community's, and its grid's worker is its hand in the field (states'
    CO_HANDLER_ROLES): they call the resident too; a worker of another grid does not see it."""
    mid = _dispatched(flow, category="社事")
    assert flow.get(mid, "worker")["contact_revealable"] is True
    assert reveal(people.api["worker"], mid).get_json()["contact_phone"] == PHONE
    assert reveal(people.api["other_worker"], mid).status_code == 404  # out of scope
    # in scope (their grid) but a 专事, the department's to handle: 403, and no number
    dept = _dispatched(flow, department_ids=[org.department.id])
    refused = reveal(people.api["worker"], dept)
    assert refused.status_code == 403 and PHONE not in refused.get_data(as_text=True)
    audits = AuditLog.select().where(AuditLog.action == "reveal.matter_contact")
    assert [a.actor_id for a in audits] == [people.worker.id]


def test_sync_mirror_carries_the_masked_phone_and_the_reveal_flag(flow, people):
    mid = _dispatched(flow, category="社事")
    rows, query = [], "limit=2000"
    while True:  # a cold pull, page by page
        got = people.api["worker"].get(f"/api/v1/sync?{query}")
        assert got.status_code == 200, got.get_json()
        assert PHONE not in got.get_data(as_text=True)
        rows += got.get_json()["rows"]
        if not got.get_json()["more"]:
            break
        query = f"limit=2000&cursor={got.get_json()['cursor']}"
    row = next(r["data"] for r in rows if r["entity"] == "matter" and r["id"] == str(mid))
    assert row["contact_phone"] == "138****1234" and row["contact_revealable"] is True


def test_reason_required_and_reveals_throttled_across_registry_and_matters(flow, people, app, org):
    from gridapp.registry.service import create_building, create_household

    mid = _dispatched(flow, department_ids=[org.department.id])
    water = people.api["water"]
    resp = reveal(water, mid, reason="  ")
    assert resp.status_code == 422 and resp.get_json()["field"] == "reason"
    app.config["PRIVACY_REVEAL_LIMIT"] = "3 per hour"
    sup = people.api["sup"]
    b = create_building(people.admin, {"grid_id": org.grid.id, "name": "1栋"})
    h = create_household(people.admin, {"building_id": b["id"], "room": "1", "phone": PHONE})
    codes = [reveal(sup, mid).status_code for _ in range(2)]
    codes.append(sup.post(f"/api/v1/households/{h['id']}/reveal", json={"reason": "x"}).status_code)
    codes.append(reveal(sup, mid).status_code)
    assert codes == [200, 200, 200, 429]
    assert reveal(water, mid).status_code == 200  # per user
    assert AuditLog.select().where(AuditLog.action.startswith("reveal.")).count() == 4


def test_console_shows_masked_and_reveals_with_a_reason(flow, people, org, login_as):
    mid = _dispatched(flow, department_ids=[org.department.id])
    c = login_as(people.water)
    page = c.get(f"/console/matters/{mid}").get_data(as_text=True)
    assert "138****1234" in page and PHONE not in page and 'id="reveal-contact"' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    url = f"/console/matters/{mid}/contact"
    no_reason = c.post(url, data={"csrf_token": token, "reason": ""})
    assert no_reason.status_code == 422 and PHONE not in no_reason.get_data(as_text=True)
    shown = c.post(url, data={"csrf_token": token, "reason": "Arrange a visit"})
    assert shown.status_code == 200 and PHONE in shown.get_data(as_text=True)
    assert AuditLog.select().where(AuditLog.action == "reveal.matter_contact").count() == 1
    # a department it is not dispatched to sees neither the page nor the number
    other = login_as(people.power)
    assert other.get(f"/console/matters/{mid}").status_code == 404
    assert PHONE not in other.post(url, data={"csrf_token": token}).get_data(as_text=True)


@pytest.mark.browser
def test_department_handler_reveals_the_phone_in_chromium(
    flow, org, people, live_server, browser, artifacts_dir
):
    from tests.conftest import PASSWORD

    mid = _dispatched(flow, department_ids=[org.department.id])
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    try:
        page.goto(live_server.url + "/login")
        page.fill("#username", people.water.username)
        page.fill("#password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_load_state()
        page.goto(f"{live_server.url}/console/matters/{mid}")
        assert page.locator("#contact-phone").inner_text() == "138****1234"
        page.select_option("#reveal-contact select[name=reason]", index=1)
        page.click("#reveal-contact button")
        page.wait_for_load_state()
        assert page.locator("#contact-phone").inner_text() == PHONE
        assert page.locator("#reveal-contact").count() == 0
        page.screenshot(path=str(artifacts_dir / "console-contact-revealed.png"), full_page=True)
    finally:
        ctx.close()
