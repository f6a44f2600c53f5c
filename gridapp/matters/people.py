"""Who an event concerns (handlers, supervisors, reporters) and photo references shared by
matters and tasks."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from flask_babel import gettext as _

from gridapp.errors import ValidationFailed
from gridapp.org.models import Community, User, UserGrid
from gridapp.photos.models import Photo
from gridapp.scope import Scope


def grid_workers(grid_id: int) -> list[int]:
    return [
        uid
        for (uid,) in User.select(User.id)
        .join(UserGrid, on=(UserGrid.user == User.id))
        .where(UserGrid.grid == grid_id, User.role == "grid_worker", User.is_active == True)  # noqa: E712
        .tuples()
    ]


def supervisors(community_id: int) -> list[int]:
    """Supervisors of the community and of its street."""
    street_id = Community.select(Community.street).where(Community.id == community_id).scalar()
    cond = User.community == community_id
    if street_id:
        cond |= (User.street == street_id) & User.community.is_null()
    return [
        uid
        for (uid,) in User.select(User.id)
        .where(cond, User.role == "supervisor", User.is_active == True)  # noqa: E712
        .tuples()
    ]


def department_users(department_ids: Iterable[int]) -> list[int]:
    ids = list(department_ids)
    if not ids:
        return []
    return [
        uid
        for (uid,) in User.select(User.id)
        .where(User.department.in_(ids), User.role == "department", User.is_active == True)  # noqa: E712
        .tuples()
    ]


def check_photos(
    photo_ids: Sequence[str],
    *,
    actor: User | None,
    scope: Scope | None,
    grid_id: int | None,
    field: str = "photo_ids",
) -> list[str]:
    """Validate photo references: each row exists and was uploaded by the actor or lies in a grid
    the actor sees; for a resident (no actor) it must be an unattached upload for this grid.
    Returns the ids, deduplicated in order. Raises 422 naming the first bad one."""
    ids = list(dict.fromkeys(str(p) for p in photo_ids or ()))
    if len(ids) > 9:
        raise ValidationFailed(field, _("At most 9 photos."))
    if not ids:
        return []
    rows = {p.id: p for p in Photo.select().where(Photo.id.in_(ids))}
    for i, pid in enumerate(ids):
        photo = rows.get(pid)
        ok = photo is not None
        if ok and actor is None:
            ok = (
                photo.uploader_id is None
                and photo.grid_id == grid_id
                and photo.owner_type in ("", "echo")
            )
        elif ok:
            ok = photo.uploader_id == actor.id or (
                scope is not None and photo.grid_id is not None and scope.sees_grid(photo.grid_id)
            )
        if not ok:
            raise ValidationFailed(f"{field}.{i}", _("Unknown photo or not yours: %(id)s", id=pid))
    return ids


def claimable(owner_type: str, owner_id: int | str):
    """Photos that may join this record: unattached ones, and ones that name it, by its id or by
    a client id (``"c:<client id>"``, an offline outbox's reference to a record it created).
    Photos attached to another record stay where they are."""
    return (
        (Photo.owner_type == "")
        | (Photo.owner_type == "echo")
        | (
            (Photo.owner_type == owner_type)
            & ((Photo.owner_id == str(owner_id)) | Photo.owner_id.startswith("c:"))
        )
    )


def attach_photos(
    ids: Sequence[str], owner_type: str, owner_id: int | str, grid_id: int | None = None
) -> None:
    """Claim photos for their owning record (see ``claimable``) and give them the record's grid,
    so whoever sees the record sees its photos (until then only the uploader does)."""
    if ids:
        values: dict = {"owner_type": owner_type, "owner_id": str(owner_id)}
        if grid_id is not None:
            values["grid_id"] = grid_id
        Photo.update(values).where(
            Photo.id.in_(list(ids)), claimable(owner_type, owner_id)
        ).execute()


def dumps(ids: Sequence[str]) -> str:
    return json.dumps(list(ids))


def loads(text: str | None) -> list[str]:
    try:
        return list(json.loads(text or "[]"))
    except ValueError:
        return []


# ---- the same, for many matters at once (the deadline job) -----------------------------------


def grid_workers_by_grid(grid_ids: Iterable[int]) -> dict[int, list[int]]:
    ids = sorted(set(grid_ids))
    out: dict[int, list[int]] = {g: [] for g in ids}
    if ids:
        for uid, gid in (
            User.select(User.id, UserGrid.grid)
            .join(UserGrid, on=(UserGrid.user == User.id))
            .where(UserGrid.grid.in_(ids), User.role == "grid_worker", User.is_active == True)  # noqa: E712
            .tuples()
        ):
            out[gid].append(uid)
    return out


def supervisors_by_community(community_ids: Iterable[int]) -> dict[int, list[int]]:
    """Like ``supervisors`` for each community: its own and its street's supervisors."""
    ids = sorted(set(community_ids))
    out: dict[int, list[int]] = {c: [] for c in ids}
    if not ids:
        return out
    street_of = dict(
        Community.select(Community.id, Community.street).where(Community.id.in_(ids)).tuples()
    )
    streets = sorted({s for s in street_of.values() if s})
    cond = User.community.in_(ids)
    if streets:
        cond |= User.street.in_(streets) & User.community.is_null()
    by_street: dict[int, list[int]] = {}
    for uid, cid, sid in (
        User.select(User.id, User.community, User.street)
        .where(cond, User.role == "supervisor", User.is_active == True)  # noqa: E712
        .tuples()
    ):
        if cid is not None:
            out[cid].append(uid)
        else:
            by_street.setdefault(sid, []).append(uid)
    for cid in ids:
        out[cid] += by_street.get(street_of.get(cid), [])
    return out


def department_users_by_department(department_ids: Iterable[int]) -> dict[int, list[int]]:
    ids = sorted(set(department_ids))
    out: dict[int, list[int]] = {d: [] for d in ids}
    if ids:
        for uid, dep in (
            User.select(User.id, User.department)
            .where(User.department.in_(ids), User.role == "department", User.is_active == True)  # noqa: E712
            .tuples()
        ):
            out[dep].append(uid)
    return out
