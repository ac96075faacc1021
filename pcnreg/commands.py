"""CLI commands (thin: parse arguments, call one service, print)."""
from __future__ import annotations

import json
import sys
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

    from .services.demo import load_demo

    start = time.perf_counter()
    if not no_upgrade:
        upgrade()
    geodata = current_app.config["GEODATA_PATH"]
    report = load_demo(Path(geodata) if geodata else None)
    for line in report.lines():
        click.echo(line)
    if geodata:
        from .importers.csvio import ImportFailed
        from .services.geodata import install

        try:
            for line in install(Path(geodata)).lines():
                click.echo(line)
        except ImportFailed as exc:
            raise click.ClickException(f"geodata in {geodata} could not be installed:\n{exc}") from exc
    else:
        click.echo("No geodata folder (PCNREG_GEODATA): pcnreg runs on tables alone; maps are unavailable.")
    from .services import demo_story

    for line in demo_story.load().lines():
        click.echo(line)
    from .services.demo_users import create_demo_users

    click.echo("Demo users, one per role: each one-time sign-in link sets a password (valid 72 hours):")
    for email, role, scope, link in create_demo_users(base_url):
        click.echo(f"  {role:18} {email:40} {scope}\n    {link}")
    click.echo(f"({time.perf_counter() - start:.2f} s)")


@click.command("validate")
@click.option("--round", "round_name", help="Round name or id (default: the most recent).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--fail-on", type=click.Choice(["error", "warning"]), help="Exit 1 when such a finding remains.")
@with_appcontext
def validate_command(round_name: str | None, as_json: bool, fail_on: str | None) -> None:
    """Check a round's configuration against its rules."""
    from .services.rounds import NotFound, validate

    try:
        report = validate(round_name)
    except NotFound as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        s = report["summary"]["system"]
        click.echo(f"{report['round']['name']}: {s['practices_covered']}/{s['practices']} practices covered "
                   f"({s['coverage_pct']}%), {s['pcns']} PCNs ({s['pcns_in_band']} in band), "
                   f"{s['errors']} errors, {s['warnings']} warnings; "
                   f"{'complete' if report['summary']['complete'] else 'not complete'}")
        for f in report["findings"]:
            click.echo(f"{f['severity']:7} {f['rule']:20} {f['message']}")
    severities = {"error": {"error"}, "warning": {"error", "warning"}}.get(fail_on or "", set())
    if any(f["severity"] in severities for f in report["findings"]):
        sys.exit(1)


@click.group("export")
def export_group() -> None:
    """Export a round's data as CSV."""


@export_group.command("configuration")
@click.option("--round", "round_name", help="Round name or id (default: the most recent).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="File (default: stdout).")
@with_appcontext
def export_configuration_command(round_name: str | None, output: str | None) -> None:
    """The configuration CSV (the layout `pcnreg import configuration` reads)."""
    from .services.configuration import export_configuration
    from .services.rounds import NotFound, get_round

    try:
        text = export_configuration(get_round(round_name))
    except NotFound as exc:
        raise click.ClickException(str(exc)) from exc
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


@click.group("areas")
def areas_group() -> None:
    """PCN areas: move blocks, treat blocks as adjacent, upload or revert an area."""


def _area_errors(fn):
    """Run an areas command, turning the user's mistakes into a clean message and exit 1."""
    from .importers.csvio import ImportFailed
    from .services.areas import AreaError
    from .services.rounds import NotFound

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
    from .services import areas, rounds

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
    from .services import areas

    _area_errors(lambda: areas.record_adjacent(block_a, block_b, reason=reason, recorded_by=recorded_by))
    click.echo(f"{block_a} and {block_b} are treated as adjacent from now on.")


@areas_group.command("upload")
@click.argument("pcn")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--round", "round_name", help="Round name or id (default: the most recent).")
@with_appcontext
def upload_area_command(pcn: str, file: str, round_name: str | None) -> None:
    """Replace PCN's area with the polygon in FILE (GeoJSON, GeoPackage or zipped shapefile)."""
    from .services import areas, rounds

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
    from .services import areas, rounds

    def run():
        rnd = rounds.get_round(round_name)
        areas.revert_area(rnd, str(rounds.get_pcn(rnd, pcn).id))
    _area_errors(run)
    click.echo(f"The area of {pcn} is the union of its blocks again.")


@click.group("audit")
def audit_group() -> None:
    """The hash-chained audit trail."""


@audit_group.command("verify")
@click.option("--expect", help="A head recorded earlier, SEQ:HASH (from `pcnreg audit head`, a committee pack or "
                               "an audit CSV): the trail must contain it.")
@click.option("--no-anchor", is_flag=True, help="Do not check the anchor file (PCNREG_AUDIT_ANCHOR).")
@with_appcontext
def audit_verify_command(expect: str | None, no_anchor: bool) -> None:
    """Recompute the chain and check its head against the anchor file (and --expect); exit 1
    naming the first broken event, or saying that the newest events are missing."""
    from .services.audit import parse_head, verify

    try:
        expected = parse_head(expect) if expect else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--expect") from exc
    result = verify(expect=expected, anchor=not no_anchor)
    click.echo(result.line())
    if not result.ok:
        sys.exit(1)


@audit_group.command("head")
@click.option("--anchor", "write_anchor", is_flag=True,
              help="Also append the head to the anchor file (to start one, e.g. after an upgrade or a restore).")
@with_appcontext
def audit_head_command(write_anchor: bool) -> None:
    """Print the trail's head as SEQ:HASH (keep it elsewhere; `pcnreg audit verify --expect` checks it)."""
    from .services.audit import anchor_path, append_anchor, head

    current = head()
    if current is None:
        click.echo("The audit trail is empty.")
        return
    click.echo(current.text())
    if write_anchor:
        append_anchor(current)
        click.echo(f"Appended to {anchor_path()}", err=True)


@click.command("worker")
@click.option("--workers", default=1, show_default=True, help="Worker threads.")
def worker_command(workers: int) -> None:
    """Run the task queue's worker (long work started from pages, e.g. onboarding)."""
    from huey.consumer import Consumer

    from .tasks import huey

    Consumer(huey, workers=workers).run()


def register(cli: click.Group) -> None:
    from .cli_backup import register as register_backup
    from .cli_geodata import register as register_geodata
    from .cli_import import register as register_import

    cli.add_command(demo_command)
    cli.add_command(validate_command)
    cli.add_command(worker_command)
    cli.add_command(export_group)
    cli.add_command(areas_group)
    cli.add_command(audit_group)
    register_import(cli)
    register_geodata(cli)
    from .cli_users import register as register_users
    register_users(cli)
    register_backup(cli)
    from .cli_round import register as register_round
    register_round(cli)
    from .cli_changes import register as register_changes
    register_changes(cli)
    from .cli_epcn import register as register_epcn
    register_epcn(cli)
    from .cli_election import register as register_election
    register_election(cli)
    from .cli_onboard import register as register_onboard
    register_onboard(cli)
    from .cli_places import register as register_places
    register_places(cli)
    from .cli_organisations import register as register_organisations
    register_organisations(cli)
