"""``notify``: the one function every event that concerns a person calls; the inbox verbs;
per-user channel preferences and quiet hours."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import gettext as _

from gridapp.changes import record_change, record_changes
from gridapp.db import db, insert_rows, reserve_ids, utcnow
from gridapp.errors import NotFound, ValidationFailed
from gridapp.notifications import policy, rules
from gridapp.notifications.channels import CHANNEL_NAMES, DEFAULT_ENABLED, channels
from gridapp.notifications.delivery import after_commit_dispatch
from gridapp.notifications.models import Notification, NotificationPreference, QuietHours
from gridapp.org.models import User

# The events of DESIGN section 8; preferences accept these and "*" (every type).
KNOWN_TYPES = (
    "task.assigned",
    "task.due_soon",
    "task.overdue",
    "matter.dispatched",
    "matter.returned",
    "matter.escalated",
    "matter.resolved",
    "resident.rated",
    "announcement",
)
TYPE_RE = re.compile(r"^(\*|[a-z][a-z0-9_.]{0,39})$")


def notify(
    recipient_ids: Iterable[int],
    type: str,
    title: str,
    body: str = "",
    link: str = "",
    *,
    urgent: bool = False,
) -> list[int]:
    """Write one inbox row per recipient (deduplicated); returns the new notification ids.

    Runs in the caller's transaction when there is one, so an event and its notification
    commit or roll back together. Delivery over each recipient's channels is enqueued only
    once the outermost transaction commits (nothing is sent for a rollback).
    """
    ids: list[int] = []
    with db.atomic():
        for rid in dict.fromkeys(recipient_ids):
            n = Notification.create(
                recipient=rid, type=type, title=title, body=body, link=link, urgent=urgent
            )
            record_change("notification", n.id, user_id=rid)
            ids.append(n.id)
        after_commit_dispatch(ids)
    return ids


NOTE_COLS = ["id", "recipient_id", "type", "title", "body", "link", "urgent", "created_at"]


def notify_many(items: Iterable[tuple[Iterable[int], str, str, str, str, bool]]) -> list[int]:
    """Bulk ``notify`` for jobs that raise many events at once: each item is
    ``(recipient_ids, type, title, body, link, urgent)``. The inbox rows go in with one
    ``insert_rows``, their change-log rows with one ``record_changes``; delivery is enqueued after
    the outermost commit, as with ``notify``. Returns the new notification ids."""
    now = utcnow()
    rows: list[list] = []
    for recipient_ids, type, title, body, link, urgent in items:
        for rid in dict.fromkeys(recipient_ids):
            rows.append([0, rid, type, title, body, link, bool(urgent), now])
    if not rows:
        return []
    with db.atomic():
        ids = reserve_ids(Notification, len(rows))
        for row, nid in zip(rows, ids, strict=True):
            row[0] = nid
        insert_rows(Notification, NOTE_COLS, [tuple(r) for r in rows])
        record_changes(
            [{"entity": "notification", "entity_id": r[0], "user_id": r[1]} for r in rows]
        )
        after_commit_dispatch(ids)
    return ids


# ---- inbox ---------------------------------------------------------------------------------


def unread_count(actor: User) -> int:
    return (
        Notification.select()
        .where(Notification.recipient == actor.id, Notification.read_at.is_null())
        .count()
    )


def list_inbox(actor: User, page: int = 1, per_page: int = 20, unread_only: bool = False) -> dict:
    q = Notification.select().where(Notification.recipient == actor.id)
    if unread_only:
        q = q.where(Notification.read_at.is_null())
    total = q.count()
    items = list(
        q.order_by(Notification.created_at.desc(), Notification.id.desc()).paginate(page, per_page)
    )
    return {
        "items": items,
        "page": page,
        "per_page": per_page,
        "total": total,
        "unread": unread_count(actor),
    }


def mark_read(actor: User, notification_id: int) -> Notification:
    with db.atomic():
        n = Notification.get_or_none(
            Notification.id == notification_id, Notification.recipient == actor.id
        )
        if n is None:
            raise NotFound(_("No such notification."))
        if n.read_at is None:
            n.read_at = utcnow()
            n.save(only=[Notification.read_at])
            record_change("notification", n.id, user_id=actor.id)
    return n


def mark_all_read(actor: User) -> int:
    with db.atomic():
        ids = [
            r[0]
            for r in Notification.select(Notification.id)
            .where(Notification.recipient == actor.id, Notification.read_at.is_null())
            .tuples()
        ]
        if ids:
            Notification.update(read_at=utcnow()).where(Notification.id.in_(ids)).execute()
            for nid in ids:
                record_change("notification", nid, user_id=actor.id)
    return len(ids)


# ---- preferences and quiet hours -------------------------------------------------------------


@dataclass(frozen=True)
class Preference:
    type: str
    channel: str
    enabled: bool


@dataclass(frozen=True)
class Quiet:
    enabled: bool
    start: str
    end: str
    timezone: str


def get_settings(actor: User) -> dict:
    chosen = {
        (p.type, p.channel): p.enabled
        for p in NotificationPreference.select().where(NotificationPreference.user == actor.id)
    }
    prefs = []
    for kind in ("*", *KNOWN_TYPES, *sorted({t for t, _c in chosen} - set(KNOWN_TYPES) - {"*"})):
        for ch in CHANNEL_NAMES:
            every = chosen.get(("*", ch), DEFAULT_ENABLED[ch])
            prefs.append({"type": kind, "channel": ch, "enabled": chosen.get((kind, ch), every)})
    q = QuietHours.get_or_none(QuietHours.user == actor.id) or QuietHours(user=actor.id)
    loaded = policy.load()
    configured = channels()
    return {
        "channels": list(CHANNEL_NAMES),
        # Channels this deployment has configured, and per type those its escalation policy
        # offers: the only ones a user may turn on (settings pages grey out the others).
        "available": [ch for ch in CHANNEL_NAMES if ch in configured],
        "allowed": {
            kind: sorted(policy.allowed_channels(kind, loaded), key=CHANNEL_NAMES.index)
            for kind in ("*", *KNOWN_TYPES)
        },
        "types": list(KNOWN_TYPES),
        "preferences": prefs,
        "quiet_hours": {
            "enabled": q.enabled,
            "start": rules.format_hhmm(q.start_min),
            "end": rules.format_hhmm(q.end_min),
            "timezone": q.timezone,
        },
    }


def update_settings(
    actor: User, preferences: list[Preference] | None = None, quiet: Quiet | None = None
) -> dict:
    loaded = policy.load() if preferences else {}
    with db.atomic():
        for i, p in enumerate(preferences or []):
            if not TYPE_RE.match(p.type):
                raise ValidationFailed(f"preferences.{i}.type", _("Unknown notification type."))
            if p.channel not in CHANNEL_NAMES:
                raise ValidationFailed(f"preferences.{i}.channel", _("Unknown channel."))
            if p.enabled and p.channel not in policy.allowed_channels(p.type, loaded):
                raise ValidationFailed(
                    f"preferences.{i}.channel",
                    _("The notification policy does not offer this channel for this type."),
                )
            NotificationPreference.insert(
                user=actor.id, type=p.type, channel=p.channel, enabled=p.enabled
            ).on_conflict(
                conflict_target=[
                    NotificationPreference.user,
                    NotificationPreference.type,
                    NotificationPreference.channel,
                ],
                update={NotificationPreference.enabled: p.enabled},
            ).execute()
        if quiet is not None:
            times = {}
            for name in ("start", "end"):
                try:
                    times[name] = rules.parse_hhmm(getattr(quiet, name))
                except ValueError:
                    raise ValidationFailed(
                        f"quiet_hours.{name}", _("Use the form HH:MM, e.g. 22:00.")
                    ) from None
            start, end = times["start"], times["end"]
            try:
                ZoneInfo(quiet.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValidationFailed("quiet_hours.timezone", _("Unknown time zone.")) from None
            QuietHours.insert(
                user=actor.id,
                enabled=quiet.enabled,
                start_min=start,
                end_min=end,
                timezone=quiet.timezone,
            ).on_conflict(
                conflict_target=[QuietHours.user],
                update={
                    QuietHours.enabled: quiet.enabled,
                    QuietHours.start_min: start,
                    QuietHours.end_min: end,
                    QuietHours.timezone: quiet.timezone,
                },
            ).execute()
    return get_settings(actor)
