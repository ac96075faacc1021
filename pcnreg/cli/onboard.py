"""`pcnreg onboard`: set up any system (or all of England) for a contract year from the national
files (a scripted interface: its names and options are a contract).

    pcnreg onboard --system CODE[,CODE...]|all --year 2019/20 --round NAME \\
        --organisations FILE --areas FILE --practices FILE --list-sizes FILE --configuration FILE \\
        [--blocks FILE] [--local-authorities FILE]

On a terminal each step draws a progress bar; otherwise it prints a plain line per step. Ends with
the summary; a refused file prints its problems (file, row, column) and exits 1, nothing written.
"""
from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TypeVar

import click
from flask.cli import with_appcontext

from ..importers.csvio import ImportFailed

T = TypeVar("T")
FILE = click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)


def progress(label: str, items: Sequence[T]) -> Iterable[T]:
    """A bar on a terminal, plain lines otherwise."""
    if sys.stdout.isatty():
        with click.progressbar(items, label=label, item_show_func=lambda i: getattr(i, "round", None)) as bar:
            yield from bar
        return
    click.echo(f"{label}: {len(items)} step{'s' if len(items) != 1 else ''}")
    for number, item in enumerate(items, 1):
        yield item
        click.echo(f"  {label.lower()}: {number}/{len(items)} done")


@click.command("onboard")
@click.option("--system", "system", required=True, metavar="CODE[,CODE...]|all",
              help="ONS (E54000015) or ODS (QK1) system codes, comma-separated, or all.")
@click.option("--year", required=True, metavar="YYYY/YY", help="Contract year, e.g. 2019/20 or 2026/27.")
@click.option("--round", "round_name", required=True, metavar="NAME",
              help="Round name; {system} is replaced by the system's ONS code (needed for several systems).")
@click.option("--organisations", type=FILE, required=True,
              help="ONS lookup of commissioners to systems (CCG to STP, or sub-ICB location to ICB).")
@click.option("--areas", type=FILE, required=True,
              help="ONS LSOA lookup (LSOA to commissioner to local authority) of the same era.")
@click.option("--practices", type=FILE, required=True, help="ODS epraccur.csv of the era.")
@click.option("--list-sizes", "list_sizes", type=FILE, required=True,
              help="Patients Registered at a GP Practice (gp-reg-pat-prac-all.csv).")
@click.option("--configuration", type=FILE, required=True,
              help="ePCN workbook (.xlsx, either layout) or the practice map gp-reg-pat-prac-map.csv.")
@click.option("--blocks", type=FILE, help="LSOA boundaries (GeoJSON, may be .gz) for PCN areas and maps.")
@click.option("--local-authorities", "local_authorities", type=FILE,
              help="Local authority boundaries (2019/20; in the ICB era they are the union of their LSOAs).")
@with_appcontext
def onboard(system: str, year: str, round_name: str, organisations: Path, areas: Path, practices: Path,
            list_sizes: Path, configuration: Path, blocks: Path | None, local_authorities: Path | None) -> None:
    """Set up systems for a contract year from the national files (one transaction per system)."""
    from ..services.onboarding import Files
    from ..services.onboarding import onboard as run

    codes = [c.strip() for c in system.split(",") if c.strip()]
    files = Files(organisations, areas, practices, list_sizes, configuration, blocks, local_authorities)
    try:
        report = run(codes, year=year, round_pattern=round_name, files=files, progress=progress)
    except ImportFailed as exc:
        exc.source = exc.source or "pcnreg onboard"
        click.echo(str(exc), err=True)
        raise SystemExit(1) from None
    for line in report.lines():
        click.echo(line)
