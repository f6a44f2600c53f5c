"""Open311 GeoReport v2 conformance: every operation in JSON and XML (XML parsed with defusedxml),
each error the spec names in its error format, and a POST followed through the matters feature
(the right grid, a timeline event, the triage queue)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.open311.conftest import G2_POINT, OTHER_POINT
from tests.open311.spec import FORMATS, REQUEST_FIELDS, check_error, parse

V2 = "/open311/v2"


def post(client, world, fmt="json", **fields):
    data = {
        "api_key": world.key,
        "jurisdiction_id": world.jid,
        "service_code": "community",
        "lat": str(G2_POINT[0] + 0.0003),
        "long": str(G2_POINT[1]),
        "description": "楼道灯坏了一个星期了，晚上很黑",
    }
    data.update({k: v for k, v in fields.items() if v is not None})
    for k in [k for k, v in fields.items() if v is None]:
        data.pop(k, None)
    return client.post(f"{V2}/requests.{fmt}", data=data)


@pytest.mark.parametrize("fmt", FORMATS)
def test_discovery(client, world, fmt):
    for path in (f"/open311/discovery.{fmt}", f"{V2}/discovery.{fmt}"):
        resp = client.get(path)
        assert resp.status_code == 200
        doc = parse(resp, fmt, "discovery")
        (endpoint,) = doc["endpoints"]
        assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
        assert endpoint["url"].endswith("/open311/v2")
        assert endpoint["type"] == "production"
        assert set(endpoint["formats"]) == {"text/xml", "application/json"}
        assert {"changeset", "contact", "key_service"} <= set(doc)


@pytest.mark.parametrize("fmt", FORMATS)
def test_services_and_definitions(client, world, fmt):
    resp = client.get(f"{V2}/services.{fmt}?jurisdiction_id={world.jid}")
    services = parse(resp, fmt, "services")
    assert [s["service_code"] for s in services] == [
        "need", "individual", "community", "specialised", "difficult",
    ]  # fmt: skip
    for s in services:
        assert set(s) == {"service_code", "service_name", "description", "metadata", "type",
                          "keywords", "group"}  # fmt: skip
        assert str(s["metadata"]).lower() == "false" and s["type"] == "realtime"
    resp = client.get(f"{V2}/services/specialised.{fmt}?jurisdiction_id={world.jid}")
    definition = parse(resp, fmt, "service_definition")
    assert definition["service_code"] == "specialised"
    assert not definition.get("attributes")
    check_error(client.get(f"{V2}/services/pothole.{fmt}?jurisdiction_id={world.jid}"), fmt, 404,
                "service_code")  # fmt: skip
    # Two communities are served: jurisdiction_id is required, and must exist.
    check_error(client.get(f"{V2}/services.{fmt}"), fmt, 400, "jurisdiction_id was not provided")
    check_error(client.get(f"{V2}/services.{fmt}?jurisdiction_id=nowhere.gov"), fmt, 404,
                "jurisdiction_id")  # fmt: skip


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_creates_matter_in_grid_with_timeline_and_triage(client, world, org, make_user, fmt):
    from gridapp.matters import service as msvc
    from gridapp.matters.models import Matter, MatterEvent
    from gridapp.open311.models import Open311Request

    resp = post(client, world, fmt, phone="+86 138-1234-5678", first_name="三", last_name="张",
                email="zhang@example.com", address_string="8号楼2单元501")  # fmt: skip
    assert resp.status_code == 200, resp.data
    (item,) = parse(resp, fmt, "service_requests")
    assert set(item) == {"service_request_id", "service_notice", "account_id"}
    assert not item["account_id"]
    matter = Matter.get(Matter.code == item["service_request_id"])
    assert matter.source == "open311"
    assert matter.grid_id == org.grid2.id  # nearest building: 8号楼 in grid 2
    assert matter.suggested_category == "社事"
    assert matter.contact_phone == "13812345678"  # the matter's contact, masked by its rules
    (event,) = MatterEvent.select().where(MatterEvent.matter == matter.id)
    assert event.action == "report" and event.to_state == "reported"
    assert json.loads(event.data)["via"] == "open311"
    req = Open311Request.get(Open311Request.matter == matter.id)
    assert req.contact_name == "张三" and req.contact_email == "zhang@example.com"
    assert req.building_id == world.b2["id"] and req.key_id == world.key_row.id
    supervisor = make_user("supervisor", community=org.community)
    assert matter.id in [m.id for m in msvc.triage_queue(supervisor)]

    # GET the one request: the spec's fields, nothing personal.
    one = client.get(f"{V2}/requests/{matter.code}.{fmt}?jurisdiction_id={world.jid}")
    (got,) = parse(one, fmt, "service_requests")
    assert list(got) == REQUEST_FIELDS
    assert got["status"] == "open" and got["service_code"] == "community"
    assert not got["description"]  # public once handled, as on the community wall
    assert got["address"] == "东城水岸社区 第2网格 8号楼"
    assert got["address_id"] == str(world.b2["id"])
    assert float(got["lat"]) == round(G2_POINT[0], 3)
    assert got["requested_datetime"].endswith("Z")
    dt.datetime.fromisoformat(got["requested_datetime"].replace("Z", "+00:00"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_by_address_string_and_address_id(client, world, org, fmt):
    from gridapp.matters.models import Matter

    resp = post(client, world, fmt, lat=None, long=None, address_string="幸福路1号 1号楼 3单元")
    (item,) = parse(resp, fmt, "service_requests")
    assert Matter.get(Matter.code == item["service_request_id"]).grid_id == org.grid.id
    resp = post(client, world, fmt, lat=None, long=None, address_id=str(world.b2["id"]))
    (item,) = parse(resp, fmt, "service_requests")
    assert Matter.get(Matter.code == item["service_request_id"]).grid_id == org.grid2.id


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_errors(client, world, org, fmt):
    from gridapp.matters.models import Matter
    from gridapp.open311 import keys

    check_error(post(client, world, fmt, api_key=None), fmt, 403, "api_key")
    check_error(post(client, world, fmt, api_key="o311_" + "x" * 43), fmt, 403, "invalid api_key")
    check_error(post(client, world, fmt, api_key="nonsense"), fmt, 403, "invalid api_key")
    other = keys.issue_key(world.admin, name="天峰平台", community_ids=[org.other_community.id])
    check_error(post(client, world, fmt, api_key=other.key), fmt, 403, "jurisdiction")
    check_error(post(client, world, fmt, jurisdiction_id="nowhere.gov"), fmt, 404, "jurisdiction")
    check_error(post(client, world, fmt, jurisdiction_id=None), fmt, 400, "jurisdiction_id")
    check_error(post(client, world, fmt, service_code="pothole"), fmt, 404, "service_code")
    check_error(post(client, world, fmt, service_code=None), fmt, 400, "service_code")
    check_error(post(client, world, fmt, lat=None, long=None), fmt, 400, "location")
    check_error(post(client, world, fmt, long=None), fmt, 400, "lat and long")
    check_error(post(client, world, fmt, lat="north"), fmt, 400, "lat")
    check_error(post(client, world, fmt, lat="91"), fmt, 400, "lat")
    check_error(post(client, world, fmt, lat="nan"), fmt, 400, "lat")
    # A building of the other community is not in this jurisdiction; the sea is nowhere.
    check_error(post(client, world, fmt, lat=str(OTHER_POINT[0]), long=str(OTHER_POINT[1])), fmt,
                400, "not within")  # fmt: skip
    check_error(post(client, world, fmt, lat="0", long="0"), fmt, 400, "not within")
    check_error(post(client, world, fmt, lat=None, long=None, address_string="火星基地"), fmt,
                400, "not within")  # fmt: skip
    check_error(post(client, world, fmt, lat=None, long=None,
                     address_id=str(world.b_other["id"])), fmt, 400, "not within")  # fmt: skip
    check_error(post(client, world, fmt, description=""), fmt, 400, "description")
    check_error(post(client, world, fmt, description="x" * 4001), fmt, 400, "description")
    check_error(post(client, world, fmt, phone="12345"), fmt, 400, "phone")
    check_error(post(client, world, fmt, email="not-an-email"), fmt, 400, "email")
    check_error(post(client, world, fmt, media_url="javascript:alert(1)"), fmt, 400, "media_url")
    check_error(post(client, world, fmt, **{"attribute[x": "1"}), fmt, 400, "attribute")
    keys.revoke_key(world.admin, world.key_row.id)
    check_error(post(client, world, fmt), fmt, 403, "invalid api_key")
    assert Matter.select().count() == 0  # no error left a half-written record


@pytest.mark.parametrize("fmt", FORMATS)
def test_get_requests_filters_and_date_errors(client, world, org, make_user, fmt):
    from gridapp.matters import service as msvc

    codes = []
    for service_code in ("community", "specialised"):
        (item,) = parse(post(client, world, fmt, service_code=service_code), fmt,
                        "service_requests")  # fmt: skip
        codes.append(item["service_request_id"])
    worker = make_user("grid_worker", grids=[org.grid])
    own = msvc.report_matter(worker, source="worker", grid_id=org.grid.id, text="入户走访记录的事")
    base = f"{V2}/requests.{fmt}?jurisdiction_id={world.jid}"
    listed = parse(client.get(base), fmt, "service_requests")
    got = {r["service_request_id"] for r in listed}
    assert got == set(codes) and own.code not in got  # a worker's own record is not public
    only = parse(client.get(base + "&service_code=specialised"), fmt, "service_requests")
    assert [r["service_request_id"] for r in only] == [codes[1]]
    several = parse(client.get(base + f"&service_request_id={codes[0]},{own.code}"), fmt,
                    "service_requests")  # fmt: skip
    assert [r["service_request_id"] for r in several] == [codes[0]]
    now = dt.datetime.now(dt.UTC)
    window = f"&start_date={(now - dt.timedelta(days=1)).strftime('%Y-%m-%dT%H:%M:%S')}%2B08:00"
    assert len(parse(client.get(base + window), fmt, "service_requests")) == 2
    past = "&start_date=2020-01-01T00:00:00Z&end_date=2020-02-01T00:00:00Z"
    assert parse(client.get(base + past), fmt, "service_requests") in ([], None)
    assert parse(client.get(base + "&status=closed"), fmt, "service_requests") in ([], None)
    assert len(parse(client.get(base + "&status=open"), fmt, "service_requests")) == 2
    check_error(client.get(base + "&start_date=2020-01-01T00:00:00"), fmt, 400, "timezone")
    check_error(client.get(base + "&start_date=yesterday"), fmt, 400, "start_date")
    check_error(client.get(base + "&end_date=2020-13-45T00:00:00Z"), fmt, 400, "end_date")
    check_error(client.get(base + "&start_date=2020-01-01T00:00:00Z&end_date=2020-06-01T00:00:00Z"),
                fmt, 400, "90 days")  # fmt: skip
    check_error(client.get(base + "&start_date=2020-02-01T00:00:00Z&end_date=2020-01-01T00:00:00Z"),
                fmt, 400, "before")  # fmt: skip
    check_error(client.get(base + "&status=pending"), fmt, 400, "status")
    check_error(client.get(f"{V2}/requests/NOPE2345.{fmt}?jurisdiction_id={world.jid}"), fmt, 404,
                "service_request_id")  # fmt: skip
    check_error(client.get(f"{V2}/requests/{own.code}.{fmt}?jurisdiction_id={world.jid}"), fmt,
                404, "service_request_id")  # fmt: skip
    # A request of community c1 is not found under the other community's jurisdiction.
    other = org.other_community.code
    check_error(client.get(f"{V2}/requests/{codes[0]}.{fmt}?jurisdiction_id={other}"), fmt, 404,
                "service_request_id")  # fmt: skip
    check_error(client.get(f"{V2}/requests.{fmt}?jurisdiction_id=nowhere.gov"), fmt, 404,
                "jurisdiction")  # fmt: skip


@pytest.mark.parametrize("fmt", FORMATS)
def test_status_and_notes_follow_the_public_timeline(client, world, org, make_user, fmt):
    from gridapp.matters import service as msvc
    from gridapp.matters.models import Matter

    (item,) = parse(post(client, world, fmt, service_code="specialised"), fmt, "service_requests")
    matter = Matter.get(Matter.code == item["service_request_id"])
    admin = world.admin
    url = f"{V2}/requests/{matter.code}.{fmt}?jurisdiction_id={world.jid}"
    m = msvc.transition_matter(admin, matter.id, "triage", version=matter.version, category="专事",
                               note="内部备注：这家人不好说话")  # fmt: skip
    m = msvc.transition_matter(admin, m.id, "dispatch", version=m.version,
                               department_ids=[org.department.id])  # fmt: skip
    (got,) = parse(client.get(url), fmt, "service_requests")
    assert got["status"] == "open"
    assert got["agency_responsible"] == "水务公司"
    assert got["expected_datetime"]  # the dispatch's deadline
    assert "水务公司" in got["status_notes"]
    handler = make_user("department", department=org.department)
    m = msvc.transition_matter(handler, m.id, "resolve", version=m.version,
                               result="已更换灯泡，联系电话13912345678", note="私下说明")  # fmt: skip
    (got,) = parse(client.get(url), fmt, "service_requests")
    assert got["status"] == "closed"
    assert got["status_notes"].startswith("已更换灯泡") and "13912345678" not in got["status_notes"]
    assert (
        "内部备注" not in client.get(url).data.decode()
        and "私下说明" not in client.get(url).data.decode()
    )


def test_unknown_resources_and_formats_are_spec_404s(client, world):
    for path in ("/open311/v2/requests.html", "/open311/v2/tokens/123.xml", "/open311/",
                 "/open311/v2/nothing.json"):  # fmt: skip
        fmt = "json" if path.endswith(".json") else "xml"
        check_error(client.get(path), fmt, 404, "")
