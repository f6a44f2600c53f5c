"""Administration verbs for the organisation tree and departments.

Each verb takes the acting user first, runs in one transaction and writes an audit row, so the
admin console, the CLI and any future API share the same rules. Only admins may call them.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from peewee import Model

from gridapp.accounts.service import NewUser, create_user, set_active, set_password
from gridapp.audit import write_audit
from gridapp.changes import record_change
from gridapp.db import db
from gridapp.errors import Forbidden, NotFound, ValidationFailed
from gridapp.org.models import Community, Department, Grid, Street, User, UserGrid


def _require_admin(actor: User) -> None:
    if actor.role != "admin":
        raise Forbidden(_("Only an administrator may change the organisation."))


def _clean_name(value: str, field: str = "name") -> str:
    value = (value or "").strip()
    if not value or len(value) > 100:
        raise ValidationFailed(field, _("A name of 1 to 100 characters is required."))
    return value


def _clean_code(model: type[Model], value: str, own_id: int | None = None) -> str:
    value = (value or "").strip()
    if not value or len(value) > 40:
        raise ValidationFailed("code", _("A code of 1 to 40 characters is required."))
    clash = model.select().where(model.code == value)
    if own_id is not None:
        clash = clash.where(model.id != own_id)
    if clash.exists():
        raise ValidationFailed("code", _("This code is already used."))
    return value


def _get(model: type[Model], pk: int | None, field: str) -> Any:
    row = model.get_or_none(model.id == pk) if pk else None
    if row is None:
        raise ValidationFailed(field, _("Unknown %(what)s.", what=field))
    return row


def _audit(actor: User, action: str, row: Model, ip: str, **detail: Any) -> None:
    write_audit(actor.id, action, type(row).__name__.lower(), row.id, ip=ip, detail=detail)


def save_street(
    actor: User, street_id: int | None, *, name: str, code: str, ip: str = ""
) -> Street:
    """Create (``street_id`` None) or rename a street."""
    _require_admin(actor)
    with db.atomic():
        if street_id is None:
            row = Street.create(name=_clean_name(name), code=_clean_code(Street, code))
            _audit(actor, "org.street.create", row, ip, name=row.name, code=row.code)
        else:
            row = Street.get_or_none(Street.id == street_id) or _missing()
            row.name = _clean_name(name)
            row.code = _clean_code(Street, code, row.id)
            row.save()
            _audit(actor, "org.street.update", row, ip, name=row.name, code=row.code)
    return row


def save_community(
    actor: User,
    community_id: int | None,
    *,
    street_id: int,
    name: str,
    code: str,
    ip: str = "",
) -> Community:
    _require_admin(actor)
    with db.atomic():
        street = _get(Street, street_id, "street_id")
        if community_id is None:
            row = Community.create(
                street=street, name=_clean_name(name), code=_clean_code(Community, code)
            )
            action = "org.community.create"
        else:
            row = Community.get_or_none(Community.id == community_id) or _missing()
            row.street = street
            row.name = _clean_name(name)
            row.code = _clean_code(Community, code, row.id)
            row.save()
            action = "org.community.update"
        _audit(actor, action, row, ip, name=row.name, code=row.code, street_id=street.id)
    return row


def save_grid(
    actor: User,
    grid_id: int | None,
    *,
    community_id: int,
    name: str,
    code: str,
    sort: int = 0,
    ip: str = "",
) -> Grid:
    _require_admin(actor)
    with db.atomic():
        community = _get(Community, community_id, "community_id")
        if grid_id is None:
            row = Grid.create(
                community=community,
                name=_clean_name(name),
                code=_clean_code(Grid, code),
                sort=sort,
            )
            action = "org.grid.create"
        else:
            row = Grid.get_or_none(Grid.id == grid_id) or _missing()
            if row.community_id != community.id:
                # Moving a grid would silently move every household's scope with it.
                raise ValidationFailed(
                    "community_id", _("A grid cannot move to another community.")
                )
            row.name = _clean_name(name)
            row.code = _clean_code(Grid, code, row.id)
            row.sort = sort
            row.save()
            action = "org.grid.update"
        record_change("grid", row.id, grid_id=row.id)
        _audit(actor, action, row, ip, name=row.name, code=row.code, community_id=community.id)
    return row


def save_department(
    actor: User,
    department_id: int | None,
    *,
    name: str,
    code: str,
    street_id: int | None = None,
    is_active: bool = True,
    ip: str = "",
) -> Department:
    _require_admin(actor)
    with db.atomic():
        street = _get(Street, street_id, "street_id") if street_id else None
        if department_id is None:
            row = Department.create(
                name=_clean_name(name),
                code=_clean_code(Department, code),
                street=street,
                is_active=is_active,
            )
            action = "org.department.create"
        else:
            row = Department.get_or_none(Department.id == department_id) or _missing()
            row.name = _clean_name(name)
            row.code = _clean_code(Department, code, row.id)
            row.street = street
            row.is_active = is_active
            row.save()
            action = "org.department.update"
        _audit(actor, action, row, ip, name=row.name, code=row.code, is_active=row.is_active)
    return row


def set_worker_grids(actor: User, user_id: int, grid_ids: list[int], *, ip: str = "") -> None:
    """Give a grid worker exactly these grids (one, sometimes two)."""
    _require_admin(actor)
    with db.atomic():
        user = User.get_or_none(User.id == user_id) or _missing()
        if user.role != "grid_worker":
            raise ValidationFailed("grid_ids", _("Only grid workers have grids."))
        wanted = list(dict.fromkeys(int(g) for g in grid_ids))
        if not wanted:
            raise ValidationFailed("grid_ids", _("A grid worker needs at least one grid."))
        found = {g for (g,) in Grid.select(Grid.id).where(Grid.id.in_(wanted)).tuples()}
        if len(found) != len(wanted):
            raise ValidationFailed("grid_ids", _("Unknown grid."))
        before = {
            g for (g,) in UserGrid.select(UserGrid.grid).where(UserGrid.user == user.id).tuples()
        }
        UserGrid.delete().where(UserGrid.user == user.id, UserGrid.grid.not_in(wanted)).execute()
        for gid in wanted:
            if gid not in before:
                UserGrid.create(user=user.id, grid=gid)
        if before != set(wanted):
            # The worker's scope changed: the device must pull its scope afresh (sync).
            record_change("user", user.id, user_id=user.id)
        write_audit(
            actor.id,
            "org.worker.grids",
            "user",
            user.id,
            ip=ip,
            detail={"before": sorted(before), "after": sorted(wanted)},
        )


def admin_create_user(actor: User, data: NewUser, *, ip: str = "") -> User:
    _require_admin(actor)
    with db.atomic():
        user = create_user(data)
        write_audit(
            actor.id,
            "user.create",
            "user",
            user.id,
            ip=ip,
            detail={"username": user.username, "role": user.role},
        )
    return user


def admin_set_active(actor: User, user_id: int, active: bool, *, ip: str = "") -> User:
    """Disable or re-enable an account; disabling ends its sessions (the version moves)."""
    _require_admin(actor)
    with db.atomic():
        user = User.get_or_none(User.id == user_id) or _missing()
        if user.id == actor.id and not active:
            raise ValidationFailed("is_active", _("You cannot disable your own account."))
        set_active(user, active)
        write_audit(actor.id, "user.enable" if active else "user.disable", "user", user.id, ip=ip)
    return User.get_by_id(user.id)


def admin_reset_password(actor: User, user_id: int, password: str, *, ip: str = "") -> None:
    _require_admin(actor)
    with db.atomic():
        user = User.get_or_none(User.id == user_id) or _missing()
        set_password(user, password)
        write_audit(actor.id, "user.reset_password", "user", user.id, ip=ip)


def _missing() -> Any:
    raise NotFound()
