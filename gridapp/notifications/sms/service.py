"""Sending SMS: caps, counters, the ``sms_message`` record and the job that talks to the
provider; status reports from the provider.

- ``send_to_phone(...)`` (other features: echo wall, appointments, news) records one message
  per ``dedupe_key`` and queues ``send_sms_job`` after the caller's transaction commits, held
  past the night's quiet hours (``SMS_QUIET_HOURS``) unless urgent.
- ``send_for_delivery(...)`` is the ``sms`` channel's path: the delivery job already runs in the
  background and owns the retries, so it sends at once and answers an ``Outcome``.
- Caps are counters reserved in the same transaction as the row (``sms_counter``: per staff
  member, per number and per deployment and local day), so two jobs at once cannot both pass
  the last free slot; spend is counted per month when the provider accepted a message.
- Status reports from the provider: ``reports.apply_reports``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from huey import crontab
from peewee import IntegrityError

from gridapp.db import db, utcnow
from gridapp.jobs import app_periodic_task, app_task
from gridapp.notifications import rules as delivery_rules
from gridapp.notifications.sms import rules
from gridapp.notifications.sms.models import SmsCounter, SmsMessage, SmsNumber
from gridapp.notifications.sms.provider import Provider, SendResult, TencentProvider
from gridapp.notifications.sms.settings import configured, sms_settings

log = logging.getLogger("gridapp.notifications.sms")
SHANGHAI = ZoneInfo("Asia/Shanghai")
PENDING = ("queued", "retry")
STUCK_AFTER = dt.timedelta(minutes=15)


def clock() -> dt.datetime:
    """Now (naive UTC), controllable in tests through ``NOTIFY_CLOCK`` like the deliveries."""
    fn = current_app.config.get("NOTIFY_CLOCK")
    return fn() if fn else utcnow()


def provider(app: Flask | None = None) -> Provider:
    """The configured provider, built once per configuration (one SDK client, one HTTP pool)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    s = sms_settings(app)
    key = tuple(s[k] for k in ("secret_id", "secret_key", "app_id", "region", "endpoint"))
    key += (s["protocol"], s["timeout"])
    cached = app.extensions.get("gridapp.sms_provider")
    if cached is None or cached[0] != key:
        if "gridapp.sms_provider_factory" in app.extensions:  # a second provider, one day
            built = app.extensions["gridapp.sms_provider_factory"](s)
        else:
            built = TencentProvider(
                s["secret_id"], s["secret_key"], s["app_id"], region=s["region"],
                endpoint=s["endpoint"], protocol=s["protocol"], timeout=s["timeout"],
            )  # fmt: skip
        cached = app.extensions["gridapp.sms_provider"] = (key, built)
    return cached[1]


# ---- counters and caps --------------------------------------------------------------------------


def local_day(now: dt.datetime) -> str:
    return now.replace(tzinfo=dt.UTC).astimezone(SHANGHAI).date().isoformat()


def local_month(now: dt.datetime) -> str:
    return local_day(now)[:7]


def _execute(sql: str, params: list[Any]) -> int:
    """A hot statement as plain SQL (peewee's query building cost more than the database's
    work per message); ``?`` becomes the driver's placeholder. Returns the rows changed."""
    return db.execute_sql(sql.replace("?", db.obj.param), params).rowcount


_UPSERT = (
    'INSERT INTO "sms_counter" ("key", "value") VALUES {rows} ON CONFLICT ("key") '
    'DO UPDATE SET "value" = "sms_counter"."value" + excluded."value"'
)


def bump(key: str, by: int = 1, cap: int | None = None) -> bool:
    """Add ``by`` to counter ``key`` unless that would pass ``cap``; whether it was added. One
    upsert whose update is conditional, so concurrent senders cannot both take the last slot."""
    if cap is None:
        return _execute(_UPSERT.format(rows="(?, ?)"), [key, by]) == 1
    if by > cap:
        return False
    sql = _UPSERT.format(rows="(?, ?)") + ' WHERE "sms_counter"."value" + excluded."value" <= ?'
    return _execute(sql, [key, by, cap]) == 1


def counter(key: str) -> int:
    row = SmsCounter.get_or_none(SmsCounter.key == key)
    return int(row.value) if row else 0


