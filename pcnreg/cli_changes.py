"""`pcnreg round change-instruction`: a round's ODS change instruction as CSV.

    pcnreg round change-instruction --round NAME [--output FILE]

Each change of the round (the differences from the round it was rolled forward from, and the
approved or applied in-year membership changes) with PCN code and name, practice code and name,
effective date and kind, in the ePCN "PCN Core Partner Details" column names
(``services.change_instruction``). Without ``--output`` the CSV goes to standard output. Exit
status 1 when the round is not known. ``register(cli)`` adds the command to the ``round`` group.
"""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext


@click.command("change-instruction")
@click.option("--round", "round_name", required=True, help="Round name or id.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the CSV to this file.")
@with_appcontext
def change_instruction_command(round_name: str, output: Path | None) -> None:
    """The round's ODS change instruction (CSV)."""
    from .services import change_instruction
    from .services.rounds import NotFound, get_round

    try:
        rnd = get_round(round_name)
    except NotFound as exc:
        raise click.ClickException(str(exc)) from exc
    text = change_instruction.csv_text(rnd)
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8", newline="")
    click.echo(f"{len(text.splitlines()) - 1} change(s) of {rnd.name} written to {output}", err=True)


def register(cli: click.Group) -> None:
    """Add the command to the ``round`` group (registered before this)."""
    group = cli.commands.get("round") if hasattr(cli, "commands") else None
    if not isinstance(group, click.Group):
        group = click.Group("round", help="Registration rounds.")
        cli.add_command(group)
    group.add_command(change_instruction_command)
