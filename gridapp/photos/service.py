"""Photo verbs: ``store_photo`` (idempotent by client UUID), ``attach_photos``, ``read_photo``;
``register_claim`` lets a feature attach a photo uploaded after the record it names.

A photo is visible to its uploader until it is attached to a record; from then on to everyone who
may read that record (``visible_photo`` asks the record's own scoped query), nobody else.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

from flask_babel import gettext as _

from gridapp import sqlcache
from gridapp.changes import record_change
from gridapp.db import db, is_postgres
from gridapp.errors import NotFound, Problem, ValidationFailed
from gridapp.org.models import User
from gridapp.photos.imaging import BadImage, clean_image
from gridapp.photos.models import Photo
from gridapp.photos.storage import get_storage
from gridapp.scope import Scope, scope_for


def _messages() -> dict[str, str]:
    return {
        "too_large": _("The photo is larger than 10 MB."),
        "empty": _("The upload is empty."),
        "format": _("Only JPEG, PNG and WebP photos are accepted."),
        "too_many_pixels": _("The photo has too many pixels."),
        "undecodable": _("The file is not a readable JPEG, PNG or WebP image."),
    }


def _check_uuid(photo_id: str) -> str:
    try:
        return str(uuid.UUID(str(photo_id)))
    except ValueError:
        raise ValidationFailed("id", _("The id must be a UUID.")) from None


def store_photo(
    actor: User,
    photo_id: str,
    data: bytes,
    *,
    owner_type: str = "",
    owner_id: str = "",
) -> tuple[Photo, bool]:
    """Verify, clean (EXIF/GPS stripped, upright) and store an uploaded image under the client's
    UUID; returns ``(photo, created)``. Uploading the same id again returns the stored photo
    (``created=False``) without decoding it twice. ``owner_type``/``owner_id`` (e.g. "visit",
    its UUID) may be given now or later via ``attach_photos``; a visit logged before or after
    the upload claims it either way. Raises ``ValidationFailed`` (422, field "file") for anything
    that is not a JPEG/PNG/WebP of at most 10 MB."""
    photo_id = _check_uuid(photo_id)
    owner_type, owner_id = (owner_type or "").strip(), (owner_id or "").strip()
    check_owner(actor, owner_type, owner_id)
    existing = Photo.get_or_none(Photo.id == photo_id)
    if existing is not None:
        if existing.uploader_id != actor.id:
            raise NotFound()
        if _claim_pending(actor, existing):  # its record may have arrived since
            existing = Photo.get_by_id(photo_id)
        return existing, False
    try:
        img = clean_image(data)
    except BadImage as exc:
        raise ValidationFailed("file", _messages()[exc.reason], code=exc.reason) from None
    storage = get_storage()
    key = f"photos/{photo_id[:2]}/{photo_id}.{img.ext}"
    thumb_key = f"photos/{photo_id[:2]}/{photo_id}.thumb.jpg"
    storage.put(key, img.data)
    storage.put(thumb_key, img.thumb)
    grid_id = _owner_grid(actor, owner_type, owner_id)
    with db.atomic():
        owner_lock(actor.id)
        photo = Photo.create(
            id=photo_id,
            uploader=actor.id,
            grid_id=grid_id,
            owner_type=owner_type or "",
            owner_id=owner_id or "",
            content_type=img.content_type,
            width=img.width,
            height=img.height,
            size=len(img.data),
            storage_key=key,
            thumb_key=thumb_key,
        )
        if owner_type == "visit" and grid_id is not None:
            # The visit's photo_ids changed: devices mirroring it must hear (issue 15 item 4).
            record_change("visit", owner_id, grid_id=grid_id)
        if _claim_pending(actor, photo):
            photo = Photo.get_by_id(photo_id)
    return photo, True


# owner_type → claim(actor, photo) -> bool: join a stored photo to the record it names, when that
# record exists already (registered by the feature that knows how the reference resolves).
_CLAIMS: dict[str, Callable[[User, Photo], bool]] = {}
OWNER_LOCK_NS = 0x6772_6470  # "grdp": pg_advisory_xact_lock namespace for owner_lock


def register_claim(owner_type: str, claim: Callable[[User, Photo], bool]) -> None:
    """Let photos uploaded *after* their record join it: ``claim(actor, photo)`` resolves
    ``photo.owner_id`` (a server id, or an outbox's ``"c:<client id>"``) and attaches the photo,
    returning whether it did. Called on upload and on a repeated upload of a photo still waiting
    for its record, so the photo joins whichever arrives first."""
    _CLAIMS[owner_type] = claim


def owner_lock(user_id: int) -> None:
    """Serialise, per uploader, "store a photo then look for its record" against "create a record
    then look for its photos" (each in its own transaction). Without it two concurrent requests
    on PostgreSQL could each miss the other's uncommitted row and leave the photo unattached.
    SQLite serialises writers already (``BEGIN IMMEDIATE``)."""
    if is_postgres() and db.in_transaction():
        db.execute_sql(
            "SELECT pg_advisory_xact_lock(%s::int, %s::int)", (OWNER_LOCK_NS, int(user_id))
        )


def _claim_pending(actor: User, photo: Photo) -> bool:
    """Attach a photo that names a record but is not attached yet (no grid)."""
    claim = _CLAIMS.get(photo.owner_type)
    if claim is None or not photo.owner_id or photo.grid_id is not None:
        return False
    with db.atomic():
        owner_lock(actor.id)
        return bool(claim(actor, photo))


OWNER_TYPES = ("visit", "matter", "task")


def _owner_visible(actor: User, owner_type: str, owner_id: str) -> bool | None:
    """None when no such record exists (yet: an outbox uploads a visit's photos first), else
    whether the actor's scope holds it — the same queries the owning feature reads through."""
    scope = scope_for(actor)
    if owner_type == "visit":
        from gridapp.visits.models import Visit

        visit = Visit.get_or_none(Visit.id == owner_id)
        return None if visit is None else scope.sees_grid(visit.grid_id)
    if not owner_id.isdigit() or int(owner_id) > 2**31 - 1:
        return None
    if owner_type == "matter":
        from gridapp.matters.models import Matter
        from gridapp.matters.service import matter_query

        if not Matter.select().where(Matter.id == int(owner_id)).exists():
            return None
        return matter_query(scope).where(Matter.id == int(owner_id)).exists()
    from gridapp.tasks.models import Task
    from gridapp.tasks.service import task_query

    if not Task.select().where(Task.id == int(owner_id)).exists():
        return None
    return task_query(scope).where(Task.id == int(owner_id)).exists()


def check_owner(actor: User, owner_type: str, owner_id: str) -> None:
    """A photo may name only a record the uploader sees (404 otherwise, as for reading it), a
    record not created yet, or an outbox's own client reference (``"c:<client id>"``, resolved
    through the uploader's own sync ops). Never another grid's visit, matter or task."""
    if not owner_type and not owner_id:
        return
    if owner_type not in OWNER_TYPES:
        raise ValidationFailed("owner_type", _("Photos belong to a visit, a matter or a task."))
    if not owner_id or len(owner_id) > 64:
        raise ValidationFailed("owner_id", _("Name the record the photo belongs to."))
    if owner_id.startswith("c:"):
        return
    if _owner_visible(actor, owner_type, owner_id) is False:
        raise NotFound()


def _owner_grid(actor: User, owner_type: str, owner_id: str) -> int | None:
    """The grid of an owning visit that the actor may see (else the photo stays private)."""
    if owner_type == "visit" and owner_id:
        from gridapp.visits.models import Visit

        visit = Visit.get_or_none(Visit.id == owner_id)
        if visit is not None and scope_for(actor).sees_grid(visit.grid_id):
            return visit.grid_id
    return None


def attach_photos(
    actor: User, photo_ids: Iterable[str], owner_type: str, owner_id: str, grid_id: int
) -> list[str] | None:
    """Give the actor's photos (and any already naming this owner) to a record; run inside the
    record's transaction. Photos of other users are left alone.

    On PostgreSQL the claims say which rows they took (``RETURNING``), so the ids of a record
    created in this transaction come back in the order a record lists its photos (uploaded
    first, first): its answer needs no query of its own, five statements a push of five
    visits. ``None`` on SQLite, whose driver here takes no ``RETURNING`` through peewee."""
    ids = [str(p) for p in photo_ids]
    pg = is_postgres()
    claimed: list[tuple[str, Any]] = []
    if ids:
        query = Photo.update(owner_type=owner_type, owner_id=owner_id, grid_id=grid_id).where(
            Photo.id.in_(ids), Photo.uploader == actor.id
        )
        if pg:
            claimed += query.returning(Photo.id, Photo.created_at).tuples().execute()
        else:
            query.execute()
    # Uploaded before the record, by the same user (never someone else's). Built once
    # (gridapp/sqlcache.py): every visit a push logs runs it.
    values = {"grid": grid_id, "type": owner_type, "owner": owner_id, "uploader": actor.id}
    cursor = sqlcache.execute(("photos-waiting", pg), _waiting_query, values)
    if not pg:
        return None
    claimed += cursor.fetchall()
    return [pid for pid, _ in sorted(claimed, key=lambda row: (row[1], row[0]))]


def _waiting_query(v: dict):
    query = Photo.update(grid_id=v["grid"]).where(
        Photo.owner_type == v["type"],
        Photo.owner_id == v["owner"],
        Photo.grid_id.is_null(),
        Photo.uploader == v["uploader"],
    )
    return query.returning(Photo.id, Photo.created_at) if is_postgres() else query


def _reads_matter(actor: User, scope: Scope, owner_id: str) -> bool:
    from gridapp.matters.service import matter_query

    return owner_id.isdigit() and matter_query(scope).where(_id_is("matter", owner_id)).exists()


def _reads_task(actor: User, scope: Scope, owner_id: str) -> bool:
    from gridapp.tasks.service import task_query

    return owner_id.isdigit() and task_query(scope).where(_id_is("task", owner_id)).exists()


def _reads_visit(actor: User, scope: Scope, owner_id: str) -> bool:
    from gridapp.scope import in_scope
    from gridapp.visits.models import Visit

    return in_scope(Visit.select().where(Visit.id == owner_id), Visit.grid, scope).exists()


def _id_is(kind: str, owner_id: str):
    if kind == "matter":
        from gridapp.matters.models import Matter

        return Matter.id == int(owner_id)
    from gridapp.tasks.models import Task

    return Task.id == int(owner_id)


# owner_type → reader(actor, scope, owner_id): may this actor read the owning record? The
# record's own scoped query answers, so a photo is seen by exactly those who see its record (a
# department handler the photos of a matter dispatched to them, a worker those of their tasks).
_READERS: dict[str, Callable[[User, Scope, str], bool]] = {
    "matter": _reads_matter,
    "task": _reads_task,
    "visit": _reads_visit,
}


def visible_photo(actor: User, photo_id: str, scope: Scope | None = None) -> Photo:
    """The photo if the actor may read its owning record (matter, task, visit: through that
    record's scoped query), or uploaded it and it is not attached yet. 404 otherwise."""
    photo = Photo.get_or_none(Photo.id == str(photo_id))
    if photo is None:
        raise NotFound()
    if photo.grid_id is None:
        if actor is None or photo.uploader_id != actor.id:
            raise NotFound()
        return photo
    scope = scope or scope_for(actor)
    reader = _READERS.get(photo.owner_type)
    if reader is not None and photo.owner_id and not photo.owner_id.startswith("c:"):
        if not int_ok(photo.owner_id) or not reader(actor, scope, photo.owner_id):
            raise NotFound()
        return photo
    # Attached to its grid only (an echo-wall upload between its store and its matter).
    if not scope.sees_grid(photo.grid_id):
        raise NotFound()
    return photo


def int_ok(owner_id: str) -> bool:
    """A numeric owner id an id column can hold (a visit's UUID passes through unchanged)."""
    return not owner_id.isdigit() or int(owner_id) <= 2**31 - 1


def read_photo(actor: User, photo_id: str, *, thumb: bool = False, scope: Scope | None = None):
    """``(bytes, content_type)`` of a photo the actor may see."""
    photo = visible_photo(actor, photo_id, scope)
    try:
        if thumb:
            return get_storage().get(photo.thumb_key), "image/jpeg"
        return get_storage().get(photo.storage_key), photo.content_type
    except FileNotFoundError:
        raise Problem(_("The photo file is missing."), status=410) from None
