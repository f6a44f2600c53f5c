"""Admin pages for notifications: the escalation policy per kind (``notifications.policy``
verbs, validated and audited there) and the delivery overview (``notifications.overview``,
through the admin's ``Scope``). This module only reads forms and renders."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from gridapp.api import current_scope
from gridapp.console.blueprint import bp
from gridapp.console.guard import ADMINS, actor, roles_required
from gridapp.errors import Problem, ValidationFailed
from gridapp.notifications import hops, overview, policy
from gridapp.notifications.channels import CHANNEL_NAMES, channels

DAYS = (7, 30, 90)
CHANNEL_LABELS = {
    "webpush": _l("Web Push"),
    "wecom": _l("WeCom app message"),
    "sms": _l("SMS"),
    "console": _l("Server log"),
}
KIND_LABELS = {
    "task.assigned": _l("New task"),
    "task.due_soon": _l("Task due soon"),
    "task.overdue": _l("Task overdue"),
    "task.returned": _l("Task sent back"),
    "matter.reported": _l("Matter to triage"),
    "matter.dispatched": _l("Matter dispatched"),
    "matter.assigned": _l("Matter assigned"),
    "matter.returned": _l("Matter sent back"),
    "matter.escalated": _l("Matter escalated"),
    "matter.due_soon": _l("Matter deadline warning"),
    "matter.progress_due": _l("Progress report due"),
    "matter.resolved": _l("Matter resolved"),
    "resident.rated": _l("Resident's rating"),
    "announcement": _l("Announcement"),
    "account.locked": _l("Account locked"),
}


def _stages_from_form(form) -> list[dict]:
    """The form gives each channel a step number (blank: not used) and each later step a wait;
    gaps are refused by naming the empty step."""
    numbers: dict[int, list[str]] = {}
    for ch in CHANNEL_NAMES:
        raw = (form.get(f"stage_{ch}") or "").strip()
        if not raw:
            continue
        if not raw.isdigit() or not 1 <= int(raw) <= hops.MAX_STAGES:
            raise ValidationFailed(f"stage_{ch}", _("Choose a step between 1 and 4."))
        numbers.setdefault(int(raw), []).append(ch)
    stages = []
    for n in range(1, max(numbers, default=0) + 1):
        raw = (form.get(f"wait_{n}") or "").strip() if n > 1 else "0"
        try:
            wait = int(raw)
        except ValueError:
            raise ValidationFailed(f"wait_{n}", _("Enter a whole number of minutes.")) from None
        stages.append({"channels": numbers.get(n, []), "wait": wait})
    return stages


def _form_field(field: str) -> str:
    """``stages.N.wait`` → the form's ``wait_{N+1}`` so the error sits under its input."""
    parts = field.split(".")
    if len(parts) == 3 and parts[0] == "stages" and parts[1].isdigit():
        n = int(parts[1]) + 1
        return f"wait_{n}" if parts[2] == "wait" else f"step_{n}"
    return field


def _step_of(p: hops.KindPolicy, channel: str) -> int | str:
    for i, stage in enumerate(p.stages):
        if channel in stage.channels:
            return i + 1
    return ""


def _policy_page(error: Problem | None = None, failed_kind: str = ""):
    return render_template(
        "console/admin/notify_policy.html",
        policies=policy.all_policies(),
        channel_names=CHANNEL_NAMES,
        configured=set(channels()),
        max_stages=hops.MAX_STAGES,
        channel_labels=CHANNEL_LABELS,
        kind_labels=KIND_LABELS,
        step_of=_step_of,
        error=error,
        error_field=_form_field(getattr(error, "field", "") or "") if error else "",
        failed_kind=failed_kind,
        form=request.form if error else {},
    ), (error.status if error else 200)


@bp.route("/admin/notifications/policy")
@roles_required(*ADMINS)
def admin_notify_policy():
    return _policy_page()


@bp.route("/admin/notifications/policy/<kind>", methods=["POST"])
@roles_required(*ADMINS)
def admin_notify_policy_save(kind: str):
    ip = request.remote_addr or ""
    try:
        if request.form.get("reset"):
            policy.reset_policy(actor(), kind, ip=ip)
        else:
            stages = _stages_from_form(request.form)
            policy.save_policy(actor(), kind, bool(request.form.get("urgent")), stages, ip=ip)
    except Problem as exc:
        return _policy_page(exc, kind)
    flash(_("Saved."))
    return redirect(url_for("console.admin_notify_policy") + f"#policy-{kind}")


@bp.route("/admin/notifications/delivery")
@roles_required(*ADMINS)
def admin_notify_overview():
    days = request.args.get("days", type=int) or 30
    if days not in DAYS:
        days = 30
    data = overview.delivery_overview(current_scope(), days)
    return render_template(
        "console/admin/notify_overview.html",
        data=data,
        day_choices=DAYS,
        channel_labels=CHANNEL_LABELS,
        duration=_duration,
    )


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 90:
        return _("%(n)s s", n=round(seconds))
    if seconds < 90 * 60:
        return _("%(n)s min", n=round(seconds / 60))
    return _("%(n)s h", n=round(seconds / 3600, 1))
