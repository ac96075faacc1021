"""Onboarding: set up any system (or all of England) for a contract year from the national files.

``onboard`` reads each file once and checks them all before anything is written: the
organisation lookup (systems and commissioners, either era), the LSOA lookup (local authorities
and how much of each a commissioner covers), epraccur (practices), the registered-patient file
(list sizes, either header layout) and the configuration (the ePCN workbook in either layout, or
the practice map). Files of different eras, an unknown system code (with the nearest names), a
practices file with no practice of a system or a round name used by another system are refused
naming the file, row and column; nothing is written.

Then it writes the organisations (every system and commissioner of the lookup, with their
local-authority overlaps: one transaction) and, per system, one transaction: places (one per
commissioner when the system has none), practices, list sizes, the round (dates, band and rates
from the contract-year file), its PCNs and the grouping as a configuration version. A PCN belongs
to the system of its lead commissioner and all its members come with it, also a practice
commissioned in a neighbouring system (the ``member_other_system`` rule names it). A second run
with the same files changes nothing; a newer organisation file renames and records the change
in the audit trail.
"""
from __future__ import annotations

import datetime as dt
import difflib
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from flask import current_app
from sqlalchemy import select

from ..domain import rules as rules_mod
from ..domain.contract_years import ContractYear
from ..domain.dates import uk_date
from ..domain.memberships import configuration_date
from ..domain.versioning import ConfigState, changes_between
from ..extensions import db
from ..importers import groupings
from ..importers.csvio import ImportFailed, ImportProblem, check_size, decode
from ..importers.epcn import read_workbook
from ..importers.epraccur import FIELDS as EPRACCUR_FIELDS
from ..importers.epraccur import STATUS, PracticeRecord, parse_epraccur
from ..importers.list_sizes import ListSizeRecord, parse_list_sizes
from ..importers.organisations import ERA_TITLE, Areas, Organisations, SystemRecord, read_areas, read_organisations
from ..models import (
    Commissioner,
    CommissionerArea,
    FundingRate,
    ListSize,
    LocalAuthority,
    Pcn,
    Place,
    Practice,
    RegistrationRound,
    System,
)
from . import audit, contract_years, memberships
from . import rounds as rounds_svc
from .imports import transaction

T = TypeVar("T")
#: A progress reporter: given a label and the items of a step, yields the items (the CLI draws a
#: bar on a terminal and prints plain lines otherwise; the default just yields).
Progress = Callable[[str, Sequence[T]], Iterable[T]]
AUTHOR = "pcnreg onboard"
#: Of the GP practices of the files, the share whose commissioner the organisation file must know
#: for the practices file to be of the same era.
SAME_ERA_SHARE = 0.5


def _quiet(label: str, items: Sequence[T]) -> Iterable[T]:
    return items


@dataclass
class Files:
    organisations: Path
    areas: Path
    practices: Path
    list_sizes: Path
    configuration: Path
    blocks: Path | None = None
    local_authorities: Path | None = None


@dataclass
class SystemSummary:
    code: str
    name: str
    round: str
    commissioners: int = 0
    practices: int = 0
    pcns: int = 0
    members: int = 0
    out_of_band: int = 0
    other_system_members: list[str] = field(default_factory=list)
    findings: Counter = field(default_factory=Counter)
    changed: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{self.name} ({self.code}), round {self.round!r}: {self.commissioners} commissioners, "
               f"{self.practices} practices, {self.pcns} PCNs ({self.out_of_band} outside the band), "
               f"{self.members} members"]
        if self.other_system_members:
            out.append(f"  members commissioned in another system: {', '.join(self.other_system_members)}")
        out.append("  " + ("; ".join(self.changed) if self.changed else "nothing changed"))
        if self.findings:
            out.append("  findings: " + ", ".join(f"{rule} {n}" for rule, n in sorted(self.findings.items())))
        return out


