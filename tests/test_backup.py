"""``gridapp backup`` then ``gridapp restore`` into an empty instance gives back every table row
for row (count and checksum per table), the photos, the VAPID keys and the secret key — on the
engine of this run (SQLite's online backup API, or pg_dump/pg_restore)."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from tests.conftest import BACKEND


def checksums(url: str) -> dict[str, tuple[int, str]]:
    """table → (rows, sha256 of every row in a stable order), read with the engine's own driver."""
    if BACKEND == "postgres":
        import psycopg

        conn = psycopg.connect(url)
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
    else:
        conn = sqlite3.connect(unquote(urlparse(url).path))
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY 1"
            )
        ]
    out = {}
    try:
        for t in tables:
            cur = conn.execute(f'SELECT * FROM "{t}" LIMIT 0')
            order = ", ".join(str(i + 1) for i in range(len(cur.description)))
            rows = conn.execute(f'SELECT * FROM "{t}" ORDER BY {order}').fetchall()
            digest = hashlib.sha256(repr(rows).encode()).hexdigest()
            out[t] = (len(rows), digest)
    finally:
        conn.close()
    return out


def gridapp(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "gridapp.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def empty_target(tmp_path: Path):
    if BACKEND == "postgres":
        from bench._recipe import drop_pg_database, fresh_pg_database

        name, url = fresh_pg_database("gridapp_restore")
        yield url
        drop_pg_database(name)
    else:
        yield f"sqlite:///{tmp_path / 'restored' / 'gridapp.db'}"


def test_backup_then_restore_into_an_empty_instance(
    app, database_url, org, make_user, login_as, tmp_path, empty_target
):
    from gridapp.db import db
    from gridapp.notifications.vapid import ensure_keys
    from tests.sync.conftest import Registry

    reg = Registry()
    h = reg.household(reg.building(org.grid))
    reg.resident(h, name="孙婆婆")
    worker = make_user("grid_worker", grids=[org.grid])
    client = login_as(worker)
    op = {
        "op_id": str(uuid.uuid4()),
        "type": "visit.create",
        "payload": {"id": str(uuid.uuid4()), "household_id": h.id, "mode": "home"}
        | {"notes": "量了血压", "visited_at": "2026-01-05T02:00:00Z"},
    }
    assert client.post("/api/v1/sync", json={"ops": [op]}).status_code == 200
    inst = Path(app.instance_path)
    ensure_keys(inst)
    photo = Path(app.config["MEDIA_ROOT"]) / "photos" / "ab" / "photo.jpg"
    photo.parent.mkdir(parents=True, exist_ok=True)
    photo.write_bytes(os.urandom(2048))
    db.close()
    before = checksums(database_url)
    assert before["visit"][0] == 1 and before["resident"][0] == 1 and before["user"][0] == 1

    archive = tmp_path / "backups" / "nightly.tar.gz"
    out = gridapp(
        "backup",
        "-o",
        str(archive),
        env={"DATABASE_URL": database_url, "GRIDAPP_INSTANCE": str(inst)},
    )
    assert archive.exists() and "tables" in out
    assert oct(archive.stat().st_mode & 0o777) == "0o600"  # it holds the secret key

    target = tmp_path / "restored"
    env = {"DATABASE_URL": empty_target, "GRIDAPP_INSTANCE": str(target)}
    gridapp("restore", str(archive), env=env)
    assert checksums(empty_target) == before
    for name in ("secret_key", "vapid_private.pem", "media/photos/ab/photo.jpg"):
        assert (target / name).read_bytes() == (inst / name).read_bytes(), name
    # The restored instance is a working one: migrations all applied, nothing pending.
    assert "[ ]" not in gridapp("db", "status", env=env)

    # A second restore over it is refused: restore only into an empty instance.
    done = subprocess.run(
        [sys.executable, "-m", "gridapp.cli", "restore", str(archive)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0 and "not empty" in done.stderr
