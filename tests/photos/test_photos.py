"""Photos: verified by decoding, EXIF/GPS stripped, thumbnail, served only within scope."""

from __future__ import annotations

import io
import uuid

from PIL import Image

GPS_IFD = 0x8825


def jpeg_with_gps(size=(64, 48), orientation: int | None = None) -> bytes:
    img = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    if orientation:
        exif[0x0112] = orientation
    exif[GPS_IFD] = {1: "N", 2: (37.0, 52.0, 12.0), 3: "E", 4: (112.0, 33.0, 1.0)}
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    return out.getvalue()


def upload(client, data: bytes, name="p.jpg", photo_id=None, **form):
    photo_id = photo_id or str(uuid.uuid4())
    resp = client.put(
        f"/api/v1/photos/{photo_id}",
        data={"file": (io.BytesIO(data), name), **form},
        content_type="multipart/form-data",
    )
    return photo_id, resp


def test_gps_exif_is_gone_and_orientation_applied(reg, login_as, app):
    raw = jpeg_with_gps(orientation=6)  # "rotate 90° to display"
    assert Image.open(io.BytesIO(raw)).getexif().get_ifd(GPS_IFD)  # the fixture really has GPS
    c = login_as(reg.worker)
    pid, resp = upload(c, raw)
    assert resp.status_code == 201, resp.get_json()
    assert (resp.get_json()["width"], resp.get_json()["height"]) == (48, 64)
    _, again = upload(c, raw, photo_id=pid)
    assert again.status_code == 200  # replay: same photo, nothing new
    stored = c.get(f"/api/v1/photos/{pid}/image")
    assert stored.status_code == 200 and stored.mimetype == "image/jpeg"
    img = Image.open(io.BytesIO(stored.data))
    assert not img.getexif() and b"Exif" not in stored.data and "exif" not in img.info
    assert img.size == (48, 64)
    thumb = Image.open(io.BytesIO(c.get(f"/api/v1/photos/{pid}/thumb").data))
    assert thumb.format == "JPEG" and max(thumb.size) <= 320
    # and on disk too
    from gridapp.photos.models import Photo
    from gridapp.photos.storage import get_storage

    assert b"Exif" not in get_storage().get(Photo.get_by_id(pid).storage_key)


def test_non_images_are_refused(reg, login_as):
    from gridapp.photos.models import Photo

    c = login_as(reg.worker)
    _, resp = upload(c, b"MZ\x90\x00 this is an exe renamed" * 20, name="photo.jpg")
    assert resp.status_code == 422
    assert resp.get_json()["field"] == "file"
    assert "JPEG" in resp.get_json()["detail"]
    truncated = jpeg_with_gps(size=(400, 300))[:-400]
    _, resp = upload(c, truncated, name="cut.jpg")
    assert resp.status_code == 422
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, "GIF")
    _, resp = upload(c, gif.getvalue(), name="x.jpg")
    assert resp.status_code == 422 and resp.get_json()["code"] == "format"
    assert Photo.select().count() == 0


def test_png_and_webp_accepted(reg, login_as):
    c = login_as(reg.worker)
    for fmt in ("PNG", "WEBP"):
        buf = io.BytesIO()
        Image.new("RGBA", (10, 10), (0, 0, 255, 128)).save(buf, fmt)
        _, resp = upload(c, buf.getvalue(), name=f"x.{fmt.lower()}")
        assert resp.status_code == 201 and resp.get_json()["content_type"] == f"image/{fmt.lower()}"


def test_photos_follow_the_visit_scope(reg, org, login_as, make_user):
    worker, other = login_as(reg.worker), login_as(reg.other_worker)
    colleague = login_as(make_user("grid_worker", grids=[org.grid]))
    pid, resp = upload(worker, jpeg_with_gps())
    assert resp.status_code == 201
    # unattached: only the uploader
    assert colleague.get(f"/api/v1/photos/{pid}/image").status_code == 404
    vid = str(uuid.uuid4())
    r = worker.post(
        "/api/v1/visits", json={"id": vid, "household_id": reg.household["id"], "photo_ids": [pid]}
    )
    assert r.status_code == 200 and r.get_json()["photo_ids"] == [pid]
    assert colleague.get(f"/api/v1/photos/{pid}/image").status_code == 200
    assert login_as(reg.supervisor).get(f"/api/v1/photos/{pid}/thumb").status_code == 200
    assert other.get(f"/api/v1/photos/{pid}/image").status_code == 404
    # another user cannot take over the id either
    _, resp = upload(other, jpeg_with_gps(), photo_id=pid)
    assert resp.status_code == 404


def test_photo_uploaded_after_its_visit(reg, login_as):
    c = login_as(reg.worker)
    vid = str(uuid.uuid4())
    c.post("/api/v1/visits", json={"id": vid, "household_id": reg.household["id"]})
    pid, resp = upload(c, jpeg_with_gps(), owner_type="visit", owner_id=vid)
    assert resp.status_code == 201
    assert login_as(reg.supervisor).get(f"/api/v1/photos/{pid}/image").status_code == 200
    assert c.get(f"/api/v1/visits/{vid}").get_json()["photo_ids"] == [pid]
