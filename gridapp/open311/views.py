"""``/open311/v2/``: the GeoReport v2 operations in XML and JSON (``.xml`` / ``.json``), every
answer — errors included — in the spec's shapes: ``<errors><error><code/><description/>``
(JSON: ``[{"code", "description"}]``) with HTTP 400/403/404, and 429 with ``Retry-After``
when a key or an address goes past its limit. Outside ``/api/v1`` (no OpenAPI, no CSRF: keys
authenticate writes, reads are public). docs/open311.md."""

from __future__ import annotations

import json
import math
import time

from flask import Blueprint, Flask, Response, current_app, request, url_for
from werkzeug.exceptions import HTTPException

from gridapp.errors import Problem
from gridapp.extensions import csrf, limiter
from gridapp.open311 import keys, public, rules, service
from gridapp.open311.service import Open311Error

bp = Blueprint("open311", __name__, url_prefix="/open311")
FMT = "<any(json, xml):fmt>"

DEFAULT_LIMITS = {
    "OPEN311_KEY_LIMIT": "60 per minute",  # per key (a key's own rate_limit overrides it)
    "OPEN311_ADDRESS_LIMIT": "120 per minute",  # per client address, reads and writes
}


# ---- rendering ------------------------------------------------------------------------------


def _fmt() -> str:
    fmt = (request.view_args or {}).get("fmt")
    if fmt in rules.FORMATS:
        return fmt
    return "json" if request.path.endswith(".json") else "xml"


def render(root: str, value, status: int = 200, fmt: str | None = None) -> Response:
    fmt = fmt or _fmt()
    if fmt == "json":
        body = json.dumps(value, ensure_ascii=False).encode("utf-8")
    else:
        body = rules.to_xml(root, value)
    return Response(body, status=status, content_type=rules.FORMATS[fmt])


def error(status: int, description: str, code: int | str | None = None) -> Response:
    items = rules.error_items([(code if code is not None else status, description)])
    return render("errors", items, status)


@bp.errorhandler(Open311Error)
def _open311_error(exc: Open311Error) -> Response:
    if exc.status == 429:
        return _too_many(getattr(exc, "retry_after", 60))
    return error(exc.status, exc.description, exc.code)


@bp.errorhandler(Problem)
def _problem(exc: Problem) -> Response:
    # The app-wide input guard (a NUL in the query or form) and any other refusal: the spec's
    # shape; 4xx of our own other than 403/404/429 become the spec's general 400.
    status = exc.status if exc.status in (403, 404, 429) else 400
    detail = str(exc.detail or exc.title)
    if exc.field:
        detail = f"{exc.field}: {detail}"
    return error(status, detail)


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException) -> Response:
    status = exc.code or 400
    if status == 429:
        return _too_many(getattr(exc, "retry_after", 60))
    if status not in (403, 404, 405, 413):
        status = 400
    return error(status, exc.description or exc.name)


def _too_many(retry_after: int) -> Response:
    resp = error(429, f"Too many requests; retry after {retry_after} seconds")
    resp.headers["Retry-After"] = str(retry_after)
    return resp


# ---- limits ---------------------------------------------------------------------------------


def _limit(name: str) -> str:
    return current_app.config.get(name) or DEFAULT_LIMITS[name]


def _throttle(limit: str, *keys_: str) -> None:
    """Count one request against ``limit`` for ``keys_``; 429 with Retry-After past it."""
    from limits import parse

    if not limiter.enabled:
        return
    item = parse(limit)
    if not limiter.limiter.hit(item, "open311", *keys_):
        reset, _remaining = limiter.limiter.get_window_stats(item, "open311", *keys_)
        exc = Open311Error(429, "rate limit")
        exc.retry_after = max(1, math.ceil(reset - time.time()))  # type: ignore[attr-defined]
        raise exc


@bp.before_request
def _per_address() -> None:
    _throttle(_limit("OPEN311_ADDRESS_LIMIT"), "addr", request.remote_addr or "-")


# ---- operations -----------------------------------------------------------------------------


@bp.route(f"/discovery.{FMT}")
def discovery(fmt: str) -> Response:
    base = current_app.config.get("OPEN311_PUBLIC_URL") or request.url_root
    value = {
        "changeset": current_app.config.get("OPEN311_CHANGESET", "2026-11-30T00:00:00Z"),
        "contact": current_app.config.get("OPEN311_CONTACT", ""),
        "key_service": current_app.config.get(
            "OPEN311_KEY_SERVICE", "Keys are issued by the platform's administrator."
        ),
        "endpoints": [
            {
                "specification": rules.SPEC_URL,
                "url": base.rstrip("/")
                + url_for("open311.discovery_v2", fmt="xml").rsplit("/", 1)[0],
                "changeset": current_app.config.get("OPEN311_CHANGESET", "2026-11-30T00:00:00Z"),
                "type": "production",
                "formats": rules.DISCOVERY_FORMATS,
            }
        ],
    }
    return render("discovery", value)


@bp.route(f"/v2/discovery.{FMT}")
def discovery_v2(fmt: str) -> Response:
    return discovery(fmt)


@bp.route(f"/v2/services.{FMT}")
def services(fmt: str) -> Response:
    service.find_jurisdiction(request.args.get("jurisdiction_id"))
    return render("services", service.service_list())


@bp.route(f"/v2/services/<service_code>.{FMT}")
def service_definition(service_code: str, fmt: str) -> Response:
    service.find_jurisdiction(request.args.get("jurisdiction_id"))
    return render("service_definition", service.service_definition(service_code))


@bp.route(f"/v2/requests.{FMT}", methods=["GET"])
def requests_list(fmt: str) -> Response:
    community = service.find_jurisdiction(request.args.get("jurisdiction_id"))
    return render("service_requests", public.list_requests(community, request.args))


@bp.route(f"/v2/requests.{FMT}", methods=["POST"])
def requests_create(fmt: str) -> Response:
    form = {k: v for k, v in request.form.items() if not k.startswith("attribute")}
    for name in ("api_key", "jurisdiction_id"):
        if not form.get(name) and request.args.get(name):
            form[name] = request.args[name]
    row = keys.find_key(form.get("api_key") or "")
    if row is not None:
        _throttle(row.rate_limit or _limit("OPEN311_KEY_LIMIT"), "key", str(row.id))
    attributes = [(k, v) for k, v in request.form.items(multi=True) if k.startswith("attribute")]
    item = service.create_request(form, attributes, row)
    # 200, not 201: the spec shows none, and clients written against it expect 200.
    return render("service_requests", [item])


@bp.route(f"/v2/requests/<service_request_id>.{FMT}")
def request_one(service_request_id: str, fmt: str) -> Response:
    community = service.find_jurisdiction(request.args.get("jurisdiction_id"))
    return render("service_requests", public.get_request(community, service_request_id))


@bp.route("/", defaults={"rest": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def not_found(rest: str) -> Response:
    """Anything else under /open311/ (an unknown resource or format, tokens: every request
    gets its id at once, so no token is ever issued): the spec's 404."""
    return error(404, "The URL request is invalid: no such resource (formats: .xml, .json)")


def init_app(app: Flask) -> None:
    from gridapp.open311 import console, jobs  # noqa: F401  (jobs: the nightly building points)

    csrf.exempt(bp)
    app.register_blueprint(bp)
    console.init_app(app)
