"""CLI commands (thin: parse arguments, call one service, print)."""
from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    pass
