"""Housekeeping: session rows that ended a month ago, and stale throttle rows, are deleted."""

from __future__ import annotations

import datetime as dt

from huey import crontab

from gridapp.accounts.models import LoginThrottle
from gridapp.accounts.sessions import prune_sessions
from gridapp.db import utcnow
from gridapp.jobs import app_periodic_task


def prune_throttle(now: dt.datetime | None = None) -> int:
    """Counters forget failures after the window anyway; drop rows idle for a day."""
    cutoff = (now or utcnow()) - dt.timedelta(days=1)
    return (
        LoginThrottle.delete()
        .where(
            LoginThrottle.last_failure_at < cutoff,
            (LoginThrottle.locked_until.is_null()) | (LoginThrottle.locked_until < cutoff),
        )
        .execute()
    )


@app_periodic_task(crontab(minute="23", hour="3"))
def prune_sessions_job() -> int:
    return prune_sessions() + prune_throttle()
