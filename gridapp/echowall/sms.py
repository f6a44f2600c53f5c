"""A resident's opted-in SMS about their own matter (issue 13): one when it is answered (the
first change that puts a public reply on the tracking page: resolved, verified) and one when it
is closed, each sent exactly once (``send_to_phone``'s dedupe key per matter and kind), never
in the night's quiet hours (``SMS_QUIET_HOURS``), only to the phone left on the report.

Only the browser holding the matter's rating key (the reporter's phone, given at report time)
sees the offer and the masked number, opts in or withdraws. The consent row keeps the text and
version agreed to; staff pages never show it (the contact phone stays under ``matters.contact``
and ``privacy``).
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _

from gridapp.db import db, utcnow
from gridapp.echowall.models import EchoSmsConsent
from gridapp.errors import Conflict, Forbidden, NotFound
from gridapp.masking import mask_phone
from gridapp.matters import public
from gridapp.matters.models import Matter, MatterEvent
from gridapp.matters.service import hash_rating_key
from gridapp.notifications import sms
from gridapp.notifications.sms import catalog, rules

log = logging.getLogger(__name__)
CONSENT_VERSION = "echo-sms-v1"
ANSWERED_STATES = ("resolved", "verified")


def consent_text(masked: str) -> str:
    """What the resident agrees to (stored with the consent, in the language shown)."""
    return _(
        "I agree to receive at most two text messages about this report at %(phone)s: one when "
        "it is answered and one when it is closed. I can withdraw on this page at any time.",
        phone=masked,
    )


def _matter(code: str) -> Matter:
    matter = Matter.get_or_none(Matter.code == (code or "").strip().upper()[:16])
    if matter is None or matter.source != "resident":
        raise NotFound()
    return matter


def _holds_key(matter: Matter, key: str) -> bool:
    return bool(
        matter.rating_key
        and key
        and hmac.compare_digest(matter.rating_key, hash_rating_key(str(key)[:200]))
    )


def active_consent(matter_id: int) -> EchoSmsConsent | None:
    return (
        EchoSmsConsent.select()
        .where(EchoSmsConsent.matter == matter_id, EchoSmsConsent.withdrawn_at.is_null())
        .order_by(EchoSmsConsent.id.desc())
        .first()
    )


def offer(code: str, key: str) -> dict[str, Any] | None:
    """What the tracking page shows about SMS to this browser, or None (SMS not configured, not
    the reporter's browser, no mobile number on the report)."""
    if not sms.configured() or not key:
        return None
    try:
        matter = _matter(code)
    except NotFound:
        return None
    phone = rules.e164(matter.contact_phone)
    if phone is None or not _holds_key(matter, key):
        return None
    masked = mask_phone(rules.national(phone))
    consent = active_consent(matter.id)
    return {
        "on": consent is not None,
        "masked": masked,
        "consent_text": consent_text(masked),
        "closed": matter.state == "closed",
    }


def opt_in(code: str, key: str, source: str = "tracking_page") -> EchoSmsConsent:
    """Record the resident's consent (the reporter's browser only); opting in twice keeps the
    first consent."""
    matter = _matter(code)
    if not _holds_key(matter, key):
        raise Forbidden(_("Only the resident who reported it can choose text messages, on the "
                          "phone they reported from."), code="rating_key")  # fmt: skip
    phone = rules.e164(matter.contact_phone)
    if phone is None or not sms.configured():
        raise Conflict(_("Text messages are not available for this report."), code="no_sms")
    with db.atomic():
        existing = active_consent(matter.id)
        if existing is not None:
            return existing
        return EchoSmsConsent.create(
            matter=matter.id, phone=phone, channel="sms", source=source,
            consent_version=CONSENT_VERSION,
            consent_text=consent_text(mask_phone(rules.national(phone))),
            locale=str(get_locale() or ""), consented_at=utcnow(),
        )  # fmt: skip


def withdraw(code: str, key: str) -> bool:
    """Withdraw the consent (the reporter's browser only); whether one was active."""
    matter = _matter(code)
    if not _holds_key(matter, key):
        raise Forbidden(_("Only the resident who reported it can choose text messages, on the "
                          "phone they reported from."), code="rating_key")  # fmt: skip
    with db.atomic():
        return bool(
            EchoSmsConsent.update(withdrawn_at=utcnow())
            .where(EchoSmsConsent.matter == matter.id, EchoSmsConsent.withdrawn_at.is_null())
            .execute()
        )


# ---- sending ---------------------------------------------------------------------------------


def kind_of(ev: MatterEvent) -> str | None:
    """Which SMS an event is worth: "closed", "answered" (a reply is on the page now), or None."""
    if ev.to_state == "closed" and ev.from_state != "closed":
        return "closed"
    if ev.to_state in ANSWERED_STATES and ev.from_state not in ANSWERED_STATES:
        return "answered"
    return None


def public_events_committed(pairs: list[tuple[int, int]]) -> None:
    """Listener for ``public.announce`` (after commit): for matters with an active consent, one
    SMS per kind and matter, ever (the dedupe key); a reopened matter answered again sends no
    second "answered"."""
    matter_ids = sorted({m for m, _e in pairs})
    consents = {}
    for c in (
        EchoSmsConsent.select()
        .where(EchoSmsConsent.matter.in_(matter_ids), EchoSmsConsent.withdrawn_at.is_null())
        .order_by(EchoSmsConsent.id)
    ):
        consents[c.matter_id] = c
    if not consents:
        return
    events = (
        MatterEvent.select(MatterEvent, Matter.id, Matter.code)
        .join(Matter)
        .where(MatterEvent.id.in_(sorted(e for m, e in pairs if m in consents)))
        .order_by(MatterEvent.id)
    )
    for ev in events:
        kind = kind_of(ev)
        if kind is None:
            continue
        consent = consents[ev.matter_id]
        template = catalog.ECHO_CLOSED if kind == "closed" else catalog.ECHO_ANSWERED
        sms_id = sms.send_to_phone(
            consent.phone, template, {"code": ev.matter.code}, purpose="echowall",
            dedupe_key=f"echowall:{ev.matter_id}:{kind}",
        )  # fmt: skip
        if sms_id:
            log.info("echo wall SMS %s queued for matter %s (%s)", sms_id, ev.matter_id, kind)


def init_sms() -> None:
    public.on_public_events(public_events_committed)
