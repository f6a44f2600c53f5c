"""Housekeeping for sync: answers to pushed operations are kept long enough for any replay."""

from __future__ import annotations

import datetime as dt

from huey import crontab

from gridapp.db import db, utcnow
from gridapp.jobs import app_periodic_task
from gridapp.sync.models import SyncOp

# A phone that has not synced for this long pulls from scratch anyway; its replays are older.
KEEP_OP_ANSWERS = dt.timedelta(days=180)


def prune_sync_ops(now: dt.datetime | None = None) -> int:
    """Delete stored op answers older than ``KEEP_OP_ANSWERS``; returns how many went."""
    cutoff = (now or utcnow()) - KEEP_OP_ANSWERS
    with db.atomic():
        return SyncOp.delete().where(SyncOp.created_at < cutoff).execute()


@app_periodic_task(crontab(minute="17", hour="3"))
def prune_sync_ops_job() -> int:
    return prune_sync_ops()
