"""The resident's view of a matter by tracking code: status and timeline in plain words, the
public reply, and whether it may be rated. Reveals no names, phones or internal notes.

It also says which timeline events the resident would notice (``is_public``) and tells
listeners about them once they are committed (``announce`` → ``on_public_events``): the echo
wall pushes them to browsers that follow the tracking page.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from flask_babel import gettext as _

from gridapp.db import db
from gridapp.errors import NotFound
from gridapp.matters.models import Matter, MatterEvent
from gridapp.org.models import Department


def status_text(state: str) -> str:
    return {
        "reported": _("Received, waiting to be handled"),
        "triaged": _("Being assigned"),
        "dispatched": _("Passed to the handler"),
        "in_progress": _("Being handled"),
        "resolved": _("Handled, being checked"),
        "verified": _("Handled and checked"),
        "closed": _("Completed"),
        "returned": _("Being reassigned"),
        "escalated": _("Raised to a higher level"),
        "reopened": _("Reopened"),
    }.get(state, state)


def event_text(ev: MatterEvent, departments: dict[int, str]) -> str | None:
    """The event's line on the tracking page, or None when the page does not show it."""
    data = json.loads(ev.data or "{}")
    a = ev.action
    if a == "report":
        return _("Your report was received.")
    if a == "triage":
        return _("Classified as %(c)s.", c=data.get("category") or "")
    if a == "dispatch":
        names = "、".join(departments.get(int(d), "") for d in data.get("department_ids") or [])
        if names:
            return _("Passed to %(d)s.", d=names)
        return _("Passed to the handler.")
    if a == "accept":
        return _("The handler took it on.")
    if a == "progress":
        return _("Work is in progress.")
    if a == "resolve" and ev.to_state == "resolved":
        return _("Handled.")
    if a == "verify":
        return _("The result was checked.")
    if a == "close":
        return _("Completed. Please rate the result.")
    if a == "rate":
        return _("You rated it: %(r)s.", r=data.get("rating") or "")
    if a in ("reopen",) or ev.to_state == "reopened":
        return _("Reopened for further handling.")
    if a == "escalate":
        return _("Raised to a higher level for handling.")
    if a == "return":
        return _("Being passed to the right handler.") if ev.to_state == "returned" else None
    return None


def department_names(events: Iterable[MatterEvent]) -> dict[int, str]:
    """Names of the departments these events were dispatched to (for ``event_text``)."""
    dep_ids = {
        int(d) for ev in events for d in json.loads(ev.data or "{}").get("department_ids") or []
    }
    return dict(
        Department.select(Department.id, Department.name)
        .where(Department.id.in_(sorted(dep_ids) or [0]))
        .tuples()
    )


def code_exists(code: str) -> bool:
    return Matter.select().where(Matter.code == (code or "").strip().upper()).exists()


def known_names(matters: Iterable[Matter]) -> dict[int, list[str]]:
    """Per matter, the names of people known to the record, which public pages must not show:
    the reporter, everyone who acted on its timeline (handlers, supervisors), the grid's workers,
    and the residents of households in its grid whose phone is the contact phone given (the
    reporter's household). A few indexed queries for a whole page of matters."""
    from gridapp.org.models import User, UserGrid
    from gridapp.registry.models import Household, Resident

    rows = list(matters)
    out: dict[int, set[str]] = {m.id: set() for m in rows}
    if not rows:
        return {}
    ids = [m.id for m in rows]
    users: dict[int, str] = {}
    for mid, name in (
        MatterEvent.select(MatterEvent.matter, User.display_name)
        .join(User, on=(MatterEvent.actor == User.id))
        .where(MatterEvent.matter.in_(ids))
        .tuples()
    ):
        out[mid].add(name)
    reporter_ids = sorted({m.reporter_id for m in rows if m.reporter_id})
    if reporter_ids:
        users = dict(
            User.select(User.id, User.display_name).where(User.id.in_(reporter_ids)).tuples()
        )
    by_grid: dict[int, set[str]] = {}
    grid_ids = sorted({m.grid_id for m in rows})
    for gid, name in (
        UserGrid.select(UserGrid.grid, User.display_name)
        .join(User, on=(UserGrid.user == User.id))
        .where(UserGrid.grid.in_(grid_ids))
        .tuples()
    ):
        by_grid.setdefault(gid, set()).add(name)
    phones = {(m.grid_id, m.contact_phone) for m in rows if m.contact_phone}
    residents: dict[tuple[int, str], set[str]] = {}
    if phones:
        grids_, nums = sorted({g for g, _p in phones}), sorted({p for _g, p in phones})
        homes: dict[tuple[int, str], set[int]] = {}
        for model in (Household, Resident):
            hid_field = model.id if model is Household else Resident.household
            for hid, gid, phone in (
                model.select(hid_field, model.grid, model.phone)
                .where(model.grid.in_(grids_), model.phone.in_(nums))
                .tuples()
            ):
                homes.setdefault((gid, phone), set()).add(hid)
        members: dict[int, set[str]] = {}
        all_homes = sorted({h for hs in homes.values() for h in hs})
        if all_homes:
            for hid, name in (
                Resident.select(Resident.household, Resident.name)
                .where(Resident.household.in_(all_homes))
                .tuples()
            ):
                members.setdefault(hid, set()).add(name)
        for key, hs in homes.items():
            residents[key] = {n for h in hs for n in members.get(h, set())}
    for source in _name_sources:
        for mid, extra in source(ids).items():
            out.setdefault(mid, set()).update(extra)
    for m in rows:
        names = out[m.id]
        if m.reporter_id in users:
            names.add(users[m.reporter_id])
        names |= by_grid.get(m.grid_id, set())
        if m.contact_phone:
            names |= residents.get((m.grid_id, m.contact_phone), set())
    return {mid: sorted(n for n in names if n) for mid, n in out.items()}


