"""GET requests / requests/{id}: what anyone may read without a key, so only what the echo wall
shows the public. Which matters: those residents reported themselves (echo wall, source
``resident``) and those relayed by integrators (source ``open311``) — never a worker's or a
supervisor's own records. What of them: status, ``status_notes`` from the public timeline
(``matters.public.event_text``: the lines a resident sees on the tracking page) or the public
reply once handled, the description once handled (as on the community wall) and anonymised
by the echo wall's rules (``echowall.rules.mask_free_text`` with the names known to the
record), the address down to the building, coordinates rounded to ~100 m. Never a phone, a name, an e-mail, a private note
or the address as typed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from peewee import JOIN

from gridapp.db import utcnow
from gridapp.echowall.rules import mask_free_text
from gridapp.matters.models import Matter, MatterEvent, MatterPart
from gridapp.matters.public import (
    department_names,
    event_text,
    known_names,
    register_name_source,
)
from gridapp.open311 import rules
from gridapp.open311.models import Open311BuildingPoint, Open311Request
from gridapp.open311.service import PRIVATE_TAIL, Open311Error
from gridapp.org.models import Community, Department, Grid
from gridapp.registry.models import Building
from gridapp.times import iso_utc

PUBLIC_SOURCES = ("resident", "open311")


def _codes_for(service_codes: list[str]):
    """A WHERE clause for the service codes asked: the code an integrator filed with, or, for
    a resident's matter, the code of its category (``need`` before triage)."""
    cats = [rules.SERVICE_BY_CODE[c].category for c in service_codes if c in rules.SERVICE_BY_CODE]
    filed = Open311Request.service_code.in_(service_codes)
    by_category = Open311Request.id.is_null(True) & Matter.category.in_(
        [c for c in cats if c] or [""]
    )
    clause = filed | by_category
    if "need" in service_codes:
        clause = clause | (Open311Request.id.is_null(True) & Matter.category.is_null(True))
    return clause


def _window(args: Mapping[str, str]) -> tuple[dt.datetime, dt.datetime]:
    try:
        start = (
            rules.parse_w3c(args["start_date"], "start_date") if args.get("start_date") else None
        )
        end = rules.parse_w3c(args["end_date"], "end_date") if args.get("end_date") else None
    except rules.BadInput as exc:
        raise Open311Error(400, str(exc)) from None
    span = dt.timedelta(days=rules.RANGE_DAYS)
    if start is None and end is None:
        end = utcnow()
    if start is None:
        start = end - span
    if end is None:
        end = start + span
    if end < start:
        raise Open311Error(400, "end_date is before start_date")
    if end - start > span:
        raise Open311Error(
            400, f"start_date and end_date may not span more than {rules.RANGE_DAYS} days"
        )
    return start, end


def list_requests(community: Community, args: Mapping[str, str]) -> list[dict[str, Any]]:
    """GET requests with the spec's arguments (``service_request_id`` overrides the others)."""
    # Only the columns a public item needs, as named tuples: a page is 1,000 rows, and model
    # instances of two joined tables cost more than the rest of the page together.
    q = (
        Matter.select(
            Matter.id,
            Matter.code,
            Matter.grid.alias("grid_id"),
            Matter.state,
            Matter.category,
            Matter.text,
            Matter.result,
            Matter.created_at,
            Matter.updated_at,
            Matter.closed_at,
            Matter.deadline_at,
            Matter.reporter.alias("reporter_id"),
            Matter.contact_phone,
            Open311Request.id.alias("req_id"),
            Open311Request.service_code,
            Open311Request.building.alias("building_id"),
            Open311Request.lat,
            Open311Request.lon,
        )  # fmt: skip
        .join(Open311Request, JOIN.LEFT_OUTER, on=(Open311Request.matter == Matter.id))
        .where(Matter.community == community.id, Matter.source.in_(PUBLIC_SOURCES))
    )
    ids = rules.split_list(args.get("service_request_id"))
    if ids:
        q = q.where(Matter.code.in_([i.upper() for i in ids]))
    else:
        codes = rules.split_list(args.get("service_code"))
        if codes:
            q = q.where(_codes_for(codes))
        start, end = _window(args)
        q = q.where(Matter.created_at.between(start, end))
        statuses = rules.split_list(args.get("status"))
        bad = [s for s in statuses if s not in ("open", "closed")]
        if bad:
            raise Open311Error(400, "status must be open or closed")
        if len(set(statuses)) == 1:
            closed = Matter.state.in_(sorted(rules.CLOSED_STATES))
            q = q.where(closed if statuses[0] == "closed" else ~closed)
    rows = list(
        q.order_by(Matter.created_at.desc(), Matter.id.desc()).limit(rules.LIST_MAX).namedtuples()
    )
    return public_items(community, rows)


