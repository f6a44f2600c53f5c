"""What the keyless GETs reveal: nothing personal. A resident's phone, name and e-mail given by the
integrator, the room number typed in the address, private timeline notes, names and phones in
the free text, the handlers' names: none of them appears in any GET answer, in either format."""

from __future__ import annotations

import pytest

from tests.open311.conftest import G1_POINT
from tests.open311.spec import FORMATS, parse

V2 = "/open311/v2"
SECRETS = ["13812345678", "138-1234-5678", "1234", "张三", "zhang@example.com", "2单元501",
           "内部备注", "王大妈", "13987654321", "私下说明", "办事员老李"]  # fmt: skip


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_personal_data_in_any_get(client, world, org, make_user, fmt):
    from gridapp.matters import service as msvc
    from gridapp.matters.models import Matter

    resp = client.post(
        f"{V2}/requests.{fmt}",
        data={
            "api_key": world.key, "jurisdiction_id": world.jid, "service_code": "need",
            "lat": str(G1_POINT[0] + 0.00012345), "long": str(G1_POINT[1] - 0.00011111),
            "description": "张三家楼上漏水，王大妈说找13987654321也没人管",
            "phone": "138 1234 5678", "first_name": "三", "last_name": "张",
            "email": "zhang@example.com", "address_string": "1号楼2单元501",
            "device_id": "dev-1", "account_id": "acc-1",
        },
    )  # fmt: skip
    (item,) = parse(resp, fmt, "service_requests")
    matter = Matter.get(Matter.code == item["service_request_id"])
    handler = make_user("supervisor", community=org.community, display_name="办事员老李")
    m = msvc.transition_matter(handler, matter.id, "triage", version=matter.version,
                               category="社事", note="内部备注：张三脾气大")  # fmt: skip
    m = msvc.transition_matter(handler, m.id, "dispatch", version=m.version, note="私下说明")
    m = msvc.transition_matter(handler, m.id, "resolve", version=m.version,
                               result="办事员老李已联系张三，修好了")  # fmt: skip
    q = f"?jurisdiction_id={world.jid}"
    bodies = [
        client.get(f"{V2}/requests.{fmt}{q}").data.decode(),
        client.get(f"{V2}/requests/{m.code}.{fmt}{q}").data.decode(),
        client.get(f"{V2}/requests.{fmt}{q}&service_request_id={m.code}").data.decode(),
        client.get(f"{V2}/requests.{fmt}{q}&status=closed").data.decode(),
    ]
    for body in bodies:
        assert m.code in body
        for secret in SECRETS:
            assert secret not in body, (secret, body)
        assert "dev-1" not in body and "acc-1" not in body
    (got,) = parse(client.get(f"{V2}/requests/{m.code}.{fmt}{q}"), fmt, "service_requests")
    # The description is anonymised like the echo wall's public wall; coordinates ~100 m.
    assert "某某" in got["description"] and "***" in got["description"]
    assert got["address"].endswith("1号楼")
    assert len(str(got["lat"]).split(".")[1]) <= 3 and len(str(got["long"]).split(".")[1]) <= 3
    assert not got["media_url"]
    # The echo wall's tracking page masks the integrator-given name too.
    page = client.get(f"/t/{m.code}").get_data(as_text=True)
    assert "修好了" in page and "张三" not in page and "办事员老李" not in page
