"""``gridapp open311 ...``: issue, list and revoke integrator keys; place buildings."""

from __future__ import annotations

import click


@click.group("open311")
def open311_group() -> None:
    """Open311 GeoReport v2: integrator keys and building positions."""


def _context():
    from gridapp.cli import _app, _upgrade
    from gridapp.db import db

    app = _app()
    _upgrade(app)
    return app, db


@open311_group.command("issue-key")
@click.option("--name", required=True, help="the integrator, e.g. '12345 市民热线'")
@click.option(
    "--community", "communities", multiple=True, required=True,
    help="community code (or jurisdiction_id) the key may file in; repeat for several",
)  # fmt: skip
@click.option("--rate-limit", default="", help="e.g. '120 per minute' (default: the config's)")
def issue_key_cmd(name: str, communities: tuple[str, ...], rate_limit: str) -> None:
    """Issue a key and print it once (only its hash is stored). Audited."""
    from gridapp.errors import Problem
    from gridapp.open311 import keys, service

    app, db = _context()
    with app.app_context(), db.connection_context():
        try:
            ids = [service.find_jurisdiction(c).id for c in communities]
            issued = keys.issue_key(None, name=name, community_ids=ids, rate_limit=rate_limit)
        except service.Open311Error as exc:
            raise click.ClickException(exc.description) from None
        except Problem as exc:
            raise click.ClickException(str(exc.detail)) from None
    click.echo(f"key {issued.row.id} for {name}: {issued.key}")
    click.echo("shown once: give it to the integrator now")


@open311_group.command("list-keys")
def list_keys_cmd() -> None:
    """Keys with their prefix, communities and state (never the key itself)."""
    from gridapp.open311 import keys

    app, db = _context()
    with app.app_context(), db.connection_context():
        for k in keys.list_keys():
            state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "active"
            click.echo(f"{k.id:>4} {k.prefix}… {k.name} {keys.key_communities(k)} {state}")


@open311_group.command("revoke-key")
@click.argument("key_id", type=int)
def revoke_key_cmd(key_id: int) -> None:
    """Revoke a key at once. Audited."""
    from gridapp.errors import NotFound
    from gridapp.open311 import keys

    app, db = _context()
    with app.app_context(), db.connection_context():
        try:
            keys.revoke_key(None, key_id)
        except NotFound:
            raise click.ClickException(f"no key {key_id}") from None
    click.echo(f"key {key_id} revoked")


@open311_group.command("locate-building")
@click.argument("building_id", type=int)
@click.argument("lat", type=float)
@click.argument("lon", type=float)
def locate_building_cmd(building_id: int, lat: float, lon: float) -> None:
    """Place a building (WGS84); requests by lat/long go to the nearest placed building."""
    from gridapp.open311 import places

    app, db = _context()
    with app.app_context(), db.connection_context():
        try:
            places.set_building_point(None, building_id, lat, lon)
        except (ValueError, LookupError) as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"building {building_id} at {lat}, {lon}")


@open311_group.command("derive-points")
def derive_points_cmd() -> None:
    """Place buildings from the GPS fixes of home visits (admin points are kept)."""
    from gridapp.open311 import places

    app, db = _context()
    with app.app_context(), db.connection_context():
        n = places.derive_points_from_visits()
    click.echo(f"{n} building point(s) derived from visits")


cli_commands = [open311_group]
