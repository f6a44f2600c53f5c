"""Registry JSON API: buildings, households, residents, care tags, due visits, roster files.
Thin: validate, call one service verb with the acting user and scope, return."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, request, send_file
from flask_babel import gettext as _
from flask_login import current_user
from pydantic import TypeAdapter

from gridapp.api import BINARY, Deleted, current_scope, endpoint
from gridapp.errors import ValidationFailed
from gridapp.registry import care, roster, service
from gridapp.registry import schemas as s
from gridapp.throttle import read_upload, throttle_upload

api = Blueprint("registry_api", __name__, url_prefix="/api/v1")
WRITERS = ("admin", "supervisor", "grid_worker")


def _user():
    return current_user._get_current_object()


_LISTS: dict[type, TypeAdapter] = {}


def _json_list(item: type, rows: list[dict]) -> Response:
    """Big lists straight to JSON bytes with a cached adapter: the generic ``serialise`` path
    (adapter per call, ``from_attributes``, dump to Python, ``jsonify``) cost ~100 ms for a
    grid's 1,500 residents; validating plain dicts and ``dump_json`` costs ~25 ms."""
    adapter = _LISTS.get(item)
    if adapter is None:
        adapter = _LISTS[item] = TypeAdapter(list[item])
    return Response(adapter.dump_json(adapter.validate_python(rows)), mimetype="application/json")


def _changes(body) -> dict:
    data = body.model_dump(exclude_unset=True)
    data.pop("version", None)
    return data


@endpoint(api, "/buildings", query=s.GridQuery, response=list[s.BuildingOut], tags=["registry"])
def list_buildings(query):
    """Buildings in the caller's grids."""
    return service.list_buildings(_user(), grid_id=query.grid_id, scope=current_scope())


@endpoint(
    api,
    "/buildings",
    methods=["POST"],
    body=s.BuildingNew,
    response=s.BuildingOut,
    status=201,
    roles=WRITERS,
    tags=["registry"],
)
def create_building(body):
    """Add a building to a grid in scope."""
    return service.create_building(_user(), body.model_dump(), scope=current_scope())


@endpoint(
    api, "/households", query=s.HouseholdQuery, response=list[s.HouseholdOut], tags=["registry"]
)
def list_households(query):
    """Households in scope (phones masked)."""
    rows = service.list_households(_user(), scope=current_scope(), **query.model_dump())
    return _json_list(s.HouseholdOut, rows)


@endpoint(
    api,
    "/households",
    methods=["POST"],
    body=s.HouseholdNew,
    response=s.HouseholdOut,
    status=201,
    roles=WRITERS,
    tags=["registry"],
)
def create_household(body):
    """Add a household to a building in scope."""
    return service.create_household(_user(), body.model_dump(), scope=current_scope())


@endpoint(api, "/households/<int:household_id>", response=s.HouseholdDetail, tags=["registry"])
def get_household(household_id):
    """One household with its residents."""
    return service.get_household(_user(), household_id, scope=current_scope())


@endpoint(
    api,
    "/households/<int:household_id>",
    methods=["PATCH"],
    body=s.HouseholdEdit,
    response=s.HouseholdOut,
    roles=WRITERS,
    tags=["registry"],
    responses={409: "Stale version; `current` holds the server's row"},
)
def update_household(household_id, body):
    """Edit a household based on the version the client saw."""
    return service.update_household(
        _user(), household_id, body.version, _changes(body), scope=current_scope()
    )


@endpoint(
    api,
    "/households/<int:household_id>/reveal",
    methods=["POST"],
    body=s.RevealIn,
    response=s.RevealOut,
    roles=service.REVEAL_ROLES,
    tags=["registry"],
    responses={429: "Too many reveals; wait a moment"},
)
def reveal_household(household_id, body):
    """The household's unmasked phone (audited)."""
    return service.reveal_personal_data(
        _user(),
        "household",
        household_id,
        ip=request.remote_addr or "",
        reason=body.reason,
        scope=current_scope(),
    )


@endpoint(api, "/residents", query=s.ResidentQuery, response=list[s.ResidentOut], tags=["registry"])
def list_residents(query):
    """List or search residents (characters, pinyin, initials, phone's last 4 digits)."""
    rows = service.list_residents(_user(), scope=current_scope(), **query.model_dump())
    return _json_list(s.ResidentOut, rows)


@endpoint(
    api,
    "/residents",
    methods=["POST"],
    body=s.ResidentNew,
    response=s.ResidentOut,
    status=201,
    roles=WRITERS,
    tags=["registry"],
)
def create_resident(body):
    """Add a resident to a household in scope."""
    return service.create_resident(_user(), body.model_dump(), scope=current_scope())


@endpoint(api, "/residents/<int:resident_id>", response=s.ResidentOut, tags=["registry"])
def get_resident(resident_id):
    """One resident (masked)."""
    return service.get_resident(_user(), resident_id, scope=current_scope())


