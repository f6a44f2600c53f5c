"""The matter state machine and deadline arithmetic, without an app."""

from __future__ import annotations

import datetime as dt

import pytest

from gridapp.matters import deadlines, states, triage

ROLES = ("grid_worker", "supervisor", "department", "admin", "reporter", "system")
FULL = {
    "category": "专事",
    "department_ids": [1],
    "reason": "r",
    "note": "n",
    "result": "done",
    "rating": "满意",
}


@pytest.mark.parametrize("state", states.STATES)
@pytest.mark.parametrize("action", states.ACTIONS)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("category", states.CATEGORIES)
def test_every_move_is_allowed_or_refused_for_the_right_reason(state, action, role, category):
    refusal = states.check(state, action, role, category, FULL)
    role_ok = states.role_may(action, role, category)
    legal = (state, action) in states.TRANSITIONS
    if not role_ok:
        assert refusal is not None and refusal.kind == "role"
    elif not legal:
        assert refusal is not None and refusal.kind == "state"
    else:
        assert refusal is None


@pytest.mark.parametrize(
    "action,role,category,expected",
    [
        ("accept", "grid_worker", "个事", True),
        ("accept", "department", "个事", False),
        ("accept", "supervisor", "社事", True),
        ("accept", "grid_worker", "社事", True),  # the grid's worker, beside the community
        ("resolve", "grid_worker", "社事", True),
        ("accept", "grid_worker", "专事", False),
        ("resolve", "grid_worker", "难事", False),
        ("resolve", "department", "专事", True),
        ("resolve", "supervisor", "专事", False),
        ("return", "department", "难事", True),
        ("triage", "grid_worker", None, False),
        ("dispatch", "department", "专事", False),
        ("verify", "department", "专事", False),
        ("close", "grid_worker", "个事", False),
        ("rate", "reporter", "个事", True),
        ("rate", "supervisor", "个事", False),
        ("escalate", "system", "专事", True),
        ("escalate", "department", "专事", False),
    ],
)
def test_who_may(action, role, category, expected):
    assert states.role_may(action, role, category) is expected


@pytest.mark.parametrize(
    "action,fields,missing",
    [
        ("return", {"reason": ""}, "reason"),
        ("resolve", {"result": "  "}, "result"),
        ("progress", {}, "note"),
        ("triage", {}, "category"),
        ("reject", {}, "reason"),
        ("rate", {}, "rating"),
        ("escalate", {}, "reason"),
        ("resolve", {"result": "修好了"}, None),
    ],
)
def test_requirements(action, fields, missing):
    got = states.missing(
        action, {k: (v.strip() if isinstance(v, str) else v) for k, v in fields.items()}
    )
    assert got == missing


def test_dispatch_needs_departments_for_department_categories():
    assert states.missing("dispatch", {}, "专事") == "department_ids"
    assert states.missing("dispatch", {}, "难事") == "department_ids"
    assert states.missing("dispatch", {}, "个事") is None


def test_unsatisfied_rating_reopens():
    assert states.target("closed", "rate", rating="不满意") == "reopened"
    assert states.target("closed", "rate", rating="满意") == "closed"
    assert states.target("resolved", "rate", rating="满意") is None


@pytest.mark.parametrize(
    "parts,expected",
    [
        (["dispatched", "dispatched"], "dispatched"),
        (["in_progress", "dispatched"], "in_progress"),
        (["resolved", "dispatched"], "in_progress"),
        (["resolved", "resolved"], "resolved"),
        (["resolved", "returned"], "resolved"),
        (["returned", "returned"], "returned"),
        (["returned", "in_progress"], "in_progress"),
    ],
)
def test_rollup(parts, expected):
    assert states.rollup("dispatched", parts) == expected


def test_part_moves():
    assert states.check("in_progress", "accept", "department", "难事", FULL, "dispatched") is None
    refusal = states.check("in_progress", "accept", "department", "难事", FULL, "in_progress")
    assert refusal.kind == "state"
    refusal = states.check("resolved", "resolve", "department", "难事", FULL, "in_progress")
    assert refusal.kind == "state"


@pytest.mark.parametrize(
    "category,up", [("个事", "社事"), ("社事", "难事"), ("专事", "难事"), ("难事", "难事")]
)
def test_escalation_ladder(category, up):
    assert states.escalated_category(category) == up


# ---- deadlines ----------------------------------------------------------------------------

# 2026 China: Oct 1–8 National Day holiday; Sun Sep 20 and Sat Oct 10 are make-up workdays.
HOLIDAYS_2026 = {dt.date(2026, 10, d) for d in range(1, 9)}
MAKEUP_2026 = {dt.date(2026, 9, 20), dt.date(2026, 10, 10)}


