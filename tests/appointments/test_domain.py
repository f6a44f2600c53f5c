"""Domain verbs of one-stop appointments, without HTTP (both engines)."""

from __future__ import annotations

import datetime as dt

import pytest

from gridapp.appointments import catalogue, desk, rules, service, stats
from gridapp.appointments.models import ApptSlot, Booking, BookingEvent
from gridapp.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tests.appointments.conftest import first_slot


def _book(appt, svc=None, starts=None, phone="13812345678", **kw):
    svc = svc or appt.hall
    return service.book(appt.community.id, svc.id, starts or first_slot(svc), "张三丰", phone, **kw)


def test_book_takes_a_place_and_gives_a_readable_code(appt):
    b = _book(appt)
    assert len(b.code) == rules.CODE_LENGTH
    assert set(b.code) <= set(rules.CODE_ALPHABET)
    slot = ApptSlot.get_by_id(b.slot_id)
    assert (slot.capacity, slot.booked) == (2, 1)
    view = service.public_view(b.code.lower())
    assert view["phone"] == "138****5678" and view["name"] == "张**"
    assert [e.action for e in BookingEvent.select().where(BookingEvent.booking == b.id)] == ["book"]


def test_full_slot_refuses_and_writes_nothing(appt):
    starts = first_slot(appt.hall)
    _book(appt, starts=starts, phone="13800000001")
    _book(appt, starts=starts, phone="13800000002")
    before = Booking.select().count()
    with pytest.raises(Conflict) as exc:
        _book(appt, starts=starts, phone="13800000003")
    assert exc.value.code == "full"
    assert Booking.select().count() == before
    assert ApptSlot.get(ApptSlot.starts_at == starts).booked == 2


@pytest.mark.parametrize(
    ("field", "kw"),
    [("name", {"name": " "}), ("phone", {"phone": "12345"}), ("name", {"name": "张\x01"})],
)
def test_bad_form_names_the_field(appt, field, kw):
    args = {"name": "张三", "phone": "13812345678", **kw}
    with pytest.raises(ValidationFailed) as exc:
        service.book(appt.community.id, appt.hall.id, first_slot(appt.hall), **args)
    assert exc.value.field == field
    assert Booking.select().count() == 0


def test_slot_outside_hours_or_past_is_refused(appt):
    starts = first_slot(appt.hall)
    with pytest.raises(ValidationFailed) as exc:
        _book(appt, starts=starts + dt.timedelta(minutes=7))
    assert exc.value.field == "slot"
    with pytest.raises(ValidationFailed):
        _book(appt, starts=dt.datetime(2020, 1, 6, 1, 0))


def test_holidays_close_and_make_up_days_open():
    """The working-day calendar decides: 2026-10-01 (National Day) closed although Thursday;
    2026-10-10 a make-up Saturday opens with Monday's hours."""
    from gridapp.matters.calendar import official_is_working

    hours = rules.parse_hours({"0": [["09:00", "10:00", 3]], "3": [["09:00", "10:00", 3]]})
    assert rules.slots_for_day(hours, 30, dt.date(2026, 10, 1), official_is_working) == []
    sat = rules.slots_for_day(hours, 30, dt.date(2026, 10, 10), official_is_working)
    assert [s.starts.strftime("%H:%M") for s in sat] == ["09:00", "09:30"]
    assert rules.slots_for_day(hours, 30, dt.date(2026, 10, 17), official_is_working) == []


def test_change_moves_the_place_and_cancel_gives_it_back(appt):
    b = _book(appt)
    old = b.slot_id
    new_start = first_slot(appt.hall, skip=1)
    b2 = service.change_booking(b.code, new_start)
    assert b2.starts_at == new_start
    assert ApptSlot.get_by_id(old).booked == 0
    assert ApptSlot.get_by_id(b2.slot_id).booked == 1
    service.cancel_booking(b.code)
    assert ApptSlot.get_by_id(b2.slot_id).booked == 0
    with pytest.raises(Conflict):
        service.cancel_booking(b.code)
    with pytest.raises(Conflict):
        service.change_booking(b.code, first_slot(appt.hall))


