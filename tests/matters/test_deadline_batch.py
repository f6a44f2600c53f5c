"""A deadline pass over many due matters is set-based: exactly the expected events, inbox rows
and change-log rows, in a number of database round trips that does not grow with the matters."""

from __future__ import annotations

import datetime as dt

import pytest

from gridapp.changes import Change
from gridapp.db import db, utcnow
from gridapp.matters.jobs import check_matter_deadlines
from gridapp.matters.models import Matter, MatterEvent, MatterPart
from gridapp.notifications.models import Notification
from gridapp.tasks.jobs import check_task_deadlines
from gridapp.tasks.models import Task

CATS = ("个事", "社事", "专事", "难事")


class _Counting:
    """A DB-API cursor that records each round trip (execute, executemany, COPY)."""

    def __init__(self, cur, log: list[str]) -> None:
        self._c, self._log = cur, log

    def execute(self, sql, *a, **k):
        self._log.append(sql)
        return self._c.execute(sql, *a, **k)

    def executemany(self, sql, seq, *a, **k):
        self._log.append(sql)
        return self._c.executemany(sql, seq, *a, **k)

    def copy(self, sql, *a, **k):
        self._log.append(sql)
        return self._c.copy(sql, *a, **k)

    def __enter__(self):
        self._c.__enter__()
        return self

    def __exit__(self, *exc):
        return self._c.__exit__(*exc)

    def __iter__(self):
        return iter(self._c)

    def __getattr__(self, name):
        return getattr(self._c, name)


@pytest.fixture
def statements(monkeypatch):
    log: list[str] = []
    real = db.obj.cursor
    monkeypatch.setattr(db.obj, "cursor", lambda *a, **k: _Counting(real(*a, **k), log))
    return log


def seed(org, n: int, now: dt.datetime) -> list[int]:
    """``n`` running matters cycling through the four categories: even ones past their
    deadline, odd ones at their warning point, odd 难事 also due a progress report."""
    rows = []
    for i in range(n):
        cat = CATS[i % 4]
        row = {
            "code": f"T{i:07d}",
            "source": "worker",
            "grid": org.grid.id,
            "community": org.community.id,
            "title": f"事项{i}",
            "text": "x",
            "state": "in_progress",
            "category": cat,
            "deadline_start": now - dt.timedelta(days=8),
            "progress_every": None,  # insert_many takes its columns from the first row
            "progress_due_at": None,
            "created_at": now,
            "updated_at": now,
        }
        if i % 2 == 0:
            row.update(
                deadline_at=now - dt.timedelta(hours=1),
                escalate_at=now - dt.timedelta(hours=1),
                warn_at=now - dt.timedelta(days=1),
            )
        else:
            row.update(
                deadline_at=now + dt.timedelta(days=1),
                escalate_at=now + dt.timedelta(days=1),
                warn_at=now - dt.timedelta(minutes=5),
            )
            if cat == "难事":
                row.update(progress_every=5, progress_due_at=now - dt.timedelta(minutes=1))
        rows.append(row)
    with db.atomic():
        for i in range(0, n, 100):
            Matter.insert_many(rows[i : i + 100]).execute()
        ids = [m for (m,) in Matter.select(Matter.id).where(Matter.code.startswith("T")).tuples()]
        parts = []
        for mid, row in zip(sorted(ids), rows, strict=True):
            deps = {"专事": [org.department.id], "难事": [org.department.id, org.department2.id]}
            for j, d in enumerate(deps.get(row["category"], [])):
                parts.append(
                    {"matter": mid, "department": d, "state": "in_progress", "lead": j == 0}
                )
        MatterPart.insert_many(parts).execute()
    return sorted(ids)


def notes(user, type_):
    return (
        Notification.select()
        .where(Notification.recipient == user.id, Notification.type == type_)
        .count()
    )


