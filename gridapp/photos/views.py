"""Photo upload (PUT under the client's UUID) and serving to users who may see the record."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, request
from flask_babel import gettext as _
from flask_login import current_user
from pydantic import BaseModel

from gridapp.api import BINARY, current_scope, endpoint
from gridapp.errors import ValidationFailed
from gridapp.photos import service
from gridapp.throttle import read_upload, throttle_upload

api = Blueprint("photos_api", __name__, url_prefix="/api/v1")


class PhotoOut(BaseModel):
    id: str
    owner_type: str
    owner_id: str
    content_type: str
    width: int
    height: int
    size: int


def _out(photo) -> dict:
    return {k: getattr(photo, k) for k in PhotoOut.model_fields}


@endpoint(
    api,
    "/photos/<photo_id>",
    methods=["PUT"],
    response=PhotoOut,
    tags=["photos"],
    responses={
        201: "Stored",
        422: "Not a JPEG/PNG/WebP image of at most 10 MB",
        429: "Too many uploads from this user or address",
    },
    form={
        "type": "object",
        "properties": {
            "file": {**BINARY, "description": "a JPEG, PNG or WebP image"},
            "owner_type": {"type": "string", "description": "visit, matter, task"},
            "owner_id": {"type": "string", "maxLength": 64},
        },
        "required": ["file"],
    },
)
def upload_photo(photo_id):
    """Upload a photo (multipart field `file`, optional `owner_type`/`owner_id`); idempotent."""
    upload = request.files.get("file")
    if upload is None:
        raise ValidationFailed("file", _("Choose a file to upload."))
    throttle_upload("photo", current_user.id, request.remote_addr or "")
    photo, created = service.store_photo(
        current_user._get_current_object(),
        photo_id,
        read_upload(upload),
        owner_type=request.form.get("owner_type", ""),
        owner_id=request.form.get("owner_id", ""),
    )
    return _out(photo), (201 if created else 200)


def _serve(photo_id: str, thumb: bool) -> Response:
    data, content_type = service.read_photo(
        current_user._get_current_object(), photo_id, thumb=thumb, scope=current_scope()
    )
    resp = Response(data, mimetype=content_type)
    # A resident's face or home, to whoever may see its record today: kept by no browser cache
    # (a shared office computer's, or one outliving a handler's access). The app keeps the
    # photos of its records offline in its own cache (sw.js, ``gridapp-photos``).
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


IMAGES = ["image/jpeg", "image/png", "image/webp"]


@endpoint(api, "/photos/<photo_id>/image", tags=["photos"], produces=IMAGES)
def photo_image(photo_id):
    """The cleaned photo (no EXIF), to users who may see its record."""
    return _serve(photo_id, thumb=False)


@endpoint(api, "/photos/<photo_id>/thumb", tags=["photos"], produces=["image/jpeg"])
def photo_thumb(photo_id):
    """A 320 px JPEG thumbnail."""
    return _serve(photo_id, thumb=True)


def init_app(app: Flask) -> None:
    app.register_blueprint(api)