def test_change_to_a_full_slot_keeps_the_booking(appt):
    full = first_slot(appt.hall, skip=1)
    _book(appt, starts=full, phone="13800000001")
    _book(appt, starts=full, phone="13800000002")
    b = _book(appt, phone="13800000003")
    with pytest.raises(Conflict):
        service.change_booking(b.code, full)
    assert Booking.get_by_id(b.id).slot_id == b.slot_id
    assert ApptSlot.get_by_id(b.slot_id).booked == 1


def test_desk_flow_queue_handle_and_rate_once(appt):
    a = _book(appt, phone="13800000001")
    b = _book(appt, phone="13800000002")
    day = rules_day(a)
    desk.act(appt.sup, b.id, "arrive")
    desk.act(appt.sup, a.id, "arrive")
    called = desk.call_next(appt.sup, appt.community.id, day)
    assert called.id == b.id  # arrival order, not booking order
    with pytest.raises(Conflict):
        service.rate_booking(b.code, "满意")
    done = desk.act(appt.sup, b.id, "handle", result="证明已开具")
    assert done.state == "handled" and done.handled_by_id == appt.sup.id
    service.rate_booking(b.code, "满意", "很快")
    with pytest.raises(Conflict) as exc:
        service.rate_booking(b.code, "不满意")
    assert exc.value.code == "already_rated"
    desk.act(appt.sup, a.id, "no_show")
    view = desk.day_view(appt.sup, appt.community.id, day)
    assert view["counts"] == {"handled": 1, "no_show": 1}
    assert all("*" in r["phone"] for r in view["bookings"])
    fig = stats.service_figures(appt.sup, appt.community.id)
    row = next(r for r in fig["rows"] if r["name"] == "开具证明")
    assert (row["bookings"], row["handled"], row["no_show"]) == (2, 1, 1)
    assert row["no_show_rate"] == 0.5 and row["satisfaction"] == 1.0
    assert row["mean_wait_minutes"] is not None


def rules_day(b):
    from gridapp.times import to_local

    return to_local(b.starts_at).date()


def test_staff_scope(appt, org, make_user):
    b = _book(appt)
    other = make_user("supervisor", community=org.other_community)
    with pytest.raises(NotFound):
        desk.act(other, b.id, "arrive")
    with pytest.raises(NotFound):
        desk.day_view(other, appt.community.id)
    with pytest.raises(Forbidden):
        desk.act(appt.worker, b.id, "arrive")
    with pytest.raises(NotFound):
        catalogue.get_service(other, appt.hall.id)


def test_at_home_service_becomes_the_workers_task_and_its_done_handles_it(appt):
    from gridapp.tasks.models import Task
    from gridapp.tasks.service import transition_task

    b = _book(appt, svc=appt.home, grid_id=appt.grid.id, address="3栋2单元101")
    with pytest.raises(Conflict):
        desk.act(appt.sup, b.id, "arrive")  # at home: done through the task
    b = desk.send_to_worker(appt.sup, b.id)
    task = Task.get_by_id(b.task_id)
    assert task.assignee_id == appt.worker.id and "3栋2单元101" in task.description
    assert "13812345678" not in task.description and b.code not in task.description
    assert rules.format_code(b.code) not in task.description  # only the resident rates
    with pytest.raises(Conflict):
        desk.send_to_worker(appt.sup, b.id)
    for action in ("accept", "start"):
        task = transition_task(appt.worker, task.id, action, version=task.version)
    transition_task(appt.worker, task.id, "done", version=task.version, note="已上门办理")
    b = Booking.get_by_id(b.id)
    assert b.state == "handled" and b.result == "已上门办理"
    assert b.handled_by_id == appt.worker.id


