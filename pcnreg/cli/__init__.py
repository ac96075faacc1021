"""The command line: `pcnreg` (the console script) and `flask --app pcnreg`, the same commands.

One module per command group, each a module-level click command or group; ``register`` adds them
all to the Flask app's CLI (``create_app`` calls it), in this one place. The console script is
Flask's CLI with the app preloaded (no --app needed).
"""
from __future__ import annotations

import click
from flask.cli import FlaskGroup


def _create_app():
    from .. import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app)
def cli() -> None:
    """pcnreg: Primary Care Network registration rounds."""


def main() -> None:
    """Entry point of the `pcnreg` console script (commands come from the app's CLI)."""
    cli()


def register(app_cli: click.Group) -> None:
    """Add every pcnreg command to the Flask app's CLI."""
    from . import (
        areas,
        audit,
        backup,
        configuration,
        demo,
        election,
        epcn,
        export,
        geodata,
        imports,
        onboard,
        organisations,
        places,
        round,
        users,
        validate,
        worker,
    )

    for command in (
        demo.demo_command, validate.validate_command, worker.worker_command,
        export.export_group, areas.areas_group, audit.audit_group,
        imports.import_group, geodata.geodata_group, users.users_group,
        backup.backup_command, backup.restore_command, backup.check_command,
        round.round_group, epcn.epcn_group, election.election_group, onboard.onboard,
        places.places_group, organisations.organisations_group, configuration.configuration_group,
    ):
        app_cli.add_command(command)
