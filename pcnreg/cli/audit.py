"""`pcnreg audit`: verify the hash-chained audit trail and print its head."""
from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext


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
    from ..services.audit import parse_head, verify

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
    from ..services.audit import anchor_path, append_anchor, head

    current = head()
    if current is None:
        click.echo("The audit trail is empty.")
        return
    click.echo(current.text())
    if write_anchor:
        append_anchor(current)
        click.echo(f"Appended to {anchor_path()}", err=True)
