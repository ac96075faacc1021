"""Organisation lineage from the national files (``domain.lineage``): read two epraccur files
and the two eras' organisation lookups, store the links (``OrganisationLink``) in one
transaction, replacing the links of the same two sources; `pcnreg organisations lineage` and
the system page show them."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import delete, select

from ..domain.lineage import Link, commissioner_links, system_links
from ..extensions import db
from ..importers.csvio import ImportFailed, ImportProblem, decode
from ..importers.epraccur import FIELDS as EPRACCUR_FIELDS
from ..importers.epraccur import parse_epraccur
from ..importers.organisations import read_organisations
from ..models import OrganisationLink
from . import audit
from .imports import transaction

RELATION_TITLES = {"continued_as": "continued as", "renamed_to": "renamed to", "merged_into": "merged into",
                   "split_into": "split into", "became": "became", "moved_to": "part moved to"}


@dataclass
class LineageReport:
    source: str
    commissioner_links: int
    system_links: int
    changes: list[Link]

    def lines(self) -> list[str]:
        out = [f"Lineage from {self.source}: {self.commissioner_links} commissioner links, "
               f"{self.system_links} system links."]
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


def load(before: Path, after: Path, before_lookup: Path, after_lookup: Path, *, since: dt.date) -> LineageReport:
    limit = current_app.config["MAX_IMPORT_BYTES"]
    practices = lambda data: parse_epraccur(decode(data, limit, columns=EPRACCUR_FIELDS))  # noqa: E731
    lookup = lambda data: read_organisations(decode(data, limit, header=True))  # noqa: E731
    old, new = _read(before, practices, "--before"), _read(after, practices, "--after")
    old_org, new_org = _read(before_lookup, lookup, "--before-lookup"), _read(after_lookup, lookup, "--after-lookup")
    opened = lambda records: {r.code: r for r in records if r.is_gp_practice and r.status == "open"}  # noqa: E731
    old_open, new_open = opened(old), opened(new)
    joined = {code: r.joined for code, r in new_open.items()}
    links = commissioner_links({c: r.commissioner_code for c, r in old_open.items()},
                               {c: r.commissioner_code for c, r in new_open.items()}, joined, since)
    systems = system_links(links, {c.code: c.system for c in old_org.commissioners.values()},
                           {c.code: c.system for c in new_org.commissioners.values()})
    source = f"{before.name} -> {after.name}"

    def work() -> LineageReport:
        db.session.execute(delete(OrganisationLink).where(OrganisationLink.source == source[:200]))
        for link in links + systems:
            db.session.add(OrganisationLink(level=link.level, before=link.before, after=link.after,
                                            relation=link.relation, effective=link.effective,
                                            evidence=link.evidence[:500], source=source[:200]))
        changed = [link for link in links + systems if link.relation != "continued_as"]
        audit.record(action="organisation.lineage", object_type="lineage", object_id=source[:60],
                     after={"commissioner_links": len(links), "system_links": len(systems), "changes": len(changed)})
        return LineageReport(source, len(links), len(systems), changed)

    return transaction(source, work)


def of_codes(codes: set[str]) -> tuple[list[OrganisationLink], list[OrganisationLink]]:
    """(links leading to these codes, links leading from them)."""
    into = list(db.session.scalars(select(OrganisationLink).where(OrganisationLink.after.in_(codes))
                                   .order_by(OrganisationLink.level.desc(), OrganisationLink.before)))
    out = list(db.session.scalars(select(OrganisationLink).where(OrganisationLink.before.in_(codes))
                                  .order_by(OrganisationLink.level.desc(), OrganisationLink.after)))
    return into, out
