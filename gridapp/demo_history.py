"""A few months of history for the demo, relative to the real "now" at seeding, so the demo
looks current on whatever day it is seeded: visits, matters in every state, tasks and a
campaign, announcements read and unread, echo-wall tokens, workers' last syncs.

Everything is written through the service verbs, in one transaction, at the real time; then
``Clock.backdate`` and ``derive_times`` move it to the story's times in one place (see
``demo_clock``). Delivery callbacks the verbs queued for after the commit (Web Push, echo-wall
push, announcement fan-out jobs) are dropped: this history happened in the past, and a fresh
demo must not push hundreds of months-old messages to the first phone that subscribes.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import defaultdict

from gridapp.db import db, is_postgres
from gridapp.demo_appointments import seed_appointments
from gridapp.demo_clock import Clock
from gridapp.demo_matters import seed_matters
from gridapp.demo_visits import seed_visits
from gridapp.demo_work import seed_announcements, seed_tasks
from gridapp.echowall.service import token_for
from gridapp.matters import rules, states
from gridapp.matters.models import Matter, MatterEvent, MatterPart
from gridapp.notifications.models import Announcement, Notification
from gridapp.org.models import Community, Grid, User, UserGrid
from gridapp.photos.models import Photo
from gridapp.tasks.models import Campaign, Task, TaskEvent
from gridapp.tasks.service import _alarms
from gridapp.visits.models import Visit

READ_AFTER = dt.timedelta(hours=36)  # older inbox rows have been read


def seed_history(
    seed: int, now: dt.datetime, matters_per_grid: tuple[int, int] = (4, 7)
) -> dict[str, int]:
    """Seed the history; returns counts of what was written."""
    rng = random.Random(seed + 1)
    with db.atomic():
        clock = Clock()
        counts = {"visits": seed_visits(rng, now)}
        counts["matters"] = seed_matters(rng, now, clock, matters_per_grid)
        task_due = seed_tasks(rng, now, clock)
        counts["tasks"] = len(task_due)
        counts["announcements"] = len(seed_announcements(rng, now, clock))
        counts["appointments"] = seed_appointments(rng, now, clock)["bookings"]
        clock.backdate()
        derive_times(now, task_due)
        read_inbox(rng, now)
        for grid in Grid.select(Grid.id):
            token_for("grid", grid.id)
        for community in Community.select(Community.id):
            token_for("community", community.id)
        last_syncs(rng, now)
        db._clear_commit_callbacks()  # see the module docstring
    return counts


def derive_times(now: dt.datetime, task_due: dict[int, dt.datetime]) -> None:
    """Times of rows the verbs updated in place, from their (back-dated) timelines."""
    Visit.update(created_at=Visit.visited_at).execute()
    events: dict[int, list[MatterEvent]] = defaultdict(list)
    for ev in MatterEvent.select().order_by(MatterEvent.at, MatterEvent.id):
        events[ev.matter_id].append(ev)
    for m in Matter.select():
        evs = events[m.id]
        m.created_at, m.updated_at = evs[0].at, evs[-1].at
        closes = [e.at for e in evs if e.action == "close"]
        m.closed_at = closes[-1] if m.state == "closed" and closes else None
        _deadline(m, evs)
        Matter.update(
            created_at=m.created_at,
            updated_at=m.updated_at,
            closed_at=m.closed_at,
            deadline_start=m.deadline_start,
            deadline_at=m.deadline_at,
            warn_at=m.warn_at,
            escalate_at=m.escalate_at,
            progress_due_at=m.progress_due_at,
        ).where(Matter.id == m.id).execute()
        for part in MatterPart.select().where(MatterPart.matter == m.id):
            touched = [e.at for e in evs if e.department_id == part.department_id]
            last = max([part.created_at, *touched])
            MatterPart.update(updated_at=last).where(MatterPart.id == part.id).execute()
        if m.photo_ids != "[]":
            Photo.update(created_at=m.created_at).where(
                Photo.owner_type == "matter", Photo.owner_id == str(m.id)
            ).execute()
    task_events: dict[int, list[TaskEvent]] = defaultdict(list)
    for ev in TaskEvent.select().order_by(TaskEvent.at, TaskEvent.id):
        task_events[ev.task_id].append(ev)
    for task in Task.select():
        evs = task_events[task.id]
        task.created_at, task.updated_at = evs[0].at, evs[-1].at
        task.due_at = task_due.get(task.id, task.due_at)
        dones = [e.at for e in evs if e.action == "done"]
        task.done_at = dones[-1] if dones and task.state in ("done", "verified") else None
        _alarms(task, task.created_at)
        Task.update(
            created_at=task.created_at,
            updated_at=task.updated_at,
            due_at=task.due_at,
            done_at=task.done_at,
            warn_at=task.warn_at,
            overdue_at=task.overdue_at,
        ).where(Task.id == task.id).execute()
    for campaign in Campaign.select():
        first = Task.select().where(Task.campaign == campaign.id).order_by(Task.id).first()
        Campaign.update(due_at=first.due_at).where(Campaign.id == campaign.id).execute()


def _deadline(m: Matter, evs: list[MatterEvent]) -> None:
    """The running deadline as dispatching at the event's time would have set it."""
    starts = [e for e in evs if e.action in ("dispatch", "reject")]
    if not starts:
        return
    start = starts[-1]
    dispatch = [e for e in evs if e.action == "dispatch"][-1]
    data = json.loads(dispatch.data or "{}")
    due_day = dt.date.fromisoformat(data["deadline"]) if data.get("deadline") else None
    lead = (data.get("department_ids") or [None])[0]
    rules.start_deadline(m, start.at, lead, due_day=due_day)
    progress = [e.at for e in evs if e.action == "progress" and e.at > start.at]
    if progress and m.progress_every:
        m.progress_due_at = rules.next_progress_due(m, progress[-1])
    if m.state not in states.RUNNING_STATES:
        rules.stop_deadline(m)


def read_inbox(rng: random.Random, now: dt.datetime) -> None:
    """Workers and staff have read what is older than a day and a half, and about half of the
    newest announcement; the rest stays unread (the inbox badge)."""
    newest = [
        a
        for (a,) in Announcement.select(Announcement.id)
        .where(Announcement.created_at > now - READ_AFTER)
        .tuples()
    ]
    rows = []
    for nid, created, announcement in Notification.select(
        Notification.id, Notification.created_at, Notification.announcement
    ).tuples():
        old = created < now - READ_AFTER
        if old or (announcement in newest and rng.random() < 0.5):
            read = created + dt.timedelta(minutes=rng.uniform(5, 600))
            rows.append((min(read, now - dt.timedelta(minutes=1)), nid))
    mark = "%s" if is_postgres() else "?"
    table = Notification._meta.table_name
    db.cursor().executemany(f'UPDATE "{table}" SET read_at = {mark} WHERE id = {mark}', rows)


def last_syncs(rng: random.Random, now: dt.datetime) -> None:
    """Most workers synced this morning; one in each community (第5网格's) has not opened the
    app for days, so the dashboard's sync table has someone to call."""
    workers = list(User.select().where(User.role == "grid_worker").order_by(User.id))
    stale = {u for (u,) in UserGrid.select(UserGrid.user).join(Grid).where(Grid.sort == 5).tuples()}
    for w in workers:
        ago = rng.uniform(50, 90) if w.id in stale else rng.uniform(0.1, 6)
        User.update(last_sync_at=now - dt.timedelta(hours=ago)).where(User.id == w.id).execute()
