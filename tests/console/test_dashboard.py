"""The dashboard's numbers match the lists they link to; charts are inline SVG."""

from __future__ import annotations

import datetime as dt
import html
import re
import uuid

import pytest

from gridapp.db import utcnow
from gridapp.registry.models import Building, Household

# The features this page summarises (each on its own branch until merged).
Matter = pytest.importorskip("gridapp.matters.models").Matter
Task = pytest.importorskip("gridapp.tasks.models").Task
_visits = pytest.importorskip("gridapp.visits.models")
ServiceItem, Visit = _visits.ServiceItem, _visits.Visit


@pytest.fixture
def data(org, people):
    now = utcnow()
    day = dt.timedelta(days=1)
    n = 0

    def matter(grid, state, category=None, **kw):
        nonlocal n
        n += 1
        return Matter.create(
            code=f"T{n:07d}",
            source="worker",
            grid=grid,
            community=grid.community_id,
            text=f"事项{n}",
            title=f"事项{n}",
            state=state,
            category=category,
            **kw,
        )

    g, g2, other = org.grid, org.grid2, org.other_grid
    matter(g, "reported")
    matter(g, "reported", created_at=now - 3 * day)
    matter(g2, "dispatched", "专事", deadline_at=now - day)  # overdue
    matter(g2, "in_progress", "专事", deadline_at=now + day, warn_at=None)  # warned
    matter(g, "in_progress", "社事", deadline_at=now + 5 * day, warn_at=now + 3 * day)  # fine
    matter(g, "closed", "个事", created_at=now - 4 * day, closed_at=now - 2 * day, rating="满意")
    matter(g, "closed", "个事", created_at=now - 5 * day, closed_at=now - day, rating="不满意")
    matter(other, "reported")  # another community: not on this dashboard
    b = Building.create(grid=g, name="1号楼")
    homes = [
        Household.create(
            grid=g,
            building=b,
            room=str(100 + i),
            next_visit_due=now + (i - 1) * day,
            last_visit_at=now - 10 * day,
        )
        for i in range(4)
    ]  # due: now-1d (not covered), now (not covered), +1d, +2d (covered)
    item = ServiceItem.get_or_none(ServiceItem.name == "血压测量") or ServiceItem.create(
        code="bp", name="血压测量"
    )
    for i, h in enumerate(homes):
        Visit.create(
            id=str(uuid.uuid4()),
            worker=people["grid_worker"],
            household=h,
            grid=g,
            visited_at=now - (i + 1) * day,
            services=f'["{item.code}"]' if i < 3 else "[]",
        )
    Task.create(
        title="按时",
        assignee=people["grid_worker"],
        grid=g,
        state="verified",
        due_at=now,
        done_at=now - day,
    )
    Task.create(
        title="逾期完成",
        assignee=people["grid_worker"],
        grid=g,
        state="done",
        due_at=now - 2 * day,
        done_at=now - day,
    )
    Task.create(
        title="逾期未完成",
        assignee=people["grid_worker"],
        grid=g,
        state="assigned",
        due_at=now - day,
    )
    return item


def _kpi(page, name):
    m = re.search(rf'id="kpi-{name}" href="([^"]+)"[^>]*>([^<]+)<', page)
    return html.unescape(m.group(1)), m.group(2).strip()


def _rows(client, url, marker):
    return client.get(url).get_data(as_text=True).count(marker)


def test_dashboard_numbers_link_to_their_lists(org, people, login_as, data):
    sup = login_as(people["supervisor"])
    page = sup.get("/console/").get_data(as_text=True)
    assert org.community.name in page
    for name, expected in (("open", "5"), ("overdue", "1"), ("warned", "1")):
        url, value = _kpi(page, name)
        assert value == expected, name
        assert _rows(sup, url, "data-matter=") == int(expected), (name, url)
    assert _kpi(page, "satisfaction")[1] == "50%"
    url, value = _kpi(page, "tasks-on-time")
    assert value == "50%" and _rows(sup, url, "data-task=") == 1
    url, value = _kpi(page, "tasks-overdue")
    assert value == "1" and _rows(sup, url, "data-task=") == 1
    assert _kpi(page, "coverage")[1] == "50%"
    assert _kpi(page, "services")[1] == "3"
    # the charts are inline SVG with links, nothing loaded from elsewhere
    assert (
        page.count("<svg") >= 3 and 'id="chart-matters"' in page and 'id="chart-coverage"' in page
    )
    assert "http://" not in page.split("<main", 1)[1].replace("http://www.w3.org/2000/svg", "")
    # the matters-by-category table: 专事 has one overdue, linking to that one matter
    row = page.split('data-category="专事"', 1)[1].split("</tr>", 1)[0]
    overdue_url = html.unescape(re.findall(r'href="([^"]+alarm=overdue[^"]*)"', row)[0])
    assert _rows(sup, overdue_url, "data-matter=") == 1
    # 个事: two closed, after 2 and 4 days: average 3.0
    assert "3.0" in page.split('data-category="个事"', 1)[1].split("</tr>", 1)[0]
    # coverage bar links to the households due in that grid
    due = sup.get(f"/console/households-due?grid={org.grid.id}").get_data(as_text=True)
    assert due.count("<tr>") == 1 + 2
    services = sup.get(f"/console/visits?service={data.code}&days=30").get_data(as_text=True)
    assert services.count("<tr>") == 1 + 3


def test_street_dashboard_shows_communities(org, people, login_as, make_user, data):
    street_sup = make_user("supervisor", street=org.street)
    page = login_as(street_sup).get("/console/").get_data(as_text=True)
    assert 'id="per-community"' in page and org.other_community.name in page
    assert _kpi(page, "open")[1] == "6"
    # drill down to one community
    page = (
        login_as(street_sup)
        .get(f"/console/?community={org.other_community.id}")
        .get_data(as_text=True)
    )
    assert _kpi(page, "open")[1] == "1"


def test_community_supervisor_cannot_open_another_community(org, people, login_as):
    resp = login_as(people["supervisor"]).get(f"/console/?community={org.other_community.id}")
    assert resp.status_code == 404