def get_request(community: Community, service_request_id: str) -> list[dict[str, Any]]:
    code = (service_request_id or "").strip().upper()
    if not code or len(code) > 12 or not code.isalnum():
        raise Open311Error(404, "service_request_id provided was not found")
    items = list_requests(community, {"service_request_id": code})
    if not items:
        raise Open311Error(404, "service_request_id provided was not found")
    return items


def _status_notes(matter: Any, events: list[Any], deps: dict[int, str], names) -> str:
    if matter.state in rules.CLOSED_STATES and (matter.result or "").strip():
        return mask_free_text(matter.result, limit=500, names=names)
    for ev in reversed(events):
        text = event_text(ev, deps)
        if text:
            return text
    return ""


@register_name_source
def reporter_names(matter_ids: list[int]) -> dict[int, set[str]]:
    """The reporter's name as the integrator sent it (and, for a Latin name, its parts): every
    public page (tracking page, wall, these answers) masks it."""
    out: dict[int, set[str]] = {}
    for mid, name in (
        Open311Request.select(Open311Request.matter, Open311Request.contact_name)
        .where(Open311Request.matter.in_(matter_ids), Open311Request.contact_name != "")
        .tuples()
    ):
        out.setdefault(mid, set()).update({name, *(p for p in name.split() if len(p) >= 3)})
    return out


def public_items(community: Community, rows: list[Any]) -> list[dict[str, Any]]:
    """The spec's request items for ``rows`` (named tuples of ``list_requests``' columns; a
    handful of set-based queries per page)."""
    if not rows:
        return []
    ids = [m.id for m in rows]
    events: dict[int, list[Any]] = {}
    all_events = list(
        MatterEvent.select(
            MatterEvent.matter.alias("matter_id"),
            MatterEvent.action,
            MatterEvent.from_state,
            MatterEvent.to_state,
            MatterEvent.actor_role,
            MatterEvent.data,
        )  # fmt: skip
        .where(MatterEvent.matter.in_(ids))
        .order_by(MatterEvent.matter, MatterEvent.at, MatterEvent.id)
        .namedtuples()
    )
    for ev in all_events:
        events.setdefault(ev.matter_id, []).append(ev)
    deps = department_names(all_events)
    agencies: dict[int, list[str]] = {}
    for mid, dname in (
        MatterPart.select(MatterPart.matter, Department.name)
        .join(Department, on=(MatterPart.department == Department.id))
        .where(MatterPart.matter.in_(ids), MatterPart.state != "returned")
        .order_by(MatterPart.id)
        .tuples()
    ):
        agencies.setdefault(mid, []).append(dname)
    grids = dict(Grid.select(Grid.id, Grid.name).where(Grid.community == community.id).tuples())
    building_ids = sorted({m.building_id for m in rows if m.building_id})
    buildings = dict(
        Building.select(Building.id, Building.name)
        .where(Building.id.in_(building_ids or [0]))
        .tuples()
    )
    points = {
        b: (lat, lon)
        for b, lat, lon in Open311BuildingPoint.select(
            Open311BuildingPoint.building, Open311BuildingPoint.lat, Open311BuildingPoint.lon
        )
        .where(Open311BuildingPoint.building.in_(building_ids or [0]))
        .tuples()
    }
    names = known_names(rows)  # includes reporter_names below
    out = []
    for m in rows:
        service = rules.service_of(m.service_code, m.category)
        building_id = m.building_id
        lat, lon = points.get(building_id, (m.lat, m.lon))
        address = " ".join(
            p
            for p in (community.name, grids.get(m.grid_id, ""), buildings.get(building_id, ""))
            if p
        )
        closed = rules.status_of(m.state) == "closed"
        out.append(
            {
                "service_request_id": m.code,
                "status": rules.status_of(m.state),
                "status_notes": _status_notes(m, events.get(m.id, []), deps, names[m.id]),
                "service_name": service.name,
                "service_code": service.code,
                # As the community wall (echowall.service.wall): a description becomes public
                # once the matter is handled, anonymised; before that, status and notes only.
                "description": mask_free_text(
                    m.text.split(PRIVATE_TAIL)[0], limit=rules.DESCRIPTION_MAX, names=names[m.id]
                )
                if closed
                else None,
                "agency_responsible": "、".join(agencies.get(m.id, [])) or community.name,
                "service_notice": None,
                "requested_datetime": iso_utc(m.created_at),
                "updated_datetime": iso_utc((m.closed_at if closed else None) or m.updated_at),
                "expected_datetime": iso_utc(m.deadline_at),
                "address": address,
                "address_id": str(building_id) if building_id else None,
                "zipcode": None,
                "lat": rules.coarse(lat),
                "long": rules.coarse(lon),
                "media_url": None,
            }
        )
    return out
