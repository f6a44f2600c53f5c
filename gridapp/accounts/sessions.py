"""Server-side sessions: start, load (one indexed lookup per request), list, revoke.

How the kinds fit (docs/security.md "Sessions"):

- ``web`` sessions (the console, the login page) end after ``WEB_SESSION_IDLE`` without a
  request and ``WEB_SESSION_MAX`` after login; with "remember me" they last
  ``REMEMBER_SESSION_IDLE`` / ``REMEMBER_SESSION_MAX`` and their token is rotated on use.
- ``device`` sessions are the installed app's login. A worker may be offline for weeks with an
  outbox waiting, so they last ``DEVICE_SESSION_IDLE`` / ``DEVICE_SESSION_MAX``; each is listed
  with its last-seen time for its user and for an admin, and can be ended on its own.

Every session is ended on the server (``revoked_at``) by logout, a password change or reset,
disabling the account, "log out my other devices" and an admin's revoke. With Redis, what was
read of a session is kept there for every process while a shared generation says nothing it
read has changed (``gridapp.accounts.authcache``: every write to the tables it read makes a new
one); without Redis the row is read on each request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from flask import current_app
from peewee import DateTimeField, fn

from gridapp import sqlcache
from gridapp.accounts import authcache
from gridapp.accounts.models import UserSession
from gridapp.db import db, is_postgres, utcnow
from gridapp.errors import NotFound
from gridapp.org.models import Grid, User, UserGrid
from gridapp.sqlcache import fetch

TOUCH_EVERY = dt.timedelta(minutes=1)  # last_seen is written at most this often
ROTATE_GRACE = dt.timedelta(minutes=2)  # the previous token of a rotated session stays valid


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _limits(kind: str, remember: bool) -> tuple[dt.timedelta, dt.timedelta]:
    cfg = current_app.config
    if kind == "device":
        return cfg["DEVICE_SESSION_IDLE"], cfg["DEVICE_SESSION_MAX"]
    if remember:
        return cfg["REMEMBER_SESSION_IDLE"], cfg["REMEMBER_SESSION_MAX"]
    return cfg["WEB_SESSION_IDLE"], cfg["WEB_SESSION_MAX"]


def start_session(
    user: User, *, kind: str = "web", remember: bool = False, user_agent: str = "", ip: str = ""
) -> tuple[UserSession, str]:
    """Create a session row and return it with the token for the cookie (never stored)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    idle, absolute = _limits(kind, remember)
    row = UserSession.create(
        token_hash=token_hash(token),
        user=user.id,
        kind="device" if kind == "device" else "web",
        remember=bool(remember),
        created_at=now,
        rotated_at=now,
        last_seen_at=now,
        idle_expires_at=min(now + idle, now + absolute),
        expires_at=now + absolute,
        user_agent=user_agent_label(user_agent),
        ip=(ip or "")[:64],
    )
    return row, token


@dataclass
class Loaded:
    session: UserSession
    user: User
    new_token: str | None = None  # set when the token was rotated: the cookie must change


def _grids_of_user():
    """A column with the user's grids (UserGrid) as JSON ``[[id, name, community_id, sort]…]``:
    a correlated subquery, so the session, its user and the grids that make up the user's scope
    and ``/api/v1/me`` come back in one round trip."""
    cols = (Grid.id, Grid.name, Grid.community, Grid.sort)
    if is_postgres():
        agg = fn.json_agg(fn.json_build_array(*cols))
    else:
        agg = fn.json_group_array(fn.json_array(*cols))
    return (
        Grid.select(agg)
        .join(UserGrid, on=(UserGrid.grid == Grid.id))
        .where(UserGrid.user == User.id)
        .alias("grid_rows")
    )


def _session_query(column: str, token_hash_value: Any):
    return (
        UserSession.select(UserSession, User, _grids_of_user())
        .join(User)
        .where(getattr(UserSession, column) == token_hash_value, UserSession.revoked_at.is_null())
        .limit(1)
    )


def _find_session(column: str, h: str) -> UserSession | None:
    """The live session row whose ``column`` (token_hash or prev_hash) is ``h``, with its user
    and the user's grids. Built once per engine (``gridapp.sqlcache``: building it took five
    times its round trip), run with the hash each time; never cached itself."""
    found = fetch(("session", column), lambda v: _session_query(column, v["hash"]), {"hash": h})
    return found[0] if found else None


