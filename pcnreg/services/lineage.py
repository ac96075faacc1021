"""Organisation lineage from the national files (``domain.lineage``): read two epraccur files
and the two eras' organisation lookups, store the links (``OrganisationLink``) in one
transaction, replacing the links of the same two sources, with each practice's commissioner
periods (``domain.memberships.commissioner_history``; the practice history page shows them);
`pcnreg organisations lineage` and the system page show them. Two lookups of the same date that
put a commissioner in two systems are refused."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import delete, select

from ..domain.lineage import Link, commissioner_links, system_links
from ..domain.memberships import Organisation, Snapshot, commissioner_history
from ..extensions import db
from ..importers.csvio import ImportFailed, ImportProblem, decode
from ..importers.epraccur import FIELDS as EPRACCUR_FIELDS
from ..importers.epraccur import parse_epraccur
from ..importers.organisations import Organisations, read_organisations
from ..models import OrganisationLink
from . import audit, memberships
from .imports import transaction

RELATION_TITLES = {"continued_as": "continued as", "renamed_to": "renamed to", "merged_into": "merged into",
                   "split_into": "split into", "became": "became", "moved_to": "part moved to"}


@dataclass
class LineageReport:
    source: str
    commissioner_links: int
    system_links: int
    changes: list[Link]
    commissioner_periods: int = 0

    def lines(self) -> list[str]:
        out = [f"Lineage from {self.source}: {self.commissioner_links} commissioner links, "
               f"{self.system_links} system links, {self.commissioner_periods} practice commissioner periods."]
        for link in self.changes:
            when = f" on {link.effective:%-d %B %Y}" if link.effective else ""
            out.append(f"  {link.level} {link.before} {RELATION_TITLES[link.relation]} {link.after}{when} ({link.evidence})")
        return out


def _read(path: Path, read, option: str):
    try:
        return read(path.read_bytes())
    except ImportFailed as exc:
        raise ImportFailed([ImportProblem(p.row, p.field, f"{path.name} ({option}): {p.message}") for p in exc.problems]) \
            from None
    except OSError as exc:
        raise ImportFailed([ImportProblem(None, option, f"cannot read {path.name}: {exc.strerror}")]) from None


def _same_date_contradictions(before: Organisations, after: Organisations, before_name: str,
                              after_name: str) -> list[ImportProblem]:
    """Two lookups of the same date (the same columns and year) that put a commissioner in two
    systems: each such code, naming both files and rows."""
    if not before.vintage or before.vintage != after.vintage:
        return []
    return [ImportProblem(after.rows.get(code), after.code_column, (
        f"{after_name} (--after-lookup): {code} is in system {record.system} here, but in "
        f"{before.commissioners[code].system} in {before_name} (--before-lookup) row {before.rows.get(code)}, a "
        f"lookup of the same date ({after.vintage}): a commissioner is in one system at a time"))
        for code, record in sorted(after.commissioners.items())
        if code in before.commissioners and before.commissioners[code].system != record.system]


def load(before: Path, after: Path, before_lookup: Path, after_lookup: Path, *, since: dt.date,
         after_lookup_from: dt.date | None = None) -> LineageReport:
    limit = current_app.config["MAX_IMPORT_BYTES"]
    practices = lambda data: parse_epraccur(decode(data, limit, columns=EPRACCUR_FIELDS))  # noqa: E731
    lookup = lambda data: read_organisations(decode(data, limit, header=True))  # noqa: E731
    old, new = _read(before, practices, "--before"), _read(after, practices, "--after")
    old_org, new_org = _read(before_lookup, lookup, "--before-lookup"), _read(after_lookup, lookup, "--after-lookup")
    contradictions = _same_date_contradictions(old_org, new_org, before_lookup.name, after_lookup.name)
    if contradictions:
        raise ImportFailed(contradictions)
    opened = lambda records: {r.code: r for r in records if r.is_gp_practice and r.status == "open"}  # noqa: E731
    old_open, new_open = opened(old), opened(new)
    joined = {code: r.joined for code, r in new_open.items()}
    links = commissioner_links({c: r.commissioner_code for c, r in old_open.items()},
                               {c: r.commissioner_code for c, r in new_open.items()}, joined, since)
    systems = system_links(links, {c.code: c.system for c in old_org.commissioners.values()},
                           {c.code: c.system for c in new_org.commissioners.values()})
    source = f"{before.name} -> {after.name}"
    snapshot = lambda records: {c: Snapshot(r.commissioner_code, r.joined, r.close_date)  # noqa: E731
                                for c, r in records.items()}
    organisations = lambda org: {c.code: Organisation(c.kind, c.system)  # noqa: E731
                                 for c in org.commissioners.values()}
    history = commissioner_history(
        snapshot(_practices(old)), snapshot(_practices(new)),
        organisations(old_org), organisations(new_org), old_org.era, new_org.era, after_lookup_from)

    def work() -> LineageReport:
        db.session.execute(delete(OrganisationLink).where(OrganisationLink.source == source[:200]))
        for link in links + systems:
            db.session.add(OrganisationLink(level=link.level, before=link.before, after=link.after,
                                            relation=link.relation, effective=link.effective,
                                            evidence=link.evidence[:500], source=source[:200]))
        periods = memberships.store_commissioner_history(history, source)
        changed = [link for link in links + systems if link.relation != "continued_as"]
        audit.record(action="organisation.lineage", object_type="lineage", object_id=source[:60],
                     after={"commissioner_links": len(links), "system_links": len(systems), "changes": len(changed),
                            "commissioner_periods": periods})
        return LineageReport(source, len(links), len(systems), changed, periods)

    return transaction(source, work)


def _practices(records) -> dict:
    """The GP practices of an epraccur file (open or closed) by code."""
    return {r.code: r for r in records if r.is_gp_practice}


def of_codes(codes: set[str]) -> tuple[list[OrganisationLink], list[OrganisationLink]]:
    """(links leading to these codes, links leading from them)."""
    into = list(db.session.scalars(select(OrganisationLink).where(OrganisationLink.after.in_(codes))
                                   .order_by(OrganisationLink.level.desc(), OrganisationLink.before)))
    out = list(db.session.scalars(select(OrganisationLink).where(OrganisationLink.before.in_(codes))
                                  .order_by(OrganisationLink.level.desc(), OrganisationLink.after)))
    return into, out
