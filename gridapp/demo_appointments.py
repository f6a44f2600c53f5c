"""The demo's one-stop appointments: each community's service catalogue and two weeks of
bookings through the real verbs (``save_service``, ``book``, ``desk.act``, ``send_to_worker``,
the worker's ``transition_task``, ``rate_booking``): past ones handled and rated (about 95 %
satisfied, as the seed's community reports), a few no-shows and cancellations, today's desk
with a queue, and bookings in the coming days, one at-home service already on a worker's task
list.

Verbs stamp ``utcnow()``; the booking rows and their timelines then get the story's times here
(tasks and notifications through ``demo_clock``), like the rest of the demo's history.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from gridapp.appointments import catalogue, desk, rules
from gridapp.appointments import service as appts
from gridapp.appointments.models import ApptService, Booking, BookingEvent
from gridapp.demo_clock import Clock
from gridapp.echowall.service import grid_worker
from gridapp.errors import Conflict
from gridapp.matters.calendar import official_is_working
from gridapp.matters.deadlines import to_local, to_utc
from gridapp.org.models import Community, Grid, User

WEEKDAYS_ALL_DAY = {str(d): [["09:00", "11:30", 3], ["14:00", "17:00", 3]] for d in range(5)}
CATALOGUE: list[dict[str, Any]] = [
    {
        "name": "开具证明",
        "description": "居住证明、亲属关系证明等社区出具的证明。",
        "materials": ["本人身份证", "户口本", "相关证明材料原件"],
        "place": "hall",
        "location": "党群服务中心一楼 1 号窗口",
        "duration_minutes": 15,
        "slot_minutes": 30,
        "hours": WEEKDAYS_ALL_DAY,
    },
    {
        "name": "社保资格认证",
        "description": "领取养老金人员的年度资格认证，可代为操作。",
        "materials": ["本人身份证", "社保卡"],
        "place": "hall",
        "location": "党群服务中心一楼 2 号窗口",
        "duration_minutes": 10,
        "slot_minutes": 30,
        "hours": {str(d): [["09:00", "11:30", 4], ["14:00", "17:00", 4]] for d in range(5)},
    },
    {
        "name": "老年优待证",
        "description": "年满 60 周岁的本市户籍或常住老人办理。",
        "materials": ["本人身份证", "户口本", "一寸免冠照片 2 张"],
        "place": "hall",
        "location": "党群服务中心一楼 2 号窗口",
        "duration_minutes": 10,
        "slot_minutes": 30,
        "hours": {str(d): [["09:00", "11:30", 2]] for d in range(5)},
    },
    {
        "name": "居住登记",
        "description": "流动人口居住登记、居住证申领。",
        "materials": ["本人身份证", "租房合同或房产证明", "一寸免冠照片 1 张"],
        "place": "hall",
        "location": "党群服务中心一楼 3 号窗口",
        "duration_minutes": 20,
        "slot_minutes": 60,
        "hours": {str(d): [["09:00", "11:00", 2], ["14:00", "17:00", 2]] for d in range(5)},
    },
    {
        "name": "上门代办（行动不便居民）",
        "description": "行动不便的老人、残疾人在家办理：网格员带上便民服务包上门。",
        "materials": ["本人身份证", "需要办理事项的材料"],
        "place": "home",
        "duration_minutes": 60,
        "slot_minutes": 60,
        "hours": {str(d): [["09:00", "11:00", 1], ["14:00", "17:00", 1]] for d in range(5)},
    },
]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗"
GIVEN = "秀英桂兰建国志强红梅丽华明德淑珍玉兰国华春生海燕文"
RESULTS = {
    "开具证明": "证明已开具，当场领取。",
    "社保资格认证": "认证已完成。",
    "老年优待证": "材料已受理，7 个工作日后到社区领取。",
    "居住登记": "登记已完成，居住证制作中。",
}
PAST_DAYS = 10


def _person(rng: random.Random) -> tuple[str, str]:
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
    phone = "1" + rng.choice("3589") + "".join(rng.choice("0123456789") for _ in range(9))
    return name, phone


def _slots(service: ApptService, day: dt.date) -> list[dt.datetime]:
    hours = catalogue.hours_of(service)
    return [
        to_utc(s.starts)
        for s in rules.slots_for_day(hours, service.slot_minutes, day, official_is_working)
    ]


def _staff(community: Community) -> User:
    sup = (
        User.select()
        .where(User.role == "supervisor", User.community == community.id)
        .order_by(User.id)
        .first()
    )
    return sup or User.select().where(User.role == "admin").order_by(User.id).first()


class _Story:
    """The times each booking's timeline should carry, applied once at the end."""

    def __init__(self) -> None:
        self.times: dict[int, list[dt.datetime]] = {}

    def add(self, booking_id: int, *times: dt.datetime) -> None:
        self.times.setdefault(booking_id, []).extend(times)

    def apply(self) -> None:
        for bid, times in self.times.items():
            events = list(
                BookingEvent.select(BookingEvent.id, BookingEvent.action)
                .where(BookingEvent.booking == bid)
                .order_by(BookingEvent.id)
            )
            stamp: dict[str, dt.datetime] = {}
            for ev, at in zip(events, times, strict=False):
                BookingEvent.update(at=at).where(BookingEvent.id == ev.id).execute()
                stamp[ev.action] = at
            fields: dict[str, Any] = {"created_at": times[0], "updated_at": times[-1]}
            for action, column in (
                ("arrive", "arrived_at"),
                ("call", "called_at"),
                ("handle", "handled_at"),
                ("rate", "rated_at"),
            ):
                if action in stamp:
                    fields[column] = stamp[action]
            if "handle" in stamp:  # at home: the worker's visit is arrival and handling
                fields.setdefault("arrived_at", stamp["handle"])
                fields.setdefault("called_at", fields["arrived_at"])
            Booking.update(**fields).where(Booking.id == bid).execute()


