"""The `pcnreg` console script: Flask's CLI with the app preloaded (no --app needed)."""
from __future__ import annotations

import click
from flask.cli import FlaskGroup

from . import create_app


@click.group(cls=FlaskGroup, create_app=lambda: create_app())
def cli() -> None:
    """pcnreg: Primary Care Network registration rounds."""


def main() -> None:
    """Entry point of the `pcnreg` console script (commands come from the app's CLI)."""
    cli()
