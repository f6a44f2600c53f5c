"""The provider's status reports (回执): Tencent posts ``sid`` (our ``serial``), ``report_status``
SUCCESS/FAIL, ``errmsg``, ``description`` and ``user_receive_time`` (Beijing time). Each one
updates its ``sms_message`` once, and the delivery it carried through ``notifications.receipts``
(a late failure lets the escalation chain move on)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from gridapp.db import db, utcnow
from gridapp.notifications import receipts
from gridapp.notifications.sms.models import SmsMessage

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _report_time(value: Any, now: dt.datetime) -> dt.datetime:
    """Tencent's ``user_receive_time`` is Beijing time, ``YYYY-MM-DD HH:MM:SS``."""
    try:
        local = dt.datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
    except (TypeError, ValueError):
        return now
    return local.astimezone(dt.UTC).replace(tzinfo=None)


def apply_reports(reports: list[dict[str, Any]]) -> dict[str, int]:
    """Apply status reports (``sid``, ``report_status`` SUCCESS/FAIL, ``errmsg``,
    ``description``, ``user_receive_time``). Idempotent: a report for a message that already
    has one changes nothing. Returns counts: delivered, failed, unknown, repeated."""
    counts = {"delivered": 0, "failed": 0, "unknown": 0, "repeated": 0}
    now = utcnow()
    for report in reports:
        if not isinstance(report, dict):
            counts["unknown"] += 1
            continue
        sid = str(report.get("sid") or "")[:80]
        row = SmsMessage.get_or_none(SmsMessage.serial == sid) if sid else None
        if row is None:
            counts["unknown"] += 1
            continue
        at = _report_time(report.get("user_receive_time"), now)
        ok = str(report.get("report_status") or "").upper() == "SUCCESS"
        error = ""
        if not ok:
            error = (
                " ".join(
                    str(report.get(k) or "") for k in ("errmsg", "description") if report.get(k)
                )[:500]
                or "not delivered"
            )
        with db.atomic():
            changed = (
                SmsMessage.update(
                    status="delivered" if ok else "failed",
                    receipt_at=at,
                    **({} if ok else {"error": error}),
                )
                .where(SmsMessage.id == row.id, SmsMessage.receipt_at.is_null())
                .execute()
            )
        if not changed:
            counts["repeated"] += 1
            continue
        counts["delivered" if ok else "failed"] += 1
        if row.delivery_id is not None:
            if ok:
                receipts.mark_delivered(row.delivery_id, at)
            else:
                receipts.mark_failed(row.delivery_id, f"sms: {error}", at)
    return counts
