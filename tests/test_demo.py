"""The demo community seeds the promised numbers, once."""

from __future__ import annotations

from gridapp.demo import DEMO_PASSWORD, seed_demo


def test_demo_seeds_the_promised_community(app):
    from gridapp.org.models import Community, Department, Grid, Street, User, UserGrid
    from gridapp.registry.models import Household, Resident, ResidentTag

    logins = seed_demo(history=False)
    assert Street.get(Street.code == "gaoxin").name == "高新区"
    dcsa = Community.get(Community.name == "东城水岸社区")
    assert Community.select().where(Community.name == "天峰社区").exists()
    assert Grid.select().where(Grid.community == dcsa).count() == 16
    workers = (
        User.select()
        .join(UserGrid)
        .join(Grid)
        .where(Grid.community == dcsa, User.role == "grid_worker")
    )
    assert workers.count() == 16
    assert Department.select().count() >= 5
    roles = {u.role for u in User.select()}
    assert roles == {"admin", "supervisor", "grid_worker", "department"}
    per_grid = (Household.select().join(Grid).where(Grid.community == dcsa).count()) / 16
    assert 280 <= per_grid <= 320
    assert Resident.select().count() > 2 * Household.select().count()
    assert ResidentTag.select().count() > 500
    sample = Resident.select().where(Resident.phone != "").first()
    assert len(sample.phone) == 11 and sample.name_pinyin and sample.phone_tail == sample.phone[-4:]
    assert {login.username for login in logins} >= {"admin", "dcsa_sup", "dcsa_w01", "dcsa_w16"}
    # Seeding again changes nothing.
    before = Resident.select().count()
    assert seed_demo(history=False) == logins
    assert Resident.select().count() == before


def test_demo_logins_work(app, client):
    from tests.conftest import api_login

    seed_demo(households_per_grid=5, history=False)
    api_login(client, "dcsa_w03", DEMO_PASSWORD)
    me = client.get("/api/v1/me").get_json()
    assert me["role"] == "grid_worker" and me["grids"][0]["name"] == "第3网格"


def test_demo_history_is_a_working_community(app, client):
    """A small demo (10 households a grid) with its months of history: every matter state and
    category, each timeline consistent with its row, visits that leave only some households
    due, tasks in every state, a campaign under way, read and unread announcements."""
    import datetime as dt

    from peewee import fn

    from gridapp.changes import Change
    from gridapp.db import utcnow
    from gridapp.echowall.models import EchoToken
    from gridapp.matters import states
    from gridapp.matters.models import Matter, MatterEvent
    from gridapp.matters.service import triage_queue
    from gridapp.notifications.models import Notification
    from gridapp.org.models import Grid, User
    from gridapp.registry.models import Household
    from gridapp.tasks import states as task_states
    from gridapp.tasks.models import Campaign, Task
    from gridapp.tasks.service import my_work
    from gridapp.visits.models import Visit

    before = utcnow()
    seed_demo(households_per_grid=10, matters_per_grid=(2, 3))
    now = utcnow()

    matters = list(Matter.select())
    assert {m.state for m in matters} == set(states.STATES)
    assert {m.category for m in matters} >= set(states.CATEGORIES)
    assert {m.source for m in matters} == {"resident", "worker", "supervisor"}
    assert {m.rating for m in matters} >= {"满意", "基本满意", "不满意"}
    changed = {
        int(e) for (e,) in Change.select(Change.entity_id).where(Change.entity == "matter").tuples()
    }
    for m in matters:
        evs = list(MatterEvent.select().where(MatterEvent.matter == m.id).order_by(MatterEvent.id))
        assert evs[0].action == "report" and evs[0].at == m.created_at
        times = [e.at for e in evs]
        assert times == sorted(times) and times[-1] == m.updated_at < before
        assert evs[-1].to_state == m.state
        for a, b in zip(evs, evs[1:], strict=False):
            assert b.from_state == a.to_state or b.action in ("photo",)
        if m.state == "closed":
            assert m.closed_at == max(e.at for e in evs if e.action == "close")
        if m.state in states.RUNNING_STATES:
            assert m.deadline_start <= now and m.deadline_at > m.deadline_start
        assert m.id in changed  # devices pull it
    assert all(n.created_at < before for n in Notification.select())
    assert triage_queue(User.get(User.username == "dcsa_sup"))

    # Visits: most households visited, their schedule follows from their visits, few are due.
    households = list(Household.select())
    latest = dict(
        Visit.select(Visit.household, fn.MAX(Visit.visited_at)).group_by(Visit.household).tuples()
    )
    assert len(latest) > 0.9 * len(households)
    for hh in households:
        if hh.id in latest:
            assert hh.last_visit_at == latest[hh.id] < now
            assert hh.next_visit_due == hh.last_visit_at + dt.timedelta(days=hh.visit_interval_days)
    due = [hh for hh in households if hh.next_visit_due <= now]
    assert 0 < len(due) < 0.2 * len(households)
    worker = User.get(User.username == "dcsa_w01")
    visits_due = [w for w in my_work(worker) if w["kind"] == "visit"]
    assert len(visits_due) < 10

    # Tasks: every state, a campaign per community partly done; due times from the story.
    assert {t.state for t in Task.select()} == set(task_states.STATES)
    for campaign in Campaign.select():
        tasks = list(Task.select().where(Task.campaign == campaign.id))
        done = [t for t in tasks if t.state in ("done", "verified")]
        assert 0 < len(done) < len(tasks) and campaign.due_at > now
    assert Task.select().where(Task.state.not_in(["done", "verified"]), Task.due_at < now).exists()

    # Announcements: the old ones read, the newest one read by some.
    ann = Notification.select().where(Notification.type == "announcement")
    assert ann.where(Notification.read_at.is_null()).exists()
    assert ann.where(Notification.read_at.is_null(False)).exists()
    assert EchoToken.select().where(EchoToken.kind == "grid").count() == Grid.select().count()

    # The public pages show the history: a resident's closed matter with its reply.
    closed = (
        Matter.select()
        .where(Matter.source == "resident", Matter.state == "closed")
        .order_by(Matter.id)
        .first()
    )
    page = client.get(f"/t/{closed.code}")
    assert page.status_code == 200 and closed.result in page.get_data(as_text=True)
    token = EchoToken.get(EchoToken.kind == "community", EchoToken.target_id == closed.community_id)
    wall = client.get(f"/w/{token.token}").get_data(as_text=True)
    assert "满意" in wall
