"""The ``sms`` delivery channel (CHANNELS.md): reaches staff members through the mobile number
on their account, with the approved ``notify.generic`` template (title and a link into the
app). It maps the provider's answer to the HTTP-like ``Outcome`` the delivery rules judge:
rate limits 429 and provider trouble 5xx/None (retried), an invalid or blacklisted number 410
(the number is disabled here), template/signature/credential errors 4xx (failed, logged as
errors since every message will hit them), our own caps 403 (failed: no surprise SMS
tomorrow)."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, current_app

from gridapp.notifications.channels import Message, Outcome
from gridapp.notifications.sms import batch, catalog, rules, service
from gridapp.notifications.sms.settings import configured as _configured
from gridapp.notifications.sms.settings import sms_settings
from gridapp.org.models import User


def configured(app: Flask) -> bool:
    return _configured(app)


def build(app: Flask) -> SmsChannel:
    return SmsChannel(app)


def numbers(user_ids: Iterable[int]) -> dict[int, str]:
    """Each active user's mobile as E.164, when their account has one that is not disabled."""
    ids = sorted({int(i) for i in user_ids})
    if not ids:
        return {}
    found: dict[int, str] = {}
    for uid, phone in (
        User.select(User.id, User.phone)
        .where(User.id.in_(ids), User.is_active == True, User.phone != "")  # noqa: E712
        .tuples()
    ):
        number = rules.e164(phone)
        if number:
            found[uid] = number
    off = service.disabled_numbers(sorted(set(found.values())))
    return {uid: n for uid, n in found.items() if n not in off}


class SmsChannel:
    name = "sms"

    def __init__(self, app: Flask) -> None:
        self.app = app

    def reachable(self, user_ids: Iterable[int]) -> set[int]:
        return set(numbers(user_ids))

    def link(self, path: str) -> str:
        s = sms_settings(self.app)
        base = s["link_base"] or current_app.config.get("ECHOWALL_PUBLIC_URL") or ""
        if not path:
            path = "/app"
        return base.rstrip("/") + path if base and path.startswith("/") else path

    def params(self, message: Message) -> dict[str, str]:
        tpl = rules.get_template(catalog.NOTIFY_GENERIC)
        return {
            "title": rules.fit(message.title, tpl.limit("title")),
            "link": self.link(message.link)[: tpl.limit("link")],
        }

    def send(self, message: Message) -> Outcome:
        return self.send_many([message])[0]

    def send_many(self, messages: list[Message]) -> list[Outcome]:
        """The batch's messages with the same template parameters (an announcement's fan-out)
        go as SendSms calls of up to 200 numbers (``batch.send_for_deliveries``); each
        number's own status is its delivery's outcome."""
        phones = numbers(m.recipient_id for m in messages)
        out: list[Outcome | None] = [None] * len(messages)
        items, where = [], []
        for i, m in enumerate(messages):
            phone = phones.get(m.recipient_id)
            if phone is None:
                out[i] = Outcome(404, "no mobile number on the account, or it is disabled")
                continue
            try:
                params = self.params(m)
                rules.get_template(catalog.NOTIFY_GENERIC).values(params)
            except rules.ParamError as exc:
                out[i] = Outcome(400, f"sms template parameter {exc}")
                continue
            items.append((m.delivery_id, phone, m.recipient_id, params))
            where.append(i)
        results = batch.send_for_deliveries(items, catalog.NOTIFY_GENERIC)
        for i, r in zip(where, results, strict=True):
            out[i] = Outcome(r.status_code, r.error, r.retry_after)
        return out  # type: ignore[return-value]
