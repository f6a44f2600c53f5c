from __future__ import annotations

from types import SimpleNamespace

import pytest


@pytest.fixture
def crew(org, make_user, login_as):
    w1 = make_user("grid_worker", grids=[org.grid])
    w2 = make_user("grid_worker", grids=[org.grid2])
    w12 = make_user("grid_worker", grids=[org.grid, org.grid2])
    other = make_user("grid_worker", grids=[org.other_grid])
    sup = make_user("supervisor", community=org.community)
    other_sup = make_user("supervisor", community=org.other_community)
    dept = make_user("department")
    return SimpleNamespace(
        w1=w1,
        w2=w2,
        w12=w12,
        other=other,
        sup=sup,
        other_sup=other_sup,
        dept=dept,
        api={
            name: login_as(u)
            for name, u in dict(
                w1=w1, w2=w2, w12=w12, other=other, sup=sup, other_sup=other_sup, dept=dept
            ).items()
        },
    )
