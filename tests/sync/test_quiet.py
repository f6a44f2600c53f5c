""" "Nothing new" answered from Redis (gridapp/sync/quiet.py): no statement when nothing changed,
every change in the scope seen by the next pull, a lost publish bounded by the keys' lifetime,
no fast answer while something in the windows is about to age out, Redis gone: the log."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import redis
from redis.exceptions import ConnectionError as RedisConnectionError

from gridapp.db import db, utcnow
from gridapp.scope import scope_for
from gridapp.sync import quiet
from tests.conftest import REDIS_URL
from tests.sync.test_pull import pull_all


@pytest.fixture
def app_overrides():
    # A prefix per test: each test's database starts its change numbers afresh, and keys only rise.
    prefix = f"gridapp-test:{uuid.uuid4().hex}:"
    return {"REDIS_URL": REDIS_URL, "AUTH_CACHE_PREFIX": prefix, "QUERY_COUNT_HEADER": True}


def pull(client, cursor: str):
    resp = client.get("/api/v1/sync", query_string={"cursor": cursor})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json(), int(resp.headers["X-Query-Count"])


def settled(client) -> str:
    """A device past its cold pull, with a cursor that vouches for the windows (two pulls: the
    first after the cold pull fills the keys, the second stamps ``last_sync_at``)."""
    _rows, _tombs, cursor, _epoch, _pages = pull_all(client)
    for _ in range(2):
        body, _ = pull(client, cursor)
        cursor = body["cursor"]
    assert cursor.count(".") == 3, cursor  # seq.at.quiet.keys
    return cursor


def test_nothing_new_sends_no_statement_and_keeps_the_cursor(org, reg, make_user, login_as):
    reg.resident(reg.household(reg.building(org.grid)))
    client = login_as(make_user("grid_worker", grids=[org.grid]))
    cursor = settled(client)
    body, queries = pull(client, cursor)
    assert (body["rows"], body["tombstones"], body["more"]) == ([], [], False)
    assert body["cursor"] == cursor
    assert queries == 0


def test_a_change_in_the_scope_is_seen_by_the_next_pull(org, reg, make_user, login_as):
    b = reg.building(org.grid)
    worker = make_user("grid_worker", grids=[org.grid])
    client = login_as(worker)
    cursor = settled(client)

    reg.household(reg.building(org.other_grid))  # elsewhere: still nothing new, no statement
    body, queries = pull(client, cursor)
    assert body["rows"] == [] and queries == 0

    h = reg.household(b)  # in the worker's grid
    body, queries = pull(client, cursor)
    assert ("household", str(h.id)) in {(r["entity"], r["id"]) for r in body["rows"]}
    assert queries >= 1

    # A change for the user alone (a notification) and one everyone sees count too.
    from gridapp.changes import record_change

    cursor = settled(client)
    with db.atomic():
        record_change("notification", 999_999, user_id=worker.id, deleted=True)
    body, queries = pull(client, cursor)
    assert {"entity": "notification", "id": "999999"} in body["tombstones"]
    cursor = body["cursor"]
    body, _ = pull(client, cursor)
    with db.atomic():
        record_change("service", 999_998, deleted=True)
    body, _ = pull(client, body["cursor"])
    assert {"entity": "service", "id": "999998"} in body["tombstones"]


def test_a_lost_publish_is_seen_once_the_keys_expire(
    app, org, reg, make_user, login_as, monkeypatch
):
    b = reg.building(org.grid)
    client = login_as(make_user("grid_worker", grids=[org.grid]))
    cursor = settled(client)
    r = redis.Redis.from_url(REDIS_URL)
    pattern = app.config["AUTH_CACHE_PREFIX"] + "q:*"
    keys = list(r.scan_iter(pattern))
    assert keys and all(0 < r.ttl(k) <= 60 for k in keys)  # every key expires

    def unreachable(*_args, **_kw):
        raise RedisConnectionError("down")

    monkeypatch.setattr(quiet, "_raise", unreachable)  # the web process loses Redis at commit
    h = reg.household(b)
    monkeypatch.undo()
    body, queries = pull(client, cursor)
    assert body["rows"] == [] and queries == 0  # the documented window: not yet seen

    for k in r.scan_iter(pattern):  # what SYNC_QUIET_SECONDS later brings
        r.delete(k)
    body, _ = pull(client, cursor)
    assert ("household", str(h.id)) in {(r_["entity"], r_["id"]) for r_ in body["rows"]}


def test_no_fast_answer_while_something_ages_out_soon(org, reg, make_user, login_as):
    from gridapp.sync.features import VISIT_HISTORY_DAYS
    from gridapp.visits.models import Visit

    h = reg.household(reg.building(org.grid))
    worker = make_user("grid_worker", grids=[org.grid])
    # A visit that leaves the year's window in two minutes: within the horizon.
    at = utcnow() - dt.timedelta(days=VISIT_HISTORY_DAYS) + dt.timedelta(minutes=2)
    from gridapp.changes import record_change

    with db.atomic():
        v = Visit.create(
            id=str(uuid.uuid4()), household=h, grid=org.grid, worker=worker, visited_at=at
        )
        record_change("visit", v.id, grid_id=org.grid.id)
    client = login_as(worker)
    _rows, _tombs, cursor, _epoch, _pages = pull_all(client)
    for _ in range(3):
        body, queries = pull(client, cursor)
        cursor = body["cursor"]
        assert cursor.count(".") == 1, cursor  # no quiet time vouched for
        assert queries >= 1


def test_redis_unreachable_pulls_read_the_log(org, reg, make_user, login_as, monkeypatch):
    b = reg.building(org.grid)
    client = login_as(make_user("grid_worker", grids=[org.grid]))
    cursor = settled(client)
    found = quiet._cache()
    assert found is not None

    def unreachable(*_keys):
        raise RedisConnectionError("down")

    monkeypatch.setattr(found, "mget", unreachable)
    h = reg.household(b)
    body, queries = pull(client, cursor)
    assert ("household", str(h.id)) in {(r["entity"], r["id"]) for r in body["rows"]}
    assert queries >= 1


def test_keys_filled_by_a_pull_that_found_nothing_hold_its_cursor(
    app, org, reg, make_user, login_as
):
    """A key absent (expired, Redis restarted) is filled by the next pull that reads the log: with
    its cursor when it found nothing after it, so the city's other changes since do not keep
    this phone off the fast answer."""
    client = login_as(make_user("grid_worker", grids=[org.grid]))
    cursor = settled(client)
    r = redis.Redis.from_url(REDIS_URL)
    for k in r.scan_iter(app.config["AUTH_CACHE_PREFIX"] + "q:*"):
        r.delete(k)
    reg.household(reg.building(org.other_grid))  # the counter moves on, elsewhere
    body, queries = pull(client, cursor)
    assert body["rows"] == [] and queries >= 1
    moved = body["cursor"]  # up to the counter
    body, queries = pull(client, moved)
    assert body["cursor"] == moved and queries == 0
    body, queries = pull(client, cursor)  # the user's other phone, still at the old cursor
    assert body["rows"] == [] and queries == 0


def test_the_keys_follow_the_visibility_rule(app):
    """A change row's keys (``changes.change_keys``) and a scope's (``quiet.scope_keys``) meet
    exactly when the warm pull's conditions (``service.visible_changes``) let that scope see the
    row, for every combination of grid, community, department and user a row can carry."""
    import functools
    import itertools
    import operator

    from gridapp.changes import Change, change_keys
    from gridapp.scope import Scope
    from gridapp.sync.service import GRID_BRANCHES, visible_changes

    combos = list(itertools.product((None, 1, 2), (None, 7), (None, 5), (None, 9, 10)))
    with db.atomic():
        for i, (grid, community, department, user) in enumerate(combos, start=1):
            Change.insert(
                seq=i,
                entity="household",
                entity_id=str(i),
                grid_id=grid,
                community_id=community,
                department_id=department,
                user_id=user,
            ).execute()
    many = frozenset(range(1, GRID_BRANCHES + 3))  # past the per-grid ranges: one IN
    scopes = [
        Scope(9, "grid_worker", frozenset({1}), frozenset({7})),
        Scope(10, "grid_worker", frozenset({1, 2}), frozenset({7})),
        Scope(11, "department", frozenset(), frozenset(), department_id=5),
        Scope(12, "supervisor", many, frozenset({7})),
        Scope(13, "admin", None, None),
    ]
    for scope in scopes:
        cond = functools.reduce(operator.or_, visible_changes(scope))
        seen = {int(c.entity_id) for c in Change.select(Change.entity_id).where(cond)}
        keyed = {
            i
            for i, row in enumerate(combos, start=1)
            if change_keys(*row) & set(quiet.scope_keys(scope))
        }
        assert seen == keyed, scope


def _count_round_trips(monkeypatch) -> list[tuple[str, ...]]:
    """Every ``MGET`` the session cache sends (the session and the quiet keys both go through
    ``AuthCache.mget``)."""
    from gridapp.accounts.authcache import AuthCache

    sent: list[tuple[str, ...]] = []
    real = AuthCache.mget

    def counting(self, *keys):
        sent.append(keys)
        return real(self, *keys)

    monkeypatch.setattr(AuthCache, "mget", counting)
    return sent


def test_the_cursor_names_its_keys_and_they_ride_with_the_session(
    app, org, reg, make_user, login_as, monkeypatch
):
    """One Redis round trip for a quiet pull: the keys the cursor names are read in the same
    ``MGET`` as the session, and used because they are exactly the scope's."""
    worker = make_user("grid_worker", grids=[org.grid])
    client = login_as(worker)
    cursor = settled(client)
    assert cursor.rsplit(".", 1)[1].split("-") == quiet.scope_keys(scope_for(worker))
    sent = _count_round_trips(monkeypatch)
    body, queries = pull(client, cursor)
    assert body["cursor"] == cursor and queries == 0
    assert len(sent) == 1, sent

    h = reg.household(reg.building(org.grid))  # a change in the scope is still seen at once
    body, _ = pull(client, cursor)
    assert ("household", str(h.id)) in {(r["entity"], r["id"]) for r in body["rows"]}


