"""Public pages stand on their own (lookup, friendly not-found, no staff-login link), only the
resident's browser rates, once, and the wall and tracking page mask people's data."""

from __future__ import annotations

import re

from gridapp.matters.models import Matter
from tests.echowall.conftest import form_token
from tests.echowall.test_echowall import code_of

LOGIN_LINK = re.compile(r'href="(/|/login[^"]*|/console[^"]*|/app[^"]*|/api[^"]*)"')


def _close(sup, matter_id, result="已修好"):
    for action, extra in (
        ("triage", {"category": "社事"}),
        ("dispatch", {}),
        ("accept", {}),
        ("resolve", {"result": result}),
        ("verify", {}),
        ("close", {}),
    ):
        v = sup.get(f"/api/v1/matters/{matter_id}").get_json()["version"]
        resp = sup.post(
            f"/api/v1/matters/{matter_id}/transition",
            json={"action": action, "version": v, **extra},
        )
        assert resp.status_code == 200, resp.get_json()


def test_lookup_page_finds_a_code_as_typed_on_a_phone(echo, app):
    code = code_of(echo.resident.submit())
    client = app.test_client()
    page = client.get("/t/")
    assert page.status_code == 200 and 'name="code"' in page.get_data(as_text=True)
    typed = " ".join([code[:4].lower(), code[4:]])  # spaces and lower case
    resp = client.get("/t/", query_string={"code": typed})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/t/{code}")
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in code)
    assert client.get(f"/t/{full_width}").status_code in (200, 302)
    wrong = client.get("/t/", query_string={"code": "NOPE2345"})
    assert wrong.status_code == 404
    html = wrong.get_data(as_text=True)
    assert "没有找到这个查询码" in html and 'value="NOPE2345"' in html
    empty = client.get("/t/", query_string={"code": ""})
    assert empty.status_code == 200 and "请输入查询码" in empty.get_data(as_text=True)


def test_not_found_pages_lead_back_to_the_lookup(echo, app):
    client = app.test_client()
    for url in ("/t/NOPE2345", "/e/nope", "/w/nope"):
        resp = client.get(url)
        html = resp.get_data(as_text=True)
        assert resp.status_code == 404 and 'id="back-to-lookup"' in html, url
        assert 'href="/t/"' in html
        assert not LOGIN_LINK.search(html), url


def test_no_public_page_links_to_the_staff_login(echo, app):
    client = app.test_client()
    report = client.get(echo.resident.url)
    code = code_of(echo.resident.submit())
    pages = {
        "report": report,
        "track": client.get(f"/t/{code}"),
        "wall": client.get(f"/w/{echo.wall_token}"),
        "lookup": client.get("/t/"),
    }
    for name, resp in pages.items():
        html = resp.get_data(as_text=True)
        assert resp.status_code == 200, name
        assert not LOGIN_LINK.search(html), name
        assert 'class="brand" href="/t/"' in html, name
        assert 'id="lookup-link"' in html or name == "lookup", name


def test_poster_and_confirmation_point_to_the_lookup(echo, org):
    svg = echo.sup_client.get(f"/echowall/grids/{org.grid.id}/poster.svg")
    assert "凭查询码查看办理进度" in svg.get_data(as_text=True)
    assert "/t/</text>" in svg.get_data(as_text=True)
    html = echo.resident.submit().get_data(as_text=True)
    assert 'id="lookup-link" href="/t/"' in html or 'href="/t/" id="lookup-link"' in html


def test_only_the_residents_browser_rates_and_only_once(echo, app):
    resp = echo.resident.submit(text="小区门口垃圾桶满了没人清")
    code = code_of(resp)
    track_link = re.search(r'href="([^"]+)" id="track-link"', resp.get_data(as_text=True)).group(1)
    assert "k=" in track_link
    matter = Matter.get(Matter.code == code)
    _close(echo.sup_client, matter.id)
    # a staff member (or anyone) with the code only: progress, no rating
    other = app.test_client()
    html = other.get(f"/t/{code}").get_data(as_text=True)
    assert 'name="rating"' not in html and 'id="rate-elsewhere"' in html
    token = form_token(html)
    other.post(f"/t/{code}/rating", data={"rating": "不满意", "csrf_token": token})
    assert Matter.get_by_id(matter.id).rating is None
    staff = echo.sup_client
    api = staff.post(f"/api/v1/track/{code}/rating", json={"rating": "不满意"})
    assert api.status_code == 403 and Matter.get_by_id(matter.id).state == "closed"
    # the resident's browser (cookie set at submission) rates
    resident = echo.resident.client
    html = resident.get(f"/t/{code}").get_data(as_text=True)
    assert 'value="满意"' in html
    token = form_token(html)
    assert resident.post(f"/t/{code}/rating", data={"rating": "满意", "csrf_token": token})
    assert Matter.get_by_id(matter.id).rating == "满意"
    # once: a second rating is refused with a clear message, nothing changes
    resp = resident.post(
        f"/t/{code}/rating", data={"rating": "不满意", "csrf_token": token}, follow_redirects=True
    )
    assert "已评价过" in resp.get_data(as_text=True)
    m = Matter.get_by_id(matter.id)
    assert m.rating == "满意" and m.state == "closed"


def test_the_tracking_link_carries_the_key_to_another_phone(echo, app):
    resp = echo.resident.submit()
    code = code_of(resp)
    link = re.search(r'href="([^"]+)" id="track-link"', resp.get_data(as_text=True)).group(1)
    link = link.replace("&amp;", "&")
    matter = Matter.get(Matter.code == code)
    _close(echo.sup_client, matter.id)
    phone = app.test_client()
    first = phone.get(link)
    assert first.status_code == 302 and "k=" not in first.headers["Location"]
    html = phone.get(f"/t/{code}").get_data(as_text=True)
    assert 'value="满意"' in html


def test_tracking_page_masks_the_reply(echo, org, make_user):
    from gridapp.registry.models import Building, Household, Resident

    b = Building.create(grid=org.grid, name="3号楼")
    h = Household.create(grid=org.grid, building=b, room="301", phone="13700001111")
    Resident.create(grid=org.grid, household=h, name="赵春花", phone="")
    resp = echo.resident.submit(text="楼道灯坏了请修理", phone="13700001111")
    code = code_of(resp)
    matter = Matter.get(Matter.code == code)
    _close(
        echo.sup_client,
        matter.id,
        result="已联系赵春花（138 1234 5678）和网格员王小网，身份证11010519491231002X已登记",
    )
    html = echo.resident.client.get(f"/t/{code}").get_data(as_text=True)
    reply = re.search(r'id="reply">([^<]*)<', html).group(1)
    for secret in ("赵春花", "春花", "138 1234 5678", "王小网", "11010519491231002X"):
        assert secret not in reply, secret
    assert "已联系" in reply and "某某" in reply
