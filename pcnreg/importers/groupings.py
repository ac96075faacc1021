"""A system's PCN grouping from the national files, in one shape (pure: no Flask, no database).

Two sources give which practice is in which PCN:

- the ePCN workbook (``importers.epcn``, either layout): PCNs with their parent commissioner,
  core partners with start and end dates (a relationship with an end date, or a PCN with a close
  date, is not current);
- NHS Digital's practice map ``gp-reg-pat-prac-map.csv`` (``PRACTICE_CODE, PCN_CODE, PCN_NAME,
  SUB_ICB_LOCATION_CODE``...): the current practice -> PCN -> sub-ICB -> ICB map of England. It
  names no parent commissioner for a PCN, so the lead commissioner is the one most of its member
  practices have (ties: the lower code). A practice in no PCN has PCN_CODE "U" ("Unallocated").
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from ..domain.codes import is_pcn_code, is_practice_code
from ..domain.memberships import Period, configuration_on
from .csvio import ImportFailed, ImportProblem, parse_extract_date, read_rows
from .epcn import Workbook

#: The practice map's PCN_CODE for a practice in no PCN (PCN_NAME "Unallocated").
UNALLOCATED = "U"
MAP_COLUMNS = ("EXTRACT_DATE", "PRACTICE_CODE", "PRACTICE_NAME", "PCN_CODE", "PCN_NAME", "SUB_ICB_LOCATION_CODE")


@dataclass(frozen=True)
class PcnRecord:
    code: str
    name: str
    commissioner: str           # the PCN's parent (lead) commissioner, ODS code


@dataclass
class Grouping:
    """Current PCNs (by code) and practice -> PCN code; ``era`` "ccg" or "sub_icb"."""

    era: str
    source_kind: str                                               # "ePCN workbook" | "practice map"
    pcns: dict[str, PcnRecord] = field(default_factory=dict)
    members: dict[str, str] = field(default_factory=dict)
    practice_commissioner: dict[str, str] = field(default_factory=dict)   # as the source gives it
    as_of: dt.date | None = None
    ended: int = 0                                                 # relationships not current
    unallocated: list[str] = field(default_factory=list)          # practices the source puts in no PCN
    book: Workbook | None = None                                   # the ePCN workbook read (its dated relationships)

    def pcns_of(self, commissioners: set[str]) -> list[PcnRecord]:
        return sorted((p for p in self.pcns.values() if p.commissioner in commissioners), key=lambda p: p.code)


def from_workbook(book: Workbook, on: dt.date | None = None) -> Grouping:
    """The grouping of an ePCN workbook: its current relationships (no end date, PCN not closed),
    or with ``on`` the relationships current on that date (``domain.memberships``: started on or
    before it, ended on or after it, in a PCN not closed before it)."""
    out = Grouping(book.era, "ePCN workbook", as_of=on, book=book)
    by_ref = {p.ref: p for p in book.pcns}
    if on is None:
        closed = {p.ref for p in book.pcns if p.close_date is not None}
        taken = [p for p in book.partners if p.current and p.pcn not in closed]
    else:
        periods = {id(p): Period(p.practice_code, p.pcn, "", p.start_date,
                                 min((d for d in (p.end_date, by_ref[p.pcn].close_date) if d), default=None))
                   for p in book.partners}
        current = {(p.practice, p.pcn_code, p.start) for p in configuration_on(periods.values(), on)}
        taken = [p for p in book.partners if (p.practice_code, p.pcn, p.start_date) in current]
    out.ended = len(book.partners) - len(taken)
    for partner in taken:
        pcn = by_ref[partner.pcn]
        out.pcns.setdefault(pcn.code or pcn.ref, PcnRecord(pcn.code or pcn.ref, pcn.name, pcn.commissioner_code))
        out.members[partner.practice_code] = pcn.code or pcn.ref
        out.practice_commissioner[partner.practice_code] = partner.practice_commissioner_code
    return out


def read_practice_map(text: str) -> Grouping:
    """The grouping of a ``gp-reg-pat-prac-map`` CSV, or ``ImportFailed`` listing every problem."""
    problems: list[ImportProblem] = []
    rows = read_rows(text.lstrip("\ufeff"), problems)
    header_row, header = next(rows, (1, []))
    names = [h.strip() for h in header]
    missing = [c for c in MAP_COLUMNS if c not in names]
    if missing:
        raise ImportFailed([ImportProblem(header_row, c, "column is missing from the header (a practice map has "
                                                         + ", ".join(MAP_COLUMNS) + ")") for c in missing])
    index = {c: names.index(c) for c in MAP_COLUMNS}
    out = Grouping("sub_icb", "practice map")
    seen: dict[str, int] = {}
    names_of: dict[str, tuple[str, int]] = {}
    commissioners: dict[str, Counter[str]] = {}
    dates: set[dt.date] = set()
    for row, values in rows:
        if len(values) != len(names):
            problems.append(ImportProblem(row, "columns", f"has {len(values)} columns; the header has {len(names)}"))
            continue
        value = {c: values[i].strip() for c, i in index.items()}
        code, pcn, pcn_name, sub_icb = (value["PRACTICE_CODE"].upper(), value["PCN_CODE"].upper(),
                                        value["PCN_NAME"], value["SUB_ICB_LOCATION_CODE"].upper())
        before = len(problems)
        as_of = parse_extract_date(value["EXTRACT_DATE"], row, "EXTRACT_DATE", problems)
        if as_of:
            dates.add(as_of)
        if not is_practice_code(code):
            problems.append(ImportProblem(row, "PRACTICE_CODE", f"{code[:40]!r} is not a practice ODS code"))
        elif code in seen:
            problems.append(ImportProblem(row, "PRACTICE_CODE", f"{code} is listed twice (also row {seen[code]})"))
        if pcn == UNALLOCATED and is_practice_code(code) and code not in seen:
            seen[code] = row                      # published: a practice in no PCN
            out.practice_commissioner[code] = sub_icb
            out.unallocated.append(code)
            continue
        if not is_pcn_code(pcn):
            problems.append(ImportProblem(row, "PCN_CODE", f"{pcn[:40]!r} is not a PCN ODS code (U and 5 digits)"))
        if not pcn_name:
            problems.append(ImportProblem(row, "PCN_NAME", "is empty"))
        elif pcn in names_of and names_of[pcn][0] != pcn_name:
            problems.append(ImportProblem(row, "PCN_NAME", (
                f"{pcn} is named {pcn_name!r} here but {names_of[pcn][0]!r} on row {names_of[pcn][1]}")))
        if len(problems) > before:
            continue
        seen[code] = row
        names_of.setdefault(pcn, (pcn_name, row))
        out.members[code] = pcn
        out.practice_commissioner[code] = sub_icb
        commissioners.setdefault(pcn, Counter())[sub_icb] += 1
    if len(dates) > 1:
        problems.append(ImportProblem(None, "EXTRACT_DATE", "the file mixes extract dates: "
                                      + ", ".join(sorted(d.isoformat() for d in dates))))
    if not out.members and not problems:
        problems.append(ImportProblem(None, None, "the file has a header but no data rows"))
    if problems:
        raise ImportFailed(problems)
    out.as_of = next(iter(dates), None)
    for pcn, counts in commissioners.items():
        lead = min(counts, key=lambda c: (-counts[c], c))
        out.pcns[pcn] = PcnRecord(pcn, names_of[pcn][0], lead)
    return out