def reserve(phone: str, user_id: int | None, now: dt.datetime, s: dict[str, Any]) -> str:
    """Take one slot of each cap that applies; "" when all had room, else which cap was full
    (nothing taken: the savepoint rolls back the ones already bumped)."""
    day = local_day(now)
    checks = [(f"all:{day}", s["daily_cap"], "deployment daily cap")]
    if user_id is not None:
        checks.append((f"user:{user_id}:{day}", s["user_daily_cap"], "per-user daily cap"))
    checks.append((f"phone:{phone}:{day}", s["phone_daily_cap"], "per-number daily cap"))
    with db.atomic() as sp:
        for key, cap, name in checks:
            if not bump(key, 1, cap):
                sp.rollback()
                return name
    return ""


def count_spend(row: SmsMessage, now: dt.datetime) -> None:
    """This month's messages, segments and cost: one statement."""
    add_spend(1, row.segments, row.cost, now)


def add_spend(messages: int, segments: int, cost: int, now: dt.datetime) -> None:
    """Add a batch's messages, segments and cost to this month's counters: one statement."""
    month = local_month(now)
    adds = [(f"count:{month}", messages), (f"segments:{month}", segments), (f"cost:{month}", cost)]
    rows = ", ".join("(?, ?)" for _ in adds)
    _execute(_UPSERT.format(rows=rows), [v for kv in adds for v in kv])


def month_spend(month: str | None = None) -> dict[str, Any]:
    """This (local) month's messages, segments and cost (厘 and yuan) for the overview."""
    month = month or local_month(utcnow())
    cost = counter(f"cost:{month}")
    return {
        "month": month,
        "messages": counter(f"count:{month}"),
        "segments": counter(f"segments:{month}"),
        "cost_li": cost,
        "cost_yuan": round(cost / 1000, 3),
    }


# ---- numbers --------------------------------------------------------------------------------------


def disabled_numbers(phones: list[str]) -> set[str]:
    if not phones:
        return set()
    return {
        p
        for (p,) in SmsNumber.select(SmsNumber.phone)
        .where(SmsNumber.phone.in_(phones), SmsNumber.disabled_at.is_null(False))
        .tuples()
    }


def disable_number(phone: str, reason: str, now: dt.datetime) -> None:
    """The provider said this number cannot receive SMS: no more messages to it."""
    with db.atomic():
        updated = (
            SmsNumber.update(disabled_at=now, reason=reason[:200])
            .where(SmsNumber.phone == phone)
            .execute()
        )
        if not updated:
            try:
                with db.atomic():
                    SmsNumber.create(phone=phone, disabled_at=now, reason=reason[:200])
            except IntegrityError:
                pass
    log.warning("SMS number %s disabled: %s", rules.national(phone)[:3] + "****", reason)


# ---- recording a message ------------------------------------------------------------------------


def quiet_until(now: dt.datetime, s: dict[str, Any]) -> dt.datetime | None:
    spec = (s["quiet_hours"] or "").strip()
    if not spec:
        return None
    start, _, end = spec.partition("-")
    return delivery_rules.quiet_release(
        now, delivery_rules.parse_hhmm(start), delivery_rules.parse_hhmm(end or start)
    )


def _create(
    phone: str,
    template: str,
    params: dict[str, str],
    *,
    purpose: str,
    dedupe_key: str,
    user_id: int | None,
    delivery_id: int | None,
    not_before: dt.datetime | None,
    now: dt.datetime,
    s: dict[str, Any],
    claim: bool = False,
) -> tuple[SmsMessage | None, bool]:
    """(row, created): the existing row for ``dedupe_key`` (not created), or a new one queued
    (``claim``: already taken for sending by this caller, in the same transaction: one commit
    fewer per message), or a new one ``capped`` (not to be sent)."""
    existing = SmsMessage.get_or_none(SmsMessage.dedupe_key == dedupe_key)
    if existing is not None:
        return existing, False
    with db.atomic():
        capped = reserve(phone, user_id, now, s)
        try:
            with db.atomic():
                row = SmsMessage.create(
                    phone=phone, user_id=user_id, delivery_id=delivery_id, template=template,
                    params=json.dumps(params, ensure_ascii=False, sort_keys=True),
                    purpose=purpose[:40], dedupe_key=dedupe_key[:120],
                    status="capped" if capped else ("sending" if claim else "queued"),
                    error=capped, provider=s["provider"], not_before=not_before, created_at=now,
                    attempts=1 if claim and not capped else 0,
                    claimed_at=now if claim and not capped else None,
                )  # fmt: skip
        except IntegrityError:
            raise _Duplicate() from None
    return row, True


