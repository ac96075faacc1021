"""Jobs: long work started from a page (an onboarding of national files), run by the task queue
(``pcnreg.tasks``) with its progress and outcome in the ``Job`` table.

``start_onboarding`` checks nothing itself beyond the parameters' shape: the onboarding service
checks the files when the job runs and a refused file ends the job "failed" with the problems
(file, row, column), nothing written.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TypeVar

from sqlalchemy import select

from ..extensions import db
from ..importers.csvio import ImportFailed
from ..models import Job, utcnow

T = TypeVar("T")
FILE_OPTIONS = ("organisations", "areas", "practices", "list_sizes", "configuration", "blocks", "local_authorities")


def start_onboarding(*, codes: list[str], year: str, round_pattern: str, files: dict[str, str | None],
                     created_by: str) -> Job:
    """Record the job and put it on the queue (in immediate mode it runs before this returns)."""
    from .. import tasks

    job = Job(kind="onboard", state="queued", created_by=created_by[:254],
              params=json.dumps({"codes": codes, "year": year, "round": round_pattern, "files": files}))
    db.session.add(job)
    db.session.commit()
    job_id = job.id
    tasks.run_job(job_id)
    db.session.expire_all()
    return db.session.get(Job, job_id)


def _update(job: Job, **values) -> None:
    for name, value in values.items():
        setattr(job, name, value)
    db.session.commit()


def run(job_id: int) -> None:
    """Run a queued job (called by the worker's task)."""
    from .onboarding import Files, onboard

    job = db.session.get(Job, job_id)
    if job is None or job.state != "queued":
        return
    _update(job, state="running", started_at=utcnow(), step="Starting")
    params = json.loads(job.params)

    def progress(label: str, items: Sequence[T]) -> Iterable[T]:
        for number, item in enumerate(items):
            _update(db.session.get(Job, job_id), step=label, done=number, total=len(items))
            yield item
        _update(db.session.get(Job, job_id), step=label, done=len(items), total=len(items))

    paths = {k: Path(v) if v else None for k, v in params["files"].items()}
    try:
        report = onboard(params["codes"], year=params["year"], round_pattern=params["round"],
                         files=Files(**{k: paths.get(k) for k in FILE_OPTIONS}), progress=progress)
    except ImportFailed as exc:
        db.session.rollback()
        _update(db.session.get(Job, job_id), state="failed", finished_at=utcnow(), step="Refused",
                result="\n".join(exc.lines()))
        return
    except Exception as exc:  # noqa: BLE001 - the job must end, whatever happened; the log has the rest
        db.session.rollback()
        _update(db.session.get(Job, job_id), state="failed", finished_at=utcnow(), step="Failed",
                result=f"The onboarding stopped with an unexpected error ({type(exc).__name__}); nothing of the "
                       "system being written was kept. Tell the service's administrators.")
        raise
    _update(db.session.get(Job, job_id), state="done", finished_at=utcnow(), step="Done",
            result="\n".join(report.lines()))


def get(job_id: int) -> Job | None:
    return db.session.get(Job, job_id)


def recent(limit: int = 50) -> list[Job]:
    """The latest jobs first (the jobs page and the administrator's home)."""
    return list(db.session.scalars(select(Job).order_by(Job.id.desc()).limit(limit)))
