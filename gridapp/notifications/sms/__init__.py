"""SMS through a cloud provider (Tencent Cloud SMS): approved templates, caps, cost counters,
status reports, the ``sms`` delivery channel and ``send_to_phone`` for other features.

Public surface (CHANNELS.md): ``configured(app)``, ``build(app)``, ``send_to_phone(...)``,
``register_template(key, params, text_zh)``. See docs/notifications.md, "SMS".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gridapp.notifications.sms.rules import ParamError, register_template
from gridapp.notifications.sms.settings import configured

if TYPE_CHECKING:
    from flask import Flask

    from gridapp.notifications.sms.channel import SmsChannel


def build(app: Flask) -> SmsChannel:
    from gridapp.notifications.sms.channel import build as _build

    return _build(app)


def send_to_phone(
    phone: str,
    template: str,
    params: dict[str, str],
    *,
    purpose: str,
    dedupe_key: str,
    user_id: int | None = None,
    urgent: bool = False,
) -> int | None:
    """Queue one SMS (see ``service.send_to_phone``): the row id, or None when not sent."""
    from gridapp.notifications.sms import catalog  # noqa: F401  (the app's own templates)
    from gridapp.notifications.sms.service import send_to_phone as _send

    return _send(
        phone, template, params, purpose=purpose, dedupe_key=dedupe_key, user_id=user_id,
        urgent=urgent,
    )  # fmt: skip


__all__ = ["ParamError", "build", "configured", "register_template", "send_to_phone"]
