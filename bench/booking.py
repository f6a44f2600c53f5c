"""Booking throughput on one hot slot (``./dev bench booking``; ``--smoke``: tiny).

Several threads (each its own database connection, as gunicorn's threads would have) book the
same slot at once through ``gridapp.appointments.service.book`` — the form checks, the slot's
conditional ``UPDATE … SET booked = booked + 1 WHERE booked < capacity``, the booking row with
its code and the timeline event — with more attempts than places. It asserts that no slot is
overbooked (places taken == capacity == booking rows) and reports attempts per second.

Baseline, same run, same threads: a plain insert of a row of the same shape into the same
booking table (one transaction each, no counter, no checks, no event). The ratio is the cost of
a safe booking over the cheapest write a booking could be.
"""

from __future__ import annotations

import threading
import time

from bench.common import backends, bench_app, parser, report


def _world():
    from gridapp.appointments import catalogue
    from gridapp.appointments.models import ApptSlot
    from gridapp.org.models import Community, Street, User

    street = Street.create(name="街道", code="st")
    community = Community.create(street=street, name="社区", code="c1")
    admin = User.create(username="a", password_hash="x", display_name="a", role="admin")
    service = catalogue.save_service(
        admin,
        {
            "community_id": community.id,
            "name": "开具证明",
            "hours": {str(d): [["09:00", "17:00", 50]] for d in range(7)},
        },
    )
    hot = catalogue.open_slots(service)[0]["starts_at"]
    other = catalogue.open_slots(service)[1]["starts_at"]
    slot = catalogue.slot_for(service, hot)
    base_slot = catalogue.slot_for(service, other)
    return community, service, slot, base_slot, ApptSlot


def _run(app, threads: int, per_thread: int, job) -> tuple[float, list]:
    from gridapp.db import db

    start = threading.Barrier(threads + 1)
    out: list = []
    lock = threading.Lock()

    def worker(t: int) -> None:
        with app.app_context():
            db.connect(reuse_if_open=True)
            try:
                start.wait(30)
                mine = [job(t, i) for i in range(per_thread)]
            finally:
                db.close()
        with lock:
            out.extend(mine)

    ts = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    start.wait(30)
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    return time.perf_counter() - t0, out


def bench(backend: str, threads: int, per_thread: int) -> list[tuple]:
    from gridapp.appointments import service as appts
    from gridapp.appointments.models import Booking
    from gridapp.db import db, utcnow
    from gridapp.errors import Conflict

    with bench_app(backend) as app:
        community, service, slot, base_slot, ApptSlot = _world()
        attempts = threads * per_thread
        capacity = max(1, attempts * 3 // 4)
        ApptSlot.update(capacity=capacity).where(ApptSlot.id == slot.id).execute()
        db.close()

        def book(t: int, i: int) -> str:
            try:
                appts.book(community.id, service.id, slot.starts_at, "张三",
                           f"13{t:03d}{i:06d}")  # fmt: skip
                return "ok"
            except Conflict as exc:
                return exc.code or "conflict"

        def plain(t: int, i: int) -> str:
            now = utcnow()
            with db.atomic():
                Booking.insert(code=f"P{t:03d}{i:06d}", service=service.id, slot=base_slot.id,
                               community=community.id, starts_at=base_slot.starts_at, name="张三",
                               phone=f"13{t:03d}{i:06d}", state="booked", created_at=now,
                               updated_at=now, version=1).execute()  # fmt: skip
            return "ok"

        base_s, _ = _run(app, threads, per_thread, plain)
        ours_s, results = _run(app, threads, per_thread, book)
        db.connect(reuse_if_open=True)
        won = results.count("ok")
        taken = ApptSlot.get_by_id(slot.id).booked
        rows = Booking.select().where(Booking.slot == slot.id).count()
        assert won == taken == rows == capacity, (won, taken, rows, capacity)
        assert set(results) <= {"ok", "full"}, set(results)
        print(
            f"  [{backend}] {attempts} attempts by {threads} threads on one slot of {capacity}"
            f" places: {won} booked, {results.count('full')} told 'full', no overbooking;"
            f" {attempts / ours_s:,.0f} attempts/s ({won / ours_s:,.0f} bookings/s)"
            f" vs plain insert {attempts / base_s:,.0f} rows/s"
        )
        return [
            (
                f"{backend}: one booking attempt (hot slot)",
                ours_s / attempts,
                base_s / attempts,
            )
        ]


def main(argv: list[str]) -> int:
    args = parser(__doc__.split("\n")[0]).parse_args(argv)
    threads, per_thread = (2, 10) if args.smoke else (4, 250)
    rows = []
    for backend in backends(args.db):
        rows += bench(backend, threads, per_thread)
    report(rows, "booking on a hot slot vs a plain insert of the same row (per attempt)")
    return 0
