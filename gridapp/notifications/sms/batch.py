"""The ``sms`` channel's batches (``SmsChannel.send_many``): an announcement's fan-out as
SendSms calls of up to 200 numbers with the same template and parameters, instead of one
signed request, one row transaction and one outcome transaction per message.

- ``reserve_many``: the caps of a batch in a few conditional upserts (the same race-free rule
  as ``service.bump``: a counter passes its cap in no interleaving);
- ``send_for_deliveries``: new rows written together, the existing rows of retried deliveries
  reused (sent ones answer 200 without sending again), each number's ``SendStatus`` mapped to
  its own delivery, outcomes and the month's counters stored in one transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from peewee import IntegrityError

from gridapp.db import db
from gridapp.notifications.sms import rules
from gridapp.notifications.sms.models import SmsMessage
from gridapp.notifications.sms.provider import MAX_NUMBERS, SendResult
from gridapp.notifications.sms.service import (
    _UPSERT,
    _after,
    _claim,
    _Duplicate,
    _execute,
    _judge,
    add_spend,
    bump,
    clock,
    local_day,
    provider,
    reserve,
    send_for_delivery,
)
from gridapp.notifications.sms.settings import sms_settings


def _bump_each(keys: list[str], cap: int) -> set[str]:
    """Add 1 to each of ``keys`` (distinct) unless that would pass ``cap``: the keys that had
    room. One conditional upsert per 400 keys (the same race-free rule as ``bump``)."""
    if cap < 1:
        return set()
    got: set[str] = set()
    keys = sorted(keys)  # one lock order for every batch (PostgreSQL: no deadlock between two)
    for start in range(0, len(keys), 400):
        part = keys[start : start + 400]
        sql = _UPSERT.format(rows=", ".join("(?, 1)" for _ in part))
        sql += ' WHERE "sms_counter"."value" + excluded."value" <= ? RETURNING "key"'
        cur = db.execute_sql(sql.replace("?", db.obj.param), [*part, cap])
        got.update(k for (k,) in cur.fetchall())
    return got


def reserve_many(
    entries: list[tuple[str, int | None]], now: dt.datetime, s: dict[str, Any]
) -> list[str]:
    """``reserve`` for a batch of (phone, user id): each entry's "" or the full cap's name,
    in three statements when the deployment cap has room for all (one conditional bump by the
    batch's size, then one conditional upsert each for the per-user and per-number counters,
    whose refused keys say who is over; what the refused ones took is given back in the same
    transaction). Otherwise, or when a person or number is twice in the batch, one by one:
    the first ones take the last slots, as they would have."""
    day = local_day(now)
    users = [f"user:{u}:{day}" if u is not None else "" for _, u in entries]
    phones = [f"phone:{p}:{day}" for p, _ in entries]
    named = [k for k in users if k]
    one_by_one = len(entries) < 2 or len(set(phones)) < len(phones) or len(set(named)) < len(named)
    if not one_by_one:
        with db.atomic() as sp:
            if not bump(f"all:{day}", len(entries), s["daily_cap"]):
                sp.rollback()
                one_by_one = True
            else:
                got_user = _bump_each(named, s["user_daily_cap"])
                got_phone = _bump_each(phones, s["phone_daily_cap"])
                out, back = [], []
                for uk, pk in zip(users, phones, strict=True):
                    if uk and uk not in got_user:
                        out.append("per-user daily cap")
                    elif pk not in got_phone:
                        out.append("per-number daily cap")
                    else:
                        out.append("")
                        continue
                    back += [k for k in (uk, pk) if k in got_user or k in got_phone]
                back.sort()
                refused = sum(1 for o in out if o)
                if refused:
                    _execute('UPDATE "sms_counter" SET "value" = "value" - ? WHERE "key" = ?',
                             [refused, f"all:{day}"])  # fmt: skip
                    for start in range(0, len(back), 400):
                        part = back[start : start + 400]
                        marks = ", ".join("?" for _ in part)
                        _execute('UPDATE "sms_counter" SET "value" = "value" - 1 '
                                 f'WHERE "key" IN ({marks})', part)  # fmt: skip
                return out
    return [reserve(p, u, now, s) for p, u in entries]


BUSY = SendResult(503, "Busy", "another job is sending this delivery")


def _settled(row: SmsMessage) -> SendResult | None:
    """The answer for a delivery's row that is not to be sent (again), else None."""
    if row.status in ("sent", "delivered"):
        return SendResult(200, "Ok", "", row.serial or "", row.segments)
    if row.status == "capped":
        return SendResult(403, "Capped", f"not sent: {row.error}")
    if row.status == "failed":
        return SendResult(row.status_code or 400, "Failed", row.error)
    return None


