"""The JSON API's plumbing: a decorator that validates with pydantic and documents the route.

``@endpoint(bp, "/things/<int:thing_id>", methods=["PATCH"], body=ThingEdit, response=ThingOut)``
parses the JSON body (and ``query=`` model for the query string) before the view runs, turns
validation failures into 422 problem+json naming the field, serialises the return value through
the response model, and records the route so ``/api/v1/openapi.json`` is generated from the code.
Views stay thin: parse, call one service verb, return.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, make_response, request
from flask_babel import gettext as _
from flask_login import current_user
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, field_validator
from werkzeug.exceptions import NotFound as WerkzeugNotFound
from werkzeug.routing import IntegerConverter, Map

from gridapp.errors import Forbidden, Problem, Unauthorized, ValidationFailed, pydantic_problem
from gridapp.textrules import has_control

API_PREFIX = "/api/v1"


@dataclass
class RouteSpec:
    rule: str
    methods: list[str]
    endpoint: str
    summary: str
    tags: list[str]
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: Any
    status: int
    auth: bool
    roles: tuple[str, ...]
    extra_responses: dict[int, str] = field(default_factory=dict)
    body_content_type: str = "application/json"
    # A multipart body's JSON schema (the view reads ``request.files``/``request.form``).
    form: dict[str, Any] | None = None
    # A non-JSON success body (``"image/*"``, a spreadsheet): its media types.
    produces: tuple[str, ...] = ()


REGISTRY: list[RouteSpec] = []


def current_scope():
    """The caller's Scope, computed once per request."""
    from flask import g

    from gridapp.scope import scope_for

    if "scope" not in g:
        g.scope = scope_for(current_user._get_current_object())
    return g.scope


def parse_json_body(model: type[BaseModel]) -> BaseModel:
    if not request.is_json:
        raise Problem(
            _("Send the request body as application/json."),
            field="body",
            status=415,
            title=_("Unsupported media type"),
        )
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # nested deeper than the parser goes: not a body anyone sends
        data = None
    if data is not None:
        refuse_control(data, "")
    if data is None:
        raise Problem(
            _("The request body is not valid JSON."),
            field="body",
            status=400,
            title=_("Malformed JSON"),
        )
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        raise pydantic_problem(exc) from None
    check_ranges(parsed)
    return parsed


def _control_problem(field: str) -> ValidationFailed:
    return ValidationFailed(
        field or "body",
        _("The text contains a control character."),
        code="control_character",
    )


def refuse_control(value: Any, path: str) -> None:
    """C0 control characters other than tab, LF and CR (``gridapp.textrules``; NUL among them,
    which PostgreSQL text cannot hold, and the rest break spreadsheet exports) are refused
    anywhere in a body (keys included, free-form payloads and sync ops too) as a 422 naming
    where."""
    if isinstance(value, str):
        if has_control(value):
            raise _control_problem(path)
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if has_control(key):
                raise _control_problem(where)
            refuse_control(item, where)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            refuse_control(item, f"{path}.{i}" if path else str(i))


def register_input_guard(app: Flask) -> None:
    """The same for what every request carries outside a JSON body (path, query string, form
    fields), on pages as well as the API (console and public forms), before any view reads it."""

    @app.before_request
    def _refuse_control() -> None:
        if has_control(request.path):
            raise _control_problem("path")
        if request.environ.get("QUERY_STRING"):  # most reads carry none: nothing to parse
            for key, value in request.args.items(multi=True):
                if has_control(key) or has_control(value):
                    raise _control_problem(f"query.{key}")
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            for key, value in request.form.items(multi=True):
                if has_control(key) or has_control(value):
                    raise _control_problem(key)


class Ok(BaseModel):
    """The body of an act that answers only that it happened."""

    ok: bool


class Deleted(BaseModel):
    deleted: bool


