"""`pcnreg round status`: where every PCN of a round stands, for scripted reminders.

    pcnreg round status [--round NAME] [--as-of ISO-DATETIME] [--json]

Per PCN: its state, its deadline status (due/late/overdue/none) and the list of what is
missing. ``--as-of`` evaluates the deadlines at another instant (an offset-less time is UK
local time). Exit status 0; 1 when the round or the instant is not valid.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

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
    from ..services import clock, registration
    from ..services.rounds import NotFound, get_round

    try:
        now = clock.parse_instant(as_of) if as_of else clock.now()
    except ValueError as exc:
        raise click.BadParameter(f"{as_of!r} is not an ISO 8601 date and time ({exc})", param_hint="--as-of") from None
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


@round_group.command("change-notice")
@click.argument("practice")
@click.option("--to", "to_pcn", required=True, help="The PCN (id or name) the practice moves to.")
@click.option("--reason", required=True)
@click.option("--round", "round_name", help="Round name or id (default: the most recent).")
@click.option("--effective-from", "effective_from", type=click.DateTime(["%Y-%m-%d"]),
              help="A later quarter start (YYYY-MM-DD) than the earliest the notice rule gives; never on or "
                   "before the practice's last applied change.")
@with_appcontext
def change_notice_command(practice: str, to_pcn: str, reason: str, round_name: str | None,
                          effective_from: dt.datetime | None) -> None:
    """After go-live: record a practice's notice of a move (effective next quarter after 28 days)."""
    from ..services import changes

    day = effective_from.date() if effective_from else None
    change = _run(lambda rnd: changes.give_notice(rnd, practice, to_pcn, reason, day), round_name)
    click.echo(f"Change {change.id}: {change.practice_code} from {change.notice_given_on}, takes effect from "
               f"{change.effective_from} once the commissioner approves it")


@round_group.command("decide-change")
@click.argument("change_id", type=int)
@click.option("--approve/--refuse", required=True)
@click.option("--note", default="")
@click.option("--round", "round_name", help="Round name or id (default: the most recent).")
@with_appcontext
def decide_change_command(change_id: int, approve: bool, note: str, round_name: str | None) -> None:
    """The commissioner approves or refuses a membership change."""
    from ..services import changes

    change = _run(lambda rnd: changes.decide(rnd, change_id, approve=approve, note=note), round_name)
    click.echo(f"Change {change.id}: {change.state}")


@round_group.command("apply-changes")
@click.option("--round", "round_name", help="Round name or id (default: the most recent).")
@with_appcontext
def apply_changes_command(round_name: str | None) -> None:
    """Apply the approved membership changes whose date has come (one configuration version)."""
    from ..services import changes

    done = _run(changes.apply_due, round_name)
    click.echo(f"{len(done)} change(s) applied" + "".join(f"\n  {c.practice_code} (change {c.id})" for c in done))


def _run(work, round_name: str | None):
    from ..services.changes import ChangeError
    from ..services.configuration import EditError
    from ..services.rounds import NotFound, get_round

    try:
        return work(get_round(round_name))
    except (NotFound, ChangeError, EditError) as exc:
        raise click.ClickException(str(exc)) from exc


@round_group.command("change-instruction")
@click.option("--round", "round_name", required=True, help="Round name or id.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the CSV to this file.")
@with_appcontext
def change_instruction_command(round_name: str, output: Path | None) -> None:
    """The round's ODS change instruction (CSV)."""
    from ..services import change_instruction
    from ..services.rounds import NotFound, get_round

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
