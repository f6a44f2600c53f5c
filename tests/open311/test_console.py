"""The admin's key page: issue (shown once, stored hashed, audited), revoke (refused at once),
jurisdiction ids; other roles get 403. Also the CLI issues a key the API accepts."""

from __future__ import annotations

import re

from tests.console.conftest import form_post
from tests.open311.conftest import G1_POINT
from tests.open311.spec import check_error

PAGE = "/console/admin/open311"


def _post(client, key, jid):
    return client.post(
        "/open311/v2/requests.json",
        data={"api_key": key, "jurisdiction_id": jid, "service_code": "need",
              "lat": str(G1_POINT[0]), "long": str(G1_POINT[1]), "description": "小区门口积水严重"},
    )  # fmt: skip


def test_admin_issues_and_revokes_a_key(app, world, org, login_as, make_user):
    from gridapp.audit import AuditLog
    from gridapp.open311.keys import hash_key
    from gridapp.open311.models import Open311Key

    admin = login_as(world.admin)
    page = admin.get(PAGE)
    assert page.status_code == 200 and "12345 市民热线" in page.get_data(as_text=True)
    resp = form_post(admin, PAGE, {"name": "区网格平台", "community_ids": [str(org.community.id)],
                                   "rate_limit": "30 per minute"})  # fmt: skip
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    key = re.search(r'id="issued-key">(o311_[A-Za-z0-9_\-]+)<', body).group(1)
    row = Open311Key.get(Open311Key.name == "区网格平台")
    assert row.key_hash == hash_key(key) and key not in str(row.__data__)
    assert key not in admin.get(PAGE).get_data(as_text=True)  # shown once
    client = app.test_client()
    assert _post(client, key, world.jid).status_code == 200
    resp = form_post(admin, f"{PAGE}/{row.id}/revoke")
    assert resp.status_code == 302
    check_error(_post(client, key, world.jid), "json", 403, "invalid api_key")
    actions = [a.action for a in AuditLog.select().where(AuditLog.action.startswith("open311."))]
    assert actions.count("open311.key_issued") == 2 and "open311.key_revoked" in actions
    # Bad input is shown on the page, nothing issued.
    resp = form_post(admin, PAGE, {"name": "", "community_ids": []})
    assert resp.status_code == 422 and Open311Key.select().count() == 2
    # Other roles may not open it.
    for role in ("supervisor", "grid_worker", "department"):
        other = login_as(make_user(role))
        assert other.get(PAGE).status_code == 403
        assert form_post(other, PAGE, {"name": "x", "community_ids": [str(org.community.id)]}
                         ).status_code == 403  # fmt: skip
    assert Open311Key.select().count() == 2


def test_jurisdiction_id_is_configurable(client, world, org, login_as):
    admin = login_as(world.admin)
    resp = form_post(admin, f"{PAGE}/jurisdiction",
                     {"community_id": str(org.community.id), "jurisdiction_id": "dcsa.example.gov.cn"})  # fmt: skip
    assert resp.status_code == 302
    assert (
        client.get("/open311/v2/services.json?jurisdiction_id=dcsa.example.gov.cn").status_code
        == 200
    )
    check_error(client.get(f"/open311/v2/services.json?jurisdiction_id={org.community.code}"),
                "json", 404, "jurisdiction")  # fmt: skip
    assert _post(client, world.key, "dcsa.example.gov.cn").status_code == 200
    resp = form_post(admin, f"{PAGE}/jurisdiction",
                     {"community_id": str(org.other_community.id), "jurisdiction_id": "dcsa.example.gov.cn"})  # fmt: skip
    assert resp.status_code == 422


def test_cli_issues_a_key(app, world, org):
    """``gridapp open311 issue-key`` in its own process against the test's database."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from gridapp.open311 import keys

    exe = str(Path(sys.executable).parent / "gridapp")
    env = {**os.environ, "DATABASE_URL": app.config["DATABASE_URL"],
           "GRIDAPP_INSTANCE": str(app.instance_path)}  # fmt: skip
    env.pop("REDIS_URL", None)
    args = [exe, "open311", "issue-key", "--name", "12345", "--community", org.community.code]
    out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    key = re.search(r"(o311_\S+)", out.stdout).group(1)
    assert keys.find_key(key) is not None
    args = [exe, "open311", "issue-key", "--name", "x", "--community", "nowhere"]
    out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "jurisdiction" in out.stderr
