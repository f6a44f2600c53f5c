"""Decode, verify and re-encode uploaded photos with Pillow (no app imports).

Open → verify → reopen → load: ``verify()`` alone accepted a truncated JPEG, only ``load()``
caught it (DEPENDENCIES.md pitfall 8). ``exif_transpose`` runs before EXIF is dropped so portrait
photos stay upright; saving without ``exif=`` writes no EXIF, GPS or XMP.
"""

from __future__ import annotations

import io
import threading
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 50_000_000  # a 10 MB file claiming more is a decompression bomb
# What one decode may take, from the header's size and mode *before* decoding: a 185 KB PNG can
# claim 7000×7000 RGBA (196 MB decoded). A 12 MP phone photo is 36 MB of RGB; a larger JPEG is
# decoded DCT-scaled (``draft``) to at most MAX_EDGE, so 48 MP cameras still fit.
MAX_DECODED_BYTES = 50 * 1024 * 1024
MAX_EDGE = 4096
# Bytes per pixel of each mode Pillow decodes into (unknown modes count as 4).
MODE_BYTES = {"1": 1, "L": 1, "P": 1, "LA": 2, "PA": 2, "La": 2, "I;16": 2, "I;16B": 2,
              "RGB": 3, "YCbCr": 3, "LAB": 3, "HSV": 3, "RGBA": 4, "RGBa": 4, "RGBX": 4,
              "CMYK": 4, "I": 4, "F": 4}  # fmt: skip
# Decodes at once per process: each holds up to ~3× MAX_DECODED_BYTES (decode, upright, convert).
_DECODES = threading.BoundedSemaphore(2)


def decoded_bytes(mode: str, width: int, height: int) -> int:
    """What decoding an image of this mode and size allocates (Pillow's own buffers)."""
    return width * height * MODE_BYTES.get(mode, 4)


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
    """The upload decoded (within the caps, checked on its header first), upright, re-encoded
    without metadata, with a thumbnail; ``BadImage`` for anything else."""
    if len(raw) > MAX_BYTES:
        raise BadImage("too_large")
    if not raw:
        raise BadImage("empty")
    with _DECODES:
        img, fmt = _decode(raw)
        return _encode(img, fmt)


def _decode(raw: bytes):
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(raw)) as probe:  # reads the header only
                fmt = probe.format
                if fmt not in FORMATS:
                    raise BadImage("format")
                if probe.width * probe.height > MAX_PIXELS:
                    raise BadImage("too_many_pixels")
                probe.verify()
            img = Image.open(io.BytesIO(raw))
            if fmt == "JPEG" and max(img.size) > MAX_EDGE:
                # DCT scaling (1/2, 1/4, 1/8) to the smallest size whose edges are at least
                # those asked for: asking for half of MAX_EDGE lands between it and MAX_EDGE
                k = MAX_EDGE / 2 / max(img.size)
                img.draft(img.mode, (int(img.width * k), int(img.height * k)))
            if decoded_bytes(img.mode, img.width, img.height) > MAX_DECODED_BYTES:
                raise BadImage("too_many_pixels")
            img.load()
        except BadImage:
            raise
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
            raise BadImage("undecodable") from exc
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise BadImage("too_many_pixels") from exc
    return img, fmt


def _encode(img, fmt: str) -> CleanImage:
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
