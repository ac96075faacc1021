"""What the web pages need beside the round and configuration services: view models built from a
loaded round (``RoundData``), filtering of the practice list and the findings CSV.

Nothing here writes to the database; the rules stay in ``pcnreg.domain`` and the edits in
``services.configuration``.
"""
from __future__ import annotations

import csv
import io
import re
import weakref
from dataclasses import dataclass, field

from sqlalchemy import select

from ..domain.summary import RoundSummary
from ..domain.towns import town_of
from ..domain.types import Finding
from ..domain.versioning import Comparison
from ..extensions import db
from ..importers.csvio import neutralise
from ..models import ConfigVersion, Pcn, RegistrationRound
from . import rounds as rounds_svc
from .configuration import MovePreview

FINDING_COLUMNS = ["rule", "severity", "subject_type", "subject_code", "subject_name", "message"]


# --- the round being looked at -------------------------------------------------------------------

def round_or_none(round_id: int | None) -> RegistrationRound | None:
    """The round with this id, else the most recent round, else None (for navigation links)."""
    if round_id is not None:
        rnd = db.session.get(RegistrationRound, round_id)
        if rnd is not None:
            return rnd
    try:
        return rounds_svc.get_round(None)
    except rounds_svc.NotFound:
        return None


def active_pcn(rnd: RegistrationRound, pcn_id: int) -> Pcn | None:
    """The PCN with this id if it is in the round's current configuration (not retired)."""
    pcn = db.session.get(Pcn, pcn_id)
    return pcn if pcn is not None and pcn.round_id == rnd.id and pcn.active else None


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "round"


# --- PCN rows (dashboard, merge choices) ---------------------------------------------------------

# Rows derived from a round's state alone are computed once per state (the state is immutable
# and cached per version: services.round_state) and shared by the requests that read it.
_PER_STATE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def per_state(data: rounds_svc.RoundData, name: str, make):
    """``make()`` computed once for the state of ``data`` (by ``name``) and shared: what it
    returns is read by every request of that state and must not be changed."""
    found = _PER_STATE.setdefault(data.state, {})
    if name not in found:
        found[name] = make()
    return found[name]


@dataclass(frozen=True)
class PcnRow:
    key: str
    name: str
    code: str | None
    place: str | None
    lead_commissioner: str | None
    members: int
    total: int
    band: str
    errors: int = 0
    warnings: int = 0
    infos: int = 0


def _counts(findings: list[Finding]) -> tuple[int, int, int]:
    return (sum(f.severity == "error" for f in findings), sum(f.severity == "warning" for f in findings),
            sum(f.severity == "info" for f in findings))


def pcn_row(data: rounds_svc.RoundData, key: str) -> PcnRow:
    pcn = data.pcn_data(key)
    errors, warnings, infos = _counts(data.findings_for_pcn(key))
    return PcnRow(key, pcn.name, pcn.code, pcn.place, pcn.lead_commissioner, len(pcn.members),
                  data.pcn_total(key), data.band(key), errors, warnings, infos)


def pcn_rows(data: rounds_svc.RoundData) -> list[PcnRow]:
    return list(per_state(data, "pcn_rows", lambda: [pcn_row(data, p.key) for p in data.config.pcns]))


@dataclass
class PlaceGroup:
    name: str | None
    pcns: list[PcnRow]
    summary: object | None = None       # the place's Summary, when there is one


def pcns_by_place(data: rounds_svc.RoundData) -> list[PlaceGroup]:
    """PCNs grouped by their place (places in name order, PCNs without a place last)."""
    rows = pcn_rows(data)
    summaries = {s.name: s for s in data.summary.places}
    by_place: dict[str, list[PcnRow]] = {}
    for r in rows:
        by_place.setdefault(r.place, []).append(r)
    names = sorted({r.place for r in rows if r.place} | set(summaries))
    groups = [PlaceGroup(n, by_place.get(n, []), summaries.get(n)) for n in names]
    orphans = [r for r in rows if not r.place]
    if orphans:
        groups.append(PlaceGroup(None, orphans))
    return groups


def practice_label(code: str) -> str:
    """ "Ashfield House (C84067)" for a known practice code, else the code."""
    from ..models import Practice

    name = db.session.scalar(select(Practice.name).where(Practice.code == code)) if code else None
    return f"{name} ({code})" if name else code


def commissioner_names(rnd: RegistrationRound) -> dict[str, str]:
    return {c.code: c.name for c in rnd.system.commissioners}


# --- practice list ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class PracticeRow:
    code: str
    name: str
    postcode: str | None
    commissioner: str
    place: str | None
    status: str
    list_size: int | None
    list_size_date: object | None
    pcn_key: str | None
    pcn_name: str | None


