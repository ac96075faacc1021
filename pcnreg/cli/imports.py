"""`import` CLI commands: load the official NHS files and configuration CSVs.

    import practices FILE [--commissioner CODE ...]   ODS epraccur.csv
    import list-sizes FILE                           gp-reg-pat-prac-all.csv
    import configuration FILE --round NAME --author NAME --reason TEXT [--replace]
    import lsoa-registrations FILE --round NAME [--lsoa-lookup FILE]   gp-reg-pat-prac-lsoa-all.csv (streamed)
    import neighbourhoods FILE --round NAME                          lsoa_code, neighbourhood[, kind], or
                                                                     polygons (.geojson, .gpkg, zipped .shp)

Each prints a summary; a refused file prints its problems to stderr and exits with status 1
(nothing is written).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import click
from flask import current_app
from flask.cli import with_appcontext

from ..importers.csvio import ImportFailed, ImportProblem, check_size

FILE = click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)


class _Summary(Protocol):
    def lines(self) -> list[str]: ...


def _read(path: Path) -> bytes:
    """The bytes of ``path``, refusing an empty or over-large file before reading it."""
    try:
        check_size(path.stat().st_size, current_app.config["MAX_IMPORT_BYTES"])
        return path.read_bytes()
    except OSError as exc:
        raise ImportFailed([ImportProblem(None, None, f"cannot read the file: {exc.strerror}")]) from None


def _run(path: Path, action: Callable[[bytes], _Summary]) -> None:
    """Read ``path``, run ``action`` on its bytes and print the summary, or the problems."""
    try:
        summary = action(_read(path))
    except ImportFailed as exc:
        exc.source = exc.source or path.name
        click.echo(str(exc), err=True)
        raise SystemExit(1) from None
    for line in summary.lines():
        click.echo(line)


@click.group("import")
def import_group() -> None:
    """Import official NHS files and configuration CSVs (each in one transaction)."""


@import_group.command("practices")
@click.argument("file", type=FILE)
@click.option("--commissioner", "commissioners", multiple=True, metavar="CODE",
              help="Only this commissioner's practices (repeatable; must be set up).")
@with_appcontext
def practices(file: Path, commissioners: tuple[str, ...]) -> None:
    """Import GP practices from the ODS epraccur.csv file."""
    from ..services.imports import import_practices

    _run(file, lambda data: import_practices(
        data, source=file.name, commissioner_codes=list(commissioners) or None))


@import_group.command("list-sizes")
@click.argument("file", type=FILE)
@with_appcontext
def list_sizes(file: Path) -> None:
    """Import list sizes from a "Patients Registered at a GP Practice" CSV."""
    from ..services.imports import import_list_sizes

    _run(file, lambda data: import_list_sizes(data, source=file.name))


@import_group.command("configuration")
@click.argument("file", type=FILE)
@click.option("--round", "round_name", required=True, metavar="NAME",
              help="The registration round to import into.")
@click.option("--author", required=True, metavar="NAME", help="Who is importing.")
@click.option("--reason", required=True, metavar="TEXT", help="Why (kept in the history).")
@click.option("--replace", is_flag=True,
              help="Allow the file to take practices out of every PCN and empty PCNs (the whole grouping "
                   "is replaced); without it such a file is refused, listing them, and nothing changes.")
@with_appcontext
def configuration(file: Path, round_name: str, author: str, reason: str, replace: bool) -> None:
    """Import a round's PCN configuration (practice -> PCN) from a CSV."""
    from ..services.configuration import ReplaceNeeded, import_configuration

    def run(data: bytes):
        try:
            return import_configuration(round_name=round_name, data=data, author=author, reason=reason,
                                        source=file.name, replace=replace)
        except ReplaceNeeded as exc:
            exc.problems.append(ImportProblem(None, None, "run again with --replace to replace the whole "
                                                          "grouping"))
            raise
    _run(file, run)


@import_group.command("lsoa-registrations")
@click.argument("file", type=FILE)
@click.option("--round", "round_name", required=True, metavar="NAME", help="The registration round.")
@click.option("--lsoa-lookup", type=FILE, default=None, metavar="FILE",
              help="ONS LSOA 2011 -> 2021 lookup (default: lsoa11-lsoa21-lad22-lookup-ew.csv in the geodata "
                   "folder) to tell the LSOA vintages apart and translate a file of the other vintage.")
@with_appcontext
def lsoa_registrations(file: Path, round_name: str, lsoa_lookup: Path | None) -> None:
    """Import where each practice's patients live (Patients Registered at a GP Practice by LSOA).
    The file is streamed (the England file is about 30 MB); one transaction."""
    from ..services.neighbourhoods import import_lsoa_registrations
    from ..services.rounds import get_round

    try:
        rnd = get_round(round_name)
    except Exception as exc:  # noqa: BLE001 - NotFound: an unknown round
        raise click.ClickException(getattr(exc, 'description', None) or str(exc)) from None
    try:
        with open(file, "rb") as stream:
            summary = import_lsoa_registrations(rnd, stream, source=file.name, lookup=lsoa_lookup)
    except ImportFailed as exc:
        exc.source = exc.source or file.name
        click.echo(str(exc), err=True)
        raise SystemExit(1) from None
    for line in summary.lines():
        click.echo(line)


@import_group.command("neighbourhoods")
@click.argument("file", type=FILE)
@click.option("--round", "round_name", required=True, metavar="NAME", help="The registration round.")
@with_appcontext
def neighbourhoods(file: Path, round_name: str) -> None:
    """Import a round's neighbourhoods: CSV of lsoa_code, neighbourhood[, kind single|multi], or
    polygons (.geojson, .json, .gpkg, zipped shapefile .zip) with name[, kind] columns, each LSOA
    going to the neighbourhood covering the largest part of its area, when at least half
    (replaces the round's neighbourhoods)."""
    from ..services.neighbourhoods import import_neighbourhoods
    from ..services.rounds import get_round

    try:
        rnd = get_round(round_name)
    except Exception as exc:  # noqa: BLE001 - NotFound: an unknown round
        raise click.ClickException(getattr(exc, 'description', None) or str(exc)) from None
    _run(file, lambda data: import_neighbourhoods(rnd, data, source=file.name,
                                                  max_bytes=current_app.config["MAX_IMPORT_BYTES"]))
