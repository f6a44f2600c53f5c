"""Audit log of personal-data access and administrative acts (who, what, when, from where)."""

from __future__ import annotations

import json
from typing import Any

from peewee import CharField, DateTimeField, IntegerField, TextField

from gridapp.db import BaseModel, utcnow
from gridapp.times import json_default


class AuditLog(BaseModel):
    at = DateTimeField(default=utcnow, index=True)
    actor_id = IntegerField(null=True, index=True)
    action = CharField(max_length=60, index=True)  # e.g. "reveal.phone", "export.roster"
    target_type = CharField(max_length=40, default="")
    target_id = CharField(max_length=64, default="")
    ip = CharField(max_length=64, default="")
    detail = TextField(default="{}")


def write_audit(
    actor_id: int | None,
    action: str,
    target_type: str = "",
    target_id: str | int = "",
    *,
    ip: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditLog:
    return AuditLog.create(
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        ip=ip or "",
        detail=json.dumps(detail or {}, ensure_ascii=False, default=json_default),
    )