def test_at_home_service_goes_to_the_least_busy_worker_of_the_grid_or_the_one_chosen(
    appt, make_user, org
):
    """A grid has several workers: the desk offers them all, fewest open tasks first, and
    sends to that one unless it chose another; a worker of another grid is refused (422)."""
    from gridapp.db import utcnow
    from gridapp.tasks.models import Task
    from gridapp.tasks.service import assign_task
    from gridapp.times import to_local

    idle = make_user("grid_worker", grids=[appt.grid], username="appt_w2", display_name="李网格")
    elsewhere = make_user("grid_worker", grids=[org.grid2], username="appt_w3")
    assign_task(
        appt.sup,
        title="巡查",
        description="",
        target="worker",
        worker_id=appt.worker.id,
        due_at=utcnow() + dt.timedelta(days=2),
    )
    b = _book(appt, svc=appt.home, grid_id=appt.grid.id, address="3栋2单元101")
    day = to_local(b.starts_at).date()
    rows = desk.day_view(appt.sup, appt.community.id, day)["bookings"]
    offered = next(r for r in rows if r["id"] == b.id)
    assert [(w["id"], w["open"]) for w in offered["workers"]] == [(idle.id, 0), (appt.worker.id, 1)]
    with pytest.raises(ValidationFailed) as exc:
        desk.send_to_worker(appt.sup, b.id, elsewhere.id)
    assert exc.value.field == "worker_id"
    sent = desk.send_to_worker(appt.sup, b.id)
    assert Task.get_by_id(sent.task_id).assignee_id == idle.id
    b2 = _book(appt, svc=appt.home, grid_id=appt.grid.id, address="3栋2单元102")
    sent = desk.send_to_worker(appt.sup, b2.id, appt.worker.id)  # the desk chose
    assert Task.get_by_id(sent.task_id).assignee_id == appt.worker.id


def test_home_service_needs_grid_and_address(appt):
    with pytest.raises(ValidationFailed) as exc:
        _book(appt, svc=appt.home, grid_id=appt.grid.id)
    assert exc.value.field == "address"
    with pytest.raises(ValidationFailed) as exc:
        _book(appt, svc=appt.home, address="x")
    assert exc.value.field == "grid_id"


def test_catalogue_validation_and_stale_edit(appt):
    with pytest.raises(ValidationFailed) as exc:
        catalogue.save_service(
            appt.sup,
            {
                "community_id": appt.community.id,
                "name": "x",
                "hours": {"1": [["10:00", "09:00", 1]]},
            },
        )
    assert exc.value.field.startswith("hours")
    s = catalogue.save_service(
        appt.sup, {"name": "开具证明（新）", "hours": {"0": [["09:00", "10:00", 5]]}},
        service_id=appt.hall.id, version=appt.hall.version,
    )  # fmt: skip
    assert s.version == appt.hall.version + 1
    with pytest.raises(Conflict):
        catalogue.save_service(appt.sup, {"name": "y"}, service_id=s.id, version=1)


def test_reminder_the_day_before_notifies_staff_once(appt):
    from gridapp.appointments.jobs import remind_tomorrow
    from gridapp.notifications.models import Notification
    from gridapp.times import local_day_start_utc

    b = _book(appt)
    day = rules_day(b)
    evening_before = local_day_start_utc(day) - dt.timedelta(hours=4)
    got = remind_tomorrow(evening_before)
    assert got["bookings"] == 1 and got["staff_notices"] == 1
    assert remind_tomorrow(evening_before)["bookings"] == 0
    assert Notification.select().where(Notification.recipient == appt.sup.id).count() == 1


def test_unattended_hall_bookings_become_no_shows_after_their_day_once(appt):
    from gridapp.appointments.jobs import close_past_days
    from gridapp.times import local_day_start_utc

    hall = _book(appt)
    came = _book(appt, phone="13912345678")
    desk.act(appt.sup, came.id, "arrive")
    home = _book(appt, svc=appt.home, grid_id=appt.grid.id, address="3栋2单元501")
    day = rules_day(hall)
    assert close_past_days(local_day_start_utc(day) + dt.timedelta(hours=23)) == 0  # same day
    next_morning = local_day_start_utc(day + dt.timedelta(days=1)) + dt.timedelta(hours=1)
    assert close_past_days(next_morning) == 1
    assert Booking.get_by_id(hall.id).state == "no_show"
    assert Booking.get_by_id(came.id).state == "arrived"  # the resident came: staff decide
    assert Booking.get_by_id(home.id).state == "booked"  # the worker's task decides
    last = BookingEvent.select().where(BookingEvent.booking == hall.id).order_by(BookingEvent.id)
    event = list(last)[-1]
    assert (event.action, event.to_state, event.actor_id) == ("no_show", "no_show", None)
    assert close_past_days(next_morning) == 0
