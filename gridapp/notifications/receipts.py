"""Receipts from channels, after the send: "delivered" (an SMS status report, the service
worker's acknowledgment of a Web Push) and a late "failed" (an SMS the carrier could not
deliver). Channels and their webhooks call these two functions; they never touch the
``delivery`` table themselves (CHANNELS.md).

A late failure ends the hop: when no other delivery of the same stage is still on its way,
the notification's escalation chain moves to its next stage at once (``escalation``), instead
of waiting for the policy's window.
"""

from __future__ import annotations

import datetime as dt

from gridapp.db import db, utcnow
from gridapp.notifications.models import Delivery

# Rows that may still turn out delivered or failed (a receipt can overtake our own record).
OPEN = ("queued", "held", "retry", "sending", "sent")


def mark_delivered(delivery_id: int, at: dt.datetime | None = None) -> bool:
    """Record that the channel delivered ``delivery_id`` (naive UTC ``at``, default now).

    Idempotent: the first receipt sets ``delivered_at``; later ones change nothing. A receipt
    that overtakes our own "sent" (the provider answered the status report first) also marks
    the row sent. Returns True when this call recorded it, False for an unknown delivery, one
    already marked delivered, or one already failed/gone/skipped."""
    at = _naive(at) or utcnow()
    with db.atomic():
        row = (
            Delivery.select(Delivery.id, Delivery.status, Delivery.sent_at)
            .where(Delivery.id == delivery_id, Delivery.delivered_at.is_null())
            .first()
        )
        if row is None or row.status not in OPEN:
            return False
        fields = {"delivered_at": at, "updated_at": utcnow()}
        if row.status != "sent":
            fields.update(status="sent", claim=None, sent_at=row.sent_at or at)
        changed = (
            Delivery.update(**fields)
            .where(Delivery.id == delivery_id, Delivery.delivered_at.is_null())
            .execute()
        )
    return bool(changed)


def mark_failed(delivery_id: int, error: str, at: dt.datetime | None = None) -> bool:
    """Record a late failure of ``delivery_id`` (e.g. an SMS status report "undelivered").

    Idempotent: only a row still open (not delivered, not already failed/gone/skipped) changes.
    The escalation chain of its notification moves on at once when nothing else of that stage
    is still on its way. Returns True when this call recorded the failure."""
    at = _naive(at) or utcnow()
    with db.atomic():
        row = Delivery.get_or_none(Delivery.id == delivery_id)
        if row is None or row.status not in OPEN or row.delivered_at is not None:
            return False
        changed = (
            Delivery.update(
                status="failed", error=(error or "failed")[:500], claim=None, updated_at=at
            )
            .where(
                Delivery.id == delivery_id,
                Delivery.status.in_(OPEN),
                Delivery.delivered_at.is_null(),
            )
            .execute()
        )
        if changed:
            nid = row.notification_id
            db.after_commit(lambda: _hop_ended([nid], at))
    return bool(changed)


def _hop_ended(notification_ids: list[int], at: dt.datetime) -> None:
    from gridapp.notifications import escalation

    escalation.hop_ended(notification_ids, max(at, utcnow()))


def _naive(at: dt.datetime | None) -> dt.datetime | None:
    """Naive UTC (a receipt's time may carry an offset: the provider's report)."""
    if at is not None and at.tzinfo is not None:
        at = at.astimezone(dt.UTC).replace(tzinfo=None)
    return at