NameSource = Callable[[list[int]], dict[int, set[str]]]
_name_sources: list[NameSource] = []


def register_name_source(source: NameSource) -> NameSource:
    """Another feature knows people's names for some matters (e.g. the reporter's name an
    Open311 integrator sent): ``source(matter_ids) -> {matter_id: {names}}`` joins
    ``known_names``, so every public page masks them. Process-wide, registered once."""
    if source not in _name_sources:
        _name_sources.append(source)
    return source


def public_view(code: str) -> dict[str, Any]:
    """What the tracking page shows (404 for an unknown code)."""
    matter = Matter.get_or_none(Matter.code == (code or "").strip().upper())
    if matter is None:
        raise NotFound()
    events = list(
        MatterEvent.select()
        .where(MatterEvent.matter == matter.id)
        .order_by(MatterEvent.at, MatterEvent.id)
    )
    departments = department_names(events)
    timeline = []
    for ev in events:
        text = event_text(ev, departments)
        if text:
            timeline.append({"at": ev.at, "text": text})
    from gridapp.echowall.rules import mask_free_text

    public_reply = (
        mask_free_text(matter.result, limit=2000, names=known_names([matter])[matter.id])
        if matter.state in ("resolved", "verified", "closed")
        else ""
    )
    return {
        "code": matter.code,
        "status": matter.state,
        "status_text": status_text(matter.state),
        "category": matter.category,
        "reply": public_reply,
        "rating": matter.rating,
        "can_rate": matter.state == "closed" and matter.rating is None,
        # Like rating: only what a resident reported through the echo wall.
        "can_subscribe": matter.source == "resident",
        "timeline": timeline,
    }


# ---- telling listeners about public changes --------------------------------------------------

log = logging.getLogger(__name__)
Listener = Callable[[list[tuple[int, int]]], None]
_listeners: list[Listener] = []


def is_public(ev: MatterEvent) -> bool:
    """Whether the tracking page shows this change to the resident (a new line in the timeline
    or a new status) and it was not the resident's own act (the report, a rating). A warning,
    a reminder, a late photo or one department's share of a joint matter are internal."""
    if ev.actor_role == "resident":
        return False
    return ev.from_state != ev.to_state or event_text(ev, {}) is not None


def on_public_events(listener: Listener) -> Listener:
    """Register ``listener(pairs)``: called after commit with ``[(matter_id, event_id), ...]`` of
    public events. Process-wide, registered once however many apps the process creates."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def announce(pairs: Iterable[tuple[int, int]]) -> None:
    """Tell the listeners about these public events once the current (outermost) transaction
    commits; nothing on rollback. A listener's failure is logged, never raised: the matter's
    change is committed and must stand."""
    pairs = list(pairs)
    if not pairs or not _listeners:
        return

    def tell() -> None:
        for listener in list(_listeners):
            try:
                listener(pairs)
            except Exception:  # noqa: BLE001
                log.exception("public event listener %r failed for %s", listener, pairs[:5])

    db.after_commit(tell)
