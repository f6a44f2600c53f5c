"""The resident's public pages and the staff's console pages over HTTP (both engines)."""

from __future__ import annotations

import json
import re

from gridapp.appointments.models import Booking
from tests.appointments.conftest import first_slot, form_token


def _slot_value(svc, skip=0):
    return first_slot(svc, skip).strftime("%Y-%m-%dT%H:%M:%SZ")


def _book(client, appt, svc=None, **form):
    svc = svc or appt.hall
    url = f"/b/{appt.grid_token}/{svc.id}"
    page = client.get(url)
    assert page.status_code == 200
    data = {"csrf_token": form_token(page.get_data(as_text=True)), "slot": _slot_value(svc),
            "name": "张三丰", "phone": "138 1234 5678", **form}  # fmt: skip
    return client.post(url, data=data)


def test_resident_books_changes_and_cancels(app, appt):
    client = app.test_client()
    page = client.get(f"/b/{appt.community_token}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "开具证明" in html and "户口本" in html
    assert "/login" not in html
    resp = _book(client, appt)
    assert resp.status_code == 303
    b = Booking.get()
    assert resp.headers["Location"].endswith(f"/b/m/{b.code}?new=1")
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert f"{b.code[:5]}-{b.code[5:]}" in html and "138****5678" in html
    assert "13812345678" not in html and "张三丰" not in html
    page = client.get(f"/b/m/{b.code}/change")
    token = form_token(page.get_data(as_text=True))
    resp = client.post(f"/b/m/{b.code}/change",
                       data={"csrf_token": token, "slot": _slot_value(appt.hall, 2)})  # fmt: skip
    assert resp.status_code == 303
    assert Booking.get_by_id(b.id).starts_at == first_slot(appt.hall, 2)
    resp = client.post(f"/b/m/{b.code}/cancel", data={"csrf_token": token})
    assert resp.status_code == 303 and Booking.get_by_id(b.id).state == "cancelled"
    lookup = client.get("/b/m/", query_string={"code": b.code.lower()})
    assert lookup.status_code == 303
    assert client.get("/b/m/", query_string={"code": "NOPE"}).status_code == 404


def test_bad_input_is_shown_under_the_field_and_writes_nothing(app, appt):
    client = app.test_client()
    resp = _book(client, appt, phone="123")
    assert resp.status_code == 422
    assert 'id="phone-error"' in resp.get_data(as_text=True)
    resp = _book(client, appt, slot="2020-01-01T01:00:00Z")
    assert resp.status_code == 422 and 'id="slot-error"' in resp.get_data(as_text=True)
    assert Booking.select().count() == 0
    assert client.get("/b/nosuchtoken").status_code == 404
    assert client.get(f"/b/{appt.grid_token}/999999").status_code == 404


def test_staff_desk_and_resident_rating(app, appt, login_as):
    resident = app.test_client()
    _book(resident, appt)
    b = Booking.get()
    staff = login_as(appt.sup)
    day = staff.get("/console/appointments", query_string={"day": _slot_value(appt.hall)[:10]})
    html = day.get_data(as_text=True)
    assert day.status_code == 200 and "138****5678" in html and "13812345678" not in html
    assert b.code not in html
    token = form_token(html)
    for action in ("arrive", "call", "handle"):
        b = Booking.get_by_id(b.id)
        resp = staff.post(f"/console/appointments/bookings/{b.id}",
                          data={"csrf_token": token, "action": action, "version": b.version,
                                "result": "已开具"})  # fmt: skip
        assert resp.status_code == 302, action
    b = Booking.get_by_id(b.id)
    assert b.state == "handled" and b.result == "已开具"
    page = resident.get(f"/b/m/{b.code}")
    rtoken = form_token(page.get_data(as_text=True))
    assert resident.post(f"/b/m/{b.code}/rating",
                         data={"csrf_token": rtoken, "rating": "满意"}).status_code == 303  # fmt: skip
    again = resident.post(f"/b/m/{b.code}/rating", data={"csrf_token": rtoken, "rating": "不满意"})
    assert again.status_code == 409
    assert Booking.get_by_id(b.id).rating == "满意"
    stats = staff.get("/console/appointments/stats").get_data(as_text=True)
    assert "100.0%" in stats
    assert staff.get("/console/appointments/services").status_code == 200
    assert staff.get(f"/console/appointments/services/{appt.hall.id}").status_code == 200


def test_console_catalogue_editor(app, appt, login_as):
    staff = login_as(appt.sup)
    page = staff.get("/console/appointments/services/new")
    token = form_token(page.get_data(as_text=True))
    resp = staff.post("/console/appointments/services/new", data={
        "csrf_token": token, "community_id": appt.community.id, "name": "老年优待证",
        "materials": "身份证\n一寸照片", "place": "hall", "duration_minutes": "10",
        "slot_minutes": "20", "hours_0": "09:00-11:00/3, 14:00-16:00/3", "active": "1"})  # fmt: skip
    assert resp.status_code == 302
    bad = staff.post("/console/appointments/services/new", data={
        "csrf_token": token, "community_id": appt.community.id, "name": "x",
        "hours_1": "9点到10点"})  # fmt: skip
    assert bad.status_code == 422 and "09:00-11:30/4" in bad.get_data(as_text=True)
    html = staff.get("/console/appointments/services").get_data(as_text=True)
    assert "老年优待证" in html and re.search(r"/b/[\w-]+", html)


def test_api_day_actions_and_stats(app, appt, login_as):
    from tests.conftest import api_login

    _book(app.test_client(), appt)
    b = Booking.get()
    api = api_login(app.test_client(), appt.sup.username)
    day = api.get("/api/v1/appointments/day",
                  query_string={"day": _slot_value(appt.hall)[:10]}).get_json()  # fmt: skip
    assert [x["id"] for x in day["bookings"]] == [b.id]
    assert day["bookings"][0]["phone"] == "138****5678"
    assert b.code not in str(day)  # staff never hold the resident's code
    r = api.post(f"/api/v1/appointments/bookings/{b.id}/actions", json={"action": "arrive"})
    assert r.status_code == 200 and r.get_json()["state"] == "arrived"
    r = api.post(f"/api/v1/appointments/bookings/{b.id}/actions", json={"action": "arrive"})
    assert r.status_code == 409
    assert api.get("/api/v1/appointments/stats").status_code == 200
    assert api.get("/api/v1/appointments/services").status_code == 200
    worker = api_login(app.test_client(), appt.worker.username)
    assert worker.get("/api/v1/appointments/day").status_code == 403


def test_pages_in_english_and_chinese(app, appt, login_as):
    client = app.test_client()
    zh = client.get(f"/b/{appt.grid_token}").get_data(as_text=True)
    assert "预约办事" in zh and "请携带" in zh
    en = client.get(f"/b/{appt.grid_token}?lang=en").get_data(as_text=True)
    assert "Book a service" in en and "Please bring:" in en
    staff = login_as(appt.sup)
    assert "今日窗口" in staff.get("/console/appointments").get_data(as_text=True)
    page = staff.get("/console/appointments?lang=en").get_data(as_text=True)
    assert "Today's desk" in page and "Call next" in page


def test_dashboard_shows_the_units_appointment_figures_and_no_one_elses(
    app, appt, org, login_as, make_user
):
    resident = app.test_client()
    _book(resident, appt)
    b = Booking.get()
    staff = login_as(appt.sup)
    token = form_token(staff.get("/console/appointments").get_data(as_text=True))
    for action in ("arrive", "call", "handle"):
        b = Booking.get_by_id(b.id)
        staff.post(f"/console/appointments/bookings/{b.id}",
                   data={"csrf_token": token, "action": action, "version": b.version,
                         "result": "已开具"})  # fmt: skip
    page = resident.get(f"/b/m/{b.code}")
    resident.post(f"/b/m/{b.code}/rating",
                  data={"csrf_token": form_token(page.get_data(as_text=True)), "rating": "满意"})  # fmt: skip
    html = staff.get("/console/").get_data(as_text=True)
    card = html[html.index('id="appointments"') :]
    card = card[: card.index("</section>")]
    assert "100.0%" in card and "≥ 95%" in card and "预约办事" in card
    assert f"community_id={appt.community.id}" in card  # the link goes to this unit's figures
    # A supervisor of the other community sees no card: its unit has no catalogue.
    other = make_user("supervisor", community=org.other_community, username="appt_sup2")
    assert 'id="appointments"' not in login_as(other).get("/console/").get_data(as_text=True)


def test_call_next_calls_the_queue_of_the_day_on_screen(app, appt, login_as):
    """A desk looking at another day than today calls that day's queue (the button was enabled
    by that day's arrivals but used to call today's, finding nobody)."""
    from tests.appointments.conftest import first_slot

    slots = [first_slot(appt.hall, i) for i in range(40)]
    from gridapp.times import local_today, to_local

    later = next(s for s in slots if to_local(s).date() != local_today())
    resident = app.test_client()
    _book(resident, appt, slot=later.strftime("%Y-%m-%dT%H:%M:%SZ"))
    b = Booking.get()
    staff = login_as(appt.sup)
    day = to_local(later).date().isoformat()
    html = staff.get("/console/appointments", query_string={"day": day}).get_data(as_text=True)
    token = form_token(html)
    staff.post(f"/console/appointments/bookings/{b.id}",
               data={"csrf_token": token, "action": "arrive", "version": b.version, "day": day})  # fmt: skip
    assert f'name="day" value="{day}"' in staff.get(
        "/console/appointments", query_string={"day": day}
    ).get_data(as_text=True)
    resp = staff.post("/console/appointments/call-next",
                      data={"csrf_token": token, "community_id": appt.community.id, "day": day})  # fmt: skip
    assert resp.status_code == 302 and f"day={day}" in resp.headers["Location"]
    assert Booking.get_by_id(b.id).state == "serving"


def test_desk_staff_reveal_a_bookings_phone_with_a_reason_audited(
    app, appt, login_as, make_user, org
):
    """The phone is masked on the desk; its staff see one booking's full number for a reason
    (console and API), each reveal audited; a grid worker may not, another community's staff
    do not find the booking."""
    from gridapp.audit import AuditLog
    from tests.conftest import api_login

    _book(app.test_client(), appt)
    b = Booking.get()
    staff = login_as(appt.sup)
    day = _slot_value(appt.hall)[:10]
    html = staff.get("/console/appointments", query_string={"day": day}).get_data(as_text=True)
    assert "13812345678" not in html and f'data-booking="{b.id}"' in html
    token = form_token(html)
    url = f"/console/appointments/bookings/{b.id}/phone"
    bare = staff.post(url, data={"csrf_token": token, "day": day})
    assert bare.status_code == 422 and "13812345678" not in bare.get_data(as_text=True)
    assert 'class="field-error"' in bare.get_data(as_text=True)
    shown = staff.post(url, data={"csrf_token": token, "day": day, "reason": "联系未到场的居民"})
    body = shown.get_data(as_text=True)
    assert shown.status_code == 200 and 'href="tel:13812345678"' in body
    assert body.count("13812345678") == 2  # the link and its text: this booking only

    api = api_login(app.test_client(), appt.sup.username)
    reveal = f"/api/v1/appointments/bookings/{b.id}/phone/reveal"
    assert api.post(reveal, json={}).status_code == 422
    got = api.post(reveal, json={"reason": "协商改期"})
    assert got.status_code == 200 and got.get_json() == {"id": b.id, "phone": "13812345678"}
    worker = api_login(app.test_client(), appt.worker.username)
    assert worker.post(reveal, json={"reason": "x"}).status_code == 403
    stranger = make_user("supervisor", community=org.other_community, username="appt_other_sup")
    assert (
        api_login(app.test_client(), stranger.username)
        .post(reveal, json={"reason": "x"})
        .status_code
        == 404
    )
    audits = AuditLog.select().where(AuditLog.action == "reveal.booking_phone")
    assert [(a.actor_id, a.target_id) for a in audits] == [(appt.sup.id, str(b.id))] * 2
    assert {"联系未到场的居民", "协商改期"} == {json.loads(a.detail)["reason"] for a in audits}
