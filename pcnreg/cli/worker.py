"""`pcnreg worker`: the task queue's worker."""
from __future__ import annotations

import click


@click.command("worker")
@click.option("--workers", default=1, show_default=True, help="Worker threads.")
def worker_command(workers: int) -> None:
    """Run the task queue's worker (long work started from pages, e.g. onboarding)."""
    from huey.consumer import Consumer

    from ..tasks import huey

    Consumer(huey, workers=workers).run()
