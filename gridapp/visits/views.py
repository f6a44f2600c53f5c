"""Visit log API and the service-pack catalogue. Thin: validate, call one verb, return."""

from __future__ import annotations

from flask import Blueprint, Flask, request
from flask_login import current_user

from gridapp.api import current_scope, endpoint
from gridapp.visits import schemas as s
from gridapp.visits import service

api = Blueprint("visits_api", __name__, url_prefix="/api/v1")


def _user():
    return current_user._get_current_object()


@endpoint(
    api,
    "/visits",
    methods=["POST"],
    body=s.VisitIn,
    response=s.VisitOut,
    roles=service.VISIT_ROLES,
    tags=["visits"],
    responses={409: "The visit id is already used for another household"},
)
def log_visit(body):
    """Upload a visit under its client UUID; replays store nothing new and answer the same."""
    data = body.model_dump()
    data["photo_ids"] = [str(p) for p in body.photo_ids]
    visit, _created = service.log_visit(_user(), str(body.id), data, scope=current_scope())
    return service.visit_dict(visit)


@endpoint(api, "/visits", query=s.VisitQuery, response=list[s.VisitOut], tags=["visits"])
def list_visits(query):
    """Visits in scope, newest first."""
    return service.list_visits(_user(), scope=current_scope(), **query.model_dump())


@endpoint(api, "/visits/<visit_id>", response=s.VisitOut, tags=["visits"])
def get_visit(visit_id):
    """One visit."""
    return service.get_visit(_user(), visit_id, scope=current_scope())


@endpoint(api, "/service-items", response=list[s.ServiceItemOut], tags=["visits"])
def list_service_items():
    """The service-pack catalogue (血压测量, 政策宣传, …)."""
    return service.list_service_items(include_inactive=_user().role == "admin")


@endpoint(
    api,
    "/service-items",
    methods=["POST"],
    body=s.ServiceItemNew,
    response=s.ServiceItemOut,
    status=201,
    roles=("admin",),
    tags=["visits"],
)
def create_service_item(body):
    """Add a service to the catalogue (admin)."""
    return service.save_service_item(_user(), None, body.model_dump(), ip=request.remote_addr or "")


@endpoint(
    api,
    "/service-items/<int:item_id>",
    methods=["PATCH"],
    body=s.ServiceItemEdit,
    response=s.ServiceItemOut,
    roles=("admin",),
    tags=["visits"],
)
def update_service_item(item_id, body):
    """Edit or switch off a catalogue entry (admin)."""
    return service.save_service_item(
        _user(), item_id, body.model_dump(exclude_unset=True), ip=request.remote_addr or ""
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(api)
