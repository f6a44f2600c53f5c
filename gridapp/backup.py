"""``gridapp backup`` and ``gridapp restore``: the database and the instance folder in one archive.

The archive (``.tar.gz``) holds ``manifest.json`` (engine, time, applied migrations, row count
per table), the database — ``database.sqlite`` taken with SQLite's online backup API (a
consistent copy while the app writes), or ``database.pgdump`` from ``pg_dump --format=custom`` —
and ``instance/``: the secret key, the VAPID key pair and the photos (``MEDIA_ROOT``). huey's
SQLite queue is left out: jobs are transient, and the periodic jobs re-find what is due.

Restore goes into an *empty* instance (no tables in the database): ``pg_restore`` or the backup
API in reverse, then the files, then a row count check against the manifest.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import click
from flask import Flask

SKIP_FILES = {"gridapp.db", "gridapp.db-wal", "gridapp.db-shm", "huey.db", "huey.db-wal"}


class BackupError(click.ClickException):
    pass


def _sqlite_path(url: str) -> Path | None:
    parsed = urlparse(url)
    if parsed.scheme != "sqlite":
        return None
    path = unquote(parsed.path)
    if url.startswith("sqlite:////"):
        path = "/" + path.lstrip("/")
    return Path(path)


def _pg_url(url: str) -> str:
    parsed = urlparse(url)
    return parsed._replace(scheme="postgresql").geturl()


def table_counts() -> dict[str, int]:
    """Rows per table of the bound database (every table the models and migrations made)."""
    from gridapp.db import db

    return {t: db.execute_sql(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in db.get_tables()}


def _instance_files(app: Flask) -> list[tuple[Path, str]]:
    """(file on disk, name in the archive) for the instance folder and the photos."""
    inst = Path(app.instance_path)
    media = Path(app.config["MEDIA_ROOT"])
    out = []
    for path in sorted(inst.rglob("*")):
        rel = path.relative_to(inst)
        if path.is_file() and rel.parts[0] not in SKIP_FILES and not path.name.endswith("-journal"):
            out.append((path, f"instance/{rel.as_posix()}"))
    if not media.is_relative_to(inst):
        out += [
            (p, f"media/{p.relative_to(media).as_posix()}")
            for p in sorted(media.rglob("*"))
            if p.is_file()
        ]
    return out


def make_backup(app: Flask, output: Path) -> dict[str, Any]:
    """Write the archive; returns the manifest."""
    from gridapp.db import db
    from gridapp.migrate import status

    url = app.config["DATABASE_URL"]
    with tempfile.TemporaryDirectory(prefix="gridapp-backup-") as tmp:
        work = Path(tmp)
        with app.app_context(), db.connection_context():
            counts = table_counts()
            migrations = [name for name, applied in status(db.obj) if applied]
        sqlite_path = _sqlite_path(url)
        if sqlite_path is not None:
            dump = work / "database.sqlite"
            src = sqlite3.connect(sqlite_path)
            dst = sqlite3.connect(dump)
            try:
                src.backup(dst)  # online: a consistent snapshot while others write
            finally:
                dst.close()
                src.close()
            engine = "sqlite"
        else:
            dump = work / "database.pgdump"
            _run(["pg_dump", "--format=custom", "--no-owner", "--no-acl", "-f", str(dump)], url)
            engine = "postgresql"
        manifest = {
            "format": 1,
            "engine": engine,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "migrations": migrations,
            "tables": counts,
        }
        (work / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1))
        output.parent.mkdir(parents=True, exist_ok=True)
        partial = output.with_name(output.name + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(work / "manifest.json", "manifest.json")
            tar.add(dump, dump.name)
            for path, name in _instance_files(app):
                tar.add(path, name)
        os.chmod(partial, 0o600)  # it holds the secret key
        partial.replace(output)  # a cron job never leaves a half-written archive under the name
    return manifest


def _run(cmd: list[str], url: str) -> None:
    """pg_dump / pg_restore against ``url`` (password from the URL through the environment)."""
    parsed = urlparse(_pg_url(url))
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = unquote(parsed.password)
    target = parsed._replace(netloc=parsed.netloc.rsplit("@", 1)[-1]).geturl()
    if parsed.username:
        cmd = [*cmd, "--username", unquote(parsed.username)]
    done = subprocess.run(
        [*cmd, "--dbname", target], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise BackupError(f"{cmd[0]} failed: {done.stderr.strip()[-2000:]}")


def restore_backup(app: Flask, archive: Path) -> dict[str, Any]:
    """Restore ``archive`` into this app's (empty) database and instance folder."""
    from gridapp.db import db

    url = app.config["DATABASE_URL"]
    with app.app_context(), db.connection_context():
        if db.get_tables():
            raise BackupError("the target database is not empty: restore into a fresh one")
    with tempfile.TemporaryDirectory(prefix="gridapp-restore-") as tmp:
        work = Path(tmp)
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(work, filter="data")
        manifest = json.loads((work / "manifest.json").read_text())
        sqlite_path = _sqlite_path(url)
        if (manifest["engine"] == "sqlite") != (sqlite_path is not None):
            raise BackupError(
                f"the archive holds a {manifest['engine']} database; DATABASE_URL is {url.split(':')[0]}"
            )
        db.close()
        if db.obj is not None and hasattr(db.obj, "close_all"):
            db.obj.close_all()
        if sqlite_path is not None:
            src = sqlite3.connect(work / "database.sqlite")
            dst = sqlite3.connect(sqlite_path)
            try:
                src.backup(dst)
            finally:
                dst.close()
                src.close()
        else:
            _run(
                ["pg_restore", "--no-owner", "--no-acl", "--exit-on-error", "--single-transaction"]
                + [str(work / "database.pgdump")],
                url,
            )
        inst = Path(app.instance_path)
        media = Path(app.config["MEDIA_ROOT"])
        for base, target in ((work / "instance", inst), (work / "media", media)):
            if base.is_dir():
                for path in base.rglob("*"):
                    if path.is_file():
                        dest = target / path.relative_to(base)
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(path, dest)
        with app.app_context(), db.connection_context():
            counts = table_counts()
        if counts != manifest["tables"]:
            raise BackupError(f"restored row counts differ from the archive's: {counts}")
    return manifest


@click.command("backup")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="archive path (default: gridapp-backup-<UTC time>.tar.gz here)",
)
def backup_cmd(output: Path | None) -> None:
    """Back up the database, photos, VAPID keys and secret key into one archive."""
    from gridapp import create_app

    app = create_app()
    output = output or Path(f"gridapp-backup-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.tar.gz")
    manifest = make_backup(app, output)
    rows = sum(manifest["tables"].values())
    click.echo(f"{output}: {manifest['engine']}, {len(manifest['tables'])} tables, {rows} rows")


@click.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def restore_cmd(archive: Path) -> None:
    """Restore an archive from ``gridapp backup`` into an empty database and instance folder."""
    from gridapp import create_app

    manifest = restore_backup(create_app(), archive)
    click.echo(f"restored {archive} ({manifest['engine']}, taken {manifest['created_at']})")
