"""Echo wall verbs: public tokens, the resident's anonymous report (with an optional photo), the
community wall and the poster. Matter rules live in ``gridapp.matters``; this only adapts them to
an anonymous, internet-facing page."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import segno
from flask_babel import gettext as _

from gridapp.db import db
from gridapp.echowall import rules
from gridapp.echowall.models import EchoToken
from gridapp.errors import NotFound, ValidationFailed
from gridapp.matters import service as matters
from gridapp.matters.models import Matter
from gridapp.matters.public import known_names
from gridapp.org.models import Community, Grid, User, UserGrid
from gridapp.photos.imaging import BadImage, clean_image
from gridapp.photos.models import Photo
from gridapp.photos.storage import get_storage
from gridapp.times import local_text

PUBLIC_STATES = ("resolved", "verified", "closed")


# ---- tokens -------------------------------------------------------------------------------------


def token_for(kind: str, target_id: int) -> str:
    """The public token of a grid or community, created on first use (unguessable, 128 bits)."""
    row = EchoToken.get_or_none(EchoToken.kind == kind, EchoToken.target_id == target_id)
    if row is not None:
        return row.token
    with db.atomic():
        row, _created = EchoToken.get_or_create(
            kind=kind, target_id=target_id, defaults={"token": secrets.token_urlsafe(16)}
        )
    return row.token


def _by_token(kind: str, token: str) -> int:
    if not token or len(token) > 32:
        raise NotFound()
    row = EchoToken.get_or_none(EchoToken.kind == kind, EchoToken.token == token)
    if row is None:
        raise NotFound()
    return row.target_id


def grid_by_token(token: str) -> Grid:
    grid = Grid.get_or_none(Grid.id == _by_token("grid", token))
    if grid is None:
        raise NotFound()
    return grid


def community_by_token(token: str) -> Community:
    community = Community.get_or_none(Community.id == _by_token("community", token))
    if community is None:
        raise NotFound()
    return community


def grid_worker(grid: Grid) -> User | None:
    """The grid's (first active) grid worker, whose work phone the poster shows."""
    return (
        User.select()
        .join(UserGrid)
        .where(UserGrid.grid == grid.id, User.role == "grid_worker", User.is_active == True)  # noqa: E712
        .order_by(User.id)
        .first()
    )


# ---- the resident's report ----------------------------------------------------------------------


def check_form(text: str, phone: str) -> tuple[str, str]:
    """Validate the public form before anything is decoded or written (clear zh_CN messages)."""
    text = (text or "").strip()
    if not text:
        raise ValidationFailed("text", _("Please describe what you need."))
    if len(text) < rules.TEXT_MIN:
        raise ValidationFailed(
            "text", _("Please describe it in at least %(n)d characters.", n=rules.TEXT_MIN)
        )
    if len(text) > rules.TEXT_MAX:
        raise ValidationFailed(
            "text", _("Please keep it within %(n)d characters.", n=rules.TEXT_MAX)
        )
    phone = rules.normalise_phone(phone)
    if phone and (len(phone) > rules.PHONE_MAX or not rules.phone_ok(phone)):
        raise ValidationFailed(
            "contact_phone",
            _("Enter an 11-digit mobile number or a landline with area code, e.g. 010-12345678."),
        )
    return text, phone


def submit_need(grid: Grid, text: str, phone: str = "", photo: bytes | None = None) -> Matter:
    """Report a resident's need for ``grid``; the optional photo is verified by decoding (EXIF
    stripped) and stored with no uploader, attached to the new matter. All or nothing: a bad
    photo or a failed write leaves no matter, no photo row and no file."""
    text, phone = check_form(text, phone)
    img = None
    if photo:
        if len(photo) > rules.PHOTO_MAX_BYTES:
            raise ValidationFailed("photo", _("The photo is larger than 10 MB."))
        try:
            img = clean_image(photo)
        except BadImage:
            raise ValidationFailed(
                "photo", _("The photo must be a readable JPEG, PNG or WebP image.")
            ) from None
    keys: list[str] = []
    try:
        with db.atomic():
            photo_ids = []
            if img is not None:
                pid = str(uuid.uuid4())
                storage = get_storage()
                key = f"photos/{pid[:2]}/{pid}.{img.ext}"
                thumb_key = f"photos/{pid[:2]}/{pid}.thumb.jpg"
                keys = [key, thumb_key]
                storage.put(key, img.data)
                storage.put(thumb_key, img.thumb)
                Photo.create(
                    id=pid,
                    uploader=None,
                    grid_id=grid.id,
                    owner_type="echo",
                    owner_id="",
                    content_type=img.content_type,
                    width=img.width,
                    height=img.height,
                    size=len(img.data),
                    storage_key=key,
                    thumb_key=thumb_key,
                )
                photo_ids.append(pid)
            matter = matters.report_matter(
                None,
                source="resident",
                grid_id=grid.id,
                text=text,
                contact_phone=phone,
                photo_ids=photo_ids,
            )
    except BaseException:
        storage = get_storage() if keys else None
        for key in keys:
            storage.delete(key)
        raise
    return matter


# ---- the public wall ----------------------------------------------------------------------------


def wall(community: Community, page: int = 1, per_page: int = 20) -> dict[str, Any]:
    """Resolved matters reported through the echo wall in ``community``, anonymised."""
    page = max(1, min(int(page or 1), 1000))
    base = Matter.select().where(
        Matter.community == community.id,
        Matter.source == "resident",
        Matter.state.in_(PUBLIC_STATES),
    )
    total = base.count()
    rows = (
        base.order_by(Matter.updated_at.desc(), Matter.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    grids = dict(Grid.select(Grid.id, Grid.name).where(Grid.community == community.id).tuples())
    rows = list(rows)
    names = known_names(rows)
    items = [
        {
            "date": local_text(m.updated_at, "%Y-%m-%d"),
            "grid": grids.get(m.grid_id, ""),
            "category": m.category or "",
            "text": rules.mask_free_text(m.text, names=names[m.id]),
            "reply": rules.mask_free_text(m.result, names=names[m.id]),
            "rating": m.rating or "",
        }
        for m in rows
    ]
    return {
        "items": items,
        "page": page,
        "pages": max(1, -(-total // per_page)),
        "total": total,
    }


# ---- the poster ---------------------------------------------------------------------------------


def poster(grid: Grid, base_url: str) -> rules.Poster:
    """What the printed poster says, with a QR to ``/e/<token>`` (absolute URL)."""
    url = f"{base_url.rstrip('/')}/e/{token_for('grid', grid.id)}"
    qr = segno.make(url, error="m")
    matrix = [list(row) for row in qr.matrix_iter(border=4)]
    worker = grid_worker(grid)
    lines = [f"{grid.community.name} · {grid.name}"]
    if worker is not None:
        lines.append(_("Grid worker: %(name)s", name=worker.display_name))
        if worker.phone:
            lines.append(_("Phone: %(phone)s", phone=worker.phone))
    return rules.Poster(
        title=_("Echo wall · Tell your grid worker"),
        lines=lines,
        footer=_("Scan to report a need; you get a code to follow it."),
        matrix=matrix,
        lookup=_("Look up progress by tracking code: %(url)s", url=f"{base_url.rstrip('/')}/t/"),
        news=_(
            "Community news: %(url)s",
            url=f"{base_url.rstrip('/')}/n/{token_for('community', grid.community_id)}",
        ),
    )
