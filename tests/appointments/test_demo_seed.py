"""The demo's appointments: a catalogue per community, past bookings handled and rated, today's
desk, future ones, an at-home booking on a worker's task list; timelines agree with the rows."""

from __future__ import annotations


def test_demo_seeds_appointments(app):
    from gridapp.appointments.models import ApptService, Booking, BookingEvent
    from gridapp.db import utcnow
    from gridapp.demo import seed_demo
    from gridapp.org.models import Community
    from gridapp.tasks.models import Task

    seed_demo(households_per_grid=3, matters_per_grid=(1, 2))
    now = utcnow()
    for community in Community.select():
        names = {s.name for s in ApptService.select().where(ApptService.community == community)}
        assert {
            "开具证明",
            "社保资格认证",
            "老年优待证",
            "居住登记",
            "上门代办（行动不便居民）",
        } <= names
    rows = list(Booking.select())
    states = {b.state for b in rows}
    assert {"handled", "booked", "no_show"} <= states
    assert any(b.rating for b in rows) and any(b.starts_at > now for b in rows)
    assert any(b.starts_at < now and b.state == "handled" and b.rating for b in rows)
    home = [b for b in rows if b.task_id]
    assert home and any(Task.get_by_id(b.task_id).state == "assigned" for b in home)
    assert any(Task.get_by_id(b.task_id).state == "done" and b.state == "handled" for b in home)
    for b in rows:
        evs = list(
            BookingEvent.select().where(BookingEvent.booking == b.id).order_by(BookingEvent.id)
        )
        times = [e.at for e in evs]
        assert times == sorted(times) and times[0] == b.created_at, b.id
        assert times[-1] <= now and evs[-1].to_state == b.state
        if b.state == "handled" and b.arrived_at:
            assert b.arrived_at <= b.handled_at
