"""`pcnreg areas`: PCN areas (move blocks, adjacency, upload, revert)."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext


@click.group("areas")
def areas_group() -> None:
    """PCN areas: move blocks, treat blocks as adjacent, upload or revert an area."""


def _area_errors(fn):
    """Run an areas command, turning the user's mistakes into a clean message and exit 1."""
    from ..importers.csvio import ImportFailed
    from ..services.areas import AreaError
    from ..services.rounds import NotFound

    try:
        return fn()
    except (AreaError, NotFound, ImportFailed) as exc:
        raise click.ClickException(str(exc)) from exc


@areas_group.command("move-block")
@click.argument("block")
@click.argument("pcn")
@click.option("--round", "round_name", help="Round name or id (default: the most recent).")
@with_appcontext
def move_block_command(block: str, pcn: str, round_name: str | None) -> None:
    """Move BLOCK (LSOA code) into PCN (name or id), a neighbouring PCN."""
    from ..services import areas, rounds

    def run():
        rnd = rounds.get_round(round_name)
        report = areas.move_block(rnd, block, str(rounds.get_pcn(rnd, pcn).id))
        click.echo(f"Moved {block}. " + " ".join(report.lines()))
    _area_errors(run)


@areas_group.command("adjacent")
@click.argument("block_a")
@click.argument("block_b")
@click.option("--reason", required=True, help="Why they count as adjacent (river, estuary, island).")
@click.option("--by", "recorded_by", required=True, help="Who agreed it.")
@with_appcontext
def adjacent_command(block_a: str, block_b: str, reason: str, recorded_by: str) -> None:
    """Treat BLOCK_A and BLOCK_B as adjacent for the contiguity rule."""
    from ..services import areas

    _area_errors(lambda: areas.record_adjacent(block_a, block_b, reason=reason, recorded_by=recorded_by))
    click.echo(f"{block_a} and {block_b} are treated as adjacent from now on.")


@areas_group.command("upload")
@click.argument("pcn")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--round", "round_name", help="Round name or id (default: the most recent).")
@with_appcontext
def upload_area_command(pcn: str, file: str, round_name: str | None) -> None:
    """Replace PCN's area with the polygon in FILE (GeoJSON, GeoPackage or zipped shapefile)."""
    from ..services import areas, rounds

    repairs: list[str] = []

    def run():
        rnd = rounds.get_round(round_name)
        areas.upload_area(rnd, str(rounds.get_pcn(rnd, pcn).id), Path(file).read_bytes(), Path(file).name,
                          current_app.config["MAX_IMPORT_BYTES"], notes=repairs)
    _area_errors(run)
    for note in repairs:
        click.echo(note)
    click.echo(f"The area of {pcn} is now the uploaded polygon.")


@areas_group.command("revert")
@click.argument("pcn")
@click.option("--round", "round_name", help="Round name or id (default: the most recent).")
@with_appcontext
def revert_area_command(pcn: str, round_name: str | None) -> None:
    """Drop PCN's uploaded area: it is the union of its blocks again."""
    from ..services import areas, rounds

    def run():
        rnd = rounds.get_round(round_name)
        areas.revert_area(rnd, str(rounds.get_pcn(rnd, pcn).id))
    _area_errors(run)
    click.echo(f"The area of {pcn} is the union of its blocks again.")
