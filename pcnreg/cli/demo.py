"""`pcnreg demo`: the demonstration data, geodata and one user per role."""
from __future__ import annotations

import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("demo")
@click.option("--no-upgrade", is_flag=True, help="Do not run the database migrations first.")
@click.option("--base-url", default="http://127.0.0.1:5000", show_default=True,
              help="Address the demo users' sign-in links point to.")
@with_appcontext
def demo_command(no_upgrade: bool, base_url: str) -> None:
    """Load the 2019 Nottingham and Nottinghamshire round, its history and a current round (idempotent)."""
    from flask_migrate import upgrade

    from ..services.demo import load_demo

    start = time.perf_counter()
    if not no_upgrade:
        upgrade()
    geodata = current_app.config["GEODATA_PATH"]
    report = load_demo(Path(geodata) if geodata else None)
    for line in report.lines():
        click.echo(line)
    if geodata:
        from ..importers.csvio import ImportFailed
        from ..services.geodata import install

        try:
            for line in install(Path(geodata)).lines():
                click.echo(line)
        except ImportFailed as exc:
            raise click.ClickException(f"geodata in {geodata} could not be installed:\n{exc}") from exc
    else:
        click.echo("No geodata folder (PCNREG_GEODATA): pcnreg runs on tables alone; maps are unavailable.")
    from ..services import demo_story

    for line in demo_story.load().lines():
        click.echo(line)
    from ..services.demo_users import create_demo_users

    click.echo("Demo users, one per role: each one-time sign-in link sets a password (valid 72 hours):")
    for email, role, scope, link in create_demo_users(base_url):
        click.echo(f"  {role:18} {email:40} {scope}\n    {link}")
    click.echo(f"({time.perf_counter() - start:.2f} s)")
