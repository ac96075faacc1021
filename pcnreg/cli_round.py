"""`pcnreg round status`: where every PCN of a round stands, for scripted reminders.

    pcnreg round status [--round NAME] [--as-of ISO-DATETIME] [--json]

Per PCN: its state, its deadline status (due/late/overdue/none) and the list of what is
missing. ``--as-of`` evaluates the deadlines at another instant (an offset-less time is UK
local time). Exit status 0; 1 when the round or the instant is not valid.
"""
from __future__ import annotations

import json

import click
from flask.cli import with_appcontext


@click.group("round")
def round_group() -> None:
    """Registration rounds: the state of each PCN's registration."""


@round_group.command("status")
@click.option("--round", "round_name", help="Round name or id (default: the most recent).")
@click.option("--as-of", "as_of", help="Evaluate deadlines at this ISO 8601 instant (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def status_command(round_name: str | None, as_of: str | None, as_json: bool) -> None:
    """Each PCN's registration state, deadline status and what is missing."""
    from .services import clock, registration
    from .services.rounds import NotFound, get_round

    try:
        now = clock.parse_instant(as_of) if as_of else clock.now()
    except ValueError as exc:
        raise click.BadParameter(f"{as_of!r} is not an ISO 8601 date and time ({exc})", param_hint="--as-of")
    try:
        rnd = get_round(round_name)
    except NotFound as exc:
        raise click.ClickException(str(exc)) from exc
    rows = registration.round_status(rnd, now=now)
    if as_json:
        click.echo(json.dumps({"round": {"id": rnd.id, "name": rnd.name}, "as_of": now.isoformat(),
                               "pcns": [r.as_dict() for r in rows]}, indent=2, ensure_ascii=False))
        return
    click.echo(f"{rnd.name} at {now.isoformat()}")
    for r in rows:
        click.echo(f"  {r.name:40} {r.state_title:26} {r.deadline.text}")
        for m in r.missing:
            click.echo(f"      missing: {m.message}")


def register(cli: click.Group) -> None:
    cli.add_command(round_group)
