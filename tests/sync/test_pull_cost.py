"""A warm pull's work follows the changes its device may see, not the city's.

The change-log condition was one ``OR`` (my grids, me, my department, or changes everyone sees);
the last branch (``user_id IS NULL``) matched nearly every change (visits, households, residents
are logged by grid), so a pull walked every change made anywhere since its cursor: in the morning
bench, PostgreSQL's CPU per warm pull grew with the city's pushes. Each branch now reads its own
(column, seq) range, the global changes from a partial index (migration 0403). The measure is the
database's own count of rows and index entries read (PostgreSQL, under the generic plan a
prepared statement ends up with) or the virtual machine's steps (SQLite)."""

from __future__ import annotations

from gridapp.db import db, is_postgres

FOREIGN = 1500


def _warm_statement(client, cursor, monkeypatch):
    """The SQL and parameters the warm pull from ``cursor`` sends."""
    import gridapp.sync.service as service

    seen = []
    build = service.statement

    def capture(key, fn, values):
        sql, params = build(key, fn, values)
        seen.append((sql, params))
        return sql, params

    monkeypatch.setattr(service, "statement", capture)
    resp = client.get("/api/v1/sync", query_string={"cursor": cursor})
    monkeypatch.setattr(service, "statement", build)
    assert resp.status_code == 200
    assert resp.get_json()["rows"] == [] and not resp.get_json()["more"]
    (statement,) = seen
    return statement


def _work(sql: str, params: list) -> int:
    if is_postgres():
        count = (
            "SELECT sum(pg_stat_get_xact_tuples_returned(c.oid)"
            " + pg_stat_get_xact_tuples_fetched(c.oid))"
            " FROM pg_class c WHERE c.relname LIKE 'change%%'"
        )
        with db.atomic():
            db.execute_sql("SET LOCAL plan_cache_mode = force_generic_plan")
            for _ in range(6):  # psycopg prepares a statement at its fifth run
                db.execute_sql(sql, params).fetchall()
            before = db.execute_sql(count).fetchone()[0]
            db.execute_sql(sql, params).fetchall()
            return int(db.execute_sql(count).fetchone()[0] - before)
    conn = db.connection()
    steps = [0]

    def step() -> int:
        steps[0] += 1
        return 0

    conn.set_progress_handler(step, 1)
    try:
        db.execute_sql(sql, params).fetchall()
    finally:
        conn.set_progress_handler(None, 1)
    return steps[0]


def test_a_warm_pull_does_not_read_other_grids_changes(org, make_user, login_as, monkeypatch):
    from gridapp.changes import record_changes
    from gridapp.sync.service import parse_cursor

    worker = make_user("grid_worker", grids=[org.grid, org.grid2])
    other = make_user("grid_worker", grids=[org.other_grid])
    client = login_as(worker)
    cursor = None
    while True:
        body = client.get("/api/v1/sync", query_string={"cursor": cursor} if cursor else {})
        cursor = body.get_json()["cursor"]
        if not body.get_json()["more"]:
            break
    seq = parse_cursor(cursor).seq
    at = int(cursor.partition(".")[2])
    aged_cursor = f"{seq}.{at - 300}"  # five minutes ago: the window checks run too

    quiet = _work(*_warm_statement(client, aged_cursor, monkeypatch))

    # The rest of the city gets busy: its grid's households and visits, another worker's tasks
    # and another department's matters, all after this device's cursor.
    with db.atomic():
        record_changes(
            [
                {"entity": "visit", "entity_id": f"v{i}", "grid_id": org.other_grid.id}
                for i in range(FOREIGN)
            ]
            + [{"entity": "task", "entity_id": str(i), "user_id": other.id} for i in range(FOREIGN)]
            + [
                {"entity": "matter", "entity_id": str(i), "department_id": org.department2.id}
                for i in range(FOREIGN)
            ]
        )
    busy = _work(*_warm_statement(client, aged_cursor, monkeypatch))
    print(f"warm pull work: {quiet} quiet, {busy} with {3 * FOREIGN} changes elsewhere")
    assert busy <= quiet + 50, (quiet, busy)


def test_a_page_of_ids_is_one_array_parameter_on_postgres(app, org, reg):
    """``db.in_ids``: hundreds of ids in one parameter on PostgreSQL (one node to build, one
    statement text whatever the count), a plain ``IN`` on SQLite, the same rows either way,
    for integer and text columns."""
    from gridapp.db import in_ids, is_postgres
    from gridapp.registry.models import Resident
    from gridapp.visits.models import Visit

    h = reg.household(reg.building(org.grid))
    residents = [reg.resident(h) for _ in range(3)]
    wanted = [residents[0].id, residents[2].id, *range(10**6, 10**6 + 300)]
    query = Resident.select(Resident.id).where(in_ids(Resident.id, wanted))
    _sql, params = query.sql()
    assert len(params) == (1 if is_postgres() else len(wanted))
    assert sorted(r.id for r in query) == [residents[0].id, residents[2].id]
    texts = ["no-such-visit", "another"]
    assert list(Visit.select().where(in_ids(Visit.id, texts))) == []
    assert Resident.select().where(in_ids(Resident.id, [])).count() == 0