class Patch(BaseModel):
    """A PATCH body for a row whose columns cannot be empty: a field left out is left alone, a
    field sent as null is refused (422 naming it) rather than written as NULL."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null; leave the field out to keep its value")
        return value


# Ids, counters and sort keys are 32-bit ``integer`` columns on PostgreSQL (SQLite stops at 64
# bits): a number beyond that fails in the database, as a 500. It fails here instead, as a 422
# naming the field, unless the field declares bounds of its own (``Field(le=...)``).
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


class IdConverter(IntegerConverter):
    """``<int:...>`` in a URL up to the largest id a column holds: a longer number names
    nothing, so the answer is 404 instead of the query failing in the database. (Raised here
    rather than failing the match: a failed match on one method's rule made werkzeug answer
    405 for the other methods of the same URL.)"""

    def __init__(
        self,
        map: Map,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = INT_MAX,
        signed: bool = False,
    ) -> None:  # noqa: A002
        super().__init__(map, fixed_digits, min, None, signed)
        self.largest = INT_MAX if max is None else max

    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        if number > self.largest:
            raise WerkzeugNotFound()
        return number


_RANGE_FIELDS: dict[type[BaseModel], list[tuple[str, bool]]] = {}


def check_ranges(model: BaseModel, prefix: str = "") -> None:
    """Raise ``ValidationFailed`` for the first integer of ``model`` (nested models and lists
    included; free-form dicts are their reader's business) that no database column can hold."""
    cls = type(model)
    fields = _RANGE_FIELDS.get(cls)
    if fields is None:  # which fields declare their own bound: once per model, not per request
        fields = _RANGE_FIELDS[cls] = [
            (name, any(hasattr(m, "le") or hasattr(m, "lt") for m in info.metadata))
            for name, info in cls.model_fields.items()
        ]
    for name, bounded in fields:
        _check_int(getattr(model, name, None), f"{prefix}{name}", bounded)


def _check_int(value: Any, path: str, bounded: bool) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if not bounded and not INT_MIN <= value <= INT_MAX:
            raise ValidationFailed(path, _("The number is out of range."), code="out_of_range")
    elif isinstance(value, BaseModel):
        check_ranges(value, path + ".")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_int(item, f"{path}.{i}", False)


_LIST_FIELDS: dict[type[BaseModel], frozenset[str]] = {}


def parse_query(model: type[BaseModel]) -> BaseModel:
    lists = _LIST_FIELDS.get(model)
    if lists is None:  # fields that take every value of a repeated key (once per model)
        lists = _LIST_FIELDS[model] = frozenset(
            name
            for name, info in model.model_fields.items()
            if "list" in str(info.annotation).lower()
        )
    raw: dict[str, Any] = {}
    for key in request.args:
        values = request.args.getlist(key)
        raw[key] = values if key in lists else values[-1]
    try:
        parsed = model.model_validate(raw)
    except ValidationError as exc:
        raise pydantic_problem(exc, prefix="query") from None
    check_ranges(parsed, "query.")
    return parsed


_ADAPTERS: dict[Any, TypeAdapter] = {}


def _adapter(tp: Any) -> TypeAdapter:
    """Building a TypeAdapter costs milliseconds; build one per response type, once."""
    adapter = _ADAPTERS.get(tp)
    if adapter is None:
        adapter = _ADAPTERS[tp] = TypeAdapter(tp)
    return adapter


def serialise(result: Any, response: Any, status: int) -> Response:
    """Straight to JSON bytes through pydantic (no ``jsonify`` round trip through dicts)."""
    if isinstance(result, Response):
        return result
    if isinstance(result, tuple):
        result, status = result
    if isinstance(result, BaseModel):
        body = result.model_dump_json()
    elif response is not None:
        adapter = _adapter(response)
        body = adapter.dump_json(adapter.validate_python(result, from_attributes=True))
    else:
        return make_response(jsonify(result), status)
    return Response(body, status=status, mimetype="application/json")


def endpoint(
    bp: Blueprint,
    rule: str,
    *,
    methods: Sequence[str] = ("GET",),
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: Any = None,
    status: int = 200,
    summary: str = "",
    tags: Sequence[str] = (),
    auth: bool = True,
    roles: Sequence[str] = (),
    responses: dict[int, str] | None = None,
    body_content_type: str = "application/json",
    form: dict[str, Any] | None = None,
    produces: Sequence[str] = (),
) -> Callable:
    """Register a JSON route on ``bp`` with validation, auth/role checks and OpenAPI metadata.

    ``responses`` documents what else the route answers: an error status (problem+json) or
    another success status (``{201: "Created"}``, the ``response`` body). ``form`` is the JSON
    schema of a ``multipart/form-data`` body; ``produces`` the media types of a body that is
    not JSON (a photo, a spreadsheet)."""

    def decorator(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def view(**kwargs: Any) -> Response:
            if auth and not current_user.is_authenticated:
                raise Unauthorized(_("Please log in."))
            if roles and current_user.role not in roles:
                raise Forbidden(_("Your role may not do this."))
            if body is not None:
                kwargs["body"] = parse_json_body(body)
            if query is not None:
                kwargs["query"] = parse_query(query)
            return serialise(fn(**kwargs), response, status)

        bp.add_url_rule(rule, endpoint=fn.__name__, view_func=view, methods=list(methods))
        prefix = bp.url_prefix or ""
        REGISTRY.append(
            RouteSpec(
                rule=prefix + rule,
                methods=[m.upper() for m in methods],
                endpoint=f"{bp.name}.{fn.__name__}",
                summary=summary or (fn.__doc__ or "").strip().split("\n")[0],
                tags=list(tags) or [bp.name],
                body=body,
                query=query,
                response=response,
                status=status,
                auth=auth,
                roles=tuple(roles),
                extra_responses=dict(responses or {}),
                body_content_type=body_content_type,
                form=form,
                produces=tuple(produces),
            )
        )
        return view

    return decorator


_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def _openapi_path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    params = []
    for conv, name in _PARAM.findall(rule):
        schema = {"type": "integer"} if conv == "int" else {"type": "string"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return _PARAM.sub(lambda m: "{" + m.group(2) + "}", rule), params


class _Schemas:
    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def ref(self, tp: Any) -> dict[str, Any]:
        schema = TypeAdapter(tp).json_schema(
            ref_template="#/components/schemas/{model}", mode="serialization"
        )
        for name, sub in schema.pop("$defs", {}).items():
            self.components[name] = sub
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            self.components[tp.__name__] = schema
            return {"$ref": f"#/components/schemas/{tp.__name__}"}
        return schema

    def input_ref(self, tp: type[BaseModel]) -> dict[str, Any]:
        schema = tp.model_json_schema(
            ref_template="#/components/schemas/{model}", mode="validation"
        )
        for name, sub in schema.pop("$defs", {}).items():
            self.components.setdefault(name, sub)
        self.components[tp.__name__] = schema
        return {"$ref": f"#/components/schemas/{tp.__name__}"}


PROBLEM_SCHEMA = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "field": {"type": "string"},
        "code": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "required": ["title", "status"],
}


PROBLEM_CONTENT = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
BINARY = {"type": "string", "format": "binary"}


def _rate_limited(spec: RouteSpec, method: str) -> bool:
    """Whether Flask-Limiter holds a limit for this route and method (decorated, default or
    application-wide): then it can answer 429."""
    from gridapp.extensions import limiter

    manager = limiter.limit_manager
    try:
        defaults, decorated = manager.resolve_limits(
            current_app, spec.endpoint, spec.endpoint.rsplit(".", 1)[0]
        )
    except Exception:  # noqa: BLE001  (a limit string that cannot load here: say so anyway)
        return True
    limits = [*manager.application_limits, *defaults, *decorated]
    return any(not lim.methods or method.lower() in lim.methods for lim in limits)


def _fields(model: type[BaseModel] | None) -> set[str]:
    return set(model.model_fields) if model is not None else set()


def _ids_named(spec: RouteSpec) -> bool:
    """A body or query naming a record (``grid_id``, ``household_ids``): the service answers
    404 when it does not exist or is outside the caller's scope."""
    names = _fields(spec.body) | _fields(spec.query) | set((spec.form or {}).get("properties", {}))
    return any(n == "id" or n.endswith(("_id", "_ids")) for n in names)


def _operation(
    spec: RouteSpec, method: str, params: list[dict[str, Any]], schemas: _Schemas
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": f"{spec.endpoint.replace('.', '_')}_{method.lower()}",
        "summary": spec.summary,
        "tags": spec.tags,
        "parameters": list(params),
        "responses": {},
    }
    responses = op["responses"]

    def error(code: int, description: str) -> None:
        responses.setdefault(str(code), {"description": description, "content": PROBLEM_CONTENT})

    ok: dict[str, Any] = {"description": "OK"}
    if spec.response is not None:
        ok["content"] = {"application/json": {"schema": schemas.ref(spec.response)}}
    elif spec.produces:
        ok["content"] = {media: {"schema": BINARY} for media in spec.produces}
    responses[str(spec.status)] = ok
    for code, desc in spec.extra_responses.items():
        if code < 400:
            responses[str(code)] = {**ok, "description": desc}
        else:
            responses[str(code)] = {"description": desc, "content": PROBLEM_CONTENT}
    if spec.query is not None:
        qschema = spec.query.model_json_schema()
        required = set(qschema.get("required", []))
        for name, prop in qschema.get("properties", {}).items():
            op["parameters"].append(
                {"name": name, "in": "query", "required": name in required, "schema": prop}
            )
        error(422, "Validation failed (the field is named)")
    if spec.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {spec.body_content_type: {"schema": schemas.input_ref(spec.body)}},
        }
    elif spec.form is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"multipart/form-data": {"schema": spec.form}},
        }
    if spec.body is not None or spec.form is not None:
        error(400, "Malformed request")
        error(413, "Request too large")
        error(415, "Unsupported media type")
        error(422, "Validation failed (the field is named)")
    if params or _ids_named(spec):
        error(404, "Not found, or not in your scope")
    # The input guard refuses control characters in any path or query (``register_input_guard``)
    # before the view: every operation can answer 422.
    error(422, "Validation failed (the field is named)")
    if spec.auth:
        op["security"] = [{"session": []}]
        if spec.roles:  # who may call it (tests/test_authz_matrix.py reads this)
            op["x-roles"] = sorted(spec.roles)
        error(401, "Login required")
        error(403, "Not allowed for your role or scope")
    if method != "GET":
        error(400, "CSRF token missing or invalid")
    if "version" in _fields(spec.body):
        error(409, "Edited meanwhile (stale version) or not allowed in this state")
    if _rate_limited(spec, method):
        error(429, "Too many requests")
    return op


def openapi_document() -> dict[str, Any]:
    schemas = _Schemas()
    schemas.components["Problem"] = PROBLEM_SCHEMA
    paths: dict[str, Any] = {}
    for spec in sorted(REGISTRY, key=lambda s: s.rule):
        if spec.endpoint not in current_app.view_functions:
            continue
        path, params = _openapi_path(spec.rule)
        for method in spec.methods:
            paths.setdefault(path, {})[method.lower()] = _operation(spec, method, params, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "gridapp API",
            "version": "1",
            "description": (
                "Datetimes are RFC 3339 in UTC with `Z` (e.g. 2026-12-03T10:00:00Z; three "
                "fraction digits at most); send them with an offset (one without is refused "
                "with 422 naming the field). Dates are YYYY-MM-DD days in Asia/Shanghai. "
                "Errors are application/problem+json naming the failing field."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": schemas.components,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRFToken"},
            },
        },
    }