class _Duplicate(Exception):
    pass


def send_to_phone(
    phone: str,
    template: str,
    params: dict[str, str],
    *,
    purpose: str,
    dedupe_key: str,
    user_id: int | None = None,
    urgent: bool = False,
) -> int | None:
    """Queue one SMS from a registered template to ``phone``; the row id, or None when nothing
    will be sent: SMS not configured, no provider template id for ``template``, the number
    disabled, a cap reached, or ``dedupe_key`` already used (the same request twice sends once).
    A bad template key, parameter or number is the caller's bug: ``rules.ParamError``.

    The job is queued after the caller's transaction commits; in quiet hours (Asia/Shanghai)
    it waits for their end unless ``urgent``."""
    tpl = rules.get_template(template)
    tpl.values(params)
    number = rules.e164(phone)
    if number is None:
        raise rules.ParamError("phone", "not a mainland mobile number")
    if not configured():
        log.info("SMS not configured: %s (%s) not sent", template, purpose)
        return None
    s = sms_settings()
    if not s["templates"].get(template):
        log.error("SMS template %s has no provider template id (SMS_TEMPLATES)", template)
        return None
    if disabled_numbers([number]):
        return None
    now = clock()
    hold = None if urgent else quiet_until(now, s)
    try:
        row, created = _create(
            number, template, params, purpose=purpose, dedupe_key=dedupe_key, user_id=user_id,
            delivery_id=None, not_before=hold, now=now, s=s,
        )  # fmt: skip
    except _Duplicate:
        return None
    if not created or row is None:
        return None
    if row.status == "capped":
        log.warning("SMS %s (%s) not sent: %s", template, purpose, row.error)
        return None
    sms_id = row.id
    db.after_commit(lambda: _enqueue(sms_id, hold))
    return sms_id


def _enqueue(sms_id: int, eta: dt.datetime | None) -> None:
    try:
        if eta is None:
            send_sms_job(sms_id)
        else:
            send_sms_job.schedule(args=(sms_id,), eta=eta)
    except Exception:  # noqa: BLE001  (the periodic release finds it)
        log.exception("could not enqueue SMS %s", sms_id)


# ---- sending ------------------------------------------------------------------------------------


def _claim(sms_id: int, now: dt.datetime) -> SmsMessage | None:
    """Take the row for sending (one UPDATE: two jobs never both send it). A row left
    "sending" for ``STUCK_AFTER`` by a crashed job may be taken again (at least once: the
    provider may have sent it before the crash)."""
    due = SmsMessage.not_before.is_null() | (SmsMessage.not_before <= now)
    stuck = (SmsMessage.status == "sending") & (SmsMessage.claimed_at < now - STUCK_AFTER)
    claimed = (
        SmsMessage.update(status="sending", attempts=SmsMessage.attempts + 1, claimed_at=now)
        .where(SmsMessage.id == sms_id, (SmsMessage.status.in_(PENDING) & due) | stuck)
        .execute()
    )
    return SmsMessage.get_by_id(sms_id) if claimed else None


def _transmit(row: SmsMessage, s: dict[str, Any]) -> tuple[SendResult, str]:
    tpl = rules.get_template(row.template)
    params = json.loads(row.params or "{}")
    text = tpl.render(params, s["sign_name"])
    template_id = s["templates"].get(row.template, "")
    if not template_id:
        return SendResult(400, "NoTemplateId", f"no provider template id for {row.template}"), text
    return provider().send(row.phone, template_id, tpl.values(params), s["sign_name"]), text


def _judge(
    row: SmsMessage, result: SendResult, text: str, now: dt.datetime, s: dict[str, Any]
) -> tuple[delivery_rules.Verdict, dict[str, Any]]:
    """The verdict on one answer and the row's fields to store."""
    verdict = delivery_rules.judge(
        result.status_code,
        row.attempts,
        s["max_attempts"],
        delivery_rules.parse_retry_after(result.retry_after, now),
        base=s["backoff_base"],
    )
    fields: dict[str, Any] = {"status_code": result.status_code, "error": result.error}
    if verdict.status == "sent":
        segs = result.fee or rules.segments(text)
        fields.update(
            status="sent", serial=result.serial or None, segments=segs, sent_at=now,
            cost=rules.cost(segs, s["price_per_segment"]), error="",
        )  # fmt: skip
    elif verdict.status == "retry":
        fields.update(status="retry", not_before=now + dt.timedelta(seconds=verdict.delay or 0))
    else:
        fields.update(status="failed")
    return verdict, fields


