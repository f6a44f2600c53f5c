"""The last place of a slot, booked from several phones at once: exactly as many win as there
are places, on SQLite and on PostgreSQL (each thread its own connection)."""

from __future__ import annotations

import threading

from gridapp.appointments import catalogue, service
from gridapp.appointments.models import ApptSlot, Booking
from gridapp.db import db
from gridapp.errors import Conflict
from tests.appointments.conftest import first_slot


def _race(app, jobs):
    start = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(i, job):
        with app.app_context():
            db.connect(reuse_if_open=True)
            try:
                start.wait(10)
                results[i] = job()
            except Conflict as exc:
                results[i] = exc.code
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion
                results[i] = exc
            finally:
                if not db.is_closed():
                    db.close()

    threads = [threading.Thread(target=run, args=(i, j)) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    db.connect(reuse_if_open=True)
    return results


def _booker(appt, starts, phone):
    return lambda: service.book(appt.community.id, appt.hall.id, starts, "李四", phone).id


def test_two_phones_race_for_the_last_place(app, appt):
    starts = first_slot(appt.hall)
    service.book(appt.community.id, appt.hall.id, starts, "王五", "13900000000")  # 1 of 2 left
    db.close()
    results = _race(app, [_booker(appt, starts, f"1380000000{i}") for i in range(2)])
    wins = [r for r in results if isinstance(r, int)]
    assert len(wins) == 1, results
    assert [r for r in results if not isinstance(r, int)] == ["full"], results
    slot = ApptSlot.get(ApptSlot.starts_at == starts)
    assert slot.booked == 2 == Booking.select().where(Booking.slot == slot.id).count()


def test_many_phones_race_for_a_fresh_slot(app, appt):
    """The slot row does not exist yet: racing creators and bookers still never overbook."""
    starts = first_slot(appt.hall, skip=3)
    db.close()
    results = _race(app, [_booker(appt, starts, f"1370000000{i}") for i in range(6)])
    wins = [r for r in results if isinstance(r, int)]
    assert len(wins) == 2, results
    assert sorted(r for r in results if not isinstance(r, int)) == ["full"] * 4, results
    slot = ApptSlot.get(ApptSlot.starts_at == starts)
    assert slot.booked == 2 == Booking.select().where(Booking.slot == slot.id).count()
    assert catalogue.open_slots(appt.hall)  # the rest still open
