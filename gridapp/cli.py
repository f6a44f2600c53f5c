"""The ``gridapp`` command: serve, worker, db upgrade/status/generate, create-user, demo."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

import click
from flask import Flask

from gridapp import create_app


def _app(**overrides: Any) -> Flask:
    return create_app(overrides or None)


def _upgrade(app: Flask) -> list[str]:
    from gridapp.db import db
    from gridapp.migrate import upgrade

    return upgrade(db.obj)


@click.group()
def main() -> None:
    """gridapp: community grid workers' service pack (网格员便民服务包)."""


@main.group("db")
def db_group() -> None:
    """Schema migrations."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations."""
    applied = _upgrade(_app())
    click.echo("applied: " + ", ".join(applied) if applied else "database is up to date")


@db_group.command("status")
def db_status() -> None:
    from gridapp.db import db
    from gridapp.migrate import status

    _app()
    for name, applied in status(db.obj):
        click.echo(f"[{'x' if applied else ' '}] {name}")


@db_group.command("generate")
@click.argument("name")
def db_generate(name: str) -> None:
    """Write a migration for what the models have and the (upgraded) database lacks."""
    from gridapp.db import db
    from gridapp.migrate import generate

    _upgrade(_app())
    path = generate(db.obj, name)
    click.echo(path or "schema matches models; nothing to generate")


@main.command("create-user")
@click.option("--username", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", "display_name", default="")
@click.option(
    "--role", type=click.Choice(["admin", "supervisor", "grid_worker", "department"]), required=True
)
@click.option("--grid", "grids", multiple=True, help="grid code (grid workers); repeatable")
@click.option("--community", default=None, help="community code (supervisors)")
@click.option("--street", default=None, help="street code (street-level supervisors)")
@click.option("--department", default=None, help="department code (handlers)")
def create_user_cmd(
    username, password, display_name, role, grids, community, street, department
) -> None:
    """Create a user account."""
    from gridapp.accounts.service import NewUser, create_user
    from gridapp.db import db
    from gridapp.errors import Problem
    from gridapp.org.models import Community, Department, Grid, Street

    app = _app()
    _upgrade(app)
    with app.app_context(), db.connection_context():

        def lookup(model, code):
            if code is None:
                return None
            row = model.get_or_none(model.code == code)
            if row is None:
                raise click.BadParameter(f"unknown {model.__name__.lower()} code {code!r}")
            return row.id

        try:
            user = create_user(
                NewUser(
                    username=username,
                    password=password,
                    display_name=display_name or username,
                    role=role,
                    grid_ids=tuple(lookup(Grid, g) for g in grids),
                    community_id=lookup(Community, community),
                    street_id=lookup(Street, street),
                    department_id=lookup(Department, department),
                )
            )
        except Problem as exc:
            raise click.ClickException(f"{exc.field}: {exc.detail}") from None
    click.echo(f"created user {user.username} ({user.role})")


@main.command("worker")
@click.option("--workers", default=2, show_default=True)
def worker(workers: int) -> None:
    """Run the background job consumer (huey)."""
    from gridapp.jobs import huey

    app = _app()
    _upgrade(app)
    consumer = huey.create_consumer(
        workers=workers, worker_type="thread", periodic=True, check_worker_health=True
    )
    click.echo(f"job consumer started ({workers} threads)")
    consumer.run()


def _post_fork(server: Any, worker: Any) -> None:
    """A forked worker must not share the master's connection state (pitfall 2)."""
    from gridapp.db import dispose_after_fork

    dispose_after_fork()


def _serve(host: str, port: int, web_workers: int, with_worker: bool) -> None:
    app = _app()
    _upgrade(app)
    child = None
    if with_worker:
        child = subprocess.Popen(
            [sys.executable, "-m", "gridapp.cli", "worker"], env=os.environ.copy()
        )
    try:
        from gunicorn.app.base import BaseApplication

        class _Gunicorn(BaseApplication):
            def load_config(self) -> None:
                self.cfg.set("bind", f"{host}:{port}")
                self.cfg.set("workers", web_workers)
                self.cfg.set("worker_class", "gthread")
                self.cfg.set("threads", 4)
                self.cfg.set("accesslog", "-")
                self.cfg.set("post_fork", _post_fork)

            def load(self):
                return app

        click.echo(
            f"gridapp on http://{host}:{port}/  (web: {web_workers} processes; jobs: {'on' if child else 'off'})"
        )
        _Gunicorn().run()
    finally:
        if child is not None:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--web-workers", default=2, show_default=True)
@click.option("--no-worker", is_flag=True, help="do not start the job consumer alongside")
def serve(host: str, port: int, web_workers: int, no_worker: bool) -> None:
    """Run web and job consumer together (the embedded default)."""
    _serve(host, port, web_workers, not no_worker)


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--no-serve", is_flag=True, help="seed and print the logins, then exit")
def demo(host: str, port: int, no_serve: bool) -> None:
    """Seed the demo community (once), print the demo logins, then serve."""
    from gridapp.db import db
    from gridapp.demo import DEMO_PASSWORD, seed_demo

    app = _app()
    _upgrade(app)
    with app.app_context(), db.connection_context():
        click.echo(
            "seeding the demo community and its months of history (first run: about half a minute)…"
        )
        logins = seed_demo()
    click.echo("")
    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD})")
    for login in logins:
        click.echo(f"  {login.username:<16} {login.role:<12} {login.who}")
    from gridapp.open311.demo import DEMO_KEY

    click.echo("")
    click.echo(f"Open311 integrator key (demo only): {DEMO_KEY}  → /open311/v2/discovery.json")
    click.echo("")
    if not no_serve:
        _serve(host, port, 2, True)


def _core_commands() -> None:
    from gridapp.backup import backup_cmd, restore_cmd

    main.add_command(backup_cmd)
    main.add_command(restore_cmd)


_core_commands()


def _feature_commands() -> None:
    """Features add commands by listing click commands in ``gridapp/<feature>/cli.py`` as
    ``cli_commands`` (e.g. ``gridapp push rotate-keys``)."""
    import importlib
    import importlib.util

    from gridapp import FEATURES

    for feature in FEATURES:
        name = f"gridapp.{feature}.cli"
        if importlib.util.find_spec(f"gridapp.{feature}") and importlib.util.find_spec(name):
            for command in getattr(importlib.import_module(name), "cli_commands", ()):
                main.add_command(command)


_feature_commands()


if __name__ == "__main__":
    main()
