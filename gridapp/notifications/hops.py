"""Pure escalation rules: what a policy is, its defaults, its validation, and which stage of a
chain comes next. Standard library only, tested without an app.

A kind's policy is an ordered list of *stages*; each stage names the channels sent together and
how many minutes after the previous stage it comes due if the notification is still unread
(the first stage's wait is 0). "A message read anywhere stops the chain": a later stage is
skipped once the notification was read. A stage that reaches nobody (every channel unreachable,
not configured, turned off by the user, failed or gone) hands over to the next one at once.
SMS costs money and wakes people: an SMS hop is only sent for urgent notifications (a kind the
policy marks urgent, or one flagged urgent by its event: a priority task, an urgent matter).
Urgent ones are never held by quiet hours.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

CHANNELS = ("webpush", "wecom", "sms", "console")
MAX_STAGES = 4
MAX_WAIT = 24 * 60  # minutes
URGENT_ONLY = frozenset({"sms"})

# Kinds seen in the code (notify / notify_many callers), in the order the settings page lists them.
KINDS = (
    "task.assigned",
    "task.due_soon",
    "task.overdue",
    "task.returned",
    "matter.reported",
    "matter.dispatched",
    "matter.assigned",
    "matter.returned",
    "matter.escalated",
    "matter.due_soon",
    "matter.progress_due",
    "matter.resolved",
    "resident.rated",
    "announcement",
    "account.locked",
)


@dataclass(frozen=True)
class Stage:
    channels: tuple[str, ...]
    wait: int  # minutes after the previous stage went out (0 for the first)


@dataclass(frozen=True)
class KindPolicy:
    kind: str
    urgent: bool
    stages: tuple[Stage, ...]

    def allows(self, channel: str) -> bool:
        return any(channel in s.channels for s in self.stages)

    def to_json(self) -> list[dict]:
        return [{"channels": list(s.channels), "wait": s.wait} for s in self.stages]


def _chain(wecom: int, sms: int | None) -> tuple[Stage, ...]:
    stages = [Stage(("webpush", "console"), 0), Stage(("wecom",), wecom)]
    if sms is not None:
        stages.append(Stage(("sms",), sms))
    return tuple(stages)


# Defaults in code (an admin's row in notification_policy replaces one kind's).
_URGENT_DEFAULT = frozenset({"task.overdue", "matter.escalated", "account.locked"})
_CHAINS = {
    "task.assigned": _chain(10, 30),
    "task.overdue": _chain(10, 30),
    "matter.dispatched": _chain(10, 30),
    "matter.assigned": _chain(10, 30),
    "matter.escalated": _chain(10, 30),
    "matter.due_soon": _chain(15, 60),
    "task.due_soon": _chain(30, 60),
    "account.locked": _chain(5, 15),
    "announcement": _chain(60, None),
}
FALLBACK = _chain(30, None)


def default_policy(kind: str) -> KindPolicy:
    return KindPolicy(kind, kind in _URGENT_DEFAULT, _CHAINS.get(kind, FALLBACK))


class PolicyError(ValueError):
    """A field of a submitted policy is wrong: ``field`` names it for the form/problem+json."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def validate(
    kind: str, urgent: bool, stages: Iterable[Mapping], known: Iterable[str] = CHANNELS
) -> KindPolicy:
    """A ``KindPolicy`` from submitted stages, or ``PolicyError`` naming the first bad field.

    Rules: 1–4 stages, each with at least one known channel, no channel twice in the chain;
    the first stage waits 0, each later one 1–1440 minutes; SMS only in an urgent kind's chain
    (an SMS hop of another kind would be sent to flagged-urgent notifications only, which an
    admin reading the page would not expect), never in the first stage."""
    known = set(known)
    out: list[Stage] = []
    seen: set[str] = set()
    for i, raw in enumerate(stages):
        chans = tuple(dict.fromkeys(raw.get("channels") or ()))
        wait = raw.get("wait", 0)
        if not chans:
            raise PolicyError(f"stages.{i}.channels", "empty")
        for ch in chans:
            if ch not in known:
                raise PolicyError(f"stages.{i}.channels", "unknown")
            if ch in seen:
                raise PolicyError(f"stages.{i}.channels", "twice")
            if ch in URGENT_ONLY and not urgent:
                raise PolicyError(f"stages.{i}.channels", "urgent only")
            if ch in URGENT_ONLY and i == 0:
                raise PolicyError(f"stages.{i}.channels", "not first")
            seen.add(ch)
        if isinstance(wait, bool) or not isinstance(wait, int):
            raise PolicyError(f"stages.{i}.wait", "not a number")
        if i == 0 and wait != 0:
            raise PolicyError(f"stages.{i}.wait", "first waits 0")
        if i > 0 and not 1 <= wait <= MAX_WAIT:
            raise PolicyError(f"stages.{i}.wait", "range")
        out.append(Stage(chans, wait))
    if not out:
        raise PolicyError("stages", "empty")
    if len(out) > MAX_STAGES:
        raise PolicyError("stages", "too many")
    return KindPolicy(kind, bool(urgent), tuple(out))


def usable(
    policy: KindPolicy, stage: int, urgent: bool, allowed: set[str], choice: Mapping[str, bool]
) -> tuple[str, ...]:
    """The channels of ``stage`` that may be tried for one notification: configured
    (``allowed``), not turned off by the user (``choice``: channel → enabled, already resolved
    from type/"*"/default), and SMS only when urgent. Reachability is checked by the caller."""
    if stage >= len(policy.stages):
        return ()
    return tuple(
        ch
        for ch in policy.stages[stage].channels
        if ch in allowed and choice.get(ch, False) and (urgent or ch not in URGENT_ONLY)
    )


def next_stage(
    policy: KindPolicy,
    after: int,
    urgent: bool,
    allowed: set[str],
    choice: Mapping[str, bool],
) -> int | None:
    """The first stage after ``after`` with any channel that may be tried, or None (the chain
    ends): no due time is set, no job scheduled, when nothing could follow."""
    for i in range(after + 1, len(policy.stages)):
        if usable(policy, i, urgent, allowed, choice):
            return i
    return None
