"""Binding users to their WeCom ``userid``: set by an admin (user form, account import with a
企业微信账号 column) or by the user signing in once through WeCom OAuth; disabled by the channel
when the API says the member is gone. Every change is audited."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from peewee import IntegrityError

from gridapp.audit import write_audit
from gridapp.db import db, utcnow
from gridapp.errors import Forbidden, NotFound, Problem, ValidationFailed
from gridapp.notifications.wecom.models import WecomBinding
from gridapp.org.models import User

# WeCom's rule for a userid: 1–64 bytes of letters, digits and _-@. , starting with a letter
# or digit (the API compares it without regard to case).
USERID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-@.]{0,63}")


def corp_id() -> str:
    from gridapp.notifications.wecom import settings

    return settings(current_app).corp_id


def check_userid(value: str, field: str = "wecom_userid") -> str:
    value = (value or "").strip()
    if not USERID_RE.fullmatch(value):
        raise ValidationFailed(
            field,
            _(
                "A 企业微信 account (userid) has 1 to 64 letters, digits or _-@. and starts "
                "with a letter or digit."
            ),
        )
    return value


def lookup(corp: str, user_ids: Iterable[int]) -> dict[int, WecomBinding]:
    ids = list({int(u) for u in user_ids})
    if not ids:
        return {}
    rows = WecomBinding.select().where(WecomBinding.user.in_(ids), WecomBinding.corp_id == corp)
    return {b.user_id: b for b in rows}


def reachable(corp: str, user_ids: Iterable[int]) -> set[int]:
    ids = list({int(u) for u in user_ids})
    if not ids:
        return set()
    q = (
        WecomBinding.select(WecomBinding.user)
        .join(User, on=(WecomBinding.user == User.id))
        .where(
            WecomBinding.user.in_(ids),
            WecomBinding.corp_id == corp,
            WecomBinding.disabled_at.is_null(),
            User.is_active == True,  # noqa: E712
        )
    )
    return {uid for (uid,) in q.tuples()}


def binding_of(user_id: int) -> WecomBinding | None:
    return WecomBinding.get_or_none(WecomBinding.user == user_id)


def user_for_userid(corp: str, userid: str) -> tuple[User, WecomBinding] | None:
    """The user bound to this member (the API compares userids without case)."""
    b = (
        WecomBinding.select(WecomBinding, User)
        .join(User, on=(WecomBinding.user == User.id))
        .where(WecomBinding.corp_id == corp, db_lower(WecomBinding.userid) == userid.lower())
        .first()
    )
    return (b.user, b) if b else None


def db_lower(field):
    from peewee import fn

    return fn.LOWER(field)


def _taken(corp: str, userid: str, user_id: int) -> bool:
    return (
        WecomBinding.select()
        .where(
            WecomBinding.corp_id == corp,
            db_lower(WecomBinding.userid) == userid.lower(),
            WecomBinding.user != user_id,
        )
        .exists()
    )


def _taken_error() -> ValidationFailed:
    return ValidationFailed(
        "wecom_userid",
        _("This 企业微信 account is already bound to another user."),
        code="wecom_taken",
    )


def _apply(actor_id: int | None, user: User, userid: str, via: str, ip: str) -> str:
    """Bind, re-bind or unbind (``userid`` empty) one user; returns what changed."""
    corp = corp_id()
    before = binding_of(user.id)
    if not userid:
        if before is None:
            return "unchanged"
        before.delete_instance()
        write_audit(actor_id, "wecom.unbind", "user", user.id, ip=ip,
                    detail={"userid": before.userid, "via": via})  # fmt: skip
        return "unbound"
    if _taken(corp, userid, user.id):
        raise _taken_error()
    now = utcnow()
    if before is not None:
        if before.userid == userid and before.corp_id == corp and before.disabled_at is None:
            return "unchanged"
        WecomBinding.update(
            corp_id=corp, userid=userid, bound_at=now, bound_by=actor_id, via=via,
            disabled_at=None, disabled_reason="",
        ).where(WecomBinding.id == before.id).execute()  # fmt: skip
    else:
        WecomBinding.create(
            user=user.id, corp_id=corp, userid=userid, bound_at=now, bound_by=actor_id, via=via
        )
    write_audit(
        actor_id, "wecom.bind", "user", user.id, ip=ip,
        detail={"userid": userid, "before": before.userid if before else None, "via": via},
    )  # fmt: skip
    return "bound"


def set_binding(actor: User, user_id: int, userid: str, *, ip: str = "") -> str:
    """An admin binds a user to a WeCom userid (empty: unbinds)."""
    if actor.role != "admin":
        raise Forbidden()
    userid = (userid or "").strip()
    if userid:
        userid = check_userid(userid)
    try:
        with db.atomic():
            user = User.get_or_none(User.id == user_id)
            if user is None:
                raise NotFound()
            return _apply(actor.id, user, userid, "admin", ip)
    except IntegrityError:  # bound to someone else meanwhile (the unique index decided)
        raise _taken_error() from None


def bind_self(user: User, userid: str, *, ip: str = "") -> None:
    """The user proved both identities (WeCom OAuth, then their password): bind them. A user
    already bound to another member is refused (an admin decides)."""
    userid = check_userid(userid)
    try:
        with db.atomic():
            before = binding_of(user.id)
            if before is not None and before.userid.lower() != userid.lower():
                raise ValidationFailed(
                    "wecom_userid",
                    _("Your account is bound to another 企业微信 account. Ask your administrator."),
                    code="wecom_other",
                )
            _apply(user.id, user, userid, "oauth", ip)
    except IntegrityError:
        raise _taken_error() from None


def reenable(b: WecomBinding, *, ip: str = "") -> None:
    """A disabled binding whose member has just signed in through WeCom works again."""
    if b.disabled_at is None:
        return
    with db.atomic():
        WecomBinding.update(disabled_at=None, disabled_reason="").where(
            WecomBinding.id == b.id
        ).execute()
        write_audit(b.user_id, "wecom.reenable", "user", b.user_id, ip=ip,
                    detail={"userid": b.userid, "was": b.disabled_reason})  # fmt: skip


def disable_gone(corp: str, userids: list[str], reason: str) -> int:
    """The API says these members are gone: disable their bindings (kept, with the reason)."""
    if not userids:
        return 0
    rows = list(
        WecomBinding.select().where(
            WecomBinding.corp_id == corp,
            WecomBinding.userid.in_(userids),
            WecomBinding.disabled_at.is_null(),
        )
    )
    if not rows:
        return 0
    with db.atomic():
        WecomBinding.update(disabled_at=utcnow(), disabled_reason=reason[:200]).where(
            WecomBinding.id.in_([r.id for r in rows])
        ).execute()
        for r in rows:
            write_audit(None, "wecom.disable", "user", r.user_id,
                        detail={"userid": r.userid, "reason": reason[:200]})  # fmt: skip
    return len(rows)


# ---- account import (用户名 + 企业微信账号) -----------------------------------------------------

USERNAME_HEADERS = ("用户名", "账号", "登录名", "登录账号", "username", "user")
WECOM_HEADERS = ("企业微信账号", "企业微信", "企业微信id", "企业微信userid", "wecom_userid",
                 "wecom", "userid")  # fmt: skip


@dataclass
class ImportRow:
    row: int
    user: User
    userid: str


def _find_columns(table: list[list[Any]]) -> tuple[int, int, int]:
    from gridapp.registry.roster import _norm_header

    for idx, row in enumerate(table[:15]):
        names = [_norm_header(v) for v in row]
        user_col = next((i for i, n in enumerate(names) if n in USERNAME_HEADERS), None)
        wecom_col = next((i for i, n in enumerate(names) if n in WECOM_HEADERS), None)
        if user_col is not None and wecom_col is not None:
            return idx, user_col, wecom_col
    raise ValidationFailed(
        "file",
        _(
            "No header row with a 用户名 column and a 企业微信账号 column was found in the first 15 rows."
        ),
    )


def import_bindings(actor: User, filename: str, data: bytes, *, ip: str = "") -> dict[str, int]:
    """Bind many accounts from a sheet with 用户名 and 企业微信账号 columns (.xlsx or .csv). Every
    row is checked first; any bad row writes nothing (422 naming each row). An empty
    企业微信账号 cell unbinds."""
    from gridapp.registry.roster import _cell_text, read_table

    if actor.role != "admin":
        raise Forbidden()
    table = read_table(filename, data)
    header, user_col, wecom_col = _find_columns(table)
    wecom_header = str(table[header][wecom_col]).strip()
    parsed: list[tuple[int, str, str]] = []
    for offset, raw in enumerate(table[header + 1 :]):
        number = header + offset + 2
        username = _cell_text(raw[user_col]) if user_col < len(raw) else ""
        userid = _cell_text(raw[wecom_col]) if wecom_col < len(raw) else ""
        if username or userid:
            parsed.append((number, username, userid))
    users = {
        u.username: u
        for u in User.select().where(User.username.in_([p[1] for p in parsed if p[1]]))
    }
    corp = corp_id()
    in_file = {users[p[1]].id for p in parsed if p[1] in users}
    wanted = [p[2].lower() for p in parsed if p[2]]
    holders = {
        b.userid.lower(): b.user_id
        for b in WecomBinding.select().where(
            WecomBinding.corp_id == corp, db_lower(WecomBinding.userid).in_(wanted)
        )
    }
    errors: list[dict[str, Any]] = []
    rows: list[ImportRow] = []
    seen: dict[str, int] = {}
    seen_users: dict[int, int] = {}

    def err(number: int, column: str, message: str) -> None:
        errors.append({"row": number, "column": column, "field": f"rows.{number}.{column}",
                       "message": _("Row %(row)d, column %(column)s: %(message)s",
                                    row=number, column=column, message=message)})  # fmt: skip

    for number, username, userid in parsed:
        user = users.get(username)
        if user is None:
            err(number, str(table[header][user_col]).strip(), _("no such user."))
            continue
        if user.id in seen_users:
            err(number, str(table[header][user_col]).strip(),
                _("the same user is on row %(other)d.", other=seen_users[user.id]))  # fmt: skip
            continue
        seen_users[user.id] = number
        if userid:
            if not USERID_RE.fullmatch(userid):
                err(number, wecom_header, _("not a valid 企业微信 account (userid)."))
                continue
            if userid.lower() in seen:
                err(number, wecom_header,
                    _("the same 企业微信 account is on row %(other)d.", other=seen[userid.lower()]))  # fmt: skip
                continue
            seen[userid.lower()] = number
            holder = holders.get(userid.lower())
            if holder is not None and holder != user.id and holder not in in_file:
                err(number, wecom_header, _("already bound to another user."))
                continue
        rows.append(ImportRow(number, user, userid))
    if errors:
        raise Problem(
            _("%(count)d problems found; nothing was imported. First: %(first)s",
              count=len(errors), first=errors[0]["message"]),
            status=422, title=_("The file has errors"), field="file", errors=errors[:200],
            code="wecom_import_invalid",
        )  # fmt: skip
    if not rows:
        raise ValidationFailed("file", _("The file has a header but no rows."))
    try:
        counts = _write_import(actor, rows, corp, filename, ip)
    except IntegrityError:  # an admin bound one of these accounts meanwhile
        raise Problem(
            _("Bindings changed while importing; nothing was imported. Try again."),
            status=409,
            field="file",
            code="wecom_import_conflict",
        ) from None
    return {**counts, "rows": len(rows)}


def _write_import(
    actor: User, rows: list[ImportRow], corp: str, filename: str, ip: str
) -> dict[str, int]:
    """Write checked import rows in one transaction, each change audited."""
    counts = {"bound": 0, "unbound": 0, "unchanged": 0}
    with db.atomic():
        current = {b.user_id: b for b in WecomBinding.select().where(
            WecomBinding.user.in_([r.user.id for r in rows]))}  # fmt: skip
        # Release every binding that changes first, so that an account moving from one user
        # to another within the file is free when it is bound again.
        for r in rows:
            b = current.get(r.user.id)
            if b is not None and (b.userid != r.userid or b.corp_id != corp or b.disabled_at):
                b.delete_instance()
        for r in rows:
            b = current.get(r.user.id)
            previous = b.userid if b else None
            if b is not None and b.userid == r.userid and b.corp_id == corp and not b.disabled_at:
                counts["unchanged"] += 1
            elif not r.userid:
                counts["unbound" if b else "unchanged"] += 1
                if b:
                    write_audit(actor.id, "wecom.unbind", "user", r.user.id, ip=ip,
                                detail={"userid": previous, "via": "import"})  # fmt: skip
            else:
                WecomBinding.create(user=r.user.id, corp_id=corp, userid=r.userid,
                                    bound_at=utcnow(), bound_by=actor.id, via="import")  # fmt: skip
                write_audit(actor.id, "wecom.bind", "user", r.user.id, ip=ip,
                            detail={"userid": r.userid, "before": previous, "via": "import"})  # fmt: skip
                counts["bound"] += 1
        write_audit(actor.id, "import.wecom", "", "", ip=ip,
                    detail={"filename": filename, **counts})  # fmt: skip
    return counts
