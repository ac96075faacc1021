"""Import the official NHS files into the database, each import in ONE transaction.

Every import decodes and validates the whole file first, collecting every problem; if there is
any problem nothing is written. The writes are then flushed and committed once. On a problem or
a database error the session is rolled back and ``ImportFailed`` is raised.

National files cover all of England: rows for commissioners or practices outside this instance
are skipped and counted in the summary, not treated as errors.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..domain.codes import COMMISSIONER_CODE
from ..extensions import db
from ..importers.csvio import ImportFailed, ImportProblem, decode
from ..importers.epraccur import FIELDS as EPRACCUR_FIELDS
from ..importers.epraccur import parse_epraccur
from ..importers.list_sizes import parse_list_sizes
from ..models import Commissioner, ListSize, Practice
from . import audit
from .transactions import one_transaction

NOT_A_GP_PRACTICE = "not a GP practice"
COMMISSIONER_OUTSIDE = "commissioner not in this instance"
COMMISSIONER_NOT_SELECTED = "commissioner not selected"
PRACTICE_OUTSIDE = "practice not in this instance"

#: The Practice fields an epraccur import owns (others belong to other sources).
PRACTICE_FIELDS = ("name", "postcode", "commissioner_id", "status", "ods_status_code",
                   "open_date", "close_date")

T = TypeVar("T")


@dataclass
class ImportSummary:
    """What an import did: counts of rows added, changed, unchanged and skipped (by reason)."""

    kind: str
    source: str
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"Imported {self.kind} from {self.source}: {self.added} added, "
               f"{self.changed} changed, {self.unchanged} unchanged."]
        if not self.added and not self.changed:
            out.append("Nothing changed.")
        for reason, count in sorted(self.skipped.items()):
            out.append(f"Skipped {count} row{'s' if count != 1 else ''}: {reason}.")
        return out


def _audit(summary: ImportSummary) -> None:
    """An import that changed something is an audit event (in the import's transaction)."""
    if summary.added or summary.changed:
        audit.record(action=f"import.{summary.kind.replace(' ', '_')}", object_type="import",
                     object_id=summary.source[:60],
                     after={"source": summary.source, "added": summary.added, "changed": summary.changed,
                            "unchanged": summary.unchanged, "skipped": summary.skipped})


class _Conflict(Exception):
    """A concurrent change of the same rows (its ``__cause__``: the database's error)."""


@one_transaction(_Conflict)
def _run(work: Callable[[], T]) -> T:
    result = work()
    db.session.flush()
    return result


def transaction(source: str, work: Callable[[], T]) -> T:
    """Run ``work`` as one transaction (``one_transaction``); a refused import or a database error:
    ``ImportFailed`` naming ``source`` (everything rolled back)."""
    try:
        return _run(work)
    except ImportFailed as exc:
        exc.source = exc.source or source
        raise
    except (SQLAlchemyError, _Conflict) as exc:
        cause = exc.__cause__ if isinstance(exc, _Conflict) else exc
        message = str(cause.orig if getattr(cause, "orig", None) else cause).splitlines()[0]
        raise ImportFailed([ImportProblem(None, None, (
            f"database error, nothing was written: {type(cause).__name__}: {message}"))],
            source=source) from cause


def import_practices(data: bytes, *, source: str,
                     commissioner_codes: list[str] | None = None) -> ImportSummary:
    """Import GP practices from an ODS ``epraccur.csv`` file (see ``importers.epraccur``).

    Keeps rows with prescribing setting 4 whose commissioner is in the ``commissioner`` table
    (or in ``commissioner_codes``, each of which must be in the table). Practices are upserted
    by code: new ones added, existing ones updated only where a field differs. Coordinates,
    local authority and other codes of existing practices are left alone.
    """
    def work() -> ImportSummary:
        text = decode(data, current_app.config["MAX_IMPORT_BYTES"], columns=EPRACCUR_FIELDS)
        commissioners = {c.code: c.id for c in db.session.scalars(select(Commissioner))}
        problems: list[ImportProblem] = []
        try:
            selected = _selected_commissioners(commissioners, commissioner_codes)
        except ImportFailed as exc:
            problems += exc.problems
        try:
            records = parse_epraccur(text)
        except ImportFailed as exc:
            problems += exc.problems
        if problems:
            raise ImportFailed(problems)
        existing = {p.code: p for p in db.session.scalars(select(Practice))}

        summary = ImportSummary("practices", source)
        skipped: Counter[str] = Counter()
        new: list[Practice] = []
        for record in records:
            if not record.is_gp_practice:
                skipped[NOT_A_GP_PRACTICE] += 1
                continue
            if record.commissioner_code not in commissioners:
                skipped[COMMISSIONER_OUTSIDE] += 1
                continue
            if record.commissioner_code not in selected:
                skipped[COMMISSIONER_NOT_SELECTED] += 1
                continue
            values = {
                "name": record.name, "postcode": record.postcode,
                "commissioner_id": commissioners[record.commissioner_code],
                "status": record.status, "ods_status_code": record.ods_status_code,
                "open_date": record.open_date, "close_date": record.close_date,
            }
            practice = existing.get(record.code)
            if practice is None:
                new.append(Practice(code=record.code, **values))
                summary.added += 1
            elif _update(practice, values):
                summary.changed += 1
            else:
                summary.unchanged += 1
        db.session.add_all(new)
        summary.skipped = dict(skipped)
        _audit(summary)
        return summary

    return transaction(source, work)


def _selected_commissioners(commissioners: dict[str, int],
                            codes: list[str] | None) -> set[str]:
    """The commissioner codes to import: ``codes`` (each must be in the table) or all."""
    if not commissioners:
        raise ImportFailed([ImportProblem(None, "commissioner", (
            "the commissioner table is empty; set up the system and its commissioners first"))])
    if not codes:
        return set(commissioners)
    problems = []
    selected = set()
    for code in codes:
        code = code.strip().upper()
        if not COMMISSIONER_CODE.match(code):
            problems.append(ImportProblem(None, "--commissioner",
                                          f"{code[:40]!r} is not a commissioner code"))
        elif code not in commissioners:
            problems.append(ImportProblem(None, "--commissioner", (
                f"{code} is not in the commissioner table (known: "
                f"{', '.join(sorted(commissioners))})")))
        selected.add(code)
    if problems:
        raise ImportFailed(problems)
    return selected


def _update(obj: object, values: dict[str, object]) -> bool:
    """Set the attributes of ``obj`` that differ from ``values``; True if any did."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def import_list_sizes(data: bytes, *, source: str) -> ImportSummary:
    """Import registered list sizes from a "Patients Registered at a GP Practice" file (see
    ``importers.list_sizes``): one ``ListSize`` per practice and EXTRACT_DATE, upserted.

    Rows for practices not in this instance are skipped and counted. A size equal to the stored
    one is unchanged; a different size replaces it (and its source).
    """
    def work() -> ImportSummary:
        text = decode(data, current_app.config["MAX_IMPORT_BYTES"], header=True)
        records = parse_list_sizes(text)
        practices = {code: id_ for code, id_ in
                     db.session.execute(select(Practice.code, Practice.id))}
        dates = {r.as_of for r in records if r.as_of is not None}
        existing = {(s.practice_id, s.as_of): s for s in db.session.scalars(
            select(ListSize).where(ListSize.as_of.in_(dates)))} if dates else {}

        summary = ImportSummary("list sizes", source)
        skipped: Counter[str] = Counter()
        new: list[ListSize] = []
        for record in records:
            if record.skip_reason:
                skipped[record.skip_reason] += 1
                continue
            practice_id = practices.get(record.code)
            if practice_id is None:
                skipped[PRACTICE_OUTSIDE] += 1
                continue
            assert record.as_of is not None and record.size is not None  # parse checked them
            current = existing.get((practice_id, record.as_of))
            if current is None:
                new.append(ListSize(practice_id=practice_id, as_of=record.as_of,
                                    size=record.size, source=source[:200]))
                summary.added += 1
            elif current.size != record.size:
                current.size, current.source = record.size, source[:200]
                summary.changed += 1
            else:
                summary.unchanged += 1
        db.session.add_all(new)
        summary.skipped = dict(skipped)
        _audit(summary)
        return summary

    return transaction(source, work)