@endpoint(
    api,
    "/residents/<int:resident_id>",
    methods=["PATCH"],
    body=s.ResidentEdit,
    response=s.ResidentOut,
    roles=WRITERS,
    tags=["registry"],
    responses={409: "Stale version; `current` holds the server's row"},
)
def update_resident(resident_id, body):
    """Edit a resident based on the version the client saw."""
    return service.update_resident(
        _user(), resident_id, body.version, _changes(body), scope=current_scope()
    )


@endpoint(
    api,
    "/residents/<int:resident_id>/delete",
    methods=["POST"],
    body=s.VersionIn,
    roles=WRITERS,
    tags=["registry"],
    responses={409: "Stale version"},
    response=Deleted,
)
def delete_resident(resident_id, body):
    """Remove a resident from the registry (kept for history)."""
    service.delete_resident(_user(), resident_id, body.version, scope=current_scope())
    return {"deleted": True}


@endpoint(
    api,
    "/residents/<int:resident_id>/reveal",
    methods=["POST"],
    body=s.RevealIn,
    response=s.RevealOut,
    roles=service.REVEAL_ROLES,
    tags=["registry"],
    responses={429: "Too many reveals; wait a moment"},
)
def reveal_resident(resident_id, body):
    """The resident's unmasked phone and ID number (audited)."""
    return service.reveal_personal_data(
        _user(),
        "resident",
        resident_id,
        ip=request.remote_addr or "",
        reason=body.reason,
        scope=current_scope(),
    )


@endpoint(api, "/care-tags", response=list[s.CareTagOut], tags=["registry"])
def list_care_tags():
    """Care tags and their visit intervals."""
    return care.list_care_tags(include_inactive=_user().role == "admin")


@endpoint(
    api,
    "/care-tags",
    methods=["POST"],
    body=s.CareTagNew,
    response=s.CareTagOut,
    status=201,
    roles=("admin",),
    tags=["registry"],
)
def create_care_tag(body):
    """Add a care tag (admin)."""
    return care.save_care_tag(_user(), None, body.model_dump(), ip=request.remote_addr or "")


@endpoint(
    api,
    "/care-tags/<int:tag_id>",
    methods=["PATCH"],
    body=s.CareTagEdit,
    response=s.CareTagOut,
    roles=("admin",),
    tags=["registry"],
)
def update_care_tag(tag_id, body):
    """Edit a care tag (admin); households are rescheduled when the interval changes."""
    return care.save_care_tag(
        _user(), tag_id, body.model_dump(exclude_unset=True), ip=request.remote_addr or ""
    )


@endpoint(api, "/due-visits", query=s.DueQuery, response=list[s.DueVisitOut], tags=["registry"])
def due_visits(query):
    """The caller's households due or overdue for a visit, most overdue first."""
    rows = care.due_visits(_user(), scope=current_scope(), **query.model_dump())
    return _json_list(s.DueVisitOut, rows)


@endpoint(
    api,
    "/roster/import",
    methods=["POST"],
    response=s.ImportResult,
    roles=WRITERS,
    tags=["registry"],
    responses={422: "Rows with errors; nothing was written", 429: "Too many uploads"},
    form={
        "type": "object",
        "properties": {
            "file": {**BINARY, "description": ".xlsx or .csv roster"},
            "grid_id": {"type": "integer", "description": "the grid rows without one go to"},
        },
        "required": ["file"],
    },
)
def import_roster():
    """Import residents from .xlsx/.csv (multipart field `file`, optional form field `grid_id`)."""
    upload = request.files.get("file")
    if upload is None:
        raise ValidationFailed("file", _("Choose a file to upload."))
    throttle_upload("roster", _user().id, request.remote_addr or "")
    grid_id = request.form.get("grid_id", type=int)
    return roster.import_roster(
        _user(),
        upload.filename or "",
        read_upload(upload),
        grid_id=grid_id,
        ip=request.remote_addr or "",
        scope=current_scope(),
    )


@endpoint(
    api,
    "/roster/export",
    query=s.ExportQuery,
    roles=WRITERS,
    tags=["registry"],
    produces=["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "text/csv"],
)
def export_roster(query):
    """A grid's or community's roster as .xlsx or .csv (audited; full personal numbers for
    supervisors and admins, masked for grid workers: ``gridapp.privacy``)."""
    data, filename = roster.export_roster(
        _user(),
        grid_id=query.grid_id,
        community_id=query.community_id,
        fmt=query.format,
        ip=request.remote_addr or "",
        scope=current_scope(),
    )
    import io

    return send_file(
        io.BytesIO(data),
        mimetype=roster.EXPORT_MIME[query.format],
        as_attachment=True,
        download_name=filename,
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(api)
