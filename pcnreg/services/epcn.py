"""The ePCN workbook: a round's configuration in NHS Digital's layout, out and back in.

``export_xlsx`` / ``export_csv`` write the round's head configuration with the sheets and column
headers of the national ePCN.xlsx ("PCN Details", "PCN Core Partner Details"), then a few columns
of our own (place, system, list sizes); columns we do not know (dates, addresses) stay empty.
``import_workbook`` reads such a workbook (ours or NHS Digital's) back as one new version of a
round: see its docstring. ``describe_changes`` classifies what happened to the PCNs between two
versions (``domain.diff``) for the compare page.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from ..domain.diff import PcnDiff, classify
from ..extensions import db
from ..importers import epcn as reader
from ..importers.csvio import ImportFailed, ImportProblem, neutralise, write_csv
from ..models import Pcn, Practice, RegistrationRound
from . import configuration as config_svc
from . import memberships
from . import rounds as rounds_svc
from .imports import transaction

SHEETS = {"details": reader.DETAILS, "partners": reader.PARTNERS}
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Our columns after the national ones (an import ignores them).
DETAILS_EXTRA = ["Place", "System", "Member Practices", "Registered Patients", "List Size Reference Date"]
PARTNERS_EXTRA = ["Registered Patients", "List Size Date"]


# --- export -------------------------------------------------------------------------------------------

def _yyyymmdd(date) -> int | None:
    return int(date.strftime("%Y%m%d")) if date else None


def _sheets(rnd: RegistrationRound) -> dict[str, tuple[list[str], list[list]]]:
    """Header and rows of both sheets for the round's head configuration."""
    data = rounds_svc.build_configuration(rnd)
    details, partners = [], []
    for pcn in data.config.pcns:
        lead = data.pcns[pcn.key].lead_commissioner
        row = dict.fromkeys(reader.DETAILS_COLUMNS)
        row.update({"PCN Code": pcn.code, "PCN Name": pcn.name,
                    "Current Clinical Commissioning Group Code": lead.code if lead else None,
                    "Clinical Commissioning Group Name": lead.name if lead else None})
        details.append([*row.values(), pcn.place, rnd.system.name, len(pcn.members), data.config.pcn_total(pcn),
                        _yyyymmdd(rnd.reference_date)])
        for code in pcn.members:
            practice = data.practices[code]
            own = practice.commissioner
            info = data.config.practices.get(code)
            row = dict.fromkeys(reader.PARTNER_COLUMNS)
            row.update({"Partner Organisation Code": code, "Partner Name": practice.name,
                        "Practice Parent CCG Code": own.code, "Practice Parent CCG Name": own.name,
                        "PCN Code": pcn.code, "PCN Name": pcn.name,
                        "PCN Parent CCG Code": lead.code if lead else None,
                        "PCN Parent CCG Name": lead.name if lead else None,
                        "Practice CCG and PCN CCG match?": lead is not None and own.id == lead.id})
            partners.append([*row.values(), info.list_size if info else None,
                             _yyyymmdd(info.list_size_date) if info else None])
    return {"details": (reader.DETAILS_COLUMNS + DETAILS_EXTRA, details),
            "partners": (reader.PARTNER_COLUMNS + PARTNERS_EXTRA, partners)}


def _cell(value):
    """A cell safe to open: text is neutralised (openpyxl would store "=..." as a formula)."""
    return neutralise(value) if isinstance(value, str) else value


