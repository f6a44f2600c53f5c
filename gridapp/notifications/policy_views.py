"""``/api/v1/notifications/policy``: the escalation policy for admins, the API twin of the
console page ``/console/admin/notifications/policy``. Thin: validation and storage are
``policy.save_policy`` / ``reset_policy`` (the same rules and audit as the console form)."""

from __future__ import annotations

from flask import Blueprint, request
from flask_babel import gettext as _
from flask_login import current_user
from pydantic import BaseModel, Field

from gridapp.api import endpoint
from gridapp.errors import NotFound
from gridapp.notifications import hops, policy

api = Blueprint("notifications_policy_api", __name__, url_prefix="/api/v1")


class StageIO(BaseModel):
    channels: list[str] = Field(
        max_length=10, description='channels of this step: "webpush", "console", "wecom", "sms"'
    )
    wait: int = Field(
        0, ge=0, le=2**31 - 1, description="minutes after the previous step (0 for the first)"
    )


class PolicyIn(BaseModel):
    urgent: bool = Field(False, description="SMS may only appear in an urgent kind's chain")
    stages: list[StageIO] = Field(max_length=20, description="1–4 steps, the first at once")


class PolicyOut(BaseModel):
    kind: str
    urgent: bool
    stages: list[StageIO]
    is_default: bool = Field(description="true: no stored row, the default in code applies")


def _out(p: hops.KindPolicy, is_default: bool) -> dict:
    return {"kind": p.kind, "urgent": p.urgent, "stages": p.to_json(), "is_default": is_default}


def _known(kind: str) -> None:
    if kind not in hops.KINDS:
        raise NotFound(_("Unknown notification type."))


@endpoint(
    api,
    "/notifications/policy",
    response=list[PolicyOut],
    roles=["admin"],
    tags=["notifications"],
)
def list_policies():
    """Every notification kind's escalation steps, the defaults marked."""
    return [_out(p, d) for p, d in policy.all_policies()]


@endpoint(
    api,
    "/notifications/policy/<kind>",
    methods=["PUT"],
    body=PolicyIn,
    response=PolicyOut,
    roles=["admin"],
    tags=["notifications"],
    responses={404: "Unknown notification kind"},
)
def put_policy(kind: str, body: PolicyIn):
    """Replace one kind's escalation steps (validated like the console form; audited)."""
    _known(kind)
    stages = [s.model_dump() for s in body.stages]
    p = policy.save_policy(
        current_user._get_current_object(), kind, body.urgent, stages, ip=request.remote_addr or ""
    )
    return _out(p, False)


@endpoint(
    api,
    "/notifications/policy/<kind>",
    methods=["DELETE"],
    response=PolicyOut,
    roles=["admin"],
    tags=["notifications"],
    responses={404: "Unknown notification kind"},
)
def reset_policy(kind: str):
    """Return one kind to the default steps in code (audited); answers the default."""
    _known(kind)
    policy.reset_policy(current_user._get_current_object(), kind, ip=request.remote_addr or "")
    return _out(hops.default_policy(kind), True)
