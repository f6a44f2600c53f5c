"""A bounded set of hostile inputs against every Open311 operation, both formats: never a 500,
every refusal in the spec's error shape (parsed), and a refused POST writes nothing."""

from __future__ import annotations

import pytest

from tests.open311.conftest import G1_POINT
from tests.open311.spec import check_error, parse

BAD = [
    "", " ", "\x00", "\x07bell", "' OR 1=1 --", "<script>alert(1)</script>", "]]>&<",
    "😀" * 20, "9" * 400, "-1", "0", "1e309", "NaN", "-Infinity", "../../etc/passwd",
    "２０２０-01-01T00:00:00Z", "2020-01-01T25:00:00Z", "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-23:59", "a," * 300, "x" * 10_000,
    "open,closed,open", "%00", "\u202e\u200b", "1;2", "[]", "{}",
]  # fmt: skip
GET_PARAMS = ["jurisdiction_id", "start_date", "end_date", "status", "service_code",
              "service_request_id"]  # fmt: skip
POST_FIELDS = ["api_key", "jurisdiction_id", "service_code", "lat", "long", "address_string",
               "address_id", "description", "phone", "email", "first_name", "last_name",
               "media_url", "attribute[a]", "attribute[a][]", "attribute["]  # fmt: skip


@pytest.fixture
def app_overrides():
    return {"OPEN311_ADDRESS_LIMIT": "100000 per minute", "OPEN311_KEY_LIMIT": "100000 per minute"}


def _check(resp, fmt, what):
    assert resp.status_code < 500, (what, resp.status_code, resp.data[:200])
    if resp.status_code >= 400:
        check_error(resp, fmt, resp.status_code)
    return resp.status_code


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_hostile_inputs_never_500(client, world, fmt):
    from gridapp.matters.models import Matter

    jid = world.jid
    for value in BAD:
        for name in GET_PARAMS:
            q = {"jurisdiction_id": jid, name: value}
            _check(client.get(f"/open311/v2/requests.{fmt}", query_string=q), fmt, (name, value))
        _check(client.get(f"/open311/v2/services.{fmt}", query_string={"jurisdiction_id": value}),
               fmt, value)  # fmt: skip
        for path in ("services", "requests", "tokens"):
            seg = value.replace("/", "%2F") or "x"
            url = f"/open311/v2/{path}/{seg}.{fmt}"
            _check(client.get(url, query_string={"jurisdiction_id": jid}), fmt, (url, value))
    good = {"api_key": world.key, "jurisdiction_id": jid, "service_code": "need",
            "lat": str(G1_POINT[0]), "long": str(G1_POINT[1]), "description": "井盖松动有危险"}  # fmt: skip
    before = Matter.select().count()
    created = 0
    for name in POST_FIELDS:
        for value in BAD:
            resp = client.post(f"/open311/v2/requests.{fmt}", data={**good, name: value})
            if _check(resp, fmt, (name, value)) == 200:
                parse(resp, fmt, "service_requests")
                created += 1
    assert Matter.select().count() == before + created
    # Wrong bodies and methods.
    for kw in ({"json": good}, {"data": b"\xff\xfe\x00", "content_type": "text/plain"},
               {"data": "a=%ZZ&b", "content_type": "application/x-www-form-urlencoded"}):  # fmt: skip
        _check(client.post(f"/open311/v2/requests.{fmt}", **kw), fmt, kw)
    for method in ("PUT", "DELETE", "PATCH"):
        _check(client.open(f"/open311/v2/requests.{fmt}", method=method), fmt, method)
    _check(client.post(f"/open311/v2/services.{fmt}"), fmt, "post services")
    big = {**good, "description": "长" * 3_000_000}
    _check(client.post(f"/open311/v2/requests.{fmt}", data=big), fmt, "huge body")
