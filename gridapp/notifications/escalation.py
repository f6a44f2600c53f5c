"""The escalation chain: later stages of a kind's policy, sent when they come due unless the
notification was read anywhere meanwhile (filled in by the policy work)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence


def hop_ended(notification_ids: Sequence[int], now: dt.datetime) -> None:
    """A delivery of these notifications ended without reaching the user (failed, gone, a late
    failure receipt): their chains move on at once when nothing of the stage is still open."""
    return None
