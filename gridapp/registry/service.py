"""Registry verbs: buildings, households, residents — read, search and edit within scope.

Every verb takes the acting user (and optionally a precomputed ``Scope``), writes in one
transaction, records a sync change per written row, and returns plain dicts with personal
numbers masked. Edits carry the version they were based on: a stale version raises
``Conflict`` (409) with the current row; nothing is applied.
"""

from __future__ import annotations

import re
from typing import Any

from flask_babel import gettext as _

from gridapp import privacy
from gridapp.changes import record_change
from gridapp.db import db, utcnow
from gridapp.errors import Conflict, Forbidden, NotFound, ValidationFailed
from gridapp.masking import mask_id_number, mask_phone
from gridapp.org.models import Grid, User
from gridapp.registry.care import refresh_schedules
from gridapp.registry.models import Building, CareTag, Household, Resident, ResidentTag
from gridapp.registry.names import name_keys
from gridapp.registry.rules import normalise_phone, parse_id_number, phone_tail
from gridapp.scope import Scope, get_scoped, in_scope, scope_for

REVEAL_ROLES = privacy.REGISTRY_ROLES  # the roles the OpenAPI document lists
NOT_DELETED = False


# ---- serialisation (masked) -------------------------------------------------------------


def building_dict(b: Building) -> dict[str, Any]:
    return {
        "id": b.id,
        "version": b.version,
        "grid_id": b.grid_id,
        "name": b.name,
        "address": b.address,
        "updated_at": b.updated_at,
    }


def household_dict(h: Household) -> dict[str, Any]:
    return {
        "id": h.id,
        "version": h.version,
        "grid_id": h.grid_id,
        "building_id": h.building_id,
        "unit": h.unit,
        "room": h.room,
        "address": h.address,
        "phone": mask_phone(h.phone),
        "notes": h.notes,
        "last_visit_at": h.last_visit_at,
        "visit_interval_days": h.visit_interval_days,
        "next_visit_due": h.next_visit_due,
        "updated_at": h.updated_at,
    }


def resident_dict(r: Resident, tags: list[str]) -> dict[str, Any]:
    return {
        "id": r.id,
        "version": r.version,
        "grid_id": r.grid_id,
        "household_id": r.household_id,
        "name": r.name,
        "gender": r.gender,
        "birth_year": r.birth_year,
        "phone": mask_phone(r.phone),
        "id_number": mask_id_number(r.id_number),
        "relation": r.relation,
        "notes": r.notes,
        "tags": tags,
        "updated_at": r.updated_at,
    }


RESIDENT_COLUMNS = (
    Resident.id,
    Resident.version,
    Resident.grid,
    Resident.household,
    Resident.name,
    Resident.gender,
    Resident.birth_year,
    Resident.phone,
    Resident.id_number,
    Resident.relation,
    Resident.notes,
    Resident.updated_at,
)


def _masked_row(row: dict[str, Any], tags: list[str]) -> dict[str, Any]:
    row["grid_id"] = row.pop("grid")
    row["household_id"] = row.pop("household")
    row["phone"] = mask_phone(row["phone"])
    row["id_number"] = mask_id_number(row["id_number"])
    row["tags"] = tags
    return row


def tags_of(resident_ids) -> dict[int, list[str]]:
    """Care-tag codes per resident; ``resident_ids`` is a list or a subquery of ids."""
    is_query = not isinstance(resident_ids, list | tuple | set)
    ids = resident_ids if is_query else list(resident_ids)
    out: dict[int, list[str]] = {} if is_query else {i: [] for i in ids}
    chunks = [ids] if is_query else [ids[i : i + 500] for i in range(0, len(ids), 500)]
    for chunk in chunks:
        rows = (
            ResidentTag.select(ResidentTag.resident, CareTag.code)
            .join(CareTag)
            .where(ResidentTag.resident.in_(chunk))
            .order_by(CareTag.sort)
            .tuples()
        )
        for rid, code in rows:
            out.setdefault(rid, []).append(code)
    return out


def _residents_out(rows: list[Resident]) -> list[dict[str, Any]]:
    tags = tags_of([r.id for r in rows])
    return [resident_dict(r, tags[r.id]) for r in rows]


# ---- reads --------------------------------------------------------------------------------


def _grid_filter(query, field, scope: Scope, grid_id: int | None):
    if grid_id is not None:
        if not scope.sees_grid(grid_id):
            raise NotFound()
        query = query.where(field == grid_id)
    return in_scope(query, field, scope)