def test_pass_over_200_due_matters_is_set_based(app, org, people, statements):
    n = 200
    now = utcnow()
    ids = seed(org, n, now)
    events0, notes0, changes0 = (
        MatterEvent.select().count(),
        Notification.select().count(),
        Change.select().count(),
    )
    statements.clear()
    out = check_matter_deadlines(now)
    used = len(statements)
    assert out == {"escalated": n // 2, "warned": n // 2, "progress": n // 4}
    # Row by row this was ~30 statements per matter (~7,500 here); now ~28 per batch and kind
    # whatever its size (86 here, including the delivery dispatch that runs inline under
    # HUEY_IMMEDIATE).
    assert used <= 100, "\n".join(statements)

    assert MatterEvent.select().count() - events0 == n // 2 + n // 2 + n // 4
    # escalated: 个事 → supervisors (2) + grid worker; 专事 → supervisors (2) + water
    # warned: 社事 → supervisors (2) + grid worker; 难事 → water + power; progress: 难事 → both
    assert Notification.select().count() - notes0 == 300 + 250 + 100
    assert notes(people.worker, "matter.due_soon") == n // 4
    assert notes(people.sup, "matter.escalated") == n // 2
    assert notes(people.street_sup, "matter.escalated") == n // 2
    assert notes(people.worker, "matter.escalated") == n // 4
    assert notes(people.water, "matter.escalated") == n // 4
    assert notes(people.power, "matter.escalated") == 0
    assert notes(people.other_sup, "matter.escalated") == 0
    assert notes(people.sup, "matter.due_soon") == n // 4
    assert notes(people.water, "matter.due_soon") == n // 4
    assert notes(people.power, "matter.progress_due") == n // 4
    assert (
        Notification.select()
        .where(Notification.type == "matter.escalated", ~Notification.urgent)
        .count()
        == 0
    )
    # change log: each matter for its grid and each active department, each inbox row for
    # its recipient; seqs stay unique and dense
    matter_changes = (n // 4) * 1 + (n // 4) * 2 + (n // 4) * 1 + (n // 4) * 3 + (n // 4) * 3
    assert Change.select().count() - changes0 == matter_changes + 650  # one per inbox row
    seqs = [s for (s,) in Change.select(Change.seq).order_by(Change.seq).tuples()]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))

    by_id = {m.id: m for m in Matter.select().where(Matter.id.in_(ids))}
    for i, mid in enumerate(ids):
        m = by_id[mid]
        if i % 2 == 0:
            assert (m.state, m.level, m.version) == ("escalated", 1, 2)
            assert m.category == {"个事": "社事", "专事": "难事"}[CATS[i % 4]]
            assert m.warn_at is None and m.escalate_at is None and m.progress_due_at is None
        else:
            assert (m.state, m.level, m.version) == ("in_progress", 0, 1)  # not made stale
            assert m.warn_at is None and m.escalate_at is not None and m.progress_due_at is None
    kinds = dict(
        MatterEvent.select(MatterEvent.action, MatterEvent.id)
        .where(MatterEvent.matter == ids[0], MatterEvent.actor_role == "system")
        .tuples()
    )
    assert set(kinds) == {"escalate"}

    # a second pass finds nothing: one statement, nothing written
    statements.clear()
    assert check_matter_deadlines(now + dt.timedelta(minutes=5)) == {
        "warned": 0,
        "escalated": 0,
        "progress": 0,
    }
    assert len(statements) == 1
    assert Notification.select().count() - notes0 == 650


def test_small_chunks_give_the_same_result(app, org, people):
    now = utcnow()
    seed(org, 40, now)
    out = check_matter_deadlines(now, chunk=7)
    assert out == {"escalated": 20, "warned": 20, "progress": 10}
    assert check_matter_deadlines(now, chunk=7) == {"escalated": 0, "warned": 0, "progress": 0}
    assert notes(people.sup, "matter.escalated") == 20


def test_task_pass_is_set_based(app, org, people, statements):
    now = utcnow()
    rows = [
        {
            "title": f"任务{i}",
            "assignee": people.worker.id,
            "created_by": people.sup.id,
            "grid": org.grid.id,
            "state": "assigned",
            "due_at": now,
            "warn_at": now - dt.timedelta(hours=1),
            "overdue_at": now - dt.timedelta(minutes=1) if i % 2 else now + dt.timedelta(days=1),
            "created_at": now,
            "updated_at": now,
        }
        for i in range(200)
    ]
    with db.atomic():
        for i in range(0, 200, 100):
            Task.insert_many(rows[i : i + 100]).execute()
    statements.clear()
    assert check_task_deadlines(now) == {"tasks_overdue": 100, "tasks_due_soon": 200}
    assert len(statements) <= 40, "\n".join(statements)
    assert notes(people.worker, "task.overdue") == 100
    assert notes(people.sup, "task.overdue") == 100
    assert notes(people.worker, "task.due_soon") == 200
    assert check_task_deadlines(now) == {"tasks_overdue": 0, "tasks_due_soon": 0}
