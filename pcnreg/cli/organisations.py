"""`pcnreg organisations lineage`: how commissioners and systems changed between two dates.

    pcnreg organisations lineage --before epraccur-2019-12.csv --after epraccur-2025-09.csv \\
        --before-lookup ccg19-stp19-lookup-england.csv --after-lookup sicbl22-icb22-nhser22-lookup-england.csv \\
        [--since 2019-12-01] [--after-lookup-from 2022-07-01]

One transaction; a refused file prints its problems (file, row, column) and exits 1.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from flask.cli import with_appcontext

from ..importers.csvio import ImportFailed

FILE = click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)


@click.group("organisations")
def organisations_group() -> None:
    """Organisations over time."""


@organisations_group.command("lineage")
@click.option("--before", type=FILE, required=True, help="epraccur of the earlier date.")
@click.option("--after", type=FILE, required=True, help="epraccur of the later date.")
@click.option("--before-lookup", "before_lookup", type=FILE, required=True,
              help="Organisation lookup of the earlier era (commissioner to system).")
@click.option("--after-lookup", "after_lookup", type=FILE, required=True,
              help="Organisation lookup of the later era.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default="2019-12-01", show_default=True,
              help="The earlier file's date: join dates after it are dates of change.")
@click.option("--after-lookup-from", "after_lookup_from", type=click.DateTime(["%Y-%m-%d"]),
              help="The date the later lookup's organisations took effect (e.g. 2022-07-01 for the July 2022 "
                   "sub-ICB lookup): a practice's commissioner is a CCG before it, a sub-ICB location from it.")
@with_appcontext
def lineage(before: Path, after: Path, before_lookup: Path, after_lookup: Path, since: dt.datetime,
            after_lookup_from: dt.datetime | None) -> None:
    """Work out and store the lineage of commissioners and systems, and practices' commissioner history."""
    from ..services.lineage import load

    try:
        report = load(before, after, before_lookup, after_lookup, since=since.date(),
                      after_lookup_from=after_lookup_from.date() if after_lookup_from else None)
    except ImportFailed as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(1) from None
    for line in report.lines():
        click.echo(line)
