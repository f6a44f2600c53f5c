"""Open311 verbs over the matters feature: jurisdictions, the service list, and POST requests
(a matter with source ``open311`` through ``matters.service.report_matter``: timeline event,
change log, the supervisors' triage queue). Errors are ``Open311Error`` (HTTP status + the
spec's English description); the views render them in the spec's error format."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from flask_babel import gettext as _

from gridapp.db import db
from gridapp.errors import Problem
from gridapp.matters import service as matters
from gridapp.open311 import keys, places, rules
from gridapp.open311.models import Open311Jurisdiction, Open311Key, Open311Request
from gridapp.org.models import Community

# The matter's text keeps what the handler needs (the typed address) after this line; the
# public description is what comes before it.
PRIVATE_TAIL = "\n\n—— Open311 ——\n"


class Open311Error(Exception):
    def __init__(self, status: int, description: str, code: int | str | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.code = code if code is not None else status


# ---- jurisdictions ------------------------------------------------------------------------------


def jurisdiction_id_of(community: Community) -> str:
    """The community's jurisdiction_id: its override, else its code (stable, unique)."""
    row = Open311Jurisdiction.get_or_none(Open311Jurisdiction.community == community.id)
    return row.jurisdiction_id if row else community.code


def jurisdiction_ids() -> dict[int, str]:
    overrides = dict(
        Open311Jurisdiction.select(Open311Jurisdiction.community, Open311Jurisdiction.jurisdiction_id)
        .tuples()
    )  # fmt: skip
    return {
        cid: overrides.get(cid, code)
        for cid, code in Community.select(Community.id, Community.code).tuples()
    }


def set_jurisdiction_id(community_id: int, jurisdiction_id: str) -> None:
    """Give a community another jurisdiction_id ("" = back to its code)."""
    jid = (jurisdiction_id or "").strip()
    with db.atomic():
        Open311Jurisdiction.delete().where(Open311Jurisdiction.community == community_id).execute()
        if jid:
            Open311Jurisdiction.create(community=community_id, jurisdiction_id=jid)


def find_jurisdiction(jurisdiction_id: str | None) -> Community:
    """The community a request is about. Optional only while one community is served."""
    jid = (jurisdiction_id or "").strip()
    if not jid:
        first_two = list(Community.select().limit(2))
        if len(first_two) == 1:
            return first_two[0]
        raise Open311Error(400, "jurisdiction_id was not provided")
    if len(jid) <= 100:
        row = Open311Jurisdiction.get_or_none(Open311Jurisdiction.jurisdiction_id == jid)
        if row is not None:
            return Community.get_by_id(row.community_id)
        community = Community.get_or_none(Community.code == jid)
        if community is not None and jurisdiction_id_of(community) == jid:
            return community
    raise Open311Error(404, "jurisdiction_id provided was not found")


# ---- services -----------------------------------------------------------------------------------


def service_list() -> list[dict[str, Any]]:
    return [
        {
            "service_code": s.code,
            "service_name": s.name,
            "description": s.description,
            "metadata": False,
            "type": "realtime",
            "keywords": s.keywords,
            "group": s.group,
        }
        for s in rules.SERVICES
    ]


def service_definition(service_code: str) -> dict[str, Any]:
    """No service needs attributes (``metadata`` false), so a definition lists none."""
    if service_code not in rules.SERVICE_BY_CODE:
        raise Open311Error(404, "service_code provided was not found")
    return {"service_code": service_code, "attributes": []}


# ---- POST requests ------------------------------------------------------------------------------


def authenticate(
    api_key: str | None, community: Community | None = None, row: Open311Key | None = None
) -> Open311Key:
    """The key's row; 403 when missing, unknown, revoked or not valid in ``community``.
    ``row``: the caller already looked the key up (the view, for its rate limit)."""
    if not api_key:
        raise Open311Error(403, "api_key was not provided")
    row = row or keys.find_key(api_key)
    if row is None:
        raise Open311Error(403, "Invalid api_key received -- can't proceed with create_request.")
    if community is not None and community.id not in keys.key_communities(row):
        raise Open311Error(403, "api_key is not valid for this jurisdiction_id")
    return row


def _text_arg(form: Mapping[str, str], name: str, limit: int) -> str:
    value = (form.get(name) or "").strip()
    if len(value) > limit:
        raise Open311Error(400, f"{name} is longer than {limit} characters")
    return value


