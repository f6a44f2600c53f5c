"""Deadline rules and calendar overrides (admin): ``set_rule`` and ``set_calendar_day`` of the
matters feature; the page shows the built-in defaults that apply where no rule is set."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from pydantic import ValidationError

from gridapp.console.blueprint import bp
from gridapp.console.guard import ADMINS, actor, roles_required
from gridapp.console.settings import _int
from gridapp.errors import Problem, pydantic_problem
from gridapp.matters import deadlines
from gridapp.matters import service as msvc
from gridapp.matters.models import CalendarDay, DeadlineRule
from gridapp.matters.schemas import CalendarDayIn, RuleIn
from gridapp.matters.states import CATEGORIES
from gridapp.org.models import Community, Department
from gridapp.times import local_today


def _page(error: Problem | None = None):
    rules = list(DeadlineRule.select().order_by(DeadlineRule.category, DeadlineRule.id))
    return render_template(
        "console/admin/deadlines.html",
        rules=rules,
        defaults=deadlines.DEFAULT_RULES,
        categories=CATEGORIES,
        communities={c.id: c.name for c in Community.select().order_by(Community.name)},
        departments={d.id: d.name for d in Department.select().order_by(Department.name)},
        days=list(CalendarDay.select().order_by(CalendarDay.day.desc()).limit(60)),
        error=error,
        today=local_today().isoformat(),
    ), (error.status if error else 200)


@bp.route("/admin/deadlines")
@roles_required(*ADMINS)
def admin_deadlines():
    return _page()


@bp.route("/admin/deadlines", methods=["POST"])
@roles_required(*ADMINS)
def admin_deadlines_save():
    f = request.form
    try:
        if f.get("kind") == "day":
            day = CalendarDayIn(
                day=f.get("day", ""), is_working=f.get("is_working") == "1", note=f.get("note", "")
            )
            msvc.set_calendar_day(actor(), day)
        else:
            rule = RuleIn(
                category=f.get("category", ""),
                community_id=_int("community_id"),
                department_id=_int("department_id"),
                amount=_int("amount", 0),
                unit=f.get("unit", "workdays"),
                progress_every=_int("progress_every"),
            )
            msvc.set_rule(actor(), rule)
    except ValidationError as exc:
        return _page(pydantic_problem(exc))
    except Problem as exc:
        return _page(exc)
    flash(_("Saved."))
    return redirect(url_for("console.admin_deadlines"))