def test_a_forged_or_stale_hint_costs_a_round_trip_not_a_change(
    org, reg, make_user, login_as, monkeypatch
):
    """The hint is only a guess made before the session is known: keys that are not exactly the
    scope's (another grid's, some missing, none) are read again as the scope's own."""
    b = reg.building(org.grid)
    client = login_as(make_user("grid_worker", grids=[org.grid]))
    cursor = settled(client)
    head = cursor.rsplit(".", 1)[0]
    other = f"g{org.other_grid.id}"
    for hint in (other, "e", f"e-{other}"):
        forged = f"{head}.{hint}"
        sent = _count_round_trips(monkeypatch)
        body, queries = pull(client, forged)
        assert body["rows"] == [] and queries == 0
        assert len(sent) == 2, sent  # the session (and the forged keys), then the scope's own
        assert body["cursor"] == cursor  # the answer names the scope's keys again
        monkeypatch.undo()
    h = reg.household(b)
    body, _ = pull(client, f"{head}.{other}")
    assert ("household", str(h.id)) in {(r["entity"], r["id"]) for r in body["rows"]}


@pytest.mark.parametrize("hint", ["x1", "g1-", "g1--e", "g" + "1" * 20, "-".join(["g1"] * 50)])
def test_a_malformed_hint_is_a_malformed_cursor(make_user, login_as, hint):
    client = login_as(make_user("grid_worker"))
    resp = client.get("/api/v1/sync", query_string={"cursor": f"5.1700000000.1700000600.{hint}"})
    assert resp.status_code == 422
    assert resp.get_json()["field"] == "query.cursor"
