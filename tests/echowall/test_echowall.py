"""The echo wall through the test client: report, track, rate, limits, validation, posters."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import segno
from PIL import Image

from gridapp.errors import ValidationFailed
from gridapp.matters.models import Matter, MatterEvent
from gridapp.photos.models import Photo


def jpeg(size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, "JPEG")
    return buf.getvalue()


def code_of(resp) -> str:
    return re.search(r'id="tracking-code">([A-Z0-9]+)<', resp.get_data(as_text=True)).group(1)


def counts():
    return Matter.select().count(), MatterEvent.select().count(), Photo.select().count()


def test_page_is_chinese_first_english_on_request(echo, org):
    html = echo.resident.client.get(f"/e/{echo.token}").get_data(as_text=True)
    assert "回音壁" in html and "第1网格" in html and "王小网" in html
    assert 'name="csrf_token"' in html
    html = echo.resident.client.get(f"/e/{echo.token}?lang=en").get_data(as_text=True)
    assert "What do you need?" in html


def test_submit_track_and_photo(app, echo, org):
    resp = echo.resident.submit(
        text="3栋楼道灯坏了很久了", phone="138 1234 5678", photo=(io.BytesIO(jpeg()), "a.jpg")
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    code = code_of(resp)
    assert len(code) == 8 and f"/t/{code}" in resp.get_data(as_text=True)
    matter = Matter.get(Matter.code == code)
    assert matter.source == "resident" and matter.grid_id == org.grid.id
    assert matter.reporter_id is None and matter.contact_phone == "13812345678"
    photo = Photo.get()
    assert photo.uploader_id is None and photo.grid_id == org.grid.id
    assert (photo.owner_type, photo.owner_id) == ("matter", str(matter.id))
    assert photo.id in matter.photo_ids
    page = echo.resident.client.get(f"/t/{code}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert code in html and "已受理，等待办理" in html and "您的诉求已收到。" in html
    assert "13812345678" not in html and "王小网" not in html


def test_resolved_reply_rating_and_unsatisfied_reopens(app, echo, org, login_as):
    code = code_of(echo.resident.submit(text="小区门口垃圾桶满了没人清"))
    matter = Matter.get(Matter.code == code)
    sup = echo.sup_client

    def move(action, **fields):
        v = sup.get(f"/api/v1/matters/{matter.id}").get_json()["version"]
        resp = sup.post(
            f"/api/v1/matters/{matter.id}/transition",
            json={"action": action, "version": v, **fields},
        )
        assert resp.status_code == 200, resp.get_json()

    move("triage", category="社事")
    move("dispatch")
    move("accept")
    move("resolve", result="已清运并增加清运频次")
    html = echo.resident.client.get(f"/t/{code}").get_data(as_text=True)
    assert "已清运并增加清运频次" in html and 'name="rating"' not in html
    move("verify")
    move("close")
    client = echo.resident.client
    html = client.get(f"/t/{code}").get_data(as_text=True)
    assert 'value="满意"' in html and 'value="不满意"' in html
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    # without the CSRF token nothing happens
    assert client.post(f"/t/{code}/rating", data={"rating": "不满意"}).status_code == 400
    resp = client.post(f"/t/{code}/rating", data={"rating": "不满意", "csrf_token": token})
    assert resp.status_code == 302
    matter = Matter.get_by_id(matter.id)
    assert matter.state == "reopened" and matter.rating == "不满意"
    html = client.get(f"/t/{code}").get_data(as_text=True)
    assert 'name="rating"' not in html
    # the wall shows resolved echo-wall matters only; this one is reopened now
    wall = client.get(f"/w/{echo.wall_token}").get_data(as_text=True)
    assert "垃圾桶" not in wall


def test_wall_lists_resolved_matters_anonymised_and_paged(app, echo, org):
    from gridapp.echowall.service import submit_need
    from gridapp.matters.service import transition_matter
    from gridapp.org.models import Grid

    grid = Grid.get_by_id(org.grid.id)
    for i in range(23):
        m = submit_need(grid, f"张大爷说{i}号楼电话13812341234的灯坏了")
        for action, extra in (
            ("triage", {"category": "社事"}),
            ("dispatch", {}),
            ("accept", {}),
            ("resolve", {"result": "已修好，联系人李阿姨"}),
        ):
            m = transition_matter(echo.sup, m.id, action, version=m.version, **extra)
    client = echo.resident.client
    html = client.get(f"/w/{echo.wall_token}").get_data(as_text=True)
    assert html.count('class="wall-item"') == 20
    assert "某大爷" in html and "张大爷" not in html and "13812341234" not in html
    assert "李阿姨" not in html and "某阿姨" in html
    html2 = client.get(f"/w/{echo.wall_token}?page=2").get_data(as_text=True)
    assert html2.count('class="wall-item"') == 3
    assert client.get("/w/not-a-token").status_code == 404


@pytest.fixture
def app_overrides():
    return {"ECHOWALL_SUBMIT_LIMIT": "5 per 10 minutes"}


def test_submissions_are_rate_limited_per_ip(echo):
    for _ in range(5):
        assert echo.resident.submit().status_code == 200
    before = counts()
    resp = echo.resident.submit()
    assert resp.status_code == 429
    assert counts() == before
    # another address is not affected
    other = echo.resident.submit(environ={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200


def test_tracking_lookups_are_rate_limited(echo, app):
    code = code_of(echo.resident.submit())
    client = app.test_client()
    statuses = [client.get(f"/t/{code}").status_code for _ in range(61)]
    assert statuses[:60] == [200] * 60 and statuses[60] == 429
    api = [app.test_client().get(f"/api/v1/track/{code}").status_code for _ in range(61)]
    assert api[60] == 429 and set(api[:60]) == {200}, api.index(429)


@pytest.mark.parametrize(
    "kwargs, field, message",
    [
        ({"phone": "12345"}, "contact_phone", "11 位手机号"),
        ({"phone": "+8613812341234"}, "contact_phone", "11 位手机号"),
        ({"text": ""}, "text", "请描述"),
        ({"text": "灯"}, "text", "至少"),
        ({"text": "灯" * 1001}, "text", "1000"),
        ({"photo": (io.BytesIO(b"%PDF-1.4 not an image"), "a.jpg")}, "photo", "JPEG"),
        ({"photo": (io.BytesIO(b"\xff\xd8\xff" + b"0" * 100), "a.jpg")}, "photo", "JPEG"),
    ],
)
def test_invalid_input_is_a_clear_error_and_writes_nothing(echo, app, kwargs, field, message):
    before = counts()
    files_before = sorted(p.name for p in Path(app.config["MEDIA_ROOT"]).rglob("*"))
    resp = echo.resident.submit(**kwargs)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    err = re.search(rf'id="{field}-error"[^>]*>([^<]+)<', html)
    assert err, html
    assert message in err.group(1)
    assert 'aria-invalid="true"' in html
    assert counts() == before
    files_after = sorted(p.name for p in Path(app.config["MEDIA_ROOT"]).rglob("*"))
    assert files_after == files_before


def test_oversized_photo_refused(echo):
    """A photo over 10 MB is refused with the field named (body encoded by hand: the test
    client would spool it to a temporary file it never closes)."""
    from tests.echowall.conftest import form_token

    client = echo.resident.client
    token = form_token(client.get(echo.resident.url).get_data(as_text=True))
    big = b"\xff\xd8\xff" + b"0" * (10 * 1024 * 1024 + 10)
    b = "echo-boundary"
    body = (
        (
            f'--{b}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            f'--{b}\r\nContent-Disposition: form-data; name="text"\r\n\r\n'
        ).encode()
        + "3栋楼道灯坏了很久了".encode()
        + (
            f'\r\n--{b}\r\nContent-Disposition: form-data; name="photo"; filename="big.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + big
        + f"\r\n--{b}--\r\n".encode()
    )
    before = counts()
    resp = client.post(
        echo.resident.url, data=body, content_type=f"multipart/form-data; boundary={b}"
    )
    assert resp.status_code == 422
    assert "10 MB" in resp.get_data(as_text=True)
    assert 'id="photo-error"' in resp.get_data(as_text=True)
    assert counts() == before


def test_failed_write_leaves_no_photo_row_or_file(echo, app, org):
    """If the matter cannot be written after the photo was stored, the photo goes too."""
    from gridapp.echowall import service
    from gridapp.org.models import Grid

    grid = Grid.get_by_id(org.grid.id)
    grid.id = 999999  # a grid the matters feature does not know: report_matter raises 422
    before = counts()
    with pytest.raises(ValidationFailed):
        service.submit_need(grid, "3栋楼道灯坏了很久了", "", jpeg())
    assert counts() == before
    assert not [p for p in Path(app.config["MEDIA_ROOT"]).rglob("*") if p.is_file()]


def test_wrong_code_and_token_are_404_pages(echo, client):
    for url in ("/t/NOPE2345", "/t/" + "A" * 200, "/e/nope", "/e/" + "x" * 300, "/w/nope"):
        resp = client.get(url)
        assert resp.status_code == 404, url
        assert "text/html" in resp.content_type
    # the grid id is not a token
    assert client.get(f"/e/{echo.token[:-1]}").status_code == 404


def test_poster_svg_has_worker_phone_and_qr_to_the_public_page(echo, org):
    resp = echo.sup_client.get(f"/echowall/grids/{org.grid.id}/poster.svg")
    assert resp.status_code == 200 and resp.mimetype == "image/svg+xml"
    svg = resp.get_data(as_text=True)
    assert "王小网" in svg and "13912345678" in svg and "第1网格" in svg and "东城水岸社区" in svg
    assert '<path class="qr"' in svg
    # the QR encodes the absolute URL of /e/<token> (not the grid id)
    from gridapp.echowall.rules import _qr_runs

    url = f"http://localhost/e/{echo.token}"
    expected = segno.make(url, error="m")
    runs = len(_qr_runs([list(r) for r in expected.matrix_iter(border=4)]))
    assert re.search(r'<path class="qr" fill="#000" d="([^"]+)"', svg).group(1).count("z") == runs
    assert str(org.grid.id) not in url.rsplit("/", 1)[1] or len(echo.token) >= 20


def test_poster_pdf(echo, org):
    resp = echo.admin_client.get(f"/echowall/grids/{org.grid.id}/poster.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    pdf = resp.get_data()
    assert pdf.startswith(b"%PDF")
    assert "第1网格".encode("utf-16-be").hex().upper().encode() in pdf
    assert "王小网".encode("utf-16-be").hex().upper().encode() in pdf


def test_poster_is_scoped(echo, org, make_user, login_as):
    for ext in ("svg", "pdf"):
        assert (
            echo.sup_client.get(f"/echowall/grids/{org.other_grid.id}/poster.{ext}").status_code
            == 404
        )
        assert echo.sup_client.get(f"/echowall/grids/99999/poster.{ext}").status_code == 404
    worker = login_as(echo.worker)
    assert worker.get(f"/echowall/grids/{org.grid.id}/poster.svg").status_code == 404
    anon = echo.resident.client.get(f"/echowall/grids/{org.grid.id}/poster.svg")
    assert anon.status_code in (302, 401)
    listing = echo.sup_client.get("/echowall/").get_data(as_text=True)
    assert f"/echowall/grids/{org.grid.id}/poster.pdf" in listing
    assert f"/echowall/grids/{org.other_grid.id}/" not in listing
