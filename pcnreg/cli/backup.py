"""`backup`, `restore` and `check` CLI commands (see ``services.backup``).

    pcnreg backup FILE                 a consistent copy of the database, and FILE.json (row counts)
    pcnreg restore FILE [--yes]        into the configured EMPTY database, then checked
    pcnreg restore FILE --force        replace the contents of a database that is not empty
    pcnreg check                       the integrity check; exit 1 naming the first problem
"""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(file: Path) -> None:
    """Back up the database to FILE (SQLite: online backup API; PostgreSQL: pg_dump custom format)."""
    from ..services.backup import BackupError, backup

    try:
        report = backup(file)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    for line in report.lines():
        click.echo(line)


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Replace the contents of a database that is not empty.")
@with_appcontext
def restore_command(file: Path, yes: bool, force: bool) -> None:
    """Restore the backup FILE into the configured database (which must be empty), then check it."""
    from ..extensions import db
    from ..services.backup import BackupError, restore, safe_url

    target = safe_url(db.engine.url)
    if not yes:
        verb = "Replace the contents of" if force else "Restore into"
        click.confirm(f"{verb} {target} from {file}?", abort=True)
    try:
        report = restore(file, force=force)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    for line in report.lines():
        click.echo(line)
    if not report.ok:
        sys.exit(1)


@click.command("check")
@with_appcontext
def check_command() -> None:
    """Check the database's integrity; exit 1 naming the first problem."""
    from ..services.backup import check_database

    problems = check_database()
    if problems:
        click.echo(f"Integrity check FAILED: {problems[0]}", err=True)
        sys.exit(1)
    click.echo("Integrity check passed: the database is consistent, and every round's membership "
               "table matches its head version.")
