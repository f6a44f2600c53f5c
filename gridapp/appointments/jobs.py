"""Reminders the day before: each community's staff get one inbox notice (``notify``) with
tomorrow's count, and each resident an SMS through ``gridapp.notifications.sms.send_to_phone``
when that channel is configured (template ``appointment_reminder``, its provider template id
in ``SMS_TEMPLATES``; a landline gets none; not configured: the staff notice still goes out).

Claimed set-based like the deadline jobs: ``UPDATE appt_booking SET reminded_at = now WHERE
id IN (…) AND reminded_at IS NULL`` in the transaction that writes the notices, so two passes
(or two job consumers) remind once."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from typing import Any

from flask_babel import gettext as _
from huey import crontab
from peewee import chunked

from gridapp.appointments import rules
from gridapp.appointments.models import ApptService, Booking
from gridapp.db import db, utcnow
from gridapp.jobs import app_periodic_task
from gridapp.notifications.service import notify_many
from gridapp.org.models import User
from gridapp.times import local_day_start_utc, local_text, to_local

log = logging.getLogger(__name__)
CHUNK = 500
SMS_TEMPLATE = "appointment_reminder"
SMS_PARAMS = ["service", "time", "place", "code"]
SMS_TEXT = "您预约的{service}将于{time}在{place}办理，预约码{code}，如需改约或取消请凭预约码操作。"


def _sms():
    """``send_to_phone`` of the SMS channel (branch ``sms``), or None where it is absent."""
    try:
        from gridapp.notifications.sms import send_to_phone
    except ImportError:
        return None
    return send_to_phone


def _register_template() -> None:
    try:
        from gridapp.notifications.sms import register_template
    except ImportError:
        return
    register_template(
        SMS_TEMPLATE,
        SMS_PARAMS,
        SMS_TEXT,
        max_len={"service": 20, "time": 12, "place": 20, "code": 11},
    )


_register_template()  # at import, so the provider template id can be configured for it


def _staff(community_ids: list[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for uid, cid in (
        User.select(User.id, User.community)
        .where(
            User.role == "supervisor",
            User.community.in_(community_ids),
            User.is_active == True,  # noqa: E712
        )
        .tuples()
    ):
        out.setdefault(cid, []).append(uid)
    return out


def remind_tomorrow(now: dt.datetime | None = None) -> dict[str, int]:
    """Remind every booking of tomorrow (Asia/Shanghai) not reminded yet; returns counts."""
    now = now or utcnow()
    tomorrow = to_local(now).date() + dt.timedelta(days=1)
    start, end = local_day_start_utc(tomorrow), local_day_start_utc(tomorrow, True)
    ids = [
        i
        for (i,) in Booking.select(Booking.id)
        .where(
            Booking.starts_at >= start,
            Booking.starts_at < end,
            Booking.state == "booked",
            Booking.reminded_at.is_null(),
        )
        .order_by(Booking.id)
        .tuples()
    ]
    send = _sms()
    counts = {"bookings": 0, "staff_notices": 0, "sms": 0}
    for part in chunked(ids, CHUNK):
        with db.atomic():
            n = (
                Booking.update(reminded_at=now)
                .where(Booking.id.in_(list(part)), Booking.reminded_at.is_null())
                .execute()
            )
            if not n:
                continue
            rows = list(
                Booking.select(Booking, ApptService)
                .join(ApptService)
                .where(Booking.id.in_(list(part)), Booking.reminded_at == now)
            )
            per = Counter(b.community_id for b in rows)
            staff = _staff(list(per))
            sends = [
                (
                    staff[cid],
                    "appointment.reminder",
                    _("Tomorrow: %(n)d appointments", n=count),
                    tomorrow.isoformat(),
                    "/console/appointments?day=" + tomorrow.isoformat(),
                    False,
                )
                for cid, count in sorted(per.items())
                if staff.get(cid)
            ]
            notify_many(sends)
            counts["staff_notices"] += len(sends)
            counts["bookings"] += len(rows)
        if send is not None:
            for b in rows:
                counts["sms"] += _text_resident(send, b)
    return counts


def _text_resident(send: Any, b: Booking) -> int:
    if not rules.MOBILE.fullmatch(b.phone):
        return 0  # a landline gets no SMS
    try:
        sid = send(
            b.phone,
            SMS_TEMPLATE,
            {
                "service": b.service.name[:20],
                "time": local_text(b.starts_at, "%m-%d %H:%M"),
                "place": (b.service.location or b.service.name)[:20],
                "code": rules.format_code(b.code),
            },
            purpose="appointment",
            dedupe_key=f"appointment-reminder-{b.id}",
        )
    except Exception:  # one bad number must not stop the others
        log.exception("appointment reminder SMS failed for booking %s", b.id)
        return 0
    return 1 if sid is not None else 0


@app_periodic_task(crontab(minute="7", hour="*"))
def appointment_reminder_job() -> dict[str, int]:
    """Hourly from 18:00 Beijing time (10:00 UTC) on: tomorrow's bookings, each once."""
    now = utcnow()
    if to_local(now).hour < 18:
        return {}
    return remind_tomorrow(now)


def close_past_days(now: dt.datetime | None = None, limit: int = 2000) -> int:
    """Hall bookings still "booked" after their day (Asia/Shanghai) ended become no-shows, with
    a timeline event by nobody: the no-show rate and the desk's queue must not wait for staff to
    mark each one. At-home bookings are left to the worker's task, and arrived/serving ones to
    the staff (the resident came). Each booking moves through ``service.move`` in its own
    transaction (a booking changed meanwhile is skipped); returns how many were closed."""
    from gridapp.appointments.service import move
    from gridapp.errors import Conflict

    now = now or utcnow()
    today_start = local_day_start_utc(to_local(now).date())
    ids = [
        i
        for (i,) in Booking.select(Booking.id)
        .join(ApptService)
        .where(
            Booking.state == "booked",
            Booking.starts_at < today_start,
            ApptService.place == "hall",
        )
        .order_by(Booking.id)
        .limit(limit)
        .tuples()
    ]
    closed = 0
    for bid in ids:
        try:
            with db.atomic():
                b = Booking.get_or_none(Booking.id == bid)
                if b is None or b.state != "booked":
                    continue
                move(b, "no_show", None, note=_("Not marked by the end of the day: no-show."))
                closed += 1
        except Conflict:
            continue
    return closed


@app_periodic_task(crontab(minute="23", hour="*"))
def close_past_days_job() -> int:
    """Hourly: the night after a day of bookings (and any day missed while the consumer was
    down) closes its unattended bookings."""
    return close_past_days()
