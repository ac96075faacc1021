"""`pcnreg configuration on`: the configuration of a system on a date, from the dated memberships.

    pcnreg configuration on --date 2020-06-01 [--system E54000014]

CSV to stdout (``services.memberships.CSV_COLUMNS``): each practice in a PCN on that date, with
the relationship's start and end dates and where it was recorded (an ePCN workbook, an applied
change). Without ``--system``, every stored relationship. Exit 1 for an unknown system.
"""
from __future__ import annotations

import datetime as dt

import click
from flask.cli import with_appcontext


@click.group("configuration")
def configuration_group() -> None:
    """Configurations over time (dated memberships)."""


@configuration_group.command("on")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), required=True, help="The date (YYYY-MM-DD).")
@click.option("--system", "system_code", help="The system's ONS (E54...) or ODS (Q..) code; default: all.")
@with_appcontext
def on_command(day: dt.datetime, system_code: str | None) -> None:
    """The practice -> PCN memberships current on a date (CSV)."""
    from sqlalchemy import or_, select

    from ..extensions import db
    from ..models import System
    from ..services import memberships

    system = None
    if system_code:
        code = system_code.strip().upper()
        system = db.session.scalar(select(System).where(or_(System.code == code, System.ods_code == code)))
        if system is None:
            raise click.BadParameter(f"{system_code!r} is not a system pcnreg knows", param_hint="--system")
    click.echo(memberships.configuration_csv(system, day.date()), nl=False)