@dataclass
class OnboardReport:
    year: str
    era: str
    systems: list[SystemSummary] = field(default_factory=list)
    organisations_changed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    read_seconds: float = 0.0
    write_seconds: float = 0.0

    def lines(self) -> list[str]:
        out = [f"Onboarded {len(self.systems)} system{'s' if len(self.systems) != 1 else ''} for {self.year} "
               f"({ERA_TITLE[self.era]}); files read in {self.read_seconds:.1f} s, written in {self.write_seconds:.1f} s."]
        out.append("Organisations: " + ("; ".join(self.organisations_changed) or "nothing changed"))
        out += self.notes
        for summary in self.systems:
            out += summary.lines()
        total = Counter()
        for summary in self.systems:
            total.update(summary.findings)
        out.append(f"Total: {sum(s.commissioners for s in self.systems)} commissioners, "
                   f"{sum(s.practices for s in self.systems)} practices, {sum(s.pcns for s in self.systems)} PCNs, "
                   f"{sum(len(s.other_system_members) for s in self.systems)} members from other systems")
        if total:
            out.append("Findings by rule: " + ", ".join(f"{rules_mod.RULE_TITLES.get(r, r)} {n}"
                                                        for r, n in sorted(total.items())))
        return out


@dataclass
class Inputs:
    organisations: Organisations
    areas: Areas
    practices: dict[str, PracticeRecord]      # every row of epraccur: a PCN member may be another setting
    list_sizes: list[ListSizeRecord]
    list_size_era: str | None
    grouping: groupings.Grouping
    source: dict[str, str]


# --- reading -----------------------------------------------------------------------------------

def _bytes(path: Path) -> bytes:
    try:
        check_size(path.stat().st_size, current_app.config["MAX_IMPORT_BYTES"])
        return path.read_bytes()
    except OSError as exc:
        raise ImportFailed([ImportProblem(None, None, f"cannot read the file: {exc.strerror}")]) from None


def _list_size_era(text: str) -> str | None:
    header = text.lstrip("\ufeff").split("\n", 1)[0].upper()
    if "SUB_ICB_LOCATION_CODE" in header:
        return "sub_icb"
    return "ccg" if "CCG_CODE" in header else None


def _read_configuration(path: Path, data: bytes) -> groupings.Grouping:
    if data.startswith(b"PK\x03\x04") or path.suffix.lower() == ".xlsx":
        return groupings.from_workbook(read_workbook(data, current_app.config["MAX_IMPORT_BYTES"]))
    text = decode(data, current_app.config["MAX_IMPORT_BYTES"], header=True)
    return groupings.read_practice_map(text)


def read_inputs(files: Files, progress: Progress = _quiet) -> Inputs:
    """Every file read once and checked; ``ImportFailed`` lists the problems of all of them, each
    named by its file."""
    problems: list[ImportProblem] = []
    results: dict[str, object] = {}
    limit = current_app.config["MAX_IMPORT_BYTES"]
    steps: list[tuple[str, Path, Callable[[bytes], object]]] = [
        ("organisations", files.organisations, lambda b: read_organisations(decode(b, limit, header=True))),
        ("areas", files.areas, lambda b: read_areas(decode(b, limit, header=True))),
        ("practices", files.practices, lambda b: parse_epraccur(decode(b, limit, columns=EPRACCUR_FIELDS))),
        ("list_sizes", files.list_sizes, lambda b: (lambda t: (parse_list_sizes(t), _list_size_era(t)))(
            decode(b, limit, header=True))),
        ("configuration", files.configuration, lambda b: _read_configuration(files.configuration, b)),
    ]
    for option, path, read in progress("Reading the files", steps):
        try:
            results[option] = read(_bytes(path))
        except ImportFailed as exc:
            problems += [ImportProblem(p.row, p.field, f"{path.name} (--{option.replace('_', '-')}): {p.message}")
                         for p in exc.problems]
    if problems:
        raise ImportFailed(problems)
    sizes, size_era = results["list_sizes"]  # type: ignore[misc]
    return Inputs(results["organisations"], results["areas"],  # type: ignore[arg-type]
                  {r.code: r for r in results["practices"]},  # type: ignore[union-attr]
                  sizes, size_era, results["configuration"],  # type: ignore[arg-type]
                  {k: p.name for k, p in (("organisations", files.organisations), ("areas", files.areas),
                                          ("practices", files.practices), ("list_sizes", files.list_sizes),
                                          ("configuration", files.configuration))})


