"""`geodata` CLI commands: install, download and inspect the official geodata.

    geodata install [--from DIR] [--profile NAME] [--system CODE] [--blocks lsoa|ward]
    geodata download --to DIR [--base-url URL] [--profile NAME]
    geodata status [--json]

Profiles are those of geodata/manifest.json (nottinghamshire, the default; nottinghamshire-core;
england); ``notts`` stands for nottinghamshire. A refused install or download prints its
problems to stderr and exits with status 1 (an install then has written nothing).
"""
from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..importers.csvio import ImportFailed

FOLDER = click.Path(file_okay=False, path_type=Path)
MANIFEST_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _refused(exc: ImportFailed, source: str) -> None:
    exc.source = exc.source or source
    click.echo(str(exc), err=True)
    raise SystemExit(1)


@click.group("geodata")
def geodata_group() -> None:
    """Install and download boundaries, small areas and practice locations."""


@geodata_group.command("install")
@click.option("--from", "folder", type=FOLDER, metavar="DIR",
              help="Folder of the geodata files (default: PCNREG_GEODATA, or ../shared/geodata).")
@click.option("--profile", metavar="NAME", help="Manifest profile (default: nottinghamshire; notts, england ...).")
@click.option("--system", "system_code", metavar="CODE", help="The system (needed when there are several).")
@click.option("--blocks", type=click.Choice(["lsoa", "ward", "wards"]), default="lsoa", show_default=True,
              help="Small areas PCN areas are built from.")
@click.option("--manifest", type=MANIFEST_FILE, help="Another manifest (default: geodata/manifest.json).")
@with_appcontext
def install_command(folder: Path | None, profile: str | None, system_code: str | None, blocks: str,
                    manifest: Path | None) -> None:
    """Install geodata from a folder into the database (one transaction)."""
    from ..services.geodata import install

    if folder is None:
        configured = current_app.config.get("GEODATA_PATH")
        if not configured:
            raise click.UsageError("no geodata folder: give --from DIR or set PCNREG_GEODATA")
        folder = Path(configured)
    try:
        report = install(folder, profile=profile, system_code=system_code, blocks=blocks, manifest=manifest)
    except ImportFailed as exc:
        _refused(exc, str(folder))
    for line in report.lines():
        click.echo(line)


@geodata_group.command("download")
@click.option("--to", "dest", type=FOLDER, required=True, metavar="DIR", help="Folder to save the files in.")
@click.option("--base-url", metavar="URL", help="Mirror to fetch the files from (URL + file name).")
@click.option("--profile", metavar="NAME", help="Manifest profile (default: nottinghamshire).")
@click.option("--timeout", type=float, default=30, show_default=True, help="Seconds per connection.")
@click.option("--manifest", type=MANIFEST_FILE, help="Another manifest (default: geodata/manifest.json).")
@with_appcontext
def download_command(dest: Path, base_url: str | None, profile: str | None, timeout: float,
                     manifest: Path | None) -> None:
    """Download the files of a profile, each checked against the manifest's sha256."""
    from ..services.geodata import download

    try:
        results = download(dest, base_url=base_url, profile=profile, timeout=timeout, manifest=manifest)
    except ImportFailed as exc:
        _refused(exc, "download")
    for result in results:
        word = "downloaded" if result.status == "downloaded" else "already present"
        click.echo(f"{result.file}: {word} ({result.bytes:,} bytes, sha256 {result.sha256[:12]}…)")


@geodata_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@with_appcontext
def status_command(as_json: bool) -> None:
    """What geodata is installed."""
    from ..services.geodata import status

    info = status()
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    load = info["last_load"]
    if load is None:
        click.echo("No geodata installed (run `pcnreg geodata install`).")
    else:
        click.echo(f"Last install: {load['loaded_at']} from {load['source']} "
                   f"(profile {load['summary'].get('profile')}, {info['loads']} install(s) in all)")
        for name, digest in sorted(load["files"].items()):
            click.echo(f"  {name}  sha256 {digest[:12]}…")
    b, la, c, p = info["blocks"], info["local_authorities"], info["commissioners"], info["practices"]
    click.echo(f"Blocks: {b['lsoa']} LSOAs, {b['ward']} wards; PCN areas: {info['pcn_areas']}")
    click.echo(f"Local authorities with a boundary: {la['with_geometry']} of {la['total']}")
    click.echo(f"Commissioners with a boundary: {c['with_geometry']} of {c['total']}")
    click.echo(f"Practices with a location: {p['with_location']} of {p['total']}; "
               f"with a local authority: {p['with_local_authority']}")
