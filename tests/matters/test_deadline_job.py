"""The deadline job with a controllable clock: warns once at 80 %, escalates once past the
deadline; the working-day calendar with admin overrides and the unknown-year fallback."""

from __future__ import annotations

import datetime as dt
import logging

from gridapp.db import utcnow
from gridapp.matters.jobs import check_matter_deadlines
from gridapp.matters.models import Matter, MatterEvent
from gridapp.notifications.models import Notification


def count(user, type_):
    return (
        Notification.select()
        .where(Notification.recipient == user.id, Notification.type == type_)
        .count()
    )


def dispatched_matter(flow, org, category="专事"):
    mid = flow.report("worker", text="水管漏水")
    flow.move(mid, "sup", "triage", category=category)
    deps = [org.department.id] if category in ("专事", "难事") else []
    flow.move(mid, "sup", "dispatch", department_ids=deps)
    return Matter.get_by_id(mid)


def test_job_warns_once_then_escalates_once(flow, people, org):
    m = dispatched_matter(flow, org)
    assert m.deadline_at > m.warn_at > m.deadline_start
    # nothing due yet
    assert check_matter_deadlines(m.warn_at - dt.timedelta(minutes=1)) == {
        "warned": 0,
        "escalated": 0,
        "progress": 0,
    }
    at_warn = m.warn_at + dt.timedelta(minutes=1)
    assert check_matter_deadlines(at_warn)["warned"] == 1
    assert check_matter_deadlines(at_warn)["warned"] == 0  # twice → one warning
    assert count(people.water, "matter.due_soon") == 1
    assert count(people.sup, "matter.escalated") == 0
    assert Matter.get_by_id(m.id).version == m.version  # a warning does not make edits stale
    past = m.deadline_at + dt.timedelta(minutes=1)
    first = check_matter_deadlines(past)
    second = check_matter_deadlines(past + dt.timedelta(hours=1))
    assert first["escalated"] == 1 and second["escalated"] == 0
    after = Matter.get_by_id(m.id)
    assert after.state == "escalated" and after.category == "难事" and after.level == 1
    assert count(people.sup, "matter.escalated") == 1
    assert count(people.street_sup, "matter.escalated") == 1
    assert count(people.water, "matter.escalated") == 1
    assert count(people.other_sup, "matter.escalated") == 0
    events = [
        (e.action, e.actor_role)
        for e in MatterEvent.select().where(MatterEvent.matter == m.id).order_by(MatterEvent.id)
    ]
    assert events[-2:] == [("warn", "system"), ("escalate", "system")]


def test_resolved_matter_is_not_escalated(flow, people, org):
    m = dispatched_matter(flow, org)
    flow.move(m.id, "water", "resolve", result="修好了")
    assert check_matter_deadlines(m.deadline_at + dt.timedelta(days=1))["escalated"] == 0
    assert Matter.get_by_id(m.id).state == "resolved"


def test_difficult_matter_progress_reminder(flow, people, org):
    m = dispatched_matter(flow, org, "难事")
    assert m.progress_every == 5 and m.progress_due_at < m.deadline_at
    out = check_matter_deadlines(m.progress_due_at + dt.timedelta(minutes=1))
    assert out["progress"] == 1
    assert count(people.water, "matter.progress_due") == 1
    flow.move(m.id, "water", "accept")
    flow.move(m.id, "water", "progress", note="协调中")
    assert Matter.get_by_id(m.id).progress_due_at is not None


def test_deadline_rules_per_department_and_urgent_hours(flow, people, org):
    admin = people.api["admin"]
    resp = admin.put(
        "/api/v1/deadline-rules",
        json={"category": "专事", "department_id": org.department.id, "amount": 2},
    )
    assert resp.status_code == 200, resp.get_json()
    m = dispatched_matter(flow, org)
    start = m.deadline_start
    from gridapp.matters.deadlines import to_local

    local_days = (to_local(m.deadline_at).date() - to_local(start).date()).days
    assert 2 <= local_days <= 12  # two working days (more across a weekend or holiday)
    resp = admin.put(
        "/api/v1/deadline-rules",
        json={"category": "个事", "community_id": org.community.id, "amount": 4, "unit": "hours"},
    )
    assert resp.status_code == 200
    mid = flow.report("worker", text="x")
    flow.move(mid, "sup", "triage", category="个事")
    flow.move(mid, "sup", "dispatch")
    m2 = Matter.get_by_id(mid)
    assert m2.deadline_at - m2.deadline_start == dt.timedelta(hours=4)
    rules = admin.get("/api/v1/deadline-rules").get_json()
    assert {r["category"] for r in rules} >= {"个事", "社事", "专事", "难事"}
    assert (
        people.api["sup"]
        .put("/api/v1/deadline-rules", json={"category": "个事", "amount": 1})
        .status_code
        == 403
    )
    # urgent matters count plain hours
    mid = flow.report("worker", text="燃气泄漏", urgent=True)
    flow.move(mid, "sup", "triage", category="专事")
    flow.move(mid, "sup", "dispatch", department_ids=[org.department2.id])
    m3 = Matter.get_by_id(mid)
    assert m3.deadline_at - m3.deadline_start == dt.timedelta(hours=24)


def test_calendar_overrides_and_unknown_year(app, people, caplog):
    from gridapp.matters import calendar

    admin = people.api["admin"]
    # 2026-10-10 (Sat) is an official make-up workday; 2026-10-01 a holiday
    cal = calendar.working_calendar(dt.date(2026, 9, 1))
    assert cal(dt.date(2026, 10, 10)) and not cal(dt.date(2026, 10, 1))
    assert cal(dt.date(2026, 1, 4))  # Sunday make-up workday after New Year
    resp = admin.put(
        "/api/v1/calendar-days", json={"day": "2026-10-10", "is_working": False, "note": "台风停工"}
    )
    assert resp.status_code == 200, resp.get_json()
    assert not calendar.working_calendar(dt.date(2026, 9, 1))(dt.date(2026, 10, 10))
    assert admin.delete("/api/v1/calendar-days/2026-10-10").status_code == 200
    assert calendar.working_calendar(dt.date(2026, 9, 1))(dt.date(2026, 10, 10))
    year = calendar.last_known_year() + 1
    calendar._warned_years.discard(year)
    with caplog.at_level(logging.WARNING, logger="gridapp.matters.calendar"):
        jan1 = dt.date(year, 1, 1)
        assert calendar.official_is_working(jan1) == (jan1.weekday() < 5)
        calendar.official_is_working(dt.date(year, 1, 2))
    warnings = [r for r in caplog.records if str(year) in r.getMessage()]
    assert len(warnings) == 1
    # an admin fills in the unknown year
    admin.put("/api/v1/calendar-days", json={"day": jan1.isoformat(), "is_working": False})
    assert not calendar.working_calendar(jan1 - dt.timedelta(days=3))(jan1)


def test_job_is_cheap_when_nothing_is_due(flow, org):
    dispatched_matter(flow, org)
    assert check_matter_deadlines(utcnow()) == {"warned": 0, "escalated": 0, "progress": 0}


def test_periodic_job_body_runs_in_the_app(flow, people, org):
    from gridapp.matters.jobs import matter_deadline_job

    m = dispatched_matter(flow, org)
    Matter.update(escalate_at=utcnow() - dt.timedelta(minutes=1)).where(Matter.id == m.id).execute()
    out = matter_deadline_job.call_local()
    assert out["escalated"] == 1 and "tasks_overdue" in out
    assert matter_deadline_job.call_local()["escalated"] == 0