def _locate(community: Community, form: Mapping[str, str]) -> places.Place:
    lat_raw, lon_raw = (form.get("lat") or "").strip(), (form.get("long") or "").strip()
    address_id = _text_arg(form, "address_id", 20)
    address = _text_arg(form, "address_string", rules.ADDRESS_MAX)
    if bool(lat_raw) != bool(lon_raw):
        raise Open311Error(400, "lat and long both need to be sent")
    if not (lat_raw or address_id or address):
        raise Open311Error(
            400, "A full location parameter must be submitted: lat & long, address_string or "
            "address_id"
        )  # fmt: skip
    place = None
    if lat_raw:
        try:
            lat = rules.parse_float(lat_raw, "lat", -90, 90)
            lon = rules.parse_float(lon_raw, "long", -180, 180)
        except rules.BadInput as exc:
            raise Open311Error(400, str(exc)) from None
        place = places.nearest(community.id, lat, lon)
        if place is not None:
            place = places.Place(place.grid_id, place.building_id, lat, lon)
    if place is None and address_id:
        place = places.by_address_id(community.id, address_id)
    if place is None and address:
        place = places.by_address(community.id, address)
    if place is None:
        raise Open311Error(
            400, "The location is not within an area this jurisdiction serves (no building of "
            "the jurisdiction matches the lat/long, address_id or address_string given)"
        )  # fmt: skip
    return place


def _contact(form: Mapping[str, str]) -> tuple[str, str, str]:
    phone = rules.normalise_phone(_text_arg(form, "phone", 40))
    if phone and not matters.PHONE.fullmatch(phone):
        raise Open311Error(400, "phone is not a valid phone number")
    email = _text_arg(form, "email", rules.EMAIL_MAX)
    if email and not rules.EMAIL.fullmatch(email):
        raise Open311Error(400, "email is not a valid e-mail address")
    first = _text_arg(form, "first_name", rules.NAME_MAX)
    last = _text_arg(form, "last_name", rules.NAME_MAX)
    # Chinese order: family name first.
    cjk = any("\u4e00" <= c <= "\u9fff" for c in first + last)
    name = (last + first) if cjk else f"{first} {last}".strip()
    return phone, email, name


def create_request(
    form: Mapping[str, str],
    attributes: Sequence[tuple[str, str]] = (),
    key: Open311Key | None = None,
) -> dict[str, Any]:
    """POST requests: validate everything, then report the matter in the right grid. Returns
    the spec's response item (``service_request_id`` is the matter's public tracking code)."""
    community = find_jurisdiction(form.get("jurisdiction_id"))
    key = authenticate(form.get("api_key"), community, key)
    code = (form.get("service_code") or "").strip()
    if not code:
        raise Open311Error(400, "service_code was not provided")
    service = rules.SERVICE_BY_CODE.get(code)
    if service is None:
        raise Open311Error(404, "service_code provided was not found")
    description = _text_arg(form, "description", rules.DESCRIPTION_MAX)
    if len(description) < rules.DESCRIPTION_MIN:
        raise Open311Error(
            400, f"description is required (at least {rules.DESCRIPTION_MIN} characters)"
        )
    media_url = _text_arg(form, "media_url", rules.MEDIA_URL_MAX)
    if media_url and not media_url.lower().startswith(("https://", "http://")):
        raise Open311Error(400, "media_url must be an http or https URL")
    try:
        attrs = rules.parse_attributes(attributes)
    except rules.BadInput as exc:
        raise Open311Error(400, str(exc)) from None
    phone, email, name = _contact(form)
    place = _locate(community, form)
    address = (form.get("address_string") or "").strip()[: rules.ADDRESS_MAX]
    text = description
    if address:
        text += PRIVATE_TAIL + _("Address given: %(a)s", a=address)
    with db.atomic():
        try:
            matter = matters.report_matter(
                None,
                source="open311",
                grid_id=place.grid_id,
                text=text[:4000],
                contact_phone=phone,
                suggested_category=service.category,
                event_data={"via": "open311", "integrator": key.name, "key_id": key.id},
            )
        except Problem as exc:  # a rule of the matters feature: still the spec's shape
            raise Open311Error(400, str(exc.detail or exc.title)) from None
        Open311Request.create(
            matter=matter.id,
            key=key.id,
            service_code=service.code,
            building=place.building_id,
            lat=place.lat,
            lon=place.lon,
            address_string=address,
            media_url=media_url,
            contact_name=name,
            contact_email=email,
            attributes=json.dumps(attrs, ensure_ascii=False),
        )
        keys.touch(key)
    return {
        "service_request_id": matter.code,
        "service_notice": _(
            "Received. The community will classify and handle it; follow it with the "
            "service_request_id."
        ),
        "account_id": None,
    }
