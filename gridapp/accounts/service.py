"""Account verbs: create users, check passwords, disable. No request objects here."""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import gettext as _
from werkzeug.security import check_password_hash

from gridapp.db import db, utcnow
from gridapp.errors import Problem, ValidationFailed
from gridapp.org.models import ROLES, Community, Department, Grid, Street, User, UserGrid

# argon2id at OWASP's Password Storage Cheat Sheet minimum (m=19 MiB, t=2, p=1): 23 ms a login
# here, where werkzeug's default scrypt (N=2^15 r=8 p=1, below OWASP's scrypt minimum) took
# 118 ms and OWASP's scrypt N=2^17 434 ms — 56 % of the web workers' CPU at a morning's logins.
# docs/scale.md has the measurements. Older hashes are upgraded at the next login.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Hash once at import so a login for an unknown user costs as much as one for a known user.
_DUMMY_HASH = _HASHER.hash("not-a-real-password")
MIN_PASSWORD = 8


class LoginFailed(Problem):
    status = 401


class TooManyAttempts(Problem):
    """429 with ``Retry-After``: the throttle refused to even look at the password."""

    status = 429

    def __init__(self, detail: str, wait: int, *, locked: bool) -> None:
        super().__init__(
            detail,
            title=_("Too many failed logins"),
            code="locked" if locked else "throttled",
            retry_after=wait,
        )
        self.headers = {"Retry-After": str(wait)}


@dataclass(frozen=True)
class NewUser:
    username: str
    password: str
    display_name: str
    role: str
    phone: str = ""
    grid_ids: tuple[int, ...] = ()
    community_id: int | None = None
    street_id: int | None = None
    department_id: int | None = None


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    """argon2id hashes, and werkzeug's (scrypt/pbkdf2) from before the switch."""
    if stored.startswith("$argon2"):
        try:
            return _HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
    return check_password_hash(stored, password)


def needs_rehash(stored: str) -> bool:
    return not stored.startswith("$argon2") or _HASHER.check_needs_rehash(stored)


def create_user(data: NewUser) -> User:
    username = data.username.strip()
    if not username or len(username) > 64:
        raise ValidationFailed("username", _("A username of 1 to 64 characters is required."))
    if data.role not in ROLES:
        raise ValidationFailed("role", _("Unknown role."))
    if len(data.password) < MIN_PASSWORD:
        raise ValidationFailed("password", _("The password must have at least 8 characters."))
    if data.role == "grid_worker" and not data.grid_ids:
        raise ValidationFailed("grid_ids", _("A grid worker needs at least one grid."))
    if data.role == "supervisor" and not (data.community_id or data.street_id):
        raise ValidationFailed("community_id", _("A supervisor needs a community or a street."))
    if data.role == "department" and not data.department_id:
        raise ValidationFailed("department_id", _("A department handler needs a department."))
    for gid in data.grid_ids:
        if not Grid.get_or_none(Grid.id == gid):
            raise ValidationFailed("grid_ids", _("Unknown grid."))
    if data.community_id and not Community.get_or_none(Community.id == data.community_id):
        raise ValidationFailed("community_id", _("Unknown community."))
    if data.street_id and not Street.get_or_none(Street.id == data.street_id):
        raise ValidationFailed("street_id", _("Unknown street."))
    if data.department_id and not Department.get_or_none(Department.id == data.department_id):
        raise ValidationFailed("department_id", _("Unknown department."))
    with db.atomic():
        if User.select().where(User.username == username).exists():
            raise ValidationFailed("username", _("This username is taken."))
        user = User.create(
            username=username,
            password_hash=hash_password(data.password),
            display_name=data.display_name.strip() or username,
            role=data.role,
            phone=data.phone,
            community=data.community_id,
            street=data.street_id,
            department=data.department_id,
        )
        for gid in data.grid_ids:
            UserGrid.create(user=user, grid=gid)
    return user


def authenticate(username: str, password: str) -> User:
    """Return the user or raise ``LoginFailed`` with a message that does not say which part was wrong."""
    user = User.get_or_none(User.username == (username or "").strip())
    if user is None:
        verify_password(_DUMMY_HASH, password or "")
        raise LoginFailed(
            _("Wrong username or password."), title=_("Login failed"), code="bad_credentials"
        )
    if not verify_password(user.password_hash, password or ""):
        raise LoginFailed(
            _("Wrong username or password."), title=_("Login failed"), code="bad_credentials"
        )
    if not user.is_active:
        raise LoginFailed(
            _("This account has been disabled. Ask your administrator."),
            title=_("Login failed"),
            code="disabled",
            status=403,
        )
    changes: dict = {User.last_login_at: utcnow()}
    if needs_rehash(user.password_hash):
        # Same password, stronger or cheaper-to-check hash: not a credential change, so the
        # version (and with it every session) stays.
        changes[User.password_hash] = user.password_hash = hash_password(password)
    User.update(changes).where(User.id == user.id).execute()
    return user


def attempt_login(username: str, password: str, ip: str) -> User:
    """``authenticate`` behind the throttle: per account and per address, across processes.
    Every login form and endpoint goes through here, so the counts are shared."""
    from gridapp.accounts import throttle

    username = str(username or "")[:64]
    verdict = throttle.check(username, ip)
    if verdict.wait:
        if verdict.locked:
            minutes = max(1, (verdict.wait + 59) // 60)
            detail = _(
                "Too many wrong passwords: this account is locked for %(minutes)d more "
                "minutes. Ask your administrator to unlock it.",
                minutes=minutes,
            )
        else:
            detail = _("Too many failed logins. Wait %(seconds)d seconds.", seconds=verdict.wait)
        raise TooManyAttempts(detail, verdict.wait, locked=verdict.locked)
    try:
        user = authenticate(username, password)
    except LoginFailed as exc:
        if exc.code == "bad_credentials":
            uid = User.select(User.id).where(User.username == username.strip()).scalar()
            throttle.record_failure(username, ip, uid)
        raise
    throttle.record_success(username)
    return user


def set_password(user: User, password: str, *, keep_session: int | None = None) -> None:
    """Change the password and end the user's sessions (but ``keep_session``, the one that made
    the change, if any)."""
    from gridapp.accounts.sessions import revoke_user_sessions

    if len(password) < MIN_PASSWORD:
        raise ValidationFailed("password", _("The password must have at least 8 characters."))
    with db.atomic():
        User.update(
            password_hash=hash_password(password), version=User.version + 1, updated_at=utcnow()
        ).where(User.id == user.id).execute()
        revoke_user_sessions(user.id, keep=keep_session, reason="password")


def set_active(user: User, active: bool) -> None:
    from gridapp.accounts.sessions import revoke_user_sessions

    with db.atomic():
        User.update(is_active=active, version=User.version + 1, updated_at=utcnow()).where(
            User.id == user.id
        ).execute()
        if not active:
            revoke_user_sessions(user.id, reason="disabled")


def load_user(token: str) -> User | None:
    """flask-login loader: ``_user_id`` in the cookie is the session token. The server-side row
    decides (revoked, idle or past its end → logged out); a rotated token replaces the cookie's."""
    from flask import g, session

    from gridapp.accounts.sessions import load_session

    loaded = load_session(token)
    if loaded is None:
        return None
    g.user_session = loaded.session
    if loaded.new_token:
        session["_user_id"] = loaded.new_token
    return loaded.user
