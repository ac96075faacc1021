"""`epcn` CLI commands: a round's configuration as NHS Digital's ePCN workbook, out and back in.

    epcn export --round NAME --out FILE.xlsx|FILE.csv [--sheet details|partners]
    epcn import FILE.xlsx --round NAME --reason TEXT [--author NAME]

A refused workbook prints its problems to stderr and exits with status 1 (nothing is written).
"""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from .imports import FILE, _run


def _round(name: str):
    from ..services.rounds import NotFound, get_round

    try:
        return get_round(name)
    except NotFound as exc:
        raise click.ClickException(str(exc)) from exc


@click.group("epcn")
def epcn_group() -> None:
    """Export or import a round's configuration as an ePCN workbook."""


@epcn_group.command("export")
@click.option("--round", "round_name", required=True, metavar="NAME", help="Round name or id.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="FILE.xlsx (both sheets) or FILE.csv (one sheet).")
@click.option("--sheet", type=click.Choice(["details", "partners"]),
              help="The sheet of a CSV export (default: details).")
@with_appcontext
def export(round_name: str, out: Path, sheet: str | None) -> None:
    """Write the round's current configuration in the ePCN layout."""
    from ..services import epcn

    suffix = out.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise click.BadParameter("the file name must end in .xlsx or .csv", param_hint="--out")
    if suffix == ".xlsx" and sheet:
        raise click.BadParameter("a workbook has both sheets: --sheet is for a .csv file", param_hint="--sheet")
    rnd = _round(round_name)
    if suffix == ".xlsx":
        out.write_bytes(epcn.export_xlsx(rnd))
    else:
        out.write_text(epcn.export_csv(rnd, sheet or "details"), encoding="utf-8")
    click.echo(f"Wrote {out}")


@epcn_group.command("import")
@click.argument("file", type=FILE)
@click.option("--round", "round_name", required=True, metavar="NAME", help="Round name or id.")
@click.option("--reason", required=True, metavar="TEXT", help="Why (kept in the history).")
@click.option("--author", metavar="NAME", help="Who is importing (default: cli:<login name>).")
@with_appcontext
def import_(file: Path, round_name: str, reason: str, author: str | None) -> None:
    """Apply an ePCN workbook to the round as one new version."""
    from ..services import epcn
    from ..services.audit import current_actor

    rnd = _round(round_name)
    _run(file, lambda data: epcn.import_workbook(rnd, data, author=author or current_actor()[1], reason=reason,
                                                source=file.name))