def practice_rows(data: rounds_svc.RoundData, *, q: str = "", place: str = "", commissioner: str = "",
                  pcn: str = "", assignment: str = "", band: str = "", status: str = "") -> list[PracticeRow]:
    """Practices of a round, filtered; unassigned practices first, then by name.

    ``q`` matches a fragment of the name, the ODS code (or a former code), the postcode, or a
    town: the post town of the practice's postcode district (``domain.towns``) or the name of
    its local authority, ignoring case; ``pcn`` is a PCN key or "none"; ``assignment`` is "",
    "assigned" or "unassigned"; ``band`` the band status of the practice's PCN ("in_band",
    "below", "above"); ``status`` "open" or "closed".
    """
    state = data.state
    needle = " ".join(q.split()).casefold()
    if pcn and pcn != "none":          # a PCN's own members: read only those
        members = set(state.pcn_by_key[pcn].members) if pcn in state.pcn_by_key else set()
        rows = [_practice_row(data, c) for c in members if c in data.config.practices]
        rows.sort(key=_LIST_ORDER)
    else:                              # every practice, in the list's order: once per state
        rows = per_state(data, "practice_rows", lambda: sorted(
            (_practice_row(data, c) for c in data.config.practices), key=_LIST_ORDER))
    out = []
    for row in rows:
        if needle:
            info = data.info.get(row.code)
            haystack = [row.name.casefold(), row.code.casefold()]
            if info is not None:
                haystack += [(info.postcode or "").casefold(), (info.other_codes or "").casefold(),
                             town_of(info.postcode).casefold(), (info.local_authority or "").casefold()]
            if not any(needle in h for h in haystack):
                continue
        if place and row.place != place:
            continue
        if commissioner and row.commissioner != commissioner:
            continue
        if pcn == "none" and row.pcn_key is not None:
            continue
        if assignment == "assigned" and row.pcn_key is None:
            continue
        if assignment == "unassigned" and row.pcn_key is not None:
            continue
        if band and (row.pcn_key is None or state.bands.get(row.pcn_key) != band):
            continue
        if status and row.status != status:
            continue
        out.append(row)
    return out


def _LIST_ORDER(r: PracticeRow) -> tuple:
    return (r.pcn_key is not None, r.name.casefold(), r.code)


def _practice_row(data: rounds_svc.RoundData, code: str) -> PracticeRow:
    practice = data.config.practices[code]
    info = data.info.get(code)
    key = data.state.pcn_of.get(code)
    return PracticeRow(code, practice.name, info.postcode if info else None, practice.commissioner, practice.place,
                       practice.status, practice.list_size, practice.list_size_date,
                       key, data.state.pcn_by_key[key].name if key else None)


# The columns the practice list sorts by (query string ``sort``), each with its key.
PRACTICE_SORTS = {
    "code": lambda r: (r.code,),
    "name": lambda r: (r.name.casefold(), r.code),
    "commissioner": lambda r: (r.commissioner, r.name.casefold(), r.code),
    "place": lambda r: (r.place is None, (r.place or "").casefold(), r.name.casefold(), r.code),
    "list_size": lambda r: (r.list_size is None, r.list_size or 0, r.code),
    "pcn": lambda r: (r.pcn_name is None, (r.pcn_name or "").casefold(), r.name.casefold(), r.code),
    "status": lambda r: (r.status, r.name.casefold(), r.code),
}
PAGE_SIZE = 50


@dataclass
class Page:
    rows: list
    number: int            # 1-based
    pages: int
    total: int
    first: int             # 1-based position of the first row shown (0 when none)
    last: int