def check_eras(inputs: Inputs, year: ContractYear) -> None:
    """Refuse files of different eras, or of an era the contract year did not have."""
    era = inputs.organisations.era
    problems = []
    named = {"areas": inputs.areas.era, "list_sizes": inputs.list_size_era, "configuration": inputs.grouping.era}
    for option, other in named.items():
        if other is not None and other != era:
            problems.append(ImportProblem(None, f"--{option.replace('_', '-')}", (
                f"{inputs.source[option]} is of the {ERA_TITLE[other]}, but {inputs.source['organisations']} is of the "
                f"{ERA_TITLE[era]}: files of different eras are mixed")))
    known = set(inputs.organisations.commissioners)
    practices = [r for r in inputs.practices.values() if r.is_gp_practice and r.status == "open"]
    matched = sum(r.commissioner_code in known for r in practices)
    if practices and matched < SAME_ERA_SHARE * len(practices):
        problems.append(ImportProblem(None, "--practices", (
            f"only {matched:,} of the {len(practices):,} open GP practices in {inputs.source['practices']} have a "
            f"commissioner of {inputs.source['organisations']}: files of different eras are mixed?")))
    if era not in year.eras:
        problems.append(ImportProblem(None, "--year", (
            f"{year.year} is not in the {ERA_TITLE[era]} of {inputs.source['organisations']}")))
    if problems:
        raise ImportFailed(problems)


def resolve_systems(organisations: Organisations, codes: Sequence[str]) -> list[SystemRecord]:
    """The systems named (ONS or ODS codes, or ``all``), or ``ImportFailed`` suggesting names."""
    if [c.strip().lower() for c in codes] == ["all"]:
        return sorted(organisations.systems.values(), key=lambda s: s.code)
    out, problems = [], []
    for code in codes:
        found = organisations.find_system(code)
        if found is None:
            names = {s.name: s for s in organisations.systems.values()}
            near = difflib.get_close_matches(code, list(names), n=3, cutoff=0.3)
            near += [s.name for s in organisations.systems.values()
                     if code.strip().upper()[:5] and s.code.startswith(code.strip().upper()[:5]) and s.name not in near][:3]
            hint = "; nearest: " + ", ".join(f"{names[n].code} {names[n].name}" for n in near[:3]) if near else ""
            problems.append(ImportProblem(None, "--system", f"{code[:40]!r} is not a system of the organisation file{hint}"))
        elif found not in out:
            out.append(found)
    if problems:
        raise ImportFailed(problems)
    return out


def round_name(pattern: str, system: SystemRecord, several: bool) -> str:
    pattern = (pattern or "").strip()
    if not pattern:
        raise ImportFailed([ImportProblem(None, "--round", "is empty")])
    if several and "{system}" not in pattern:
        raise ImportFailed([ImportProblem(None, "--round", (
            "several systems are named, so the round name must contain {system} (replaced by each system's ONS code)"))])
    return pattern.replace("{system}", system.code)[:200]


# --- writing -----------------------------------------------------------------------------------

def _set(obj, values: dict) -> list[str]:
    changed = []
    for name, value in values.items():
        if getattr(obj, name) != value:
            changed.append(f"{name} {getattr(obj, name)!r} -> {value!r}")
            setattr(obj, name, value)
    return changed


