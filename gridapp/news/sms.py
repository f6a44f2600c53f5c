"""Residents follow a community's news by SMS (branch sms's ``send_to_phone``): the phone is
proved by a 6-digit code sent to it (10 minutes, 5 tries, one code a minute), the consent text
is kept, and each released item is one SMS per verified phone, sent once (``dedupe_key`` per
item and follower) through the provider's caps, cost counter and quiet hours.

Why a code: without it anyone could sign up someone else's phone (their nuisance, our cost).
Stopping needs only the number (the harm of a stranger stopping your texts is small, and a
resident who lost the phone must be able to stop). Nothing here is shown to staff but counts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets

from flask import current_app
from flask_babel import gettext as _
from peewee import IntegrityError, chunked, fn

from gridapp.db import db, utcnow
from gridapp.echowall.service import community_by_token
from gridapp.errors import Problem, ValidationFailed
from gridapp.masking import mask_phone
from gridapp.news import fanout
from gridapp.news.models import NewsItem, NewsSmsFollower
from gridapp.notifications import sms as sms_api
from gridapp.notifications.sms import rules
from gridapp.org.models import Community

log = logging.getLogger(__name__)

VERIFY = "news.verify"
ITEM = "news.item"
CONSENT_VERSION = "news-sms-v1"
CODE_TTL = dt.timedelta(minutes=10)
RESEND_AFTER = dt.timedelta(seconds=60)
MAX_TRIES = 5

rules.register_template(
    VERIFY,
    ["code"],
    "您正在订阅社区信息速递，验证码{code}，10分钟内有效。如非本人操作请忽略。",
    max_len={"code": 6},
)
rules.register_template(
    ITEM,
    ["community", "title"],
    "{community}发布新信息：{title}。请扫描社区海报二维码或打开社区信息速递页面查看。",
    max_len={"community": 20, "title": 30},
)


def available() -> bool:
    return sms_api.configured(current_app)


def consent_text(masked: str, community: str) -> str:
    return _(
        "I agree to receive a text message at %(phone)s for each news item or policy notice "
        "of %(community)s. I can stop them on the news page at any time.",
        phone=masked,
        community=community,
    )


def _phone(raw: str) -> str:
    number = rules.e164(raw)
    if number is None:
        raise ValidationFailed("phone", _("Enter an 11-digit mobile number."))
    return number


def _hash(row_id: int, code: str) -> str:
    key = current_app.config["SECRET_KEY"]
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, f"{row_id}:{code}".encode(), hashlib.sha256).hexdigest()


def request_code(token: str, phone: str, *, now: dt.datetime | None = None) -> str:
    """Send a code to ``phone`` for the community ``token`` names; returns the masked number."""
    community = community_by_token(token)
    number = _phone(phone)
    if not available():
        raise Problem(_("Text messages are not available here."), status=503, field="phone")
    now = now or utcnow()
    code = f"{secrets.randbelow(10**6):06d}"
    with db.atomic():
        row = NewsSmsFollower.get_or_none(
            NewsSmsFollower.community == community.id, NewsSmsFollower.phone == number
        )
        if row is None:
            try:
                with db.atomic():
                    row = NewsSmsFollower.create(community=community.id, phone=number)
            except IntegrityError:
                row = NewsSmsFollower.get(
                    NewsSmsFollower.community == community.id, NewsSmsFollower.phone == number
                )
        if row.code_sent_at is not None and now - row.code_sent_at < RESEND_AFTER:
            raise Problem(
                _("A code was sent a moment ago; wait a minute before asking again."),
                status=429, field="phone", code="too_soon",
            )  # fmt: skip
        row.code_hash, row.code_sent_at, row.code_attempts = _hash(row.id, code), now, 0
        row.save()
        sent = sms_api.send_to_phone(
            number, VERIFY, {"code": code}, purpose="news.verify",
            dedupe_key=f"news-verify:{row.id}:{now.isoformat()}", urgent=True,
        )  # fmt: skip
    if sent is None:
        raise Problem(_("The code could not be sent; try again later."), status=503, field="phone")
    return mask_phone(rules.national(number))


def verify(token: str, phone: str, code: str, *, now: dt.datetime | None = None) -> str:
    """Check the code; on success the phone follows the community. Returns the masked number."""
    community = community_by_token(token)
    number = _phone(phone)
    now = now or utcnow()
    code = re.sub(r"\D", "", code or "")[:6]
    with db.atomic():
        row = NewsSmsFollower.get_or_none(
            NewsSmsFollower.community == community.id, NewsSmsFollower.phone == number
        )
        bad = ValidationFailed("code", _("The code is wrong or has expired; ask for a new one."))
        if row is None or not row.code_hash or row.code_sent_at is None:
            raise bad
        if row.code_attempts >= MAX_TRIES or now - row.code_sent_at > CODE_TTL:
            raise bad
        if not hmac.compare_digest(row.code_hash, _hash(row.id, code)):
            NewsSmsFollower.update(code_attempts=NewsSmsFollower.code_attempts + 1).where(
                NewsSmsFollower.id == row.id
            ).execute()
            raise_after = bad  # raised after the block commits: the failed try counts
        else:
            raise_after = None
            masked = mask_phone(rules.national(number))
            row.verified_at = now
            row.code_hash = ""
            row.consent_version = CONSENT_VERSION
            row.consent_text = consent_text(masked, community.name)
            row.save()
    if raise_after is not None:
        raise raise_after
    return masked


def stop(token: str, phone: str) -> bool:
    community = community_by_token(token)
    number = _phone(phone)
    with db.atomic():
        return bool(
            NewsSmsFollower.delete()
            .where(NewsSmsFollower.community == community.id, NewsSmsFollower.phone == number)
            .execute()
        )


def _clean(text: str, limit: int) -> str:
    """A template value: no brackets or control characters, no links, at most ``limit``."""
    text = re.sub(r"[\x00-\x1f【】\[\]{}<>]", " ", text or "")
    text = re.sub(r"https?://\S+", "", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def send_item(item: NewsItem, community: Community) -> int:
    """``fanout.EXTRA_CHANNELS`` hook: one SMS per verified phone, once per item (dedupe)."""
    if not available():
        return 0
    params = {"community": _clean(community.name, 20), "title": _clean(item.title, 30)}
    if not params["title"]:
        params["title"] = _clean(_("News"), 30)
    rows = list(
        NewsSmsFollower.select(NewsSmsFollower.id, NewsSmsFollower.phone)
        .where(
            NewsSmsFollower.community == community.id,
            NewsSmsFollower.verified_at.is_null(False),
        )
        .order_by(NewsSmsFollower.id)
        .tuples()
    )
    queued = 0
    for chunk in chunked(rows, 200):
        for follower_id, phone in chunk:
            try:
                if sms_api.send_to_phone(
                    phone, ITEM, params, purpose="news",
                    dedupe_key=f"news:{item.id}:{follower_id}",
                ) is not None:  # fmt: skip
                    queued += 1
            except rules.ParamError as exc:
                log.warning("news SMS for item %s not sent: %s", item.id, exc)
                return queued
    return queued


def counts(community_ids: list[int]) -> dict[int, int]:
    out = dict.fromkeys(community_ids, 0)
    if community_ids:
        for cid, n in (
            NewsSmsFollower.select(NewsSmsFollower.community, fn.COUNT(NewsSmsFollower.id))
            .where(
                NewsSmsFollower.community.in_(community_ids),
                NewsSmsFollower.verified_at.is_null(False),
            )
            .group_by(NewsSmsFollower.community)
            .tuples()
        ):
            out[cid] = n
    return out


def init() -> None:
    if send_item not in fanout.EXTRA_CHANNELS:
        fanout.EXTRA_CHANNELS.append(send_item)