def _grid_tuples(raw) -> tuple[tuple[int, str, int, int], ...]:
    """The grids as the session query returns them (JSON text on SQLite, a list on
    PostgreSQL), typed and in order; a tuple is already that (``_recall``'s)."""
    if isinstance(raw, tuple):
        return raw
    rows = json.loads(raw) if isinstance(raw, str) else (raw or [])
    return tuple(
        sorted(
            ((int(g[0]), g[1], int(g[2]), int(g[3] or 0)) for g in rows),
            key=lambda g: (g[3], g[0]),
        )
    )


def attach_grids(user: User, raw) -> None:
    """Keep the user's grids (from ``_grids_of_user``) on the user object of this request:
    ``scope_for`` and ``/api/v1/me`` read them instead of asking again. The object lives as
    long as the request (flask-login's per-request user), never across requests."""
    user._grid_rows = _grid_tuples(raw)


_DATETIMES = {
    model: tuple(f.name for f in model._meta.sorted_fields if isinstance(f, DateTimeField))
    for model in (UserSession, User)
}


def _plain(model: type, data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    for name in _DATETIMES[model]:
        if out.get(name) is not None:
            out[name] = out[name].isoformat()
    return out


def _typed(model: type, data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    for name in _DATETIMES[model]:
        if out.get(name) is not None:
            out[name] = dt.datetime.fromisoformat(out[name])
    return out


def _entry(row: UserSession) -> authcache.Entry:
    """The row as the cache keeps it: never the password hash."""
    user = {k: v for k, v in row.user.__data__.items() if k != "password_hash"}
    return authcache.Entry("", _plain(UserSession, row.__data__), _plain(User, user), row.grid_rows)


def _recall(entry: authcache.Entry) -> UserSession:
    """Model objects from a cache entry, as the session query would have built them. The typed
    rows are made once per entry's bytes (``Entry.derived``) and copied for each request."""
    typed = entry.derived.get("rows")
    if typed is None:
        typed = entry.derived["rows"] = (
            _typed(User, entry.user),
            _typed(UserSession, entry.session),
            _grid_tuples(entry.grid_rows),
        )
    user = User(__no_default__=1)
    user.__data__ = dict(typed[0])
    row = UserSession(__no_default__=1)
    row.__data__ = dict(typed[1])
    row.__rel__["user"] = user
    row.grid_rows = typed[2]
    return row


def load_session(token: str) -> Loaded | None:
    """The live session and its user for a cookie token, or None. One indexed lookup (the
    session joined to its user, with the user's grids), or its copy in Redis while the shared
    generation says nothing it read has changed (``authcache``); a write at most once a minute
    to move the idle deadline. A revoke anywhere ends the session at once."""
    if not token or len(token) > 100:
        return None
    h = token_hash(token)
    now = utcnow()
    cache = authcache.cache()
    generation, entry = cache.lookup(h, authcache.riders()) if cache is not None else (None, None)
    unsaved = False  # an entry read from the database here, not yet left for the next request
    if entry is not None:
        row = _recall(entry)
    else:
        row = _find_session("token_hash", h)
        if row is not None and cache is not None:
            entry, unsaved = _entry(row), True
    if row is None:
        # A request sent with the token a rotation has just replaced (parallel fetches).
        row = _find_session("prev_hash", h)
        if row is None or now - row.rotated_at > ROTATE_GRACE:
            return None
    user = row.user
    if cache is not None and entry is not None:
        user._authcache = (cache, h, generation, entry)
    attach_grids(user, row.grid_rows)
    if now >= row.expires_at or now >= row.idle_expires_at or not user.is_active:
        if unsaved:
            cache.put(h, generation, entry)
        return None
    loaded = Loaded(row, user)
    if now - row.last_seen_at >= TOUCH_EVERY:
        idle, _ = _limits(row.kind, row.remember)
        updates = {
            UserSession.last_seen_at: now,
            UserSession.idle_expires_at: min(now + idle, row.expires_at),
        }
        if (
            row.remember
            and row.kind == "web"
            and row.token_hash == h
            and now - row.rotated_at >= current_app.config["REMEMBER_ROTATE_EVERY"]
        ):
            loaded.new_token = secrets.token_urlsafe(32)
            updates.update(
                {
                    UserSession.token_hash: token_hash(loaded.new_token),
                    UserSession.prev_hash: h,
                    UserSession.rotated_at: now,
                }
            )
        unsaved = False  # whatever happens below, the entry read above is not left as read
        if _touched(row, updates, rotate=loaded.new_token is not None) == 0:
            loaded.new_token = None
            if cache is not None:
                cache.forget(h)  # another request moved it: read it again next time
        elif cache is not None and entry is not None and loaded.new_token is None:
            # The touch is let through (no new generation): the entry follows it here, in the
            # one write an entry read from the database just now would have cost anyway.
            entry.session["last_seen_at"] = now.isoformat()
            entry.session["idle_expires_at"] = updates[UserSession.idle_expires_at].isoformat()
            cache.put(h, generation, entry)
    if unsaved:
        cache.put(h, generation, entry)
    return loaded


def _touched(row: UserSession, updates: dict, *, rotate: bool) -> int:
    """Write the touch (with a rotation, the new token too); the rows it changed: 0 when
    another request moved the session first (only the request that wins the race rotates; the
    others keep the token they have). The plain touch, the first write of most phones' bursts,
    is built once (``gridapp.sqlcache``); a rotation, rare, through peewee."""
    if rotate:
        query = UserSession.update(updates).where(
            UserSession.id == row.id, UserSession.last_seen_at == row.last_seen_at
        )
        return query.execute()
    values = {
        "id": row.id,
        "was": row.last_seen_at,
        "seen": updates[UserSession.last_seen_at],
        "idle": updates[UserSession.idle_expires_at],
    }
    return sqlcache.execute(("session-touch",), _touch_query, values).rowcount


def _touch_query(v: dict[str, Any]):
    return UserSession.update(
        {UserSession.last_seen_at: v["seen"], UserSession.idle_expires_at: v["idle"]}
    ).where(UserSession.id == v["id"], UserSession.last_seen_at == v["was"])


def user_agent_label(ua: str) -> str:
    """A short label a person recognises ("Android · Chrome"), not the whole header."""
    ua = ua or ""
    system = next(
        (
            name
            for key, name in (
                ("Android", "Android"),
                ("iPhone", "iPhone"),
                ("iPad", "iPad"),
                ("Windows", "Windows"),
                ("Mac OS", "macOS"),
                ("Linux", "Linux"),
            )
            if key in ua
        ),
        "",
    )
    browser = next(
        (
            name
            for key, name in (
                ("MicroMessenger", "WeChat"),
                ("wxwork", "WeCom"),
                ("Edg/", "Edge"),
                ("Firefox/", "Firefox"),
                ("Chrome/", "Chrome"),
                ("Safari/", "Safari"),
            )
            if key in ua
        ),
        "",
    )
    label = " · ".join(p for p in (system, browser) if p)
    return (label or ua[:60] or "?")[:120]


def live_sessions(user_id: int | None = None):
    """Sessions that still work, newest activity first (one user's, or everyone's)."""
    now = utcnow()
    query = (
        UserSession.select(UserSession, User)
        .join(User)
        .where(
            UserSession.revoked_at.is_null(),
            UserSession.expires_at > now,
            UserSession.idle_expires_at > now,
        )
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
    )
    if user_id is not None:
        query = query.where(UserSession.user == user_id)
    return query


def revoke_session(actor: User, session_id: int, *, reason: str = "revoked") -> UserSession:
    """End one session: the user's own, or anyone's for an admin (404 otherwise)."""
    row = UserSession.get_or_none(UserSession.id == session_id)
    if row is None or (row.user_id != actor.id and actor.role != "admin"):
        raise NotFound()
    with db.atomic():
        UserSession.update(revoked_at=utcnow(), revoked_reason=reason[:20]).where(
            UserSession.id == row.id, UserSession.revoked_at.is_null()
        ).execute()
        if row.user_id != actor.id:
            from gridapp.audit import write_audit

            write_audit(actor.id, "session.revoke", "user", row.user_id, detail={"session": row.id})
    return row


def revoke_user_session_row(session_id: int, *, reason: str) -> None:
    UserSession.update(revoked_at=utcnow(), revoked_reason=reason[:20]).where(
        UserSession.id == session_id, UserSession.revoked_at.is_null()
    ).execute()


def revoke_user_sessions(user_id: int, *, keep: int | None = None, reason: str = "revoked") -> int:
    """End every session of a user (but ``keep``); returns how many were ended."""
    query = UserSession.update(revoked_at=utcnow(), revoked_reason=reason[:20]).where(
        UserSession.user == user_id, UserSession.revoked_at.is_null()
    )
    if keep is not None:
        query = query.where(UserSession.id != keep)
    return query.execute()


def prune_sessions(older_than: dt.timedelta = dt.timedelta(days=30)) -> int:
    """Delete rows that ended (revoked or expired) long ago."""
    cutoff = utcnow() - older_than
    return (
        UserSession.delete()
        .where((UserSession.revoked_at < cutoff) | (UserSession.expires_at < cutoff))
        .execute()
    )