def _upsert(model, rows: dict, records: list, values_of: Callable[[object], dict], source: str) -> str:
    """Add the records missing from ``rows`` (code -> model row), update the others where a value
    differs (an audit event names what changed); "N added, M changed"."""
    added = changed = 0
    for record in records:
        values = values_of(record)
        row = rows.get(record.code)
        if row is None:
            rows[record.code] = model(code=record.code, **values)
            db.session.add(rows[record.code])
            added += 1
        elif (differences := _set(row, values)):
            changed += 1
            audit.record(action="organisation.update", object_type=model.__tablename__, object_id=record.code,
                         after={"changes": differences, "source": source})
    db.session.flush()
    return f"{added} added, {changed} changed"


def check_lookup_history(inputs: Inputs) -> None:
    """Refuse a lookup that puts a commissioner in another system than a lookup of the same
    date loaded before did (same columns and year, e.g. two CCG19 lookups): a code cannot be in
    two systems at once. Lookups of other dates may move it (02Q: 2019 South Yorkshire and
    Bassetlaw, 2022 Nottingham and Nottinghamshire ICB)."""
    org = inputs.organisations
    if not org.vintage:
        return
    known = {c.code: c for c in db.session.scalars(select(Commissioner).where(
        Commissioner.lookup == org.vintage, Commissioner.code.in_(list(org.commissioners))))}
    problems = []
    for code, record in sorted(org.commissioners.items()):
        stored = known.get(code)
        if stored is not None and stored.system.code != record.system:
            problems.append(ImportProblem(org.rows.get(code), org.code_column, (
                f"{inputs.source['organisations']} (--organisations): {code} is in system {record.system} here, but "
                f"a {org.vintage} lookup loaded before puts it in {stored.system.code} ({stored.system.name}) at "
                "the same date: a commissioner is in one system at a time (nothing written)")))
    if problems:
        raise ImportFailed(problems)


def write_organisations(inputs: Inputs) -> list[str]:
    """Upsert every system and commissioner of the lookup, the local authorities and the
    commissioner x local authority overlaps (caller's transaction). Returns what changed."""
    org, areas = inputs.organisations, inputs.areas
    out = []
    source = inputs.source["organisations"]
    systems = {s.code: s for s in db.session.scalars(select(System))}
    out.append("systems " + _upsert(System, systems, sorted(org.systems.values(), key=lambda s: s.code), lambda r: {
        "name": r.name, "kind": r.kind,
        "ods_code": r.ods_code or (systems[r.code].ods_code if r.code in systems else None)}, source))
    commissioners = {c.code: c for c in db.session.scalars(select(Commissioner))}
    out.append("commissioners " + _upsert(
        Commissioner, commissioners, sorted(org.commissioners.values(), key=lambda c: c.code),
        lambda r: {"name": r.name, "kind": r.kind, "ons_code": r.ons_code, "system_id": systems[r.system].id}, source))
    for code in org.commissioners:
        commissioners[code].lookup = org.vintage or None      # the date its system is known at

    las = {la.code: la for la in db.session.scalars(select(LocalAuthority))}
    la_added = 0
    for code, name in sorted(areas.local_authorities.items()):
        if code not in las:
            las[code] = LocalAuthority(code=code, name=name)
            db.session.add(las[code])
            la_added += 1
    db.session.flush()
    existing = {(a.commissioner_id, a.local_authority_id): a for a in db.session.scalars(select(CommissionerArea))}
    wanted: dict[tuple[int, int], int] = {}
    for (ods, lad), n in areas.overlaps().items():
        if ods in commissioners:
            wanted[(commissioners[ods].id, las[lad].id)] = n
    ours = {c.id for code, c in commissioners.items() if code in org.commissioners}
    overlap_changed = 0
    for key, n in wanted.items():
        row = existing.get(key)
        if row is None:
            db.session.add(CommissionerArea(commissioner_id=key[0], local_authority_id=key[1], lsoas=n,
                                            source=inputs.source["areas"][:200]))
            overlap_changed += 1
        elif row.lsoas != n:
            row.lsoas, row.source = n, inputs.source["areas"][:200]
            overlap_changed += 1
    for key, row in existing.items():
        if key[0] in ours and key not in wanted:
            db.session.delete(row)
            overlap_changed += 1
    db.session.flush()
    out.append(f"local authorities {la_added} added; commissioner x local authority overlaps {overlap_changed} changed")
    return out