def send_for_deliveries(
    items: list[tuple[int, str, int, dict[str, str]]], template: str
) -> list[SendResult]:
    """``send_for_delivery`` for a batch of (delivery id, phone, user id, params), in order.
    The new rows and their caps are written together (``reserve_many``, one INSERT), the
    messages with the same parameters (an announcement) go as SendSms calls of up to 200
    numbers, each number's status is its own delivery's answer, and the outcomes and the
    month's counters are stored in one transaction. A retried delivery reuses its row: sent
    ones answer 200 without sending, the others are claimed again and sent."""
    if not items:
        return []
    s = sms_settings()
    now = clock()
    results: list[SendResult | None] = [None] * len(items)
    keys = [f"delivery:{d}" for d, *_ in items]
    existing = {r.dedupe_key: r for r in SmsMessage.select().where(SmsMessage.dedupe_key.in_(keys))}
    todo: list[tuple[int, SmsMessage]] = []
    fresh: list[int] = []
    seen: set[str] = set()
    for i, key in enumerate(keys):
        if key in seen:  # the same delivery twice in one batch: the first one sends
            results[i] = BUSY
            continue
        seen.add(key)
        row = existing.get(key)
        if row is None:
            fresh.append(i)
        elif (done := _settled(row)) is not None:
            results[i] = done
        elif (claimed := _claim(row.id, now)) is None:
            results[i] = BUSY
        else:
            todo.append((i, claimed))
    if fresh:
        try:
            rows = _create_many([items[i] for i in fresh], template, now, s)
        except _Duplicate:  # another job wrote some of them meanwhile: one by one
            for i in fresh:
                d, phone, uid, params = items[i]
                results[i] = send_for_delivery(d, phone, uid, params, template)
        else:
            for i, row in zip(fresh, rows, strict=True):
                if row.status == "capped":
                    results[i] = SendResult(403, "Capped", f"not sent: {row.error}")
                else:
                    todo.append((i, row))
    if todo:
        answers = _transmit_many([row for _, row in todo], s)
        _record_many([row for _, row in todo], answers, now, s)
        for (i, _), (result, _text) in zip(todo, answers, strict=True):
            results[i] = result
    return [r or BUSY for r in results]


def _create_many(
    items: list[tuple[int, str, int, dict[str, str]]], template: str, now: dt.datetime,
    s: dict[str, Any],
) -> list[SmsMessage]:  # fmt: skip
    """The rows of new deliveries, claimed for sending or capped, with their caps: one
    transaction (``_Duplicate`` when another job wrote one of them first: nothing kept)."""
    with db.atomic():
        capped = reserve_many([(phone, uid) for _, phone, uid, _ in items], now, s)
        rows = [
            {"phone": phone, "user_id": uid, "delivery_id": d, "template": template,
             "params": json.dumps(params, ensure_ascii=False, sort_keys=True),
             "purpose": "notification", "dedupe_key": f"delivery:{d}",
             "status": "capped" if cap else "sending", "error": cap, "provider": s["provider"],
             "not_before": None, "created_at": now, "attempts": 0 if cap else 1,
             "claimed_at": None if cap else now}
            for (d, phone, uid, params), cap in zip(items, capped, strict=True)
        ]  # fmt: skip
        try:
            with db.atomic():
                for start in range(0, len(rows), 200):
                    SmsMessage.insert_many(rows[start : start + 200]).execute()
        except IntegrityError:
            raise _Duplicate() from None
    keys = [r["dedupe_key"] for r in rows]
    by_key = {r.dedupe_key: r for r in SmsMessage.select().where(SmsMessage.dedupe_key.in_(keys))}
    return [by_key[k] for k in keys]


def _transmit_many(rows: list[SmsMessage], s: dict[str, Any]) -> list[tuple[SendResult, str]]:
    """Each row's answer and text; rows with the same template and parameters share SendSms
    calls of up to ``MAX_NUMBERS`` distinct numbers."""
    out: list[tuple[SendResult, str] | None] = [None] * len(rows)
    groups: dict[tuple[str, str], list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault((row.template, row.params or "{}"), []).append(i)
    prov = provider()
    many = getattr(prov, "send_many", None)
    for (template, raw), idx in groups.items():
        tpl = rules.get_template(template)
        params = json.loads(raw)
        text = tpl.render(params, s["sign_name"])
        template_id = s["templates"].get(template, "")
        if not template_id:
            miss = SendResult(400, "NoTemplateId", f"no provider template id for {template}")
            for i in idx:
                out[i] = (miss, text)
            continue
        values = tpl.values(params)
        calls: list[list[int]] = []  # each call's rows: distinct numbers, at most MAX_NUMBERS
        for i in idx:
            for call in calls:
                if len(call) < MAX_NUMBERS and all(rows[j].phone != rows[i].phone for j in call):
                    call.append(i)
                    break
            else:
                calls.append([i])
        for call in calls:
            phones = [rows[i].phone for i in call]
            if many is None:
                answers = [prov.send(p, template_id, values, s["sign_name"]) for p in phones]
            else:
                answers = many(phones, template_id, values, s["sign_name"])
            for i, answer in zip(call, answers, strict=True):
                out[i] = (answer, text)
    return out  # type: ignore[return-value]


def _record_many(
    rows: list[SmsMessage], answers: list[tuple[SendResult, str]], now: dt.datetime,
    s: dict[str, Any],
) -> None:  # fmt: skip
    """Every row's outcome and the batch's spend in one transaction (one statement for the
    month's counters); then the numbers found gone are disabled and failures logged."""
    judged = [
        _judge(row, result, text, now, s) for row, (result, text) in zip(rows, answers, strict=True)
    ]
    sent = [f for v, f in judged if v.status == "sent"]
    with db.atomic():
        for row, (_, fields) in zip(rows, judged, strict=True):
            SmsMessage.update(**fields).where(SmsMessage.id == row.id).execute()
        if sent:
            add_spend(
                len(sent), sum(f["segments"] for f in sent), sum(f["cost"] for f in sent), now
            )
    for row, (verdict, _), (result, _) in zip(rows, judged, answers, strict=True):
        _after(row, verdict, result, now)
