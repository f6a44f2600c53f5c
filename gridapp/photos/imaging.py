"""Decode, verify and re-encode uploaded photos with Pillow (no app imports).

Open → verify → reopen → load: ``verify()`` alone accepted a truncated JPEG, only ``load()``
caught it (DEPENDENCIES.md pitfall 8). ``exif_transpose`` runs before EXIF is dropped so portrait
photos stay upright; saving without ``exif=`` writes no EXIF, GPS or XMP.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 50_000_000  # a 10 MB file claiming more is a decompression bomb
THUMB_SIZE = (320, 320)
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


class BadImage(ValueError):
    """The upload is not an acceptable image; ``reason`` is a short code for the message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class CleanImage:
    data: bytes
    thumb: bytes
    content_type: str
    ext: str
    width: int
    height: int


def clean_image(raw: bytes) -> CleanImage:
    if len(raw) > MAX_BYTES:
        raise BadImage("too_large")
    if not raw:
        raise BadImage("empty")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(raw)) as probe:
                fmt = probe.format
                if fmt not in FORMATS:
                    raise BadImage("format")
                if probe.width * probe.height > MAX_PIXELS:
                    raise BadImage("too_many_pixels")
                probe.verify()
            img = Image.open(io.BytesIO(raw))
            img.load()
        except BadImage:
            raise
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
            raise BadImage("undecodable") from exc
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise BadImage("too_many_pixels") from exc
    img = ImageOps.exif_transpose(img)
    out = io.BytesIO()
    if fmt == "JPEG":
        img = img.convert("RGB") if img.mode not in ("RGB", "L") else img
        img.save(out, "JPEG", quality=85, optimize=True)
        ext = "jpg"
    elif fmt == "PNG":
        if img.mode not in ("RGB", "RGBA", "L", "LA", "P"):
            img = img.convert("RGBA")
        img.save(out, "PNG", optimize=True)
        ext = "png"
    else:
        if img.mode not in ("RGB", "RGBA"):
            img = img.convert("RGBA" if "A" in img.mode else "RGB")
        img.save(out, "WEBP", quality=85)
        ext = "webp"
    thumb = img.copy()
    thumb.thumbnail(THUMB_SIZE)
    if thumb.mode != "RGB":
        background = Image.new("RGB", thumb.size, "white")
        rgba = thumb.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        thumb = background
    tout = io.BytesIO()
    thumb.save(tout, "JPEG", quality=80)
    return CleanImage(out.getvalue(), tout.getvalue(), FORMATS[fmt], ext, img.width, img.height)