def _places(system: System) -> list[str]:
    """One place per commissioner when the system has no place yet (the commissioner's data to
    change later)."""
    if system.places:
        for commissioner in system.commissioners:
            if commissioner.place_id is None and len(system.places) == 1:
                commissioner.place = system.places[0]
        return []
    made = []
    for commissioner in system.commissioners:
        place = Place(system_id=system.id, name=commissioner.name[:200])
        db.session.add(place)
        commissioner.place = place
        made.append(place.name)
    db.session.flush()
    db.session.refresh(system)
    return [f"{len(made)} places made, one per commissioner"] if made else []


def _round(system: System, name: str, year: ContractYear, inputs: Inputs) -> tuple[RegistrationRound, list[str]]:
    rnd = db.session.scalar(select(RegistrationRound).where(RegistrationRound.name == name))
    if rnd is not None:
        if rnd.system_id != system.id:
            raise ImportFailed([ImportProblem(None, "--round", (
                f"{name!r} is already a round of another system ({rnd.system.name}); choose another name"))])
        return rnd, []
    reference = reference_date(year, inputs)
    notes = []
    if year.value("reference_date") is None:
        notes.append(f"reference date not set for {year.year}: list sizes counted as at {reference.isoformat()} "
                     f"(the list-size file's date; change it on the round's settings page)")
    values = {k: year.value(k) for k in ("opens", "submission_deadline", "committee_date", "confirmation_date",
                                          "go_live", "schedule1_deadline")}
    rnd = RegistrationRound(name=name, system_id=system.id, reference_date=reference, contract_year=year.year,
                            band_min=year.value("band_min") or 30000, band_max=year.value("band_max") or 50000,
                            **values)
    db.session.add(rnd)
    db.session.flush()
    audit.record(action="round.create", object_type="round", object_id=str(rnd.id), round_id=rnd.id,
                 after={"name": name, "system": system.code, "contract_year": year.year,
                        "not_set": year.not_set()})
    # the funding table multiplies by registered lists: an adjusted-population rate is left out
    for spec in [r for r in year.funding_rates if r.population == "registered_list"]:
        exists = db.session.scalar(select(FundingRate).where(FundingRate.kind == spec.kind,
                                                             FundingRate.valid_from == spec.valid_from))
        if exists is None:
            db.session.add(FundingRate(kind=spec.kind, title=spec.title, amount=spec.amount, basis=spec.basis,
                                       valid_from=spec.valid_from, valid_to=spec.valid_to, source=spec.source))
    return rnd, [f"round created ({year.year})"] + notes


def reference_date(year: ContractYear, inputs: Inputs) -> dt.date:
    """A new round's reference date: the contract year's, else the list-size file's date, else
    1 April of the year."""
    reference = year.value("reference_date")
    if reference is None:
        dates = sorted({r.as_of for r in inputs.list_sizes if r.as_of})
        reference = dates[-1] if dates else dt.date(int(year.year[:4]), 4, 1)
    return reference


def date_grouping(inputs: Inputs, year: ContractYear) -> str | None:
    """A round's configuration is the memberships current on its reference date: an ePCN
    workbook's grouping is taken as on that date (``domain.memberships.configuration_date``: its
    first recorded date when every relationship it records starts later). Returns a note."""
    book = inputs.grouping.book
    if book is None:
        return None
    reference = reference_date(year, inputs)
    periods = memberships.periods_from_workbook(book, inputs.source["configuration"])
    on = configuration_date(periods, reference)
    inputs.grouping = groupings.from_workbook(book, on=on)
    if on != reference:
        return (f"{inputs.source['configuration']}: no relationship is current on the reference date "
                f"{uk_date(reference)} (its relationships start later): the configuration it first records, "
                f"on {uk_date(on)}, is taken")
    return f"{inputs.source['configuration']}: the configuration current on the reference date {uk_date(reference)}"


