"""`pcnreg places`: a system's places (named sets of local authorities and/or commissioners).

    pcnreg places list --system CODE
    pcnreg places add NAME --system CODE [--local-authority GSS ...] [--commissioner ODS ...]
    pcnreg places set NAME --system CODE [--name NEW] [--local-authority GSS ...] [--commissioner ODS ...]
    pcnreg places remove NAME --system CODE

Each change is one transaction with an audit event; a refusal exits 1 and changes nothing.
"""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..services import places as svc

SYSTEM = click.option("--system", "system_code", required=True, metavar="CODE", help="ONS (E54...) or ODS (Q..) code.")
LAS = click.option("--local-authority", "las", multiple=True, metavar="GSS", help="A local authority (repeatable).")
COMMISSIONERS = click.option("--commissioner", "commissioners", multiple=True, metavar="ODS",
                             help="A commissioner (repeatable).")


def _fail(exc: Exception):
    click.echo(f"pcnreg places: {exc}; nothing was changed", err=True)
    raise SystemExit(1) from None


def _find(system, name: str):
    for place in system.places:
        if place.name.casefold() == " ".join(name.split()).casefold():
            return place
    _fail(svc.PlaceError(f"{system.name} has no place called {name!r}"))


@click.group("places")
def places_group() -> None:
    """A system's places (each change audited)."""


@places_group.command("list")
@SYSTEM
@with_appcontext
def list_(system_code: str) -> None:
    try:
        system = svc.system_by_code(system_code)
    except svc.PlaceError as exc:
        _fail(exc)
    for row in svc.rows(system):
        las = ", ".join(la.code for la in row.local_authorities) or "none"
        click.echo(f"{row.place.name}: local authorities {las}; "
                   f"commissioners {', '.join(c.code for c in row.commissioners) or 'none'}; {row.pcns} PCNs")


@places_group.command("add")
@click.argument("name")
@SYSTEM
@LAS
@COMMISSIONERS
@with_appcontext
def add(name: str, system_code: str, las: tuple[str, ...], commissioners: tuple[str, ...]) -> None:
    try:
        system = svc.system_by_code(system_code)
        place = svc.create_place(system, name, [c.upper() for c in las], [c.upper() for c in commissioners])
    except svc.PlaceError as exc:
        _fail(exc)
    click.echo(f"Added {place.name} to {system.name}")


@places_group.command("set")
@click.argument("name")
@SYSTEM
@click.option("--name", "new_name", help="A new name.")
@LAS
@COMMISSIONERS
@with_appcontext
def set_(name: str, system_code: str, new_name: str | None, las: tuple[str, ...],
         commissioners: tuple[str, ...]) -> None:
    try:
        system = svc.system_by_code(system_code)
        place = _find(system, name)
        svc.update_place(system, place, new_name or place.name, [c.upper() for c in las],
                         [c.upper() for c in commissioners])
    except svc.PlaceError as exc:
        _fail(exc)
    click.echo(f"Saved {place.name}")


@places_group.command("remove")
@click.argument("name")
@SYSTEM
@with_appcontext
def remove(name: str, system_code: str) -> None:
    try:
        system = svc.system_by_code(system_code)
        place = _find(system, name)
        svc.remove_place(system, place)
    except svc.PlaceError as exc:
        _fail(exc)
    click.echo(f"Removed {name}")
