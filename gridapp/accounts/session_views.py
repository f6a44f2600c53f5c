"""The sessions API: my sessions and devices, end one, end all the others."""

from __future__ import annotations

import datetime as dt

from flask import current_app, g
from flask_login import current_user

from gridapp.accounts import schemas
from gridapp.accounts.models import UserSession
from gridapp.accounts.sessions import live_sessions, revoke_session, revoke_user_sessions
from gridapp.accounts.views import api
from gridapp.api import endpoint


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC)


def session_out(row: UserSession, current_id: int | None) -> schemas.SessionOut:
    return schemas.SessionOut(
        id=row.id,
        kind=row.kind,
        remember=row.remember,
        current=row.id == current_id,
        user_id=row.user_id,
        username=row.user.username,
        user_agent=row.user_agent,
        ip=row.ip,
        created_at=_aware(row.created_at),
        last_seen_at=_aware(row.last_seen_at),
        expires_at=_aware(min(row.expires_at, row.idle_expires_at)),
    )


def current_session_id() -> int | None:
    row = g.get("user_session")
    return row.id if row is not None else None


@endpoint(
    api,
    "/sessions",
    response=list[schemas.SessionOut],
    tags=["sessions"],
    summary="My sessions and devices that are still logged in",
)
def my_sessions():
    current = current_session_id()
    return [session_out(r, current) for r in live_sessions(current_user.id)]


@endpoint(
    api,
    "/sessions/<int:session_id>",
    methods=["DELETE"],
    status=204,
    tags=["sessions"],
    summary="Log out one session or device (an admin may end anyone's)",
    responses={404: "No such session of mine"},
)
def end_one(session_id: int):
    revoke_session(current_user._get_current_object(), session_id, reason="revoked")
    return current_app.response_class(status=204)


@endpoint(
    api,
    "/sessions/revoke-others",
    methods=["POST"],
    response=schemas.RevokedOut,
    tags=["sessions"],
    summary="Log out all my other sessions and devices",
)
def revoke_others():
    n = revoke_user_sessions(current_user.id, keep=current_session_id(), reason="others")
    return schemas.RevokedOut(revoked=n)