@dataclass
class Plan:
    """What one system takes from the files, worked out (and checked) before anything is written."""

    record: SystemRecord
    round: str
    ours: set[str]                                   # the system's commissioners (ODS codes)
    pcns: list[groupings.PcnRecord]
    members: dict[str, str]                          # practice code -> PCN code
    practices: list[PracticeRecord]                  # the system's open practices and every member


def plan_system(record: SystemRecord, round_label: str, inputs: Inputs) -> Plan:
    """The system's PCNs (by lead commissioner), their members and the practices to write, or
    ``ImportFailed`` (a member missing from the practices file, no practice of the system...)."""
    org = inputs.organisations
    ours = {c.code for c in org.commissioners_of(record.code)}
    pcns = inputs.grouping.pcns_of(ours)
    pcn_codes = {p.code for p in pcns}
    members = {code: pcn for code, pcn in inputs.grouping.members.items() if pcn in pcn_codes}
    wanted = [r for r in inputs.practices.values() if r.commissioner_code in ours
              and ((r.is_gp_practice and r.status == "open") or r.code in members)]
    problems = []
    missing = sorted(code for code in members if code not in inputs.practices)
    if missing:
        problems.append(ImportProblem(None, "--practices", (
            f"{inputs.source['practices']} has no GP practice {', '.join(missing[:20])}"
            f"{' and more' if len(missing) > 20 else ''}: member{'s' if len(missing) > 1 else ''} of "
            f"{record.name}'s PCNs in {inputs.source['configuration']}")))
    wanted += [inputs.practices[code] for code in sorted(members)
               if code in inputs.practices and inputs.practices[code].commissioner_code not in ours]
    if not any(r.commissioner_code in ours and r.is_gp_practice for r in wanted):
        problems.append(ImportProblem(None, "--practices", (
            f"{inputs.source['practices']} has no open GP practice of {record.name} "
            f"(commissioners {', '.join(sorted(ours)) or 'none'})")))
    unknown = sorted({r.commissioner_code for r in wanted if r.commissioner_code not in org.commissioners})
    if unknown:
        problems.append(ImportProblem(None, "--organisations", (
            f"{inputs.source['organisations']} has no commissioner {', '.join(unknown)}, which commissions members "
            f"of {record.name}'s PCNs")))
    if problems:
        raise ImportFailed(problems)
    return Plan(record, round_label, ours, pcns, members, wanted)


def _read_boundaries(files: Files, inputs: Inputs, plans: list[Plan]):
    """The boundary files, checked against the lookup's era and LSOA vintage (before any write)."""
    from .onboard_geography import read_boundaries

    name = files.blocks.name  # type: ignore[union-attr]
    vintage = re.search(r"lsoa(\d\d)", name.lower())
    if vintage and vintage.group(1) != inputs.areas.vintage:
        raise ImportFailed([ImportProblem(None, "--blocks", (
            f"{name} looks like LSOA 20{vintage.group(1)} boundaries, but {inputs.source['areas']} is an LSOA "
            f"20{inputs.areas.vintage} lookup: files of different eras are mixed"))])
    commissioners = set().union(*(plan.ours for plan in plans))
    try:
        return read_boundaries(files.blocks, files.local_authorities, inputs.areas, commissioners)  # type: ignore[arg-type]
    except ImportFailed as exc:
        option = "--blocks" if exc.source == name else "--local-authorities"
        raise ImportFailed([ImportProblem(p.row, p.field, f"{exc.source} ({option}): {p.message}")
                            for p in exc.problems]) from None