def _after(row: SmsMessage, verdict: delivery_rules.Verdict, result: SendResult, now) -> None:
    if verdict.status == "gone":
        disable_number(row.phone, result.error or result.code, now)
    elif verdict.status == "failed":
        level = logging.ERROR if rules.is_loud(result.code) else logging.WARNING
        log.log(level, "SMS %s (%s) failed: %s", row.id, row.template, result.error)


def _record(
    row: SmsMessage, result: SendResult, text: str, now: dt.datetime, s: dict[str, Any]
) -> delivery_rules.Verdict:
    verdict, fields = _judge(row, result, text, now, s)
    with db.atomic():
        SmsMessage.update(**fields).where(SmsMessage.id == row.id).execute()
        if verdict.status == "sent":
            row.segments, row.cost = fields["segments"], fields["cost"]
            count_spend(row, now)
    _after(row, verdict, result, now)
    return verdict


@app_task()
def send_sms_job(sms_id: int) -> str:
    """Send one queued SMS; retries are re-queued with backoff (and found again by
    ``release_due_sms`` if a job is lost)."""
    return send_one(sms_id)


def send_one(sms_id: int) -> str:
    now = clock()
    row = _claim(sms_id, now)
    if row is None:
        return "skipped"
    s = sms_settings()
    result, text = _transmit(row, s)
    verdict = _record(row, result, text, now, s)
    if verdict.status == "retry" and row.delivery_id is None:
        try:
            send_sms_job.schedule(args=(sms_id,), delay=verdict.delay or 0)
        except Exception:  # noqa: BLE001
            log.exception("could not re-queue SMS %s", sms_id)
    return verdict.status


def release_due(now: dt.datetime | None = None, limit: int = 500) -> int:
    """Send the queued messages whose time has come (quiet hours over, backoff passed) and those
    a crash left ``sending`` for long; the messages of channel deliveries are the delivery
    job's. Returns how many were tried."""
    now = now or clock()
    (
        SmsMessage.update(status="retry")
        .where(
            SmsMessage.status == "sending",
            SmsMessage.delivery_id.is_null(),
            SmsMessage.claimed_at < now - STUCK_AFTER,
        )
        .execute()
    )
    due = [
        i
        for (i,) in SmsMessage.select(SmsMessage.id)
        .where(
            SmsMessage.status.in_(PENDING),
            SmsMessage.delivery_id.is_null(),
            SmsMessage.not_before.is_null() | (SmsMessage.not_before <= now),
        )
        .order_by(SmsMessage.id)
        .limit(limit)
        .tuples()
    ]
    for sms_id in due:
        send_one(sms_id)
    return len(due)


@app_periodic_task(crontab(minute="*"))
def release_due_sms() -> int:
    """Every minute: messages held by quiet hours or backoff, and any a lost job left behind."""
    if not configured():
        return 0
    return release_due()


def send_for_delivery(
    delivery_id: int, phone: str, user_id: int, params: dict[str, str], template: str
) -> SendResult:
    """The channel's send: one row per delivery (a retried delivery reuses it), caps taken
    once, sent now. A row already sent answers 200 again without sending twice."""
    s = sms_settings()
    now = clock()
    try:
        row, created = _create(
            phone, template, params, purpose="notification", dedupe_key=f"delivery:{delivery_id}",
            user_id=user_id, delivery_id=delivery_id, not_before=None, now=now, s=s, claim=True,
        )  # fmt: skip
    except _Duplicate:
        return SendResult(503, "Busy", "another job is sending this delivery")
    if row is None:
        return SendResult(503, "Busy", "another job is sending this delivery")
    if row.status in ("sent", "delivered"):
        return SendResult(200, "Ok", "", row.serial or "", row.segments)
    if row.status == "capped":
        return SendResult(403, "Capped", f"not sent: {row.error}")
    if row.status == "failed":
        return SendResult(row.status_code or 400, "Failed", row.error)
    claimed = row if created else _claim(row.id, now)
    if claimed is None:
        return SendResult(503, "Busy", "another job is sending this delivery")
    result, text = _transmit(claimed, s)
    _record(claimed, result, text, now, s)
    return result