def export_xlsx(rnd: RegistrationRound) -> bytes:
    """The round's head configuration as an ePCN workbook (both sheets)."""
    from openpyxl import Workbook  # here: ~0.1 s to import, and only this export writes a workbook

    book = Workbook(write_only=True)
    for key, (header, rows) in _sheets(rnd).items():
        sheet = book.create_sheet(SHEETS[key])
        sheet.append(header)
        for row in rows:
            sheet.append([_cell(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def export_csv(rnd: RegistrationRound, sheet: str) -> str:
    """One sheet ("details" or "partners") of the ePCN export as CSV (cells neutralised)."""
    header, rows = _sheets(rnd)[sheet]
    return write_csv(rows, header)


# --- import -------------------------------------------------------------------------------------------

@dataclass
class EpcnImportSummary:
    config: config_svc.ConfigImportSummary
    partners: int                    # current partner rows in the workbook
    taken: int                       # of them, practices of the round's system
    outside: int                     # practices pcnreg knows, of other systems
    unknown: int                     # practices pcnreg does not know
    unknown_here: list[str]          # unknown practices whose parent CCG is one of the system's
    unassigned: list[str]            # practices of the system that are in no PCN of the workbook
    periods: int = 0                 # relationships stored as dated memberships (ended ones too)

    @property
    def version(self) -> int | None:
        return self.config.version

    def lines(self) -> list[str]:
        return [*self.config.lines(),
                f"  {self.partners:,} core partners in the workbook: {self.taken:,} practices of this system taken, "
                f"{self.outside:,} of other systems and {self.unknown:,} unknown to pcnreg left out",
                f"  Unknown practices of this system's CCGs: {', '.join(self.unknown_here) or 'none'}",
                f"  Practices of this system in no PCN of the workbook (unassigned): "
                f"{', '.join(self.unassigned) or 'none'}",
                f"  {self.periods:,} relationships of the workbook kept as dated memberships (ended ones too)"]


def _by_code(practices: list[Practice]) -> dict[str, Practice]:
    """Practices by ODS code, and by their former codes (``other_codes``) where no practice has it."""
    out = {p.code: p for p in practices}
    for p in practices:
        for old in filter(None, (p.other_codes or "").split(";")):
            out.setdefault(old, p)
    return out


def import_workbook(rnd: RegistrationRound, data: bytes, *, author: str, reason: str,
                    source: str = "upload") -> EpcnImportSummary:
    """Apply an ePCN workbook to ``rnd`` as ONE new version (nothing changes on any problem).

    Only practices of the round's system are taken (a practice is matched by its ODS code or a
    former code); core partners of other systems, or unknown to pcnreg, are counted, not
    refused. A workbook PCN with members here continues the round's PCN with the same PCN code,
    else the same name (ignoring case); otherwise it is created, led by its members' commonest
    commissioner and in that commissioner's place. PCNs of the round left without members are
    retired; practices of the system in no workbook PCN become unassigned.
    """
    book = reader.read_workbook(data, current_app.config["MAX_IMPORT_BYTES"])
    here = _by_code(rounds_svc.scope_practices(rnd))
    everywhere = _by_code(list(db.session.scalars(select(Practice))))
    system_ccgs = {c.code for c in rnd.system.commissioners}
    pcn_rows = {p.ref: p for p in book.pcns}

    problems: list[ImportProblem] = []
    members: dict[str, list[str]] = {}            # workbook PCN ref -> practice codes (ours)
    row_of: dict[str, int] = {}
    current = [p for p in book.partners if p.current]
    outside = unknown = 0
    unknown_here = []
    for partner in current:
        practice = here.get(partner.practice_code)
        if practice is None:
            if partner.practice_code in everywhere:
                outside += 1
            else:
                unknown += 1
                if partner.practice_commissioner_code in system_ccgs:
                    unknown_here.append(partner.practice_code)
            continue
        if practice.code in row_of:
            problems.append(ImportProblem(partner.row, reader.field_name(reader.PARTNERS, "Partner Organisation Code"),
                                          f"{partner.practice_code} is practice {practice.code}, a partner already "
                                          f"on row {row_of[practice.code]}"))
            continue
        row_of[practice.code] = partner.row
        members.setdefault(partner.pcn, []).append(practice.code)
    names: dict[str, int] = {}
    for ref in members:
        pcn = pcn_rows[ref]
        if pcn.name.casefold() in names:
            problems.append(ImportProblem(pcn.row, reader.field_name(reader.DETAILS, "PCN Name"),
                                          f"{pcn.name!r} is the name of another PCN of this system "
                                          f"(row {names[pcn.name.casefold()]})"))
        names[pcn.name.casefold()] = pcn.row
    if problems:
        raise ImportFailed(problems, source=source)

    round_pcns = list(db.session.scalars(
        select(Pcn).where(Pcn.round_id == rnd.id).order_by(Pcn.active.desc(), Pcn.id)))
    by_code: dict[str, Pcn] = {}
    by_name: dict[str, Pcn] = {}
    for p in round_pcns:
        if p.code:
            by_code.setdefault(p.code, p)
        by_name.setdefault(p.name.casefold(), p)
    taken: set[int] = set()
    wanted = []
    for ref, codes in sorted(members.items(), key=lambda item: pcn_rows[item[0]].row):
        pcn = pcn_rows[ref]
        existing = by_code.get(pcn.code) if pcn.code else None
        if existing is None or existing.id in taken:
            existing = by_name.get(pcn.name.casefold())
        if existing is not None and existing.id in taken:
            existing = None
        if existing is not None:
            taken.add(existing.id)
        wanted.append(config_svc.WantedPcn(pcn.name, codes, existing, pcn.code or None))
    def work() -> config_svc.ConfigImportSummary:
        try:
            saved = config_svc._save_grouping.__wrapped__(rnd, wanted, author=author, reason=reason, source=source,
                                                          replace=True)
        except config_svc.EditError as exc:
            raise ImportFailed([ImportProblem(None, None, str(exc))]) from exc
        stored.append(memberships.store_workbook(book, source))     # every relationship, ended ones as history
        return saved

    stored: list[int] = []
    summary = transaction(source, work)
    assigned = {c for w in wanted for c in w.members}
    return EpcnImportSummary(summary, len(current), len(assigned), outside, unknown, sorted(unknown_here),
                             sorted({p.code for p in here.values()} - assigned), stored[0])


# --- comparing versions -------------------------------------------------------------------------------

def describe_changes(rnd: RegistrationRound, a: int, b: int) -> PcnDiff:
    """What happened to the PCNs from version ``a`` to version ``b`` of ``rnd`` (merged, split,
    renamed...; see ``domain.diff``). Raises ``rounds.NotFound`` for an unknown version."""
    before = config_svc.state_of(rnd, config_svc.get_version(rnd, a).id)
    after = config_svc.state_of(rnd, config_svc.get_version(rnd, b).id)
    return classify(before, after)

