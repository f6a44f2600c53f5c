"""The dashboard shows exactly what the API lets the same user see: for every kind of
supervisor (community, street, both, neither) and the admin, the grids and communities it links
to, over every view it may pick (?community=, ?street=), are the API's scope, no more."""

from __future__ import annotations

import re

import pytest

from gridapp.matters.service import report_matter


@pytest.fixture
def world(app, org, make_user):
    from gridapp.org.models import Community, Grid, Street

    far_street = Street.create(name="远方街道", code="far")
    far_community = Community.create(street=far_street, name="远方社区", code="far-c")
    far_grid = Grid.create(community=far_community, name="第1网格", code="far-01", sort=1)
    grids = [org.grid, org.grid2, org.other_grid, far_grid]
    worker = make_user("grid_worker", grids=grids)
    with app.test_request_context():
        for g in grids:
            report_matter(worker, source="worker", grid_id=g.id, text=f"事项 {g.code}")
    return {
        "streets": [org.street, far_street],
        "communities": [org.community, org.other_community, far_community],
        "grids": grids,
    }


def _links(html: str, name: str) -> set[int]:
    return {int(x) for x in re.findall(rf"[?&;]{name}=(\d+)", html)}


KINDS = {
    "community": lambda org: {"community": org.community},
    "street": lambda org: {"street": org.street},
    "community+street": lambda org: {"community": org.community, "street": org.street},
    "neither": None,
    "admin": "admin",
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_dashboard_scope_is_the_api_scope(kind, world, org, make_user, login_as):
    spec = KINDS[kind]
    if spec == "admin":
        user = make_user("admin")
    elif spec is None:  # e.g. their community was merged away: sees nothing
        from gridapp.org.models import User

        user = make_user("supervisor", community=org.community)
        User.update(community=None, street=None).where(User.id == user.id).execute()
    else:
        user = make_user("supervisor", **spec(org))
    client = login_as(user)
    api_grids = {m["grid_id"] for m in client.get("/api/v1/matters?limit=200").get_json()}
    api_communities = {
        c.id
        for c in world["communities"]
        if any(g.community_id == c.id for g in world["grids"] if g.id in api_grids)
    }
    seen_grids: set[int] = set()
    seen_communities: set[int] = set()
    urls = ["/console/"]
    urls += [f"/console/?street={s.id}" for s in world["streets"]]
    urls += [f"/console/?community={c.id}" for c in world["communities"]]
    for url in urls:
        resp = client.get(url)
        if resp.status_code == 404:
            continue
        assert resp.status_code == 200, (url, resp.status_code)
        html = resp.get_data(as_text=True)
        seen_grids |= _links(html, "grid")
        seen_communities |= _links(html, "community")
    assert seen_grids == api_grids, (kind, seen_grids, api_grids)
    assert seen_communities <= api_communities, (kind, seen_communities, api_communities)
    if kind in ("community", "community+street"):
        assert api_grids == {org.grid.id, org.grid2.id}
    if kind == "neither":
        assert api_grids == set()
