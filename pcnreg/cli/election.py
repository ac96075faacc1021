"""`pcnreg election count`: count the ballots of a Clinical Director election run by the LMC.

    pcnreg election count BALLOTS.csv --method plurality|weighted|irv [--json]
        [--candidates "A,B,C"]
        [--seed SEED | --lots "A,B,C" --performed-by NAME --witness NAME]

The ballot file's layout is described, and read, by ``pcnreg.importers.ballots``: every problem
in it is listed (row and field; the header is row 1), and nothing is counted.

The candidates are every name in the file, unless ``--candidates`` lists them (then a ballot
naming anyone else, e.g. a withdrawn candidate, is refused; and a candidate nobody voted for
still shows with 0 votes). Ties are broken by the rule fixed before the count: ``--seed`` (a
published seed) or ``--lots`` (the order drawn by lot, with who drew and who witnessed); see
pcnreg.domain.counting. A tie with neither is refused. ``plurality`` counts one vote per
ballot whatever the weight; ``weighted`` and ``irv`` count each ballot's weight.

Exit status 0; 1 when the file or the options cannot be counted (nothing is counted then).
"""
from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import with_appcontext

from ..domain.counting import (
    METHOD_TITLES,
    BallotError,
    DrawOfLots,
    Result,
    SeededDraw,
    TieBreakNeeded,
    TieDecision,
    count,
)
from ..importers.ballots import BallotFile, parse_ballots
from ..importers.csvio import ImportFailed


def _names_option(value: str | None, option: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = tuple(n.strip() for n in value.split(","))
    if not names or any(not n for n in names):
        raise click.BadParameter("give the names separated by commas, none blank", param_hint=option)
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise click.BadParameter(f"{', '.join(duplicates)} named twice", param_hint=option)
    return names


def read_ballots(path: Path, candidates: tuple[str, ...] | None) -> BallotFile:
    """The ballot file's ballots; ClickException listing every problem (row and field) otherwise."""
    try:
        return parse_ballots(path.read_bytes(), candidates)
    except ImportFailed as exc:
        n = len(exc.problems)
        head = f"{path.name}: not counted ({n} problem{'s' if n != 1 else ''}):"
        raise click.ClickException("\n".join([head] + exc.lines()[1:])) from exc


def _tie_break(seed: str | None, lots: str | None, performed_by: str | None, witness: str | None):
    if seed is not None and lots is not None:
        raise click.UsageError("give --seed or --lots, not both")
    if lots is None and (performed_by or witness):
        raise click.UsageError("--performed-by and --witness go with --lots")
    if seed is not None:
        try:
            return SeededDraw(seed)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--seed") from exc
    if lots is not None:
        order = _names_option(lots, "--lots")
        if not performed_by or not witness:
            raise click.UsageError("--lots needs --performed-by and --witness (who drew the lots, "
                                   "who witnessed the draw)")
        try:
            return DrawOfLots(order, performed_by.strip(), witness.strip())
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--lots") from exc
    return None


def _number(value) -> str:
    return str(value) if isinstance(value, int) else format(value, "f")


def _tie_text(d: TieDecision) -> str:
    what = "for first place" if d.decides == "winner" else "for last place"
    verb = "wins" if d.decides == "winner" else "is eliminated"
    if d.method == "seeded_draw":
        how = "seeded draw (ranked by sha256 of seed:round:name, lowest first): "
        how += ", ".join(f"{n} {d.detail['keys'][n][:12]}…" for n in d.ranking)
    else:
        how = f"draw of lots (order {', '.join(d.detail['order'])})"
    return f"tie {what} between {', '.join(d.tied)}; by {how}; {d.outcome} {verb}"


def _print_text(result: Result, bf: BallotFile, tie_break) -> None:
    click.echo(f"Method: {METHOD_TITLES[result.method]}")
    click.echo(f"Ballots: {len(bf.ballots)}; candidates: {', '.join(result.rounds[0].tallies)}")
    if result.method == "plurality" and bf.weighted:
        click.echo("Weights: not used (one practice, one vote)")
    click.echo(f"Tie-break: {tie_break.describe() if tie_break else 'none fixed'}")
    width = max(len(c) for c in result.rounds[0].tallies)
    for i, rnd in enumerate(result.rounds, start=1):
        click.echo(f"Round {i}")
        for name, votes in rnd.ordered():
            click.echo(f"  {name:{width}}  {_number(votes)}")
        if result.method == "irv":
            click.echo(f"  {'exhausted':{width}}  {_number(rnd.exhausted)}")
        if rnd.tie_break:
            click.echo(f"  {_tie_text(rnd.tie_break)}")
        if rnd.eliminated:
            click.echo(f"  eliminated: {rnd.eliminated}")
        elif result.method == "irv":
            click.echo(f"  {result.winner} has {_number(rnd.tallies[result.winner])} of "
                       f"{_number(rnd.continuing_total)} continuing votes, more than half")
    click.echo(f"Winner: {result.winner}")


@click.group("election")
def election_group() -> None:
    """Clinical Director elections run by the LMC."""


@election_group.command("count")
@click.argument("ballots_file", metavar="BALLOTS.csv",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--method", required=True, type=click.Choice(["plurality", "weighted", "irv"]),
              help="plurality: one practice one vote; weighted: by list size; irv: alternative vote.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--candidates", help="The candidates, comma-separated (default: every name in the file).")
@click.option("--seed", help="Tie-break: the seed published before the count.")
@click.option("--lots", help="Tie-break: the order of all candidates drawn by lot, comma-separated.")
@click.option("--performed-by", "performed_by", help="Who drew the lots (with --lots).")
@click.option("--witness", help="Who witnessed the draw of lots (with --lots).")
def count_command(ballots_file: Path, method: str, as_json: bool, candidates: str | None,
                  seed: str | None, lots: str | None, performed_by: str | None,
                  witness: str | None) -> None:
    """Count the ballots in BALLOTS.csv and print every round and the winner."""
    listed = _names_option(candidates, "--candidates")
    tie_break = _tie_break(seed, lots, performed_by, witness)
    bf = read_ballots(ballots_file, listed)
    names = listed if listed is not None else tuple(bf.names)
    try:
        result = count(bf.ballots, names, method, tie_break)
    except BallotError as exc:          # read_ballots checks the same: a backstop
        where = f"row {bf.rows[exc.index]}: " if exc.index is not None else ""
        raise click.ClickException(where + exc.message) from exc
    except TieBreakNeeded as exc:
        what = "for first place" if exc.decides == "winner" else "for elimination"
        raise click.ClickException(
            f"round {exc.round}: a tie {what} between {', '.join(exc.tied)}; a tie needs --seed or "
            "--lots (with --performed-by and --witness), fixed before the count. Nothing was counted."
        ) from exc
    except ValueError as exc:           # e.g. a draw of lots not naming every candidate
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
    else:
        _print_text(result, bf, tie_break)


@election_group.command("tick")
@with_appcontext
def tick_command() -> None:
    """Record the close of every election whose voting has passed its closing time (run it from a
    scheduler, e.g. every minute; the first web request after the close does the same)."""
    from ..services import elections

    closed = elections.close_due()
    click.echo(f"Closed voting in {len(closed)} election(s)" + (f": {', '.join(map(str, closed))}" if closed else "."))
