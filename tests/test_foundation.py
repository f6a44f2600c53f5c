"""Scoping, migrations, the API's error contract, OpenAPI, health, i18n completeness."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridapp.db import db


def test_scope_per_role(org, make_user):
    from gridapp.scope import scope_for

    worker = make_user("grid_worker", grids=[org.grid])
    two = make_user("grid_worker", grids=[org.grid, org.grid2])
    sup = make_user("supervisor", community=org.community)
    street_sup = make_user("supervisor", street=org.street)
    dept = make_user("department", department=org.department)
    admin = make_user("admin")

    assert scope_for(worker).grid_ids == {org.grid.id}
    assert scope_for(two).grid_ids == {org.grid.id, org.grid2.id}
    assert scope_for(sup).grid_ids == {org.grid.id, org.grid2.id}
    assert scope_for(street_sup).grid_ids == {org.grid.id, org.grid2.id, org.other_grid.id}
    assert (
        scope_for(dept).grid_ids == frozenset()
        and scope_for(dept).department_id == org.department.id
    )
    assert scope_for(admin).grid_ids is None
    assert not scope_for(worker).sees_grid(org.other_grid.id)


def test_scoped_queries_hide_other_grids(org, make_user):
    from gridapp.errors import NotFound
    from gridapp.registry.models import Building, Household
    from gridapp.scope import get_scoped, in_scope, scope_for

    worker = make_user("grid_worker", grids=[org.grid])
    mine = Building.create(grid=org.grid, name="1栋")
    theirs = Building.create(grid=org.other_grid, name="9栋")
    Household.create(grid=org.grid, building=mine, room="101")
    Household.create(grid=org.other_grid, building=theirs, room="909")
    scope = scope_for(worker)
    rooms = [h.room for h in in_scope(Household.select(), Household.grid, scope)]
    assert rooms == ["101"]
    assert get_scoped(Building, mine.id, scope).name == "1栋"
    with pytest.raises(NotFound):
        get_scoped(Building, theirs.id, scope)
    dept = make_user("department")
    assert list(in_scope(Household.select(), Household.grid, scope_for(dept))) == []


def test_migrations_match_models(app):
    """Every model's table, column and index exists after ``db upgrade`` (catches a model change
    without its migration)."""
    from gridapp.migrate import pending_diff

    diff = pending_diff(db.obj)
    assert not diff, f"models differ from migrations; run `gridapp db generate NAME`:\n{diff}"


def test_upgrade_keeps_existing_data(tmp_path, database_factory):
    """A database at an older version, holding data, upgrades to head without losing a row."""
    from gridapp.db import make_database
    from gridapp.migrate import runner, upgrade
    from tests.conftest import BACKEND, _pg_admin, _pg_url

    if BACKEND == "postgres":
        name = f"gridapp_mig_{database_factory.run_id}"
        with _pg_admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        database_factory.created.append(name)
        url = _pg_url(name)
    else:
        url = f"sqlite:///{tmp_path / 'old.db'}"
    database = make_database(url)
    with database.connection_context():
        runner(database).up("0001_initial")
        database.execute_sql("INSERT INTO street (name, code) VALUES ('老街道', 'old')")
        database.execute_sql(
            'INSERT INTO "user" (username, password_hash, display_name, role, phone, is_active, locale,'
            " created_at, version, updated_at) VALUES ('old_admin', 'x', '老管理员', 'admin', '', %s, '',"
            " '2025-01-01 00:00:00', 1, '2025-01-01 00:00:00')"
            % ("TRUE" if BACKEND == "postgres" else "1")
        )
    applied = upgrade(database)
    assert "0003_user_last_sync" in applied
    with database.connection_context():
        assert (
            database.execute_sql("SELECT name FROM street WHERE code='old'").fetchone()[0]
            == "老街道"
        )
        row = database.execute_sql(
            "SELECT display_name, last_sync_at FROM \"user\" WHERE username='old_admin'"
        ).fetchone()
        assert row == ("老管理员", None)
        tags = database.execute_sql("SELECT count(*) FROM care_tag").fetchone()[0]
        assert tags >= 7
    assert upgrade(database) == []  # idempotent
    database.close()


def test_api_validation_errors_name_the_field(client, make_user, login_as):
    user = make_user()
    api = login_as(user)
    resp = api.put("/api/v1/me/locale", json={"locale": "fr"})
    assert resp.status_code == 422
    body = resp.get_json()
    assert resp.content_type == "application/problem+json"
    assert body["field"] == "locale"
    resp = api.put("/api/v1/me/locale", json={"locale": 5})
    assert resp.status_code == 422 and resp.get_json()["field"] == "locale"
    resp = api.put("/api/v1/me/locale", data="{not json", content_type="application/json")
    assert resp.status_code == 400 and resp.get_json()["field"] == "body"
    resp = api.put(
        "/api/v1/me/locale", data="locale=en", content_type="application/x-www-form-urlencoded"
    )
    assert resp.status_code == 415
    resp = api.put("/api/v1/me/locale", json={"locale": "en"})
    assert resp.status_code == 200
    assert api.get("/api/v1/me").get_json()["locale"] == "en"


def test_oversized_body_is_413_not_500(app, make_user, login_as):
    api = login_as(make_user())
    big = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 10)
    resp = api.put("/api/v1/me/locale", data=big, content_type="application/json")
    assert resp.status_code == 413
    assert resp.content_type == "application/problem+json"


def test_unknown_api_path_is_problem_json(client):
    resp = client.get("/api/v1/nope")
    assert resp.status_code == 404 and resp.content_type == "application/problem+json"


def test_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert "/api/v1/me" in doc["paths"]
    assert doc["components"]["securitySchemes"]["session"]["in"] == "cookie"
    login = doc["paths"]["/api/v1/auth/login"]["post"]
    ref = login["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.split("/")[-1] in doc["components"]["schemas"]
    # every $ref resolves
    import json

    text = json.dumps(doc)
    import re

    for name in set(re.findall(r'#/components/schemas/([\w.-]+)"', text)):
        assert name in doc["components"]["schemas"], name


def test_healthz_checks_database_and_queue(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json()["checks"]["database"] == "ok"


def test_change_numbers_follow_commit_order(app):
    from gridapp.changes import Change, current_seq, record_change

    start = current_seq()
    assert start >= 1  # the counter row comes from the migration: no cursor "0"
    with db.atomic():
        record_change("household", 1, grid_id=1)
        record_change("household", 2, grid_id=1)
        assert Change.select().where(Change.seq.is_null()).count() == 2  # numbered at commit
    seqs = [(c.entity_id, c.seq) for c in Change.select().order_by(Change.seq)]
    assert [e for e, _ in seqs] == ["1", "2"] and seqs[-1][1] == current_seq() > start
    with db.atomic(), pytest.raises(ValueError), db.atomic():
        record_change("household", 9, grid_id=1)
        raise ValueError  # a savepoint rolled back takes its change row with it
    assert not Change.select().where(Change.entity_id == "9").exists()
    with pytest.raises(RuntimeError):
        record_change("household", 3)


def test_zh_catalog_translates_every_message():
    """Chinese first: every msgid in the code and templates has a zh_CN translation."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parent.parent
    method_map = [("gridapp/**.py", "python"), ("templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}
    found = set()
    for _fn, _ln, msg, _c, _ctx in extract_from_dir(
        str(root), method_map=method_map, keywords=keywords
    ):
        found.add(msg[0] if isinstance(msg, tuple) else msg)
    translated = set()
    for po in root.glob("gridapp/**/translations/zh_Hans_CN/LC_MESSAGES/messages.po"):
        with open(po, "rb") as fh:
            translated |= {m.id for m in read_po(fh) if m.id and m.string}
    assert len(found) > 40
    missing = sorted(m for m in found if m not in translated)
    assert not missing, f"untranslated in zh_Hans_CN: {missing}"