def cn_2026(day: dt.date) -> bool:
    if day in MAKEUP_2026:
        return True
    if day in HOLIDAYS_2026:
        return False
    return day.weekday() < 5


@pytest.mark.parametrize(
    "start,days,cal,expected",
    [
        (
            dt.datetime(2026, 11, 27, 10),
            1,
            deadlines.weekday_calendar,
            dt.datetime(2026, 11, 30, 10),
        ),
        (
            dt.datetime(2026, 11, 25, 10),
            3,
            deadlines.weekday_calendar,
            dt.datetime(2026, 11, 30, 10),
        ),
        (dt.datetime(2026, 11, 28, 9), 1, deadlines.weekday_calendar, dt.datetime(2026, 11, 30, 9)),
        # Tue Sep 29 + 3 working days: Wed 30, (Oct 1–8 off), Fri Oct 9, Sat Oct 10 (make-up)
        (dt.datetime(2026, 9, 29, 15), 3, cn_2026, dt.datetime(2026, 10, 10, 15)),
        # Fri Sep 18 + 1: Sat Sep 20? no — Sat 19 is off, Sun 20 is the make-up day
        (dt.datetime(2026, 9, 18, 8), 1, cn_2026, dt.datetime(2026, 9, 20, 8)),
        (dt.datetime(2026, 11, 25, 10), 0, cn_2026, dt.datetime(2026, 11, 25, 10)),
    ],
)
def test_add_working_days(start, days, cal, expected):
    assert deadlines.add_working_days(start, days, cal) == expected


def test_compute_workdays_and_warning_point():
    d = deadlines.compute(dt.datetime(2026, 11, 23, 9), 5, "workdays", deadlines.weekday_calendar)
    assert d.due_at == dt.datetime(2026, 11, 30, 9)
    # 80 % of 5 working days = 4 working days → Fri 27 09:00
    assert d.warn_at == dt.datetime(2026, 11, 27, 9)


def test_compute_hours_for_urgent():
    d = deadlines.compute(dt.datetime(2026, 11, 28, 22), 10, "hours", deadlines.weekday_calendar)
    assert d.due_at == dt.datetime(2026, 11, 29, 8)
    assert d.warn_at == dt.datetime(2026, 11, 29, 6)


@pytest.mark.parametrize("amount,unit", [(0, "workdays"), (3, "weeks")])
def test_compute_rejects_nonsense(amount, unit):
    with pytest.raises(ValueError):
        deadlines.compute(dt.datetime(2026, 1, 5), amount, unit, deadlines.weekday_calendar)


def test_local_time_round_trip():
    utc = dt.datetime(2026, 11, 25, 16, 30)
    assert deadlines.to_local(utc) == dt.datetime(2026, 11, 26, 0, 30)
    assert deadlines.to_utc(deadlines.to_local(utc)) == utc


# ---- triage suggestions -------------------------------------------------------------------


def test_triage_learns_from_past_decisions():
    model = triage.train(
        [
            ("楼道灯坏了没人修", "社事"),
            ("小区路灯不亮", "社事"),
            ("自来水管爆裂漏水", "专事"),
            ("停水好几天了水压低", "专事"),
            ("老人申请低保需要证明", "个事"),
            ("开具居住证明", "个事"),
        ]
    )
    assert triage.best(model, "家里水管漏水")[0] == "专事"
    assert triage.best(model, "路灯坏了")[0] == "社事"
    assert triage.best(model, "需要开证明")[0] == "个事"
    assert triage.best(triage.train([]), "anything") == (None, 0.0)


def test_deadline_set_by_hand_is_the_end_of_a_future_local_day():
    now = dt.datetime(2026, 3, 2, 10, 0)
    assert deadlines.set_deadline_problem(dt.date(2026, 3, 2), now) is None  # today: by 23:59
    assert deadlines.set_deadline_problem(dt.date(2026, 3, 1), now) == "past"
    late = dt.datetime(2026, 3, 2, 23, 59, 30)
    assert deadlines.set_deadline_problem(dt.date(2026, 3, 2), late) == "past"
    assert deadlines.set_deadline_problem(dt.date(2027, 3, 3), now) is None  # 366 days
    assert deadlines.set_deadline_problem(dt.date(2027, 3, 4), now) == "too_far"
    d = deadlines.due_on(now, dt.date(2026, 3, 12))
    assert d.due_at == dt.datetime(2026, 3, 12, 23, 59)
    assert d.warn_at == now + (d.due_at - now) * 0.8
