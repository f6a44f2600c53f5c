"""Integrator API keys: issued and revoked by an admin (console or ``gridapp open311
issue-key``), shown once, stored as a SHA-256, scoped to communities (jurisdictions), audited.

A key is ``o311_`` + 43 URL-safe characters (256 random bits): a plain hash is enough to make
a stolen table useless, and lets a request find its key with one indexed lookup."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass

from flask_babel import gettext as _

from gridapp.audit import write_audit
from gridapp.db import db, utcnow
from gridapp.errors import Forbidden, NotFound, ValidationFailed
from gridapp.open311.models import Open311Key
from gridapp.org.models import Community, User

PREFIX = "o311_"
RATE = re.compile(
    r"[1-9]\d{0,5} ?(per|/) ?([1-9]\d{0,3} )?(second|minute|hour|day)s?", re.IGNORECASE
)


def _rate_ok(text: str) -> bool:
    """A limit the limiter reads (``120 per minute``, ``5 per 10 minutes``), never zero."""
    from limits import parse

    if not RATE.fullmatch(text):
        return False
    try:
        parse(text)
    except ValueError:
        return False
    return True


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    row: Open311Key
    key: str  # the only time the plain key exists outside the integrator's hands


def _check_admin(actor: User | None) -> None:
    if actor is not None and actor.role != "admin":
        raise Forbidden(_("Only an admin may manage Open311 keys."))


def issue_key(
    actor: User | None,
    *,
    name: str,
    community_ids: list[int],
    rate_limit: str = "",
    ip: str = "",
) -> IssuedKey:
    """A new key for the integrator ``name``, valid in ``community_ids`` (at least one).
    ``actor=None`` is the CLI. ``rate_limit`` (e.g. ``120 per minute``) overrides the default."""
    _check_admin(actor)
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed("name", _("Name the integrator (at most 100 characters)."))
    ids = sorted({int(c) for c in community_ids if str(c).strip().isdigit() and len(str(c)) < 10})
    if not ids:
        raise ValidationFailed("community_ids", _("Choose at least one community."))
    found = {c for (c,) in Community.select(Community.id).where(Community.id.in_(ids)).tuples()}
    if found != set(ids):
        raise ValidationFailed("community_ids", _("Unknown community."))
    rate_limit = (rate_limit or "").strip()
    if rate_limit and not _rate_ok(rate_limit):
        raise ValidationFailed("rate_limit", _("Write a limit such as “120 per minute”."))
    key = PREFIX + secrets.token_urlsafe(32)
    with db.atomic():
        row = Open311Key.create(
            name=name,
            prefix=key[: len(PREFIX) + 6],
            key_hash=hash_key(key),
            community_ids=json.dumps(ids),
            rate_limit=rate_limit,
            created_by=actor.id if actor else None,
            created_at=utcnow(),
        )
        write_audit(
            actor.id if actor else None,
            "open311.key_issued",
            "open311_key",
            row.id,
            ip=ip,
            detail={"name": name, "prefix": row.prefix, "community_ids": ids},
        )
    return IssuedKey(row, key)


def revoke_key(actor: User | None, key_id: int, *, ip: str = "") -> Open311Key:
    """Revoke a key at once (its next request is refused); revoking twice is harmless."""
    _check_admin(actor)
    with db.atomic():
        row = Open311Key.get_or_none(Open311Key.id == key_id)
        if row is None:
            raise NotFound()
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            row.revoked_by = actor.id if actor else None
            row.save()
            write_audit(
                actor.id if actor else None,
                "open311.key_revoked",
                "open311_key",
                row.id,
                ip=ip,
                detail={"name": row.name, "prefix": row.prefix},
            )
    return row


def find_key(key: str) -> Open311Key | None:
    """The live key row for ``key`` (None when unknown or revoked)."""
    if not key or len(key) > 100 or not key.startswith(PREFIX):
        return None
    row = Open311Key.get_or_none(Open311Key.key_hash == hash_key(key))
    if row is None or row.revoked_at is not None:
        return None
    return row


def key_communities(row: Open311Key) -> list[int]:
    return [int(c) for c in json.loads(row.community_ids or "[]")]


def touch(row: Open311Key) -> None:
    """Note when a key was last used (at most once a minute per key: no write per request)."""
    now = utcnow()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        Open311Key.update(last_used_at=now).where(Open311Key.id == row.id).execute()


def list_keys() -> list[Open311Key]:
    return list(Open311Key.select().order_by(Open311Key.revoked_at.is_null(False), Open311Key.id))
