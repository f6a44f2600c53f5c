"""Web Push subscriptions: what ``PushSubscription.toJSON()`` posts, one row per endpoint."""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _

from gridapp.db import db
from gridapp.errors import ValidationFailed
from gridapp.notifications import rules
from gridapp.notifications.channels import push_policy
from gridapp.notifications.endpoints import Policy
from gridapp.notifications.models import Delivery, PushSubscription
from gridapp.org.models import User


def subscribe_push(
    actor: User,
    endpoint: str,
    p256dh: str,
    auth: str,
    expiration_ms: int | None = None,
    user_agent: str = "",
    *,
    policy: Policy | None = None,
) -> tuple[PushSubscription, bool]:
    """Store (or refresh) this device's subscription; returns (row, created).

    The same endpoint posted again is the same subscription: its keys are updated, and if
    another user had it (a shared phone), it now belongs to ``actor``.
    """
    check_endpoint(endpoint, policy or push_policy())
    bad = rules.key_problem(p256dh, auth)
    if bad:
        raise ValidationFailed(bad[0], _("The subscription key is malformed."))
    expires = None
    if expiration_ms:
        expires = dt.datetime.fromtimestamp(expiration_ms / 1000, dt.UTC).replace(tzinfo=None)
    with db.atomic():
        row = PushSubscription.get_or_none(PushSubscription.endpoint == endpoint)
        if row is None:
            row = PushSubscription.create(
                user=actor.id,
                endpoint=endpoint,
                p256dh=p256dh,
                auth=auth,
                expiration_time=expires,
                user_agent=user_agent[:300],
            )
            return row, True
        if row.user_id != actor.id:
            # The phone changed hands: a new row (new id), so deliveries still pending for the
            # previous user lose their subscription and are skipped, never shown to this one.
            ua = user_agent[:300] or row.user_agent
            row.delete_instance()
            row = PushSubscription.create(
                user=actor.id,
                endpoint=endpoint,
                p256dh=p256dh,
                auth=auth,
                expiration_time=expires,
                user_agent=ua,
            )
            return row, False
        row.p256dh, row.auth, row.expiration_time = p256dh, auth, expires
        row.user_agent = user_agent[:300] or row.user_agent
        row.save()
        return row, False


def check_endpoint(endpoint: str, policy: Policy) -> None:
    """422 on "endpoint" unless it is an https URL of a known push service whose addresses are
    all public (``endpoints.Policy``); shared with the echo wall's resident subscriptions."""
    if rules.endpoint_problem(endpoint, True):
        raise ValidationFailed("endpoint", _("The push endpoint must be an https URL."))
    problem = policy.url_problem(endpoint)
    if problem == "must be an https URL":
        raise ValidationFailed("endpoint", _("The push endpoint must be an https URL."))
    if problem:
        raise ValidationFailed(
            "endpoint",
            _("The push endpoint is not on a known push service."),
            code="endpoint_refused",
        )


def unsubscribe_push(actor: User, endpoint: str) -> bool:
    """Forget the caller's subscription for ``endpoint``; True when one was removed."""
    with db.atomic():
        return bool(
            PushSubscription.delete()
            .where(PushSubscription.endpoint == endpoint, PushSubscription.user == actor.id)
            .execute()
        )


def list_subscriptions(actor: User) -> list[PushSubscription]:
    return list(
        PushSubscription.select()
        .where(PushSubscription.user == actor.id)
        .order_by(PushSubscription.created_at)
    )


def last_delivery(subscription_id: int) -> Delivery | None:
    return (
        Delivery.select()
        .where(Delivery.subscription == subscription_id)
        .order_by(Delivery.id.desc())
        .first()
    )
