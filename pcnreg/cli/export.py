"""`pcnreg export`: a round's data as CSV."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext


@click.group("export")
def export_group() -> None:
    """Export a round's data as CSV."""


@export_group.command("configuration")
@click.option("--round", "round_name", help="Round name or id (default: the most recent).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="File (default: stdout).")
@with_appcontext
def export_configuration_command(round_name: str | None, output: str | None) -> None:
    """The configuration CSV (the layout `pcnreg import configuration` reads)."""
    from ..services.configuration import export_configuration
    from ..services.rounds import NotFound, get_round

    try:
        text = export_configuration(get_round(round_name))
    except NotFound as exc:
        raise click.ClickException(str(exc)) from exc
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)
