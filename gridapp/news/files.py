"""A news item's images (through the photos pipeline: decoded, upright, EXIF/GPS stripped,
thumbnailed, 10 MB cap) and attachments (PDF and office documents: type from the bytes, not the
name; size cap; served as downloads with ``nosniff``)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid

from flask_babel import gettext as _

from gridapp.errors import ValidationFailed
from gridapp.news.models import NewsAttachment, NewsImage, NewsItem
from gridapp.org.models import User
from gridapp.photos.models import Photo
from gridapp.photos.service import store_photo
from gridapp.photos.storage import get_storage

MAX_IMAGES = 9
MAX_ATTACHMENTS = 5
ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
# extension → (content type, magic prefix): the bytes must match what the name says.
ZIP, OLE = b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
TYPES = {
    "pdf": ("application/pdf", b"%PDF-"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ZIP),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ZIP),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", ZIP),
    "doc": ("application/msword", OLE),
    "xls": ("application/vnd.ms-excel", OLE),
}


def check_counts(images: int, attachments: int) -> None:
    if images > MAX_IMAGES:
        raise ValidationFailed("images", _("At most 9 images per item."))
    if attachments > MAX_ATTACHMENTS:
        raise ValidationFailed("attachments", _("At most 5 attachments per item."))


def safe_filename(name: str) -> str:
    """The name without any path, control or bidi characters, at most 120 characters."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = re.sub(r"\s+", " ", name).strip(" .")
    if len(name) > 120:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:110] + dot + ext) if dot and len(ext) <= 8 else name[:120]
    return name or "file"


def check_attachment(filename: str, data: bytes, field: str = "attachments") -> tuple[str, str]:
    """(clean filename, content type) or a 422 naming the field."""
    name = safe_filename(filename)
    ext = name.rpartition(".")[2].lower() if "." in name else ""
    if not data:
        raise ValidationFailed(field, _("The upload is empty."))
    if len(data) > ATTACHMENT_MAX_BYTES:
        raise ValidationFailed(field, _("An attachment is at most 10 MB."))
    if ext not in TYPES or not data.startswith(TYPES[ext][1]):
        raise ValidationFailed(
            field, _("Attachments are PDF, Word, Excel or PowerPoint files (by their content).")
        )
    return name, TYPES[ext][0]


def add_images(actor: User, item: NewsItem, images: list[bytes]) -> None:
    """Store each image through the photos pipeline and attach it to the item (inside the
    item's transaction: a bad image rolls the whole item back)."""
    if not images:
        return
    start = NewsImage.select(NewsImage.sort).where(NewsImage.item == item.id).count()
    for i, data in enumerate(images):
        try:
            photo, _created = store_photo(actor, str(uuid.uuid4()), data)
        except ValidationFailed as exc:
            raise ValidationFailed(f"images.{i}", str(exc.detail)) from None
        Photo.update(owner_type="news", owner_id=str(item.id)).where(Photo.id == photo.id).execute()
        NewsImage.create(item=item.id, photo_id=photo.id, sort=start + i)


def add_attachments(item: NewsItem, attachments: list[tuple[str, bytes]]) -> None:
    checked = [
        (*check_attachment(name, data, f"attachments.{i}"), data)
        for i, (name, data) in enumerate(attachments)
    ]
    storage = get_storage()
    for name, content_type, data in checked:
        digest = hashlib.sha256(data).hexdigest()
        key = f"news/{item.id}/{digest[:32]}"
        storage.put(key, data)
        NewsAttachment.create(
            item=item.id, filename=name, content_type=content_type, size=len(data),
            storage_key=key,
        )  # fmt: skip


def remove(item: NewsItem, image_ids: list[str], attachment_ids: list[int]) -> None:
    if image_ids:
        NewsImage.delete().where(
            NewsImage.item == item.id, NewsImage.photo_id.in_(image_ids)
        ).execute()
    if attachment_ids:
        NewsAttachment.delete().where(
            NewsAttachment.item == item.id, NewsAttachment.id.in_(attachment_ids)
        ).execute()


def image_of(item: NewsItem, photo_id: str) -> Photo | None:
    row = NewsImage.get_or_none(NewsImage.item == item.id, NewsImage.photo_id == photo_id)
    return None if row is None else Photo.get_or_none(Photo.id == photo_id)


def images_of(item_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in item_ids}
    if item_ids:
        for item_id, pid in (
            NewsImage.select(NewsImage.item, NewsImage.photo_id)
            .where(NewsImage.item.in_(item_ids))
            .order_by(NewsImage.item, NewsImage.sort)
            .tuples()
        ):
            out[item_id].append(pid)
    return out
