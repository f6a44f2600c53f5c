"""``gridapp push ...``: the VAPID key pair and a way to see deliveries from the shell."""

from __future__ import annotations

import click


@click.group("push")
def push_group() -> None:
    """Web Push: VAPID keys and deliveries."""


@push_group.command("rotate-keys")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def rotate_keys_cmd(yes: bool) -> None:
    """Replace the VAPID key pair. Every browser must subscribe again (its subscription is bound
    to the old key), so the stored subscriptions are deleted; clients re-subscribe when
    /api/v1/push/key no longer matches their subscription's key."""
    from gridapp.cli import _app, _upgrade
    from gridapp.db import db
    from gridapp.notifications import vapid
    from gridapp.notifications.models import PushSubscription

    if not yes:
        click.confirm("Rotate the VAPID keys and drop every push subscription?", abort=True)
    app = _app()
    _upgrade(app)
    key = vapid.rotate_keys(app.instance_path)
    with app.app_context(), db.connection_context(), db.atomic():
        dropped = PushSubscription.delete().execute()
    vapid.tokens.clear()
    click.echo(f"new applicationServerKey: {key}")
    click.echo(f"dropped {dropped} subscription(s); devices subscribe again on next open")


@push_group.command("key")
def show_key_cmd() -> None:
    """Print the applicationServerKey (generating the key pair on first run)."""
    from gridapp.cli import _app
    from gridapp.notifications import vapid

    app = _app()
    click.echo(vapid.load_keys(app.instance_path).application_server_key)


@push_group.command("release-due")
def release_due_cmd() -> None:
    """Send every delivery that is due now (what the periodic job does)."""
    from gridapp.cli import _app
    from gridapp.db import db
    from gridapp.notifications.delivery import release_due

    app = _app()
    with app.app_context(), db.connection_context():
        click.echo(f"sent {release_due()} deliveries")


cli_commands = [push_group]