def seed_appointments(rng: random.Random, now: dt.datetime, clock: Clock) -> dict[str, int]:
    """Catalogue and bookings for every community; returns counts."""
    story = _Story()
    counts = {"services": 0, "bookings": 0}
    today = to_local(now).date()
    for community in Community.select().order_by(Community.id):
        staff = _staff(community)
        grids = list(Grid.select().where(Grid.community == community.id).order_by(Grid.sort))
        if staff is None or not grids:
            continue
        services = []
        for i, entry in enumerate(CATALOGUE):
            services.append(
                catalogue.save_service(staff, {**entry, "community_id": community.id, "sort": i})
            )
        counts["services"] += len(services)
        hall = [s for s in services if s.place == "hall"]
        home = next(s for s in services if s.place == "home")
        for back in range(PAST_DAYS, -1, -1):
            day = today - dt.timedelta(days=back)
            for service in hall:
                slots = _slots(service, day)
                if not slots:
                    continue
                n = rng.randint(1, 2) if back else rng.randint(2, 3)
                for starts in sorted(rng.sample(slots, min(n, len(slots)))):
                    counts["bookings"] += _hall_booking(rng, now, service, staff, starts, story)
        counts["bookings"] += _home_bookings(rng, now, today, home, staff, grids, clock, story)
        counts["bookings"] += _future(rng, now, today, hall, grids, story)
    story.apply()
    return counts


def _book(rng, service, starts, made: dt.datetime, grid_id=None, address="") -> Booking:
    name, phone = _person(rng)
    return appts.book(
        service.community_id,
        service.id,
        starts,
        name,
        phone,
        grid_id=grid_id,
        address=address,
        now=made,
    )


