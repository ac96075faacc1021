"""`pcnreg validate`: check a round's configuration against its rules."""
from __future__ import annotations

import json
import sys

import click
from flask.cli import with_appcontext


@click.command("validate")
@click.option("--round", "round_name", help="Round name or id (default: the most recent).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--fail-on", type=click.Choice(["error", "warning"]), help="Exit 1 when such a finding remains.")
@with_appcontext
def validate_command(round_name: str | None, as_json: bool, fail_on: str | None) -> None:
    """Check a round's configuration against its rules."""
    from ..services.rounds import NotFound, validate

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