def sort_and_page(rows: list, sort: str | None, direction: str | None, page: str | int | None,
                  size: int = PAGE_SIZE) -> tuple[Page, str, str]:
    """Rows sorted by a column of PRACTICE_SORTS (unknown: the list's own order) ascending or
    descending, and the page asked for (clamped to the pages there are; a page that is not a
    number is the first). Returns (page, sort used, direction used)."""
    sort = sort if sort in PRACTICE_SORTS else ""
    direction = "desc" if direction == "desc" else "asc"
    if sort:
        rows = sorted(rows, key=PRACTICE_SORTS[sort], reverse=direction == "desc")
    pages = max(1, -(-len(rows) // size))
    try:
        number = int(str(page)) if page not in (None, "") and len(str(page)) < 10 else 1
    except ValueError:
        number = 1
    number = min(max(number, 1), pages)
    chunk = rows[(number - 1) * size:number * size]
    first = (number - 1) * size + 1 if chunk else 0
    return Page(chunk, number, pages, len(rows), first, first + len(chunk) - 1 if chunk else 0), sort, direction


# --- move preview ------------------------------------------------------------------------------------

@dataclass
class Side:
    total: int
    band: str
    members: int
    findings: list[Finding]


@dataclass
class PreviewPcn:
    key: str
    name: str
    before: Side
    after: Side


@dataclass
class PreviewPractice:
    code: str
    name: str
    list_size: int | None
    from_name: str | None
    to_name: str | None
    findings_after: list[Finding] = field(default_factory=list)


@dataclass
class PreviewView:
    pcns: list[PreviewPcn]
    practices: list[PreviewPractice]
    before: RoundSummary
    after: RoundSummary


def _side(data: rounds_svc.RoundData, key: str) -> Side | None:
    """A PCN's totals and findings in ``data``; None when it has no such PCN (merged away, or not
    made yet by a split)."""
    if key not in data.state.pcn_by_key:
        return None
    return Side(data.pcn_total(key), data.band(key), len(data.pcn_data(key).members), data.findings_for_pcn(key))


def describe_preview(preview: MovePreview) -> PreviewView:
    """Before and after of each PCN a move touches, and of each practice moved."""
    before, after = preview.before, preview.after
    def pcn_name(key: str) -> str:
        data = after if key in after.state.pcn_by_key else before
        return data.pcn_data(key).name

    pcns = [PreviewPcn(key, pcn_name(key), _side(before, key), _side(after, key)) for key in preview.pcn_keys]

    def name_of(data: rounds_svc.RoundData, code: str) -> str | None:
        key = data.pcn_of(code)
        return data.pcn_data(key).name if key else None

    practices = []
    for code in dict.fromkeys(preview.codes):
        p = after.config.practices.get(code) or before.config.practices.get(code)
        practices.append(PreviewPractice(
            code, p.name if p else code, p.list_size if p else None, name_of(before, code), name_of(after, code),
            [f for f in after.findings if f.subject.type == "practice" and f.subject.code == code]))
    return PreviewView(pcns, practices, before.summary, after.summary)


# --- comparisons -------------------------------------------------------------------------------------

@dataclass
class MovedPractice:
    code: str
    name: str
    from_name: str | None
    to_name: str | None


def describe_comparison(comparison: Comparison, practice_names: dict[str, str]) -> list[MovedPractice]:
    """The practices moved, with PCN names instead of keys."""
    names = {d.key: d.name_after or d.name_before or d.key for d in comparison.pcns}
    return [MovedPractice(m.practice_code, practice_names.get(m.practice_code, m.practice_code),
                          names.get(m.from_pcn) if m.from_pcn else None,
                          names.get(m.to_pcn) if m.to_pcn else None)
            for m in comparison.moves]


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def describe_version(version: ConfigVersion) -> str:
    """What a version changed, in a sentence: "Moved 2 practices into Newark"."""
    changes = version.changes
    ids = {c.to_pcn_id for c in changes} | {c.from_pcn_id for c in changes} | {c.pcn_id for c in changes}
    ids.discard(None)
    names = {p.id: p.name for p in db.session.scalars(select(Pcn).where(Pcn.id.in_(ids)))} if ids else {}
    parts = []
    created = [c.new_name for c in changes if c.kind == "pcn_create"]
    renamed = [f"{c.old_name} to {c.new_name}" for c in changes if c.kind == "pcn_rename"]
    retired = [c.old_name or names.get(c.pcn_id, "?") for c in changes if c.kind == "pcn_retire"]
    moves = [c for c in changes if c.kind == "assign"]
    def listed(items: list[str], word: str = "PCN") -> str:
        return ", ".join(items) if len(items) <= 3 else _plural(len(items), word)

    if created:
        parts.append("created " + listed(created))
    if renamed:
        parts.append("renamed " + listed(renamed))
    if moves:
        targets = {c.to_pcn_id for c in moves}
        if len(targets) == 1:
            target = targets.pop()
            where = f"into {names.get(target, '?')}" if target is not None else "out of any PCN"
            parts.append(f"moved {_plural(len(moves), 'practice')} {where}")
        elif all(c.from_pcn_id is None for c in moves):
            parts.append(f"placed {_plural(len(moves), 'practice')} in {_plural(len(targets), 'PCN')}")
        else:
            parts.append(f"moved {_plural(len(moves), 'practice')} between {_plural(len(targets), 'PCN')}")
    if retired:
        parts.append("retired " + listed(retired))
    text = "; ".join(parts) or "no change"
    return text[0].upper() + text[1:]


def created_pcn_key(version: ConfigVersion) -> str | None:
    """The key of the PCN a create or split version brought in."""
    for change in version.changes:
        if change.kind == "pcn_create" and change.pcn_id is not None:
            return str(change.pcn_id)
    return None


# --- findings CSV ----------------------------------------------------------------------------------

def findings_csv(findings: list[Finding]) -> str:
    """Findings as CSV; every cell neutralised against formula injection."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FINDING_COLUMNS)
    for f in findings:
        writer.writerow([neutralise(str(v)) for v in (
            f.rule, f.severity, f.subject.type, f.subject.code or "", f.subject.name, f.message)])
    return out.getvalue()