def write_system(plan: Plan, year: ContractYear, inputs: Inputs, boundaries=None) -> SystemSummary:
    """Practices, list sizes, round, PCNs and the grouping of one system (caller's transaction)."""
    system = db.session.scalar(select(System).where(System.code == plan.record.code))
    assert system is not None  # written by write_organisations
    summary = SystemSummary(system.code, system.name, plan.round)
    commissioners = {c.code: c for c in db.session.scalars(select(Commissioner))}
    ours, pcns, members, wanted = plan.ours, plan.pcns, plan.members, plan.practices
    grouping = inputs.grouping
    round_label = plan.round
    summary.commissioners = len(ours)
    summary.changed += _places(system)

    existing = {p.code: p for p in db.session.scalars(select(Practice).where(
        Practice.code.in_([r.code for r in wanted])))}
    added = changed = 0
    for r in sorted(wanted, key=lambda r: r.code):
        values = {"name": r.name, "postcode": r.postcode, "commissioner_id": commissioners[r.commissioner_code].id,
                  "status": r.status or STATUS.get(r.ods_status_code, "closed"), "ods_status_code": r.ods_status_code,
                  "open_date": r.open_date, "close_date": r.close_date}
        practice = existing.get(r.code)
        if practice is None:
            existing[r.code] = Practice(code=r.code, **values)
            db.session.add(existing[r.code])
            added += 1
        elif _set(practice, values):
            changed += 1
    db.session.flush()
    if added or changed:
        summary.changed.append(f"practices {added} added, {changed} changed")
    summary.practices = sum(r.commissioner_code in ours for r in wanted)
    others = sorted(r.code for r in wanted if not r.is_gp_practice)
    if others:
        summary.changed.append(f"PCN members of another prescribing setting kept: {', '.join(others)}")
    summary.other_system_members = sorted(f"{r.code} ({r.commissioner_code})" for r in wanted
                                          if r.commissioner_code not in ours)

    ids = {code: p.id for code, p in existing.items()}
    sizes = {(s.practice_id, s.as_of): s for s in db.session.scalars(
        select(ListSize).where(ListSize.practice_id.in_(list(ids.values()))))}
    size_changes = 0
    for s in inputs.list_sizes:
        if s.skip_reason or s.code not in ids:
            continue
        row = sizes.get((ids[s.code], s.as_of))
        if row is None:
            db.session.add(ListSize(practice_id=ids[s.code], as_of=s.as_of, size=s.size,
                                    source=inputs.source["list_sizes"][:200]))
            size_changes += 1
        elif row.size != s.size:
            row.size = s.size
            size_changes += 1
    db.session.flush()
    if size_changes:
        summary.changed.append(f"list sizes {size_changes} added or changed")

    rnd, notes = _round(system, round_label, year, inputs)
    summary.changed += notes
    by_code = {p.code: p for p in db.session.scalars(select(Pcn).where(Pcn.round_id == rnd.id))}
    for spec in pcns:
        pcn = by_code.get(spec.code)
        lead = commissioners[spec.commissioner]
        if pcn is None:
            by_code[spec.code] = Pcn(round_id=rnd.id, name=spec.name[:200],
                                     code=spec.code if len(spec.code) == 6 else None,
                                     place_id=lead.place_id, lead_commissioner_id=lead.id, active=False)
            db.session.add(by_code[spec.code])
        else:
            pcn.lead_commissioner_id, pcn.place_id = lead.id, pcn.place_id or lead.place_id
    db.session.flush()                # the new PCNs in one statement: their ids are the configuration's keys
    keys = {spec.code: str(by_code[spec.code].id) for spec in pcns}
    from .configuration import _save, head_state

    desired = ConfigState({keys[p.code]: p.name[:200] for p in pcns},
                          {code: keys[pcn] for code, pcn in members.items()})
    current = head_state(rnd)
    if changes_between(current, desired):
        version = _save(rnd, desired, kind="import", author=AUTHOR,
                        reason=f"{grouping.source_kind} {inputs.source['configuration']} for {year.year}")
        summary.changed.append(f"configuration version {version.number}")
    db.session.flush()
    if boundaries is not None:
        from .onboard_geography import write_system as write_geography

        geo = write_geography(system, boundaries, inputs.areas)
        if geo.changed:
            summary.changed.append(f"geography: {geo.blocks.text()} blocks, {geo.local_authorities.text()} local "
                                   f"authority boundaries, {geo.practice_locations.text()} practice locations"
                                   + (f", {len(geo.repaired)} invalid polygons repaired" if geo.repaired else ""))
        if geo.without_location:
            summary.changed.append(f"{len(geo.without_location)} practices without a location")
    data = rounds_svc.build_configuration(rnd)
    summary.pcns = len(data.config.pcns)
    summary.members = sum(len(p.members) for p in data.config.pcns)
    summary.findings = Counter(f.rule for f in data.findings)
    summary.out_of_band = sum(1 for p in data.config.pcns if data.band(p.key) != "in_band"
                              and data.config.pcn_total(p) > 0)
    return summary


