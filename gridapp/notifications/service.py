"""``notify``: the one function every event that concerns a person calls."""

from __future__ import annotations

from collections.abc import Iterable

from gridapp.changes import record_change
from gridapp.db import db
from gridapp.notifications.models import Notification


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
    commit or roll back together.
    """
    ids: list[int] = []
    with db.atomic():
        for rid in dict.fromkeys(recipient_ids):
            n = Notification.create(
                recipient=rid, type=type, title=title, body=body, link=link, urgent=urgent
            )
            record_change("notification", n.id, user_id=rid)
            ids.append(n.id)
    return ids
