"""Deadline rules and the running deadline of a matter (DB side of ``deadlines.py``)."""

from __future__ import annotations

import datetime as dt
import json

from gridapp.matters import deadlines
from gridapp.matters.calendar import working_calendar
from gridapp.matters.models import DeadlineRule, MatterEvent


def rule_for(
    community_id: int | None, category: str, department_id: int | None
) -> tuple[int, str, int | None]:
    """(amount, unit, progress_every): the most specific of community+department, community,
    department, street-wide rows, else the DESIGN defaults."""
    rows = list(
        DeadlineRule.select().where(
            DeadlineRule.category == category,
            (DeadlineRule.community == community_id) | DeadlineRule.community.is_null(),
            (DeadlineRule.department == department_id) | DeadlineRule.department.is_null(),
        )
    )

    def rank(r: DeadlineRule) -> tuple[int, int]:
        return (r.community_id is not None, r.department_id is not None)

    if rows:
        best = max(rows, key=rank)
        return best.amount, best.unit, best.progress_every
    return deadlines.DEFAULT_RULES.get(category, (7, "workdays", None))


def start_deadline(
    matter, now: dt.datetime, department_id: int | None, due_day: dt.date | None = None
) -> dt.datetime:
    """Set deadline, warning point and (难事) progress-report point on ``matter`` (not saved).
    ``due_day`` (a local date a triager chose) replaces the rule's deadline; progress reports
    still follow the rule. Returns the rule's deadline (naive UTC), for the timeline's trace."""
    amount, unit, progress_every = rule_for(matter.community_id, matter.category, department_id)
    if matter.urgent:
        amount, unit = deadlines.URGENT_HOURS if unit != "hours" else amount, "hours"
    local = deadlines.to_local(now)
    cal = working_calendar(local.date(), span_days=max(60, amount * 4 + 30))
    d = deadlines.compute(local, amount, unit, cal)
    rule_due = deadlines.to_utc(d.due_at)
    if due_day is not None:
        d = deadlines.due_on(local, due_day)
    matter.deadline_start = now
    matter.deadline_at = deadlines.to_utc(d.due_at)
    matter.warn_at = deadlines.to_utc(d.warn_at)
    matter.escalate_at = matter.deadline_at
    matter.progress_every = progress_every
    if progress_every and unit == "workdays":
        matter.progress_due_at = deadlines.to_utc(
            deadlines.add_working_days(local, progress_every, cal)
        )
    else:
        matter.progress_due_at = None
    return rule_due


def day_set_by_hand(matter, now: dt.datetime) -> dt.date | None:
    """The deadline day a triager chose on the matter's latest dispatch, while it may still be
    a deadline (not past). A rejected result restarts the clock, but the day the triager (and
    the resident, on the echo wall) were promised still holds; only once it has gone by does
    the rule's deadline, from now, take over."""
    last = (
        MatterEvent.select(MatterEvent.data)
        .where(MatterEvent.matter == matter.id, MatterEvent.action == "dispatch")
        .order_by(MatterEvent.id.desc())
        .first()
    )
    if last is None:
        return None
    try:
        day = dt.date.fromisoformat(json.loads(last.data or "{}").get("deadline") or "")
    except (TypeError, ValueError):
        return None
    if deadlines.set_deadline_problem(day, deadlines.to_local(now)) is not None:
        return None
    return day


def next_progress_due(matter, now: dt.datetime) -> dt.datetime | None:
    if not matter.progress_every:
        return None
    local = deadlines.to_local(now)
    cal = working_calendar(local.date())
    return deadlines.to_utc(deadlines.add_working_days(local, matter.progress_every, cal))


def stop_deadline(matter) -> None:
    matter.warn_at = None
    matter.escalate_at = None
    matter.progress_due_at = None
