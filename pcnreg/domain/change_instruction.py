"""The ODS change instruction: what the commissioner tells NHS England (ODS) has changed in a
round's PCNs, one row per change, in the column names of the ePCN workbook's "PCN Core Partner
Details" sheet where they apply (its multi-line headers with the line breaks as spaces).

Two sources of change, both pure data here:
- the round's configuration against its predecessor's, when it was rolled forward: a PCN with no
  predecessor is a "new PCN", a predecessor PCN with no successor a "closed PCN", a practice
  whose PCN differs "leaves" the old one (the relationship ends the day before) and "joins" the
  new one (it starts on the date); these take effect from the start of the contract year;
- the in-year membership changes approved or applied: a "leave" and a "join" on their date;
- the changes of the PCNs' accepted annual returns (``domain.cycle``): a practice's "join" or
  "leave", a new "payee" practice or the PCN's "own account", a new "Clinical Director", a change
  of "network area" (the last three with their details: they have no ePCN relationship columns).
Dates are written as the ePCN writes them (YYYYMMDD).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# The "PCN Core Partner Details" headers these columns take their names from (ePCN, 2025).
CORE_PARTNER_HEADERS = {
    "Partner Organisation Code": "Partner\nOrganisation\nCode",
    "Partner Name": "Partner\nName",
    "PCN Code": "PCN Code",
    "PCN Name": "PCN Name",
    "Practice to PCN Relationship Start Date": "Practice to PCN\nRelationship\nStart Date",
    "Practice to PCN Relationship End Date": "Practice to PCN\nRelationship\nEnd Date",
    "Practice Parent Sub ICB Loc Code": "Practice\nParent\nSub ICB Loc Code",
    "Practice Parent Sub ICB Loc Name": "Practice\nParent\nSub ICB Loc Name",
    "PCN Parent Sub ICB Loc Code": "PCN Parent\nSub ICB Loc Code",
    "PCN Parent Sub ICB Loc Name": "PCN Parent\nSub ICB Loc Name",
}
# The ePCN's columns in its order, between the change's kind and its date, details and source.
COLUMNS = ("Change", "Partner Organisation Code", "Partner Name", "Practice Parent Sub ICB Loc Code",
           "Practice Parent Sub ICB Loc Name", "PCN Code", "PCN Name", "PCN Parent Sub ICB Loc Code",
           "PCN Parent Sub ICB Loc Name", "Practice to PCN Relationship Start Date",
           "Practice to PCN Relationship End Date", "Effective Date", "Details", "Source")
KINDS = ("new PCN", "closed PCN", "leave", "join", "payee", "own account", "Clinical Director", "network area")
#: an annual return's change kind (``domain.cycle.CHANGE_KINDS``) -> the instruction's
RETURN_KINDS = {"join": "join", "leave": "leave", "payee": "payee", "own_account": "own account",
                "clinical_director": "Clinical Director", "area": "network area"}


@dataclass(frozen=True)
class PcnRef:
    key: str                  # identity across the two rounds (the current round's PCN, where it goes on)
    code: str | None          # the PCN's ODS code, when known
    name: str
    sub_icb_code: str = ""    # the PCN's parent sub-ICB location (its lead commissioner)
    sub_icb_name: str = ""


@dataclass(frozen=True)
class Move:
    """An in-year membership change (approved or applied)."""

    practice: str
    before: PcnRef | None
    after: PcnRef
    effective: dt.date
    source: str


@dataclass(frozen=True)
class Row:
    change: str
    pcn: PcnRef
    practice: str | None
    effective: dt.date
    start: dt.date | None
    end: dt.date | None
    source: str
    details: str = ""


def ods_date(day: dt.date | None) -> str:
    return day.strftime("%Y%m%d") if day else ""


def _moves(practice: str, before: PcnRef | None, after: PcnRef | None, effective: dt.date, source: str) -> list[Row]:
    out = []
    if before is not None:
        out.append(Row("leave", before, practice, effective, None, effective - dt.timedelta(days=1), source))
    if after is not None:
        out.append(Row("join", after, practice, effective, effective, None, source))
    return out


def roll_forward_rows(before: Mapping[str, PcnRef], after: Mapping[str, PcnRef], before_pcns: Iterable[PcnRef],
                      after_pcns: Iterable[PcnRef], effective: dt.date) -> list[Row]:
    """The differences between the predecessor's grouping (``before``: practice -> PCN, keys
    already mapped to the PCNs that continue them) and the round's (``after``)."""
    source = "annual changes (against the predecessor round)"
    before_keys = {p.key for p in before_pcns}
    after_keys = {p.key for p in after_pcns}
    rows = [Row("new PCN", p, None, effective, effective, None, source) for p in after_pcns if p.key not in before_keys]
    rows += [Row("closed PCN", p, None, effective, None, effective - dt.timedelta(days=1), source)
             for p in before_pcns if p.key not in after_keys]
    for practice in sorted(set(before) | set(after)):
        old, new = before.get(practice), after.get(practice)
        if (old.key if old else None) != (new.key if new else None):
            rows += _moves(practice, old, new, effective, source)
    return rows


def in_year_rows(moves: Iterable[Move]) -> list[Row]:
    rows: list[Row] = []
    for m in moves:
        rows += _moves(m.practice, m.before, m.after, m.effective, m.source)
    return rows


@dataclass(frozen=True)
class ReturnChange:
    """A change of a PCN's accepted annual return."""

    kind: str                 # domain.cycle.CHANGE_KINDS
    pcn: PcnRef
    practice: str | None
    effective: dt.date
    details: str
    source: str


def return_rows(changes: Iterable[ReturnChange]) -> list[Row]:
    rows: list[Row] = []
    for c in changes:
        kind = RETURN_KINDS[c.kind]
        if kind == "join":
            rows.append(Row(kind, c.pcn, c.practice, c.effective, c.effective, None, c.source, c.details))
        elif kind == "leave":
            rows.append(Row(kind, c.pcn, c.practice, c.effective, None, c.effective - dt.timedelta(days=1), c.source,
                            c.details))
        else:
            rows.append(Row(kind, c.pcn, c.practice, c.effective, None, None, c.source, c.details))
    return rows


def ordered(rows: Iterable[Row]) -> list[Row]:
    """By date, then PCN, then kind (new PCNs first, closures last), then practice."""
    rank = {"new PCN": 0, "leave": 1, "join": 2, "payee": 3, "own account": 3, "Clinical Director": 4,
            "network area": 5, "closed PCN": 6}
    return sorted(rows, key=lambda r: (r.effective, rank[r.change], r.pcn.name.casefold(), r.practice or ""))


def table(rows: Iterable[Row], practice_names: Mapping[str, str],
          practice_sub_icb: Mapping[str, tuple[str, str]] | None = None) -> list[list[str]]:
    """The rows as the CSV's cells, in ``COLUMNS`` order (``practice_sub_icb``: practice code ->
    its parent sub-ICB location's code and name)."""
    parents = practice_sub_icb or {}
    out = []
    for r in rows:
        parent = parents.get(r.practice, ("", "")) if r.practice else ("", "")
        out.append([r.change, r.practice or "", practice_names.get(r.practice, "") if r.practice else "",
                    parent[0], parent[1], r.pcn.code or "", r.pcn.name, r.pcn.sub_icb_code, r.pcn.sub_icb_name,
                    ods_date(r.start), ods_date(r.end), ods_date(r.effective), r.details, r.source])
    return out