def _hall_booking(rng, now, service, staff, starts, story: _Story) -> int:
    """One booking of a past or today's slot, taken through the desk as the day went."""
    made = starts - dt.timedelta(days=rng.randint(1, 6), hours=rng.uniform(0, 8))
    try:
        b = _book(rng, service, starts, made)
    except Conflict:  # a full slot: the story simply has fewer bookings that day
        return 0
    story.add(b.id, made)
    arrive = starts - dt.timedelta(minutes=rng.uniform(0, 12))
    call = arrive + dt.timedelta(minutes=rng.triangular(1, 30, 6))
    handled = call + dt.timedelta(minutes=service.duration_minutes * rng.uniform(0.6, 1.4))
    fate = rng.random()
    if fate < 0.04:
        appts.cancel_booking(b.code)
        story.add(b.id, made + dt.timedelta(hours=rng.uniform(1, 20)))
    elif arrive > now:
        pass  # later today: still booked
    elif fate < 0.1:
        if starts + dt.timedelta(minutes=30) < now:
            desk.act(staff, b.id, "no_show")
            story.add(b.id, starts + dt.timedelta(minutes=30))
    elif call > now:
        desk.act(staff, b.id, "arrive")  # waiting in the hall now
        story.add(b.id, arrive)
    elif handled > now:
        desk.act(staff, b.id, "arrive")
        desk.act(staff, b.id, "call")
        story.add(b.id, arrive, call)
    else:
        desk.act(staff, b.id, "arrive")
        desk.act(staff, b.id, "call")
        desk.act(staff, b.id, "handle", result=RESULTS.get(service.name, "已办结。"))
        story.add(b.id, arrive, call, handled)
        if rng.random() < 0.85:
            r = rng.random()
            rating = "满意" if r < 0.91 else ("基本满意" if r < 0.97 else "不满意")
            appts.rate_booking(b.code, rating)
            rated = min(handled + dt.timedelta(minutes=rng.uniform(3, 600)), now)
            story.add(b.id, rated)
    return 1


def _home_bookings(rng, now, today, home, staff, grids, clock: Clock, story: _Story) -> int:
    """At-home services: two done by the grid worker's task last week, one sent for tomorrow
    (on the worker's list now), one waiting to be sent."""
    from gridapp.tasks.models import Task
    from gridapp.tasks.service import transition_task

    grid = grids[0]
    worker = grid_worker(grid)
    if worker is None:
        return 0
    made_count = 0
    past = [d for d in (today - dt.timedelta(days=k) for k in range(3, 12)) if _slots(home, d)]
    for day in past[:2]:
        starts = _slots(home, day)[0]
        made = starts - dt.timedelta(days=2)
        b = _book(rng, home, starts, made, grid.id, f"{grid.name} 3 号楼 2 单元 101")
        sent = made + dt.timedelta(hours=2)
        with clock.at(sent):
            b = desk.send_to_worker(staff, b.id)
        task = Task.get_by_id(b.task_id)
        for action, at in (("accept", sent + dt.timedelta(hours=1)), ("start", starts)):
            with clock.at(at):
                task = transition_task(worker, task.id, action, version=task.version)
        done = starts + dt.timedelta(minutes=50)
        with clock.at(done):
            transition_task(worker, task.id, "done", version=task.version, note="已上门办理完毕。")
        appts.rate_booking(b.code, "满意")
        story.add(b.id, made, sent, done, done + dt.timedelta(hours=3))
        made_count += 1
    future = [d for d in (today + dt.timedelta(days=k) for k in range(1, 8)) if _slots(home, d)]
    for i, day in enumerate(future[:2]):
        starts = _slots(home, day)[-1]
        made = now - dt.timedelta(hours=rng.uniform(3, 20))
        b = _book(rng, home, starts, made, grid.id, f"{grid.name} 5 号楼 1 单元 302")
        story.add(b.id, made)
        if i == 0:
            sent = made + dt.timedelta(hours=1)
            with clock.at(min(sent, now)):
                desk.send_to_worker(staff, b.id)
            story.add(b.id, min(sent, now))
        made_count += 1
    return made_count


def _future(rng, now, today, hall, grids, story: _Story) -> int:
    n = 0
    for k in range(1, 4):
        day = today + dt.timedelta(days=k)
        for service in hall:
            for starts in rng.sample(_slots(service, day), min(2, len(_slots(service, day)))):
                made = now - dt.timedelta(hours=rng.uniform(1, 48))
                try:
                    b = _book(rng, service, starts, made)
                except Conflict:  # a full slot
                    continue
                story.add(b.id, made)
                n += 1
    return n