def _write_periods(inputs: Inputs) -> list[str]:
    """The ePCN workbook's relationships as dated memberships (the ended ones as history)."""
    if inputs.grouping.book is None:
        return []
    n = memberships.store_workbook(inputs.grouping.book, inputs.source["configuration"])
    return [f"membership periods {n} stored from {inputs.source['configuration']}"]


def onboard(codes: Sequence[str], *, year: str, round_pattern: str, files: Files,
            progress: Progress = _quiet) -> OnboardReport:
    """Set up the systems named (or ``["all"]``) for ``year`` from ``files`` (module docstring).
    ``ImportFailed`` before anything is written for bad input; each system is its own transaction."""
    try:
        spec = contract_years.load(year)
    except ValueError as exc:
        raise ImportFailed([ImportProblem(None, "--year", str(exc))]) from None
    start = time.perf_counter()
    inputs = read_inputs(files, progress)
    check_eras(inputs, spec)
    dated = date_grouping(inputs, spec)
    systems = resolve_systems(inputs.organisations, codes)
    names = {s.code: round_name(round_pattern, s, len(systems) > 1) for s in systems}
    taken = {r.name: r.system.code for r in db.session.scalars(select(RegistrationRound)
                                                                .where(RegistrationRound.name.in_(list(names.values()))))}
    clash = [ImportProblem(None, "--round", f"{name!r} is already a round of another system ({taken[name]})")
             for code, name in names.items() if name in taken and taken[name] != code]
    if clash:
        raise ImportFailed(clash)
    plans: list[Plan] = []
    problems: list[ImportProblem] = []
    for record in systems:
        try:
            plans.append(plan_system(record, names[record.code], inputs))
        except ImportFailed as exc:
            problems += exc.problems
    if problems:
        raise ImportFailed(problems)
    check_lookup_history(inputs)
    report = OnboardReport(spec.year, inputs.organisations.era, read_seconds=time.perf_counter() - start)
    if dated:
        report.notes.append(dated)
    boundaries = None
    if files.blocks is not None:
        boundaries = _read_boundaries(files, inputs, plans)
    elif files.local_authorities is not None:
        report.notes.append(f"--local-authorities {files.local_authorities.name}: not read without --blocks")
    if spec.not_set():
        report.notes.append(f"Not set by the {spec.year} contract-year file (the commissioner sets them): "
                            + ", ".join(spec.not_set()))
    start = time.perf_counter()
    report.organisations_changed = transaction(inputs.source["organisations"], lambda: write_organisations(inputs)
                                               + _write_periods(inputs))
    for plan in progress("Writing the systems", plans):
        report.systems.append(transaction(plan.record.code, lambda p=plan: write_system(p, spec, inputs, boundaries)))
    report.write_seconds = time.perf_counter() - start
    return report
