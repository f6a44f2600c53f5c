"""Rate limits: per key (its own limit or the configured default) on POST, per address on every
operation; past either, 429 with Retry-After in the spec's error shape, and nothing written."""

from __future__ import annotations

import pytest

from tests.open311.conftest import G1_POINT
from tests.open311.spec import FORMATS, check_error


@pytest.fixture
def app_overrides():
    return {"OPEN311_ADDRESS_LIMIT": "8 per minute"}


def _post(client, key, jid, fmt):
    return client.post(
        f"/open311/v2/requests.{fmt}",
        data={"api_key": key, "jurisdiction_id": jid, "service_code": "need",
              "lat": str(G1_POINT[0]), "long": str(G1_POINT[1]), "description": "路灯不亮了好几天"},
    )  # fmt: skip


@pytest.mark.parametrize("fmt", FORMATS)
def test_per_key_limit(app, world, org, fmt):
    from gridapp.matters.models import Matter
    from gridapp.open311 import keys

    slow = keys.issue_key(world.admin, name="区网格平台", community_ids=[org.community.id],
                          rate_limit="2 per minute")  # fmt: skip
    a = app.test_client()
    b = app.test_client()
    b.environ_base["REMOTE_ADDR"] = "10.0.0.9"
    assert _post(a, slow.key, world.jid, fmt).status_code == 200
    assert _post(b, slow.key, world.jid, fmt).status_code == 200
    resp = _post(a, slow.key, world.jid, fmt)  # the key's third: from any address
    check_error(resp, fmt, 429, "too many")
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    assert Matter.select().count() == 2
    # Another key is not held back by this one's limit.
    assert _post(b, world.key, world.jid, fmt).status_code == 200


def test_per_address_limit_on_reads(client, world):
    url = f"/open311/v2/services.json?jurisdiction_id={world.jid}"
    for _ in range(8):
        assert client.get(url).status_code == 200
    resp = client.get(url)
    check_error(resp, "json", 429, "retry after")
    assert int(resp.headers["Retry-After"]) >= 1
    check_error(client.get(url.replace(".json", ".xml")), "xml", 429, "")


@pytest.fixture
def redis_url():
    import redis

    from tests.conftest import REDIS_URL

    redis.Redis.from_url(REDIS_URL).flushdb()
    yield REDIS_URL
    redis.Redis.from_url(REDIS_URL).flushdb()


def test_key_limit_is_shared_through_redis(tmp_path, database_url, redis_url):
    """Two app instances (two gunicorn processes) count one key's requests together."""
    from gridapp import create_app
    from gridapp.open311 import keys
    from tests.conftest import Org, app_config

    cfg = app_config(tmp_path, database_url, RATELIMIT_STORAGE_URI=redis_url)
    one, two = create_app(cfg), create_app(cfg)
    with one.app_context():
        org = Org()
        from gridapp.open311 import places
        from gridapp.registry.models import Building

        bld = Building.create(grid=org.grid, name="1号楼")
        places.set_building_point(None, bld.id, *G1_POINT)
        issued = keys.issue_key(None, name="共享", community_ids=[org.community.id],
                                rate_limit="2 per minute")  # fmt: skip
        assert _post(one.test_client(), issued.key, "c1", "json").status_code == 200
        assert _post(one.test_client(), issued.key, "c1", "json").status_code == 200
    with two.app_context():
        resp = _post(two.test_client(), issued.key, "c1", "xml")
        check_error(resp, "xml", 429, "too many")
        assert int(resp.headers["Retry-After"]) >= 1