def list_buildings(actor: User, *, grid_id: int | None = None, scope: Scope | None = None):
    scope = scope or scope_for(actor)
    query = Building.select().where(Building.deleted == NOT_DELETED)
    query = _grid_filter(query, Building.grid, scope, grid_id)
    return [building_dict(b) for b in query.order_by(Building.grid, Building.name)]


def list_households(
    actor: User,
    *,
    grid_id: int | None = None,
    building_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
    scope: Scope | None = None,
) -> list[dict[str, Any]]:
    scope = scope or scope_for(actor)
    query = Household.select().where(Household.deleted == NOT_DELETED)
    query = _grid_filter(query, Household.grid, scope, grid_id)
    if building_id is not None:
        get_scoped(Building, building_id, scope)
        query = query.where(Household.building == building_id)
    query = query.order_by(Household.id).limit(limit).offset(offset)
    return [household_dict(h) for h in query]


def get_household(actor: User, household_id: int, *, scope: Scope | None = None):
    scope = scope or scope_for(actor)
    h = get_scoped(Household, household_id, scope)
    if h.deleted:
        raise NotFound()
    residents = list(
        Resident.select()
        .where(Resident.household == h.id, Resident.deleted == NOT_DELETED)
        .order_by(Resident.id)
    )
    return {**household_dict(h), "residents": _residents_out(residents)}


_LIKE_ESCAPE = re.compile(r"[%_\\]")


def search_condition(q: str):
    """How people type on a phone: 4 digits → phone tail; latin letters → full pinyin or
    initials prefix (``zhangsan``/``zs``); anything else → characters of the name or address."""
    q = _LIKE_ESCAPE.sub("", q.strip())
    if re.fullmatch(r"\d{4}", q):
        return Resident.phone_tail == q
    if re.fullmatch(r"[A-Za-z][A-Za-z\s']*", q):
        q = re.sub(r"[\s']", "", q).lower()  # "zhang san", "xi'an"
        return Resident.name_pinyin.startswith(q) | Resident.name_initials.startswith(q)
    return Resident.name.contains(q) | Household.address.contains(q) | (Household.room == q)


def list_residents(
    actor: User,
    *,
    grid_id: int | None = None,
    household_id: int | None = None,
    q: str | None = None,
    tag: str | None = None,
    limit: int = 100,
    offset: int = 0,
    scope: Scope | None = None,
) -> list[dict[str, Any]]:
    """Residents in scope (optionally one grid / household), searched by ``q``, ordered by name.
    Always filtered by ``grid_id`` first so the ``(grid_id, name)`` index bounds the work."""
    scope = scope or scope_for(actor)
    query = Resident.select(Resident).where(Resident.deleted == NOT_DELETED)
    query = _grid_filter(query, Resident.grid, scope, grid_id)
    if household_id is not None:
        get_scoped(Household, household_id, scope)
        query = query.where(Resident.household == household_id)
    if q and q.strip():
        query = query.join(Household).where(search_condition(q))
    if tag:
        query = query.where(
            Resident.id.in_(
                ResidentTag.select(ResidentTag.resident).join(CareTag).where(CareTag.code == tag)
            )
        )
    query = query.order_by(Resident.grid, Resident.name, Resident.id).limit(limit).offset(offset)
    # Plain rows, and the tags through a subquery of the same page: building 1,500 model
    # instances and a 1,500-parameter IN list took most of the time of a grid listing.
    tags = tags_of(query.select(Resident.id))
    return [
        _masked_row(row, tags.get(row["id"], [])) for row in query.select(*RESIDENT_COLUMNS).dicts()
    ]


def get_resident(actor: User, resident_id: int, *, scope: Scope | None = None) -> dict[str, Any]:
    scope = scope or scope_for(actor)
    r = get_scoped(Resident, resident_id, scope)
    if r.deleted:
        raise NotFound()
    return _residents_out([r])[0]


# ---- personal data ------------------------------------------------------------------------


def reveal_personal_data(
    actor: User,
    target_type: str,
    target_id: int,
    *,
    ip: str = "",
    reason: str = "",
    scope: Scope | None = None,
) -> dict[str, Any]:
    """Unmasked phone (and ID number for a resident) of one row in scope, for a reason and within
    the reveal throttle (``gridapp.privacy``); always audited."""
    if not privacy.may_see_full(actor, "registry"):
        raise Forbidden(_("Your role may not see personal data."))
    scope = scope or scope_for(actor)
    model = {"resident": Resident, "household": Household}.get(target_type)
    if model is None:
        raise NotFound()
    row = get_scoped(model, target_id, scope)
    if row.deleted:
        raise NotFound()
    out = {"id": row.id, "phone": row.phone}
    if model is Resident:
        out["id_number"] = row.id_number
    privacy.reveal(
        actor,
        reason,
        action=f"reveal.{target_type}",
        target_type=target_type,
        target_id=row.id,
        fields=sorted(k for k in out if k != "id"),
        ip=ip,
    )
    return out


