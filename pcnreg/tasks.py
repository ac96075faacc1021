"""The task queue: long work started from a page runs here, outside the request (huey).

``PCNREG_TASK_QUEUE`` chooses the queue's storage:

- ``sqlite`` (default): a SQLite file, ``instance/tasks.sqlite`` or ``PCNREG_TASK_QUEUE_PATH`` (on
  several app servers: a shared path, or use Redis);
- ``redis://host:port/db``: Redis (needs the ``redis`` package), for several app servers;
- ``immediate``: the task runs at once in the process that starts it (tests; a demo without a
  worker).

The worker is ``pcnreg worker`` (huey's consumer). A task writes its progress and outcome to its
``Job`` row, so any app server's page can show them.
"""
from __future__ import annotations

from huey import MemoryHuey, RedisHuey, SqliteHuey

from .config import task_queue


def make_huey():
    setting, path = task_queue()
    if setting == "immediate":
        return MemoryHuey("pcnreg", immediate=True)
    if setting.startswith("redis://"):
        return RedisHuey("pcnreg", url=setting)
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("pcnreg", filename=str(path))


huey = make_huey()
_worker_app = None


def _app_context():
    """The app's context: the caller's (immediate mode) or the worker's own app."""
    from flask import current_app, has_app_context

    if has_app_context():
        return current_app.app_context()
    global _worker_app
    if _worker_app is None:
        from . import create_app

        _worker_app = create_app()
    return _worker_app.app_context()


@huey.task()
def run_job(job_id: int) -> None:
    from .services import jobs

    with _app_context():
        jobs.run(job_id)
