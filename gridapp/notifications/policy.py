"""The escalation policy as stored: defaults in code (``hops``), an admin's row per kind in
``notification_policy`` replacing the default; saving is validated and audited."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from flask_babel import gettext as _

from gridapp.audit import write_audit
from gridapp.db import db, utcnow
from gridapp.errors import ValidationFailed
from gridapp.notifications import hops
from gridapp.notifications.hops import KindPolicy, Stage
from gridapp.notifications.models import NotificationPolicy
from gridapp.org.models import User


def _from_row(row: NotificationPolicy) -> KindPolicy:
    try:
        stages = tuple(
            Stage(tuple(s["channels"]), int(s["wait"])) for s in json.loads(row.hops or "[]")
        )
    except (ValueError, KeyError, TypeError):
        stages = ()
    if not stages:  # a row nobody could have saved: the default is safer than no delivery
        return hops.default_policy(row.kind)
    return KindPolicy(row.kind, row.urgent, stages)


def load(kinds: Iterable[str] | None = None) -> dict[str, KindPolicy]:
    """The policies of ``kinds`` (every stored one when None); callers use ``policy_for`` for
    a kind with no row."""
    q = NotificationPolicy.select()
    if kinds is not None:
        q = q.where(NotificationPolicy.kind.in_(sorted(set(kinds))))
    return {r.kind: _from_row(r) for r in q}


def policy_for(kind: str, loaded: Mapping[str, KindPolicy]) -> KindPolicy:
    found = loaded.get(kind)
    return found if found is not None else hops.default_policy(kind)


def all_policies() -> list[tuple[KindPolicy, bool]]:
    """Every known kind (and any stored one) with its policy and whether it is the default."""
    stored = load()
    kinds = list(hops.KINDS) + sorted(set(stored) - set(hops.KINDS))
    return [(policy_for(k, stored), k not in stored) for k in kinds]


_REASONS = {
    "empty": lambda: _("Choose at least one channel."),
    "unknown": lambda: _("Unknown channel."),
    "twice": lambda: _("A channel may appear in one step only."),
    "urgent only": lambda: _("SMS is only for kinds marked urgent."),
    "not first": lambda: _("SMS cannot be the first step."),
    "not a number": lambda: _("Enter a whole number of minutes."),
    "first waits 0": lambda: _("The first step goes out at once."),
    "range": lambda: _("Between 1 and 1440 minutes."),
    "too many": lambda: _("At most four steps."),
}


def save_policy(
    actor: User, kind: str, urgent: bool, stages: list[Mapping], ip: str = ""
) -> KindPolicy:
    """Validate and store ``kind``'s policy (replacing the default), audited. Raises
    ``ValidationFailed`` naming the field (``stages.N.channels`` / ``stages.N.wait``)."""
    if kind not in hops.KINDS:
        raise ValidationFailed("kind", _("Unknown notification type."))
    try:
        policy = hops.validate(kind, urgent, stages)
    except hops.PolicyError as exc:
        raise ValidationFailed(exc.field, _REASONS[exc.reason]()) from None
    with db.atomic():
        NotificationPolicy.insert(
            kind=kind, urgent=policy.urgent, hops=json.dumps(policy.to_json()),
            updated_at=utcnow(), updated_by=actor.id,
        ).on_conflict(
            conflict_target=[NotificationPolicy.kind],
            update={
                NotificationPolicy.urgent: policy.urgent,
                NotificationPolicy.hops: json.dumps(policy.to_json()),
                NotificationPolicy.updated_at: utcnow(),
                NotificationPolicy.updated_by: actor.id,
            },
        ).execute()  # fmt: skip
        write_audit(
            actor.id, "notification.policy", "notification_policy", kind, ip=ip,
            detail={"urgent": policy.urgent, "stages": policy.to_json()},
        )  # fmt: skip
    return policy


def reset_policy(actor: User, kind: str, ip: str = "") -> None:
    """Back to the default in code, audited."""
    with db.atomic():
        NotificationPolicy.delete().where(NotificationPolicy.kind == kind).execute()
        write_audit(actor.id, "notification.policy_reset", "notification_policy", kind, ip=ip)


def allowed_channels(kind: str, loaded: Mapping[str, KindPolicy] | None = None) -> set[str]:
    """Channels a user may turn on for ``kind`` ("*": any kind's)."""
    loaded = load() if loaded is None else loaded
    if kind == "*":
        return {
            ch
            for k in set(hops.KINDS) | set(loaded)
            for s in policy_for(k, loaded).stages
            for ch in s.channels
        }
    return {ch for s in policy_for(kind, loaded).stages for ch in s.channels}
