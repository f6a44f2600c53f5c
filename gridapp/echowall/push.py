"""Web Push for a matter's tracking page: a resident's browser follows one matter by its
tracking code (no account), and every change the tracking page shows is pushed to it.

- ``subscribe_updates(code, endpoint, p256dh, auth)`` → ``(row, created)``; the same endpoint
  for the same matter again refreshes its keys. Validated like the users' subscriptions
  (``notifications.rules``); at most ``MAX_PER_MATTER`` browsers per matter.
- ``unsubscribe_updates(code, endpoint)`` → whether a row went.
- ``public_events_committed(pairs)``: the matters feature's listener (``public.announce``,
  after commit) — enqueues ``push_updates_job`` for the events of matters someone follows.
- ``push_updates_job(event_ids)``: one push per (event, subscription) through the ``webpush``
  channel: 2xx stamps ``last_success_at``, 404/410 delete the subscription, 429/5xx/network
  errors are retried later with backoff (``rules.judge``), anything else is logged.

The payload says only what the tracking page says (code, status, the timeline line, the link).
There is no inbox behind these pushes: a lost one is seen on the next visit to the page.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from peewee import IntegrityError

from gridapp.db import db, utcnow
from gridapp.echowall.models import EchoPushSubscription
from gridapp.errors import NotFound, Problem, ValidationFailed
from gridapp.jobs import app_task
from gridapp.matters import public
from gridapp.matters.models import Matter, MatterEvent
from gridapp.notifications import rules
from gridapp.notifications.channels import Message, channels, push_policy, settings
from gridapp.notifications.subscriptions import check_endpoint

log = logging.getLogger(__name__)

MAX_PER_MATTER = 20
PUSH_TYPE = "echowall.update"


def followed_matter(code: str) -> Matter:
    """The matter a tracking code names, if residents may follow it (echo-wall reports only,
    like rating); 404 otherwise."""
    matter = Matter.get_or_none(Matter.code == (code or "").strip().upper()[:16])
    if matter is None or matter.source != "resident":
        raise NotFound()
    return matter


def check_subscription(endpoint: str, p256dh: str, auth: str) -> None:
    """The users' subscription rules (``notifications.rules``, the push hosts and public
    addresses of ``notifications.endpoints``), with the same messages."""
    check_endpoint(endpoint, push_policy())
    bad = rules.key_problem(p256dh, auth)
    if bad:
        raise ValidationFailed(bad[0], _("The subscription key is malformed."))


def subscribe_updates(
    code: str, endpoint: str, p256dh: str, auth: str, locale: str = ""
) -> tuple[EchoPushSubscription, bool]:
    """Follow the matter ``code`` from this browser; returns (row, created). ``locale`` is the
    language the page was read in: its pushes are written in it (a resident who chose English
    gets English notifications; unknown or empty means the default)."""
    if locale not in current_app.config["LANGUAGES"]:
        locale = ""
    matter = followed_matter(code)
    check_subscription(endpoint, p256dh, auth)
    where = (EchoPushSubscription.matter == matter.id) & (EchoPushSubscription.endpoint == endpoint)
    with db.atomic():
        row = EchoPushSubscription.get_or_none(where)
        if row is None:
            count = (
                EchoPushSubscription.select()
                .where(EchoPushSubscription.matter == matter.id)
                .count()
            )
            if count >= MAX_PER_MATTER:
                raise Problem(
                    _("Too many devices follow this matter already."),
                    field="endpoint",
                    status=409,
                    code="too_many",
                )
            try:
                with db.atomic():
                    row = EchoPushSubscription.create(
                        matter=matter.id, endpoint=endpoint, p256dh=p256dh, auth=auth,
                        locale=locale,
                    )  # fmt: skip
                return row, True
            except IntegrityError:  # the same browser, twice at once: one row
                row = EchoPushSubscription.get(where)
        if (row.p256dh, row.auth, row.locale) != (p256dh, auth, locale):
            row.p256dh, row.auth, row.locale = p256dh, auth, locale
            row.save()
        return row, False


def unsubscribe_updates(code: str, endpoint: str) -> bool:
    """Stop following the matter ``code`` from this browser (another matter's rows stay)."""
    matter = followed_matter(code)
    with db.atomic():
        return bool(
            EchoPushSubscription.delete()
            .where(
                EchoPushSubscription.matter == matter.id,
                EchoPushSubscription.endpoint == endpoint,
            )
            .execute()
        )


# ---- delivery ---------------------------------------------------------------------------------


def public_events_committed(pairs: list[tuple[int, int]]) -> None:
    """Listener for ``public.announce``: enqueue a push job only for events of matters someone
    follows (one indexed look-up; most matters have no follower)."""
    matter_ids = sorted({m for m, _e in pairs})
    followed = {
        m
        for (m,) in EchoPushSubscription.select(EchoPushSubscription.matter)
        .where(EchoPushSubscription.matter.in_(matter_ids))
        .distinct()
        .tuples()
    }
    event_ids = sorted(e for m, e in pairs if m in followed)
    if event_ids:
        push_updates_job(event_ids)


def update_message(ev: MatterEvent, code: str, departments: dict[int, str]) -> dict[str, str]:
    """Title, body and link of the push for one event: what the tracking page shows of it."""
    return {
        "title": _(
            "Your report %(code)s: %(status)s", code=code, status=public.status_text(ev.to_state)
        ),
        "body": public.event_text(ev, departments) or _("Open the page to see the progress."),
        "link": f"/t/{code}",
    }


@app_task()
def push_updates_job(
    event_ids: list[int], attempt: int = 1, only: list[list[int]] | None = None
) -> dict[str, int]:
    """Push each event to its matter's subscriptions (``only``: the (event, subscription) pairs
    a previous attempt must retry). Returns counts per outcome."""
    events = list(
        MatterEvent.select(MatterEvent, Matter.id, Matter.code)
        .join(Matter)
        .where(MatterEvent.id.in_(event_ids))
        .order_by(MatterEvent.id)
    )
    subs: dict[int, list[EchoPushSubscription]] = defaultdict(list)
    for s in EchoPushSubscription.select().where(
        EchoPushSubscription.matter.in_(sorted({ev.matter_id for ev in events}) or [0])
    ):
        subs[s.matter_id].append(s)
    wanted = {tuple(p) for p in only} if only is not None else None
    departments = public.department_names(events)
    messages: list[Message] = []
    pairs: list[tuple[int, int]] = []
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    texts: dict[tuple[int, str], dict[str, str]] = {}  # (event, locale) → title, body, link

    def text_of(ev: MatterEvent, locale: str) -> dict[str, str]:
        key = (ev.id, locale)
        if key not in texts:
            with force_locale(locale):
                texts[key] = update_message(ev, ev.matter.code, departments)
        return texts[key]

    for ev in events:
        for s in subs[ev.matter_id]:
            if wanted is not None and (ev.id, s.id) not in wanted:
                continue
            messages.append(
                Message(
                    delivery_id=s.id,
                    notification_id=ev.id,
                    recipient_id=0,
                    type=PUSH_TYPE,
                    urgent=False,
                    endpoint=s.endpoint,
                    p256dh=s.p256dh,
                    auth=s.auth,
                    **text_of(ev, s.locale or default),
                )
            )
            pairs.append((ev.id, s.id))
    if not messages:
        return {}
    outcomes = channels()["webpush"].send_many(messages)
    return _record(pairs, outcomes, attempt, event_ids)


def _record(pairs, outcomes, attempt: int, event_ids: list[int]) -> dict[str, int]:
    s = settings()
    by_verdict: dict[str, list[tuple[int, int]]] = defaultdict(list)
    delay = 0.0
    now = utcnow()
    for pair, outcome in zip(pairs, outcomes, strict=True):
        verdict = rules.judge(
            outcome.status_code,
            attempt,
            s["max_attempts"],
            rules.parse_retry_after(outcome.retry_after, now),
            base=s["backoff_base"],
        )
        by_verdict[verdict.status].append(pair)
        if verdict.status == "retry":
            delay = max(delay, verdict.delay or 0.0)
        elif verdict.status == "failed":
            log.warning("echo push %s failed: %s %s", pair, outcome.status_code, outcome.error)
    sent = sorted({sub for _e, sub in by_verdict.get("sent", [])})
    gone = sorted({sub for _e, sub in by_verdict.get("gone", [])})
    with db.atomic():
        if sent:
            EchoPushSubscription.update(last_success_at=utcnow()).where(
                EchoPushSubscription.id.in_(sent)
            ).execute()
        if gone:
            EchoPushSubscription.delete().where(EchoPushSubscription.id.in_(gone)).execute()
    retry = by_verdict.get("retry")
    if retry:
        push_updates_job.schedule(
            args=(sorted({e for e, _s in retry}), attempt + 1, [list(p) for p in retry]),
            delay=delay,
        )
    return {k: len(v) for k, v in by_verdict.items()}


def init_push() -> None:
    public.on_public_events(public_events_committed)
