"""Photo bombs: refused from the header (size × mode) before any pixel is decoded, with memory
bounded; large JPEGs decoded DCT-scaled; uploads throttled per user and per address."""

from __future__ import annotations

import io
import uuid

import pytest
from PIL import Image

from tests.bombs import memory_watch, png_bomb, post_multipart

MB = 1024 * 1024


def put(client, data: bytes, name: str = "p.png"):
    return post_multipart(client, f"/api/v1/photos/{uuid.uuid4()}", data, name, method="put")


@pytest.fixture(scope="module")
def rgba_7000() -> bytes:
    return png_bomb(7000, 7000)


def test_rgba_7000_square_png_is_refused_before_decoding(reg, login_as, rgba_7000):
    from gridapp.photos.models import Photo

    assert len(rgba_7000) < 300 * 1024  # 196 MB of pixels in under 300 KB
    assert Image.open(io.BytesIO(rgba_7000)).size == (7000, 7000)  # header only: a real PNG
    c = login_as(reg.worker)
    with memory_watch() as mem:
        resp = put(c, rgba_7000)
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["field"] == "file" and resp.get_json()["code"] == "too_many_pixels"
    assert Photo.select().count() == 0
    assert mem["py_peak"] < 30 * MB, mem
    assert mem["rss_growth"] < 100 * MB, mem  # decoding it would take 196 MB


def test_the_cap_counts_bytes_per_mode(reg, login_as):
    from gridapp.photos import imaging

    # 4000×3000 is a phone photo: fine as RGB (36 MB), and as RGBA (48 MB) just under the cap
    assert imaging.decoded_bytes("RGB", 4000, 3000) <= imaging.MAX_DECODED_BYTES
    assert imaging.decoded_bytes("RGBA", 7000, 7000) > imaging.MAX_DECODED_BYTES
    c = login_as(reg.worker)
    # a 4000×4000 grey PNG decodes to 16 MB: accepted; the same size in RGBA (64 MB) is not
    grey = png_bomb(4000, 4000)  # RGBA
    assert put(c, grey).status_code == 422
    out = io.BytesIO()
    Image.new("L", (4000, 4000), 128).save(out, "PNG")
    assert put(c, out.getvalue()).status_code == 201


def test_large_jpeg_is_decoded_scaled_down(reg, login_as):
    out = io.BytesIO()
    Image.new("RGB", (8000, 6000), (90, 120, 30)).save(out, "JPEG", quality=50)
    c = login_as(reg.worker)
    resp = put(c, out.getvalue(), "big.jpg")
    assert resp.status_code == 201, resp.get_json()
    assert (resp.get_json()["width"], resp.get_json()["height"]) == (4000, 3000)


def test_photo_upload_is_throttled_per_user_and_address(reg, login_as, app, make_user):
    app.config["UPLOAD_LIMIT_PHOTO_USER"] = "2 per minute"
    app.config["UPLOAD_LIMIT_PHOTO_ADDRESS"] = "3 per minute"
    c = login_as(reg.worker)
    codes = [put(c, b"not an image").status_code for _ in range(3)]
    assert codes == [422, 422, 429]
    assert put(c, b"x").get_json()["code"] == "upload_throttled"
    other = login_as(make_user("grid_worker"))
    assert [put(other, b"x").status_code for _ in range(2)] == [422, 429]  # address spent
