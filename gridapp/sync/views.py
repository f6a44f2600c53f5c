"""``GET /api/v1/sync`` (pull) and ``POST /api/v1/sync`` (push). Thin: parse, call, answer."""

from __future__ import annotations

import gzip
import json

from flask import Blueprint, Response, request
from flask_login import current_user

from gridapp.accounts import authcache
from gridapp.api import current_scope, endpoint
from gridapp.sync import push, quiet, schemas, service
from gridapp.sync.entities import register_builtin_entities, register_builtin_ops
from gridapp.sync.features import register_feature_plugins
from gridapp.times import json_default

api = Blueprint("sync_api", __name__, url_prefix="/api/v1")

GZIP_MIN_BYTES = 1024


def compressed_json(payload: dict) -> Response:
    """Cold pulls run to megabytes on a weak 4G link: gzip when the client accepts it."""
    # The stdlib encoder, compact and unsorted (Flask's provider sorts keys: slower, no gain).
    body = json.dumps(
        payload, ensure_ascii=False, separators=(",", ":"), default=json_default
    ).encode()
    resp = Response(body, mimetype="application/json")
    if len(body) >= GZIP_MIN_BYTES and "gzip" in request.headers.get("Accept-Encoding", ""):
        resp.set_data(gzip.compress(body, compresslevel=5))
        resp.headers["Content-Encoding"] = "gzip"
        resp.headers["Vary"] = "Accept-Encoding"
    resp.headers["Cache-Control"] = "no-store"
    return resp


@endpoint(
    api,
    "/sync",
    query=schemas.PullQuery,
    response=schemas.PullOut,
    summary="Pull changes in my scope since a cursor (cold pull without one)",
    tags=["sync"],
)
def sync_pull(query: schemas.PullQuery):
    user = current_user._get_current_object()
    out = service.pull(user, current_scope(), query.cursor, query.limit, query.epoch)
    return compressed_json(out)


# The pull's "nothing new" keys, named by its cursor, are read in its session's round trip.
authcache.RIDERS[f"{api.name}.{sync_pull.__name__}"] = quiet.cursor_riders


@endpoint(
    api,
    "/sync",
    methods=["POST"],
    body=schemas.PushIn,
    response=schemas.PushOut,
    summary="Push a batch of outbox operations; one answer per operation",
    tags=["sync"],
)
def sync_push(body: schemas.PushIn):
    user = current_user._get_current_object()
    ops = [op.model_dump() for op in body.ops]
    return {"results": push.push(user, current_scope(), ops)}


def init_app(app) -> None:
    from gridapp.sync import jobs  # noqa: F401  (registers the periodic job)

    register_builtin_entities()
    register_builtin_ops()
    register_feature_plugins()
    app.register_blueprint(api)