# ---- writes -------------------------------------------------------------------------------


def _clean_phone(field: str, value: str | None) -> str:
    value = (value or "").strip()
    if not value:
        return ""
    phone = normalise_phone(value)
    if phone is None:
        raise ValidationFailed(field, _("Enter an 11-digit mobile number or a landline number."))
    return phone


def _resident_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Validate and derive resident columns (pinyin keys, phone tail, ID → birth year/gender)."""
    out: dict[str, Any] = {}
    for key in ("gender", "birth_year", "relation", "notes"):
        if key in data:
            out[key] = data[key] if data[key] is not None else ("" if key != "birth_year" else None)
    if "name" in data:
        name = (data["name"] or "").strip()
        if not name:
            raise ValidationFailed("name", _("This field is required."))
        out["name"] = name
        out["name_pinyin"], out["name_initials"] = name_keys(name)
    if "phone" in data and "*" not in (data["phone"] or ""):  # a masked value means "unchanged"
        out["phone"] = _clean_phone("phone", data["phone"])
        out["phone_tail"] = phone_tail(out["phone"])
    if "id_number" in data and "*" not in (data["id_number"] or ""):
        raw = (data["id_number"] or "").strip()
        if raw:
            parsed = parse_id_number(raw)
            if parsed is None:
                raise ValidationFailed("id_number", _("The ID number is not valid."))
            out["id_number"], out["birth_year"], out["gender"] = parsed
        else:
            out["id_number"] = ""
    return out


def _resolve_tags(codes: list[str]) -> list[int]:
    tags = {t.code: t.id for t in CareTag.select().where(CareTag.code.in_(codes))}
    for i, code in enumerate(codes):
        if code not in tags:
            raise ValidationFailed(f"tags.{i}", _("Unknown care tag."))
    return [tags[c] for c in codes]


def _set_tags(resident_id: int, tag_ids: list[int]) -> None:
    ResidentTag.delete().where(ResidentTag.resident == resident_id).execute()
    if tag_ids:
        ResidentTag.insert_many(
            [{"resident": resident_id, "tag": t} for t in dict.fromkeys(tag_ids)]
        ).execute()


def create_building(actor: User, data: dict[str, Any], *, scope: Scope | None = None):
    scope = scope or scope_for(actor)
    grid_id = data.get("grid_id")
    # An admin sees every grid, including ones that do not exist: the row must name a real one.
    if not scope.sees_grid(grid_id) or not Grid.select().where(Grid.id == grid_id).exists():
        raise NotFound()
    with db.atomic():
        b = Building.create(grid=grid_id, name=data["name"], address=data.get("address", ""))
        record_change("building", b.id, grid_id=grid_id)
    return building_dict(b)


def create_household(actor: User, data: dict[str, Any], *, scope: Scope | None = None):
    scope = scope or scope_for(actor)
    building = get_scoped(Building, data["building_id"], scope)
    now = utcnow()
    with db.atomic():
        h = Household.create(
            grid=building.grid_id,
            building=building.id,
            unit=data.get("unit", ""),
            room=data.get("room", ""),
            address=data.get("address") or building.address,
            phone=_clean_phone("phone", data.get("phone")),
            notes=data.get("notes", ""),
            created_at=now,
            next_visit_due=now,
        )
        record_change("household", h.id, grid_id=h.grid_id)
    return household_dict(h)


def create_resident(actor: User, data: dict[str, Any], *, scope: Scope | None = None):
    scope = scope or scope_for(actor)
    h = get_scoped(Household, data["household_id"], scope)
    fields = _resident_fields({"name": "", **data})
    tag_ids = _resolve_tags(list(data.get("tags") or []))
    with db.atomic():
        r = Resident.create(grid=h.grid_id, household=h.id, **fields)
        _set_tags(r.id, tag_ids)
        refresh_schedules([h.id])
        record_change("resident", r.id, grid_id=r.grid_id)
    return get_resident(actor, r.id, scope=scope)


def _bump(model, row, version: int, values: dict[str, Any], current) -> None:
    """UPDATE … WHERE version = base: a concurrent writer makes it match nothing → 409."""
    values = {**values, "version": model.version + 1, "updated_at": utcnow()}
    updated = model.update(values).where(model.id == row.id, model.version == version).execute()
    if updated != 1:
        raise Conflict(
            _("Someone else changed this record; review the current version."),
            code="stale_version",
            current=current(),
        )


def update_resident(
    actor: User,
    resident_id: int,
    version: int,
    changes: dict[str, Any],
    *,
    scope: Scope | None = None,
) -> dict[str, Any]:
    """Edit a resident based on ``version``. ``changes`` may hold name, gender, birth_year,
    phone, id_number (masked values are ignored), relation, notes, tags (codes) and
    household_id (moves the resident, within scope). Returns the updated, masked row."""
    scope = scope or scope_for(actor)
    r = get_scoped(Resident, resident_id, scope)
    if r.deleted:
        raise NotFound()
    fields = _resident_fields(changes)
    tag_ids = _resolve_tags(list(changes["tags"])) if changes.get("tags") is not None else None
    old_household = r.household_id
    with db.atomic():
        if changes.get("household_id") and changes["household_id"] != r.household_id:
            target = get_scoped(Household, changes["household_id"], scope)
            fields.update(household=target.id, grid=target.grid_id)
        _bump(Resident, r, version, fields, lambda: get_resident(actor, r.id, scope=scope))
        if tag_ids is not None:
            _set_tags(r.id, tag_ids)
        new_grid = fields.get("grid", r.grid_id)
        if new_grid != r.grid_id:
            record_change("resident", r.id, grid_id=r.grid_id, deleted=True)
        record_change("resident", r.id, grid_id=new_grid)
        refresh_schedules({old_household, fields.get("household", old_household)})
    return get_resident(actor, r.id, scope=scope)


def update_household(
    actor: User,
    household_id: int,
    version: int,
    changes: dict[str, Any],
    *,
    scope: Scope | None = None,
) -> dict[str, Any]:
    """Edit a household based on ``version``: unit, room, address, phone, notes, building_id.

    A building in another grid moves the household and its residents there: the old grid gets
    a deletion change (tombstone) for each, the new grid a normal change."""
    scope = scope or scope_for(actor)
    h = get_scoped(Household, household_id, scope)
    if h.deleted:
        raise NotFound()
    fields = {k: changes[k] for k in ("unit", "room", "address", "notes") if k in changes}
    if "phone" in changes and "*" not in (changes["phone"] or ""):
        fields["phone"] = _clean_phone("phone", changes["phone"])
    old_grid = h.grid_id
    if changes.get("building_id") and changes["building_id"] != h.building_id:
        building = get_scoped(Building, changes["building_id"], scope)
        fields.update(building=building.id, grid=building.grid_id)
    new_grid = fields.get("grid", old_grid)
    with db.atomic():
        _bump(
            Household,
            h,
            version,
            fields,
            lambda: household_dict(Household.get_by_id(h.id)),
        )
        if new_grid != old_grid:
            _move_residents(h.id, old_grid, new_grid)
            record_change("household", h.id, grid_id=old_grid, deleted=True)
        record_change("household", h.id, grid_id=new_grid)
    return household_dict(Household.get_by_id(h.id))


def _move_residents(household_id: int, old_grid: int, new_grid: int) -> None:
    ids = [
        i
        for (i,) in Resident.select(Resident.id).where(Resident.household == household_id).tuples()
    ]
    Resident.update(grid=new_grid, version=Resident.version + 1, updated_at=utcnow()).where(
        Resident.household == household_id
    ).execute()
    for rid in ids:
        record_change("resident", rid, grid_id=old_grid, deleted=True)
        record_change("resident", rid, grid_id=new_grid)


def delete_resident(actor: User, resident_id: int, version: int, *, scope: Scope | None = None):
    """Soft-delete (moved away, deceased): the row stays for history, leaves lists and sync."""
    scope = scope or scope_for(actor)
    r = get_scoped(Resident, resident_id, scope)
    if r.deleted:
        raise NotFound()
    with db.atomic():
        _bump(Resident, r, version, {"deleted": True}, lambda: get_resident(actor, r.id))
        record_change("resident", r.id, grid_id=r.grid_id, deleted=True)
        refresh_schedules([r.household_id])


def grid_in_scope(scope: Scope, grid_id: int) -> Grid:
    if not scope.sees_grid(grid_id):
        raise NotFound()
    return Grid.get_by_id(grid_id)
