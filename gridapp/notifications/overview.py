"""The admins' delivery overview: per channel sent / delivered / failed / read and the median
time to read, this month's SMS spend, and the users no channel reaches (a list to act on).

Aggregates run in the database (GROUP BY; the median as one ORDER BY … OFFSET per channel),
over the deliveries of the recipients the caller's ``Scope`` sees (an admin sees everyone).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from peewee import fn

from gridapp.db import is_postgres, utcnow
from gridapp.notifications.channels import CHANNEL_NAMES, channels, reachable
from gridapp.notifications.models import Delivery, Notification
from gridapp.org.models import User, UserGrid
from gridapp.scope import Scope

FAILED = ("failed", "gone")


def _recipients(scope: Scope):
    """The users whose deliveries the scope covers: everyone for an admin, else the workers of
    its grids (a subquery, so the overview never lists another unit's people)."""
    if scope.grid_ids is None:
        return None
    return UserGrid.select(UserGrid.user).where(scope.grid_condition(UserGrid.grid))


def _seconds(later, earlier) -> Any:
    if is_postgres():
        return fn.date_part("epoch", later - earlier)
    return (fn.julianday(later) - fn.julianday(earlier)) * 86400.0


def channel_figures(scope: Scope, since: dt.datetime, until: dt.datetime) -> list[dict[str, Any]]:
    """Per channel: deliveries sent (incl. delivered), delivered (a receipt), failed (failed or
    gone), skipped, read (sent and its notification read) and the median seconds from send to
    read, for deliveries created in [since, until)."""
    users = _recipients(scope)

    def base(q):
        q = q.join(Notification).where(Delivery.created_at >= since, Delivery.created_at < until)
        if users is not None:
            q = q.where(Notification.recipient.in_(users))
        return q

    sent_ok = Delivery.status == "sent"
    rows = base(
        Delivery.select(
            Delivery.channel,
            fn.SUM(sent_ok.cast("integer")),
            fn.COUNT(Delivery.delivered_at),
            fn.SUM(Delivery.status.in_(FAILED).cast("integer")),
            fn.SUM((Delivery.status == "skipped").cast("integer")),
            fn.SUM((sent_ok & Notification.read_at.is_null(False)).cast("integer")),
        )
    ).group_by(Delivery.channel)
    found = {r[0]: r[1:] for r in rows.tuples()}
    out = []
    for ch in [*CHANNEL_NAMES, *sorted(set(found) - set(CHANNEL_NAMES))]:
        if ch not in found:
            continue
        sent, delivered, failed, skipped, read = (int(v or 0) for v in found[ch])
        out.append(
            {
                "channel": ch,
                "sent": sent,
                "delivered": delivered,
                "failed": failed,
                "skipped": skipped,
                "read": read,
                "median_read_seconds": _median_read(base, ch, read),
            }
        )
    return out


def _median_read(base, channel: str, count: int) -> float | None:
    if not count:
        return None
    secs = _seconds(Notification.read_at, Delivery.sent_at)
    q = (
        base(Delivery.select(secs))
        .where(
            Delivery.channel == channel,
            Delivery.status == "sent",
            Notification.read_at.is_null(False),
            Delivery.sent_at.is_null(False),
        )
        .order_by(secs)
    )
    middle = list(q.offset((count - 1) // 2).limit(2 - count % 2).tuples())
    values = [max(0.0, float(r[0])) for r in middle if r[0] is not None]
    return sum(values) / len(values) if values else None


def sms_spend() -> dict[str, Any] | None:
    """This month's SMS messages and cost from the sms feature, when it is installed."""
    try:
        from gridapp.notifications.sms.service import month_spend
    except ImportError:
        return None
    return month_spend()


def unreachable_users(scope: Scope, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Active staff no channel reaches now: they see a notification only when they open the
    app. Uses ``reach.reach`` (Web Push judged by what came back) when present, else each
    configured channel's ``reachable``."""
    q = User.select(User.id, User.username, User.display_name, User.role).where(
        User.is_active == True,  # noqa: E712
        User.role.in_(("grid_worker", "supervisor", "department")),
    )
    users = _recipients(scope)
    if users is not None:
        q = q.where(User.id.in_(users))
    people = {r[0]: r for r in q.order_by(User.display_name, User.id).tuples()}
    if not people:
        return []
    try:
        from gridapp.notifications.reach import reach
    except ImportError:
        reach = None
    out = []
    if reach is not None:
        found = reach(people, now)
        for uid, row in people.items():
            r = found.get(uid)
            if r is None or r.best is None:
                out.append(_person(row, r.webpush if r else "none"))
        return out
    chans = channels()
    reached: set[int] = set()
    for name, ch in chans.items():
        if name != "console":
            reached |= reachable(ch, people)
    return [_person(row, "none") for uid, row in people.items() if uid not in reached]


def _person(row: tuple, webpush: str) -> dict[str, Any]:
    return {
        "id": row[0],
        "username": row[1],
        "display_name": row[2],
        "role": row[3],
        "webpush": webpush,
    }


def delivery_overview(scope: Scope, days: int = 30, now: dt.datetime | None = None) -> dict:
    now = now or utcnow()
    since = now - dt.timedelta(days=days)
    return {
        "days": days,
        "since": since,
        "channels": channel_figures(scope, since, now + dt.timedelta(seconds=1)),
        "sms": sms_spend(),
        "unreachable": unreachable_users(scope, now),
    }
