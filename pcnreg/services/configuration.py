"""Changing a round's grouping. Every saved change is a new version (one transaction).

A version stores its changes (``ConfigChange``); the state of any version is derived by replay
(``domain.versioning``). ``Membership`` and ``Pcn.active``/``Pcn.name`` mirror the head.
"""
from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import asdict, dataclass, field

from flask import current_app
from sqlalchemy import delete, select

from ..domain import edits
from ..domain.codes import is_pcn_code, is_practice_code
from ..domain.deadlines import change_takes_effect
from ..domain.versioning import Change, Comparison, ConfigState, changes_between, compare, replay
from ..extensions import db
from ..importers.csvio import ImportFailed, ImportProblem, decode, neutralise
from ..models import (
    Commissioner,
    ConfigChange,
    ConfigVersion,
    Membership,
    Pcn,
    Place,
    Practice,
    Registration,
    RegistrationRound,
)
from . import areas, audit, clock
from . import rounds as rounds_svc
from .transactions import insert_rows, one_transaction

EditError = edits.EditError


# --- reading versions -------------------------------------------------------------------------

def versions(rnd: RegistrationRound) -> list[ConfigVersion]:
    return list(db.session.scalars(select(ConfigVersion).where(ConfigVersion.round_id == rnd.id)
                                   .order_by(ConfigVersion.number.desc())))


def get_version(rnd: RegistrationRound, number: int) -> ConfigVersion:
    v = db.session.scalar(select(ConfigVersion).where(ConfigVersion.round_id == rnd.id,
                                                      ConfigVersion.number == number))
    if v is None:
        raise rounds_svc.NotFound(f"No version {number} of {rnd.name}")
    return v


def _to_change(row: ConfigChange) -> Change:
    str_or_none = lambda v: None if v is None else str(v)  # noqa: E731
    return Change(row.kind, row.practice_code, str_or_none(row.from_pcn_id), str_or_none(row.to_pcn_id),
                  str_or_none(row.pcn_id), row.old_name, row.new_name)  # type: ignore[arg-type]


def state_of(rnd: RegistrationRound, version_id: int | None) -> ConfigState:
    """Derive a version's state: two queries, then replay of its ancestry (root first)."""
    if version_id is None:
        return ConfigState()
    parents = dict(db.session.execute(
        select(ConfigVersion.id, ConfigVersion.parent_id).where(ConfigVersion.round_id == rnd.id)).all())
    chain = []
    vid: int | None = version_id
    while vid is not None:
        chain.append(vid)
        vid = parents[vid]
    by_version: dict[int, list[Change]] = {v: [] for v in chain}
    for row in db.session.scalars(select(ConfigChange).where(ConfigChange.version_id.in_(chain))
                                  .order_by(ConfigChange.version_id, ConfigChange.seq)):
        by_version[row.version_id].append(_to_change(row))
    return replay(by_version[v] for v in reversed(chain))


def head_state(rnd: RegistrationRound) -> ConfigState:
    """The head state, read from the materialised tables (cheap)."""
    pcns = {str(p.id): p.name for p in db.session.scalars(
        select(Pcn).where(Pcn.round_id == rnd.id, Pcn.active.is_(True)))}
    rows = db.session.execute(select(Practice.code, Membership.pcn_id).join(Membership.practice)
                              .where(Membership.round_id == rnd.id)).all()
    return ConfigState(pcns, {code: str(pid) for code, pid in rows})


# --- saving a version --------------------------------------------------------------------------

def _refuse_after_go_live(rnd: RegistrationRound) -> None:
    """Once a round's PCNs are live, its grouping is no longer edited directly: a membership
    change needs 28 days' notice and the commissioner's approval and takes effect from the start
    of the next quarter. (Imports of the national record are still taken: they record what was
    registered, e.g. NHS Digital's ePCN workbook.)"""
    live = db.session.scalar(select(Registration.id).where(Registration.round_id == rnd.id,
                                                           Registration.state == "live").limit(1))
    if live is None:
        return
    from zoneinfo import ZoneInfo

    today = clock.now().astimezone(ZoneInfo(rnd.timezone)).date()
    effective = change_takes_effect(today)
    raise EditError(f"{rnd.name} has gone live, so its PCNs cannot be edited here. A membership change now "
                    f"needs 28 days' notice and the commissioner's approval, and takes effect from the start "
                    f"of the next quarter: {effective.day} {effective:%B %Y} for notice given today")


def _save(rnd: RegistrationRound, desired: ConfigState, *, kind: str, author: str, reason: str) -> ConfigVersion:
    """Store ``desired`` as the new head: the version, its changes and the materialised state.
    The caller commits (or rolls back)."""
    if kind not in ("import", "scheduled"):      # scheduled: an approved change after go-live
        _refuse_after_go_live(rnd)
    author, reason = (author or "").strip(), (reason or "").strip()
    if not author:
        raise EditError("Enter who is making this change")
    if not reason:
        raise EditError("Enter the reason for this change")
    current = head_state(rnd)
    changes = changes_between(current, desired)
    if not changes:
        raise EditError("This change leaves the configuration as it is")
    number = (db.session.scalar(select(db.func.max(ConfigVersion.number))
                                .where(ConfigVersion.round_id == rnd.id)) or 0) + 1
    version = ConfigVersion(round_id=rnd.id, number=number, parent_id=rnd.head_version_id,
                            kind=kind, author=author[:200], reason=reason)
    db.session.add(version)
    db.session.flush()
    as_int = lambda v: None if v is None else int(v)  # noqa: E731
    # The changes and the memberships are written with insert_rows, not as an ORM object per row:
    # a national import changes thousands of practices.
    insert_rows(ConfigChange, (
        {"version_id": version.id, "seq": seq, "kind": c.kind, "practice_code": c.practice_code,
         "from_pcn_id": as_int(c.from_pcn), "to_pcn_id": as_int(c.to_pcn), "pcn_id": as_int(c.pcn),
         "old_name": c.old_name, "new_name": c.new_name} for seq, c in enumerate(changes)))

    pcns = {str(p.id): p for p in db.session.scalars(select(Pcn).where(Pcn.round_id == rnd.id))}
    for key, pcn in pcns.items():
        pcn.active = key in desired.pcns
        if pcn.active and pcn.name != desired.pcns[key]:
            pcn.name = desired.pcns[key]
    assigned = [c for c in changes if c.kind == "assign"]
    practice_ids = dict(db.session.execute(select(Practice.code, Practice.id)
                                           .where(Practice.code.in_([c.practice_code for c in assigned]))).all())
    db.session.flush()
    moved = [practice_ids[c.practice_code] for c in assigned if c.from_pcn is not None]
    for start in range(0, len(moved), 5000):
        db.session.execute(delete(Membership).where(Membership.round_id == rnd.id,
                                                    Membership.practice_id.in_(moved[start:start + 5000])))
    joined = [{"round_id": rnd.id, "practice_id": practice_ids[c.practice_code], "pcn_id": int(c.to_pcn)}
              for c in assigned if c.to_pcn is not None]
    insert_rows(Membership, joined)
    rnd.head_version_id = version.id
    db.session.flush()
    audit.record(action=f"configuration.{kind}", object_type="config_version", object_id=str(version.number),
                 before={"version": version.parent.number if version.parent else None},
                 after={"version": version.number, "author": version.author, "reason": version.reason,
                        "changes": [{k: v for k, v in asdict(c).items() if v is not None} for c in changes]},
                 round_id=rnd.id, pcn_id=_single_pcn(changes))
    areas.refresh(rnd)   # block assignments and PCN areas follow the new grouping (no-op without geodata)
    return version


def _single_pcn(changes: list[Change]) -> int | None:
    """The PCN a version is about, when it is about one PCN (for the PCN's audit page)."""
    keys = {k for c in changes for k in (c.from_pcn, c.to_pcn, c.pcn) if k is not None}
    return int(next(iter(keys))) if len(keys) == 1 else None


def _new_pcn(rnd: RegistrationRound, name: str, *, place: Place | None, lead: Commissioner | None,
             code: str | None = None) -> str:
    pcn = Pcn(round_id=rnd.id, name=name, code=code, place=place, lead_commissioner=lead, active=False)
    db.session.add(pcn)
    db.session.flush()
    return str(pcn.id)


def _pcn(rnd: RegistrationRound, key: str) -> Pcn:
    pcn = db.session.get(Pcn, int(key)) if str(key).isdigit() else None
    if pcn is None or pcn.round_id != rnd.id:
        raise EditError("That PCN does not exist in this round")
    return pcn


def _practice_codes(codes: list[str]) -> list[str]:
    found = set(db.session.scalars(select(Practice.code).where(Practice.code.in_(codes))))
    unknown = [c for c in codes if c not in found]
    if unknown:
        raise EditError(f"Unknown practice code {', '.join(unknown)}")
    return codes


@one_transaction()
def create_pcn(rnd: RegistrationRound, name: str, *, place_id: int | None, lead_commissioner_id: int | None,
               author: str, reason: str) -> ConfigVersion:
    place = db.session.get(Place, place_id) if place_id else None
    lead = db.session.get(Commissioner, lead_commissioner_id) if lead_commissioner_id else None
    current = head_state(rnd)
    edits.create(current, "0", name)  # validate the name before allocating a row
    key = _new_pcn(rnd, " ".join(name.split()), place=place, lead=lead)
    return _save(rnd, edits.create(current, key, name), kind="create", author=author, reason=reason)


@one_transaction()
def rename_pcn(rnd: RegistrationRound, key: str, name: str, *, author: str, reason: str) -> ConfigVersion:
    _pcn(rnd, key)
    return _save(rnd, edits.rename(head_state(rnd), key, name), kind="rename", author=author, reason=reason)


@one_transaction()
def move_practices(rnd: RegistrationRound, codes: list[str], to_key: str | None, *, author: str,
                   reason: str) -> ConfigVersion:
    if to_key is not None:
        _pcn(rnd, to_key)
    desired = edits.move(head_state(rnd), _practice_codes(codes), to_key)
    return _save(rnd, desired, kind="move", author=author, reason=reason)


@one_transaction()
def merge_pcns(rnd: RegistrationRound, keys: list[str], into_key: str, *, name: str | None, author: str,
               reason: str) -> ConfigVersion:
    for key in [*keys, into_key]:
        _pcn(rnd, key)
    return _save(rnd, edits.merge(head_state(rnd), keys, into_key, name), kind="merge", author=author,
                 reason=reason)


@one_transaction()
def split_pcn(rnd: RegistrationRound, key: str, codes: list[str], new_name: str, *, author: str,
              reason: str) -> ConfigVersion:
    source = _pcn(rnd, key)
    current = head_state(rnd)
    edits.split(current, key, codes, "0", new_name)  # validate before allocating a row
    new_key = _new_pcn(rnd, " ".join(new_name.split()), place=source.place, lead=source.lead_commissioner)
    return _save(rnd, edits.split(current, key, codes, new_key, new_name), kind="split", author=author,
                 reason=reason)


@one_transaction()
def undo_to(rnd: RegistrationRound, number: int, *, author: str, reason: str) -> ConfigVersion:
    """Restore an earlier version's state as a new version."""
    target = get_version(rnd, number)
    if target.id == rnd.head_version_id:
        raise EditError(f"Version {number} is the current version")
    return _save(rnd, state_of(rnd, target.id), kind="undo", author=author,
                 reason=reason or f"Restore version {number}")


# --- previews and comparisons -----------------------------------------------------------------

@dataclass
class MovePreview:
    codes: list[str]
    to_key: str | None
    before: rounds_svc.RoundData
    after: rounds_svc.RoundData
    pcn_keys: list[str] = field(default_factory=list)   # the PCNs touched (from and to)


def preview_move(rnd: RegistrationRound, codes: list[str], to_key: str | None) -> MovePreview:
    """Totals and findings of the PCNs a move touches, before and after. Writes nothing."""
    if to_key is not None:
        _pcn(rnd, to_key)
    current = head_state(rnd)
    desired = edits.move(current, _practice_codes(codes), to_key)
    before = rounds_svc.build_configuration(rnd)
    after = rounds_svc.build_configuration(rnd, dict(desired.assignments), dict(desired.pcns))
    touched = {current.assignments.get(c) for c in codes} | {to_key}
    keys = sorted((k for k in touched if k is not None), key=lambda k: desired.pcns.get(k, ""))
    return MovePreview(codes, to_key, before, after, keys)


NEW_PCN = "new"                    # the key of the PCN a split would make, in its preview


def preview_merge(rnd: RegistrationRound, keys: list[str], into_key: str, name: str | None = None) -> MovePreview:
    """Totals and findings of the PCNs a merge touches, before and after (the merged ones are
    gone after it; ``into_key`` keeps them all). Writes nothing; refuses what ``merge_pcns`` would."""
    for key in [*keys, into_key]:
        _pcn(rnd, key)
    current = head_state(rnd)
    desired = edits.merge(current, keys, into_key, name)
    before = rounds_svc.build_configuration(rnd)
    after = rounds_svc.build_configuration(rnd, dict(desired.assignments), dict(desired.pcns))
    touched = [into_key, *sorted((k for k in dict.fromkeys(keys) if k != into_key),
                                 key=lambda k: current.pcns.get(k, ""))]
    codes = sorted(c for k in touched if k != into_key for c in current.members(k))
    return MovePreview(codes, into_key, before, after, touched)


def preview_split(rnd: RegistrationRound, key: str, codes: list[str], new_name: str) -> MovePreview:
    """Totals and findings of a PCN and of the new PCN a split would make (``NEW_PCN``, with the
    PCN's place and lead commissioner), before and after. Writes nothing."""
    _pcn(rnd, key)
    current = head_state(rnd)
    desired = edits.split(current, key, codes, NEW_PCN, " ".join((new_name or "").split()))
    before = rounds_svc.build_configuration(rnd)
    after = rounds_svc.build_configuration(rnd, dict(desired.assignments), dict(desired.pcns), like={NEW_PCN: key})
    return MovePreview(sorted(set(codes)), NEW_PCN, before, after, [key, NEW_PCN])


def compare_versions(rnd: RegistrationRound, a: int, b: int) -> tuple[Comparison, dict[str, str]]:
    """Compare version numbers a and b. Returns the comparison and practice names by code."""
    state_a = state_of(rnd, get_version(rnd, a).id)
    state_b = state_of(rnd, get_version(rnd, b).id)
    codes = set(state_a.assignments) | set(state_b.assignments)
    practices = {p.code: p for p in db.session.scalars(select(Practice).where(Practice.code.in_(codes)))}
    sizes = {}
    for code, p in practices.items():
        size = rounds_svc.select_list_size(p.list_sizes, rnd.reference_date)
        sizes[code] = size.size if size else None
    return compare(state_a, state_b, sizes), {c: p.name for c, p in practices.items()}


# --- configuration CSV ---------------------------------------------------------------------------

CONFIG_COLUMNS = ["practice_code", "pcn_name", "place", "pcn_code", "practice_name", "list_size"]
REQUIRED_COLUMNS = ["practice_code", "pcn_name", "place"]


def export_configuration(rnd: RegistrationRound) -> str:
    """The round's head configuration as CSV (the layout the import reads). Unassigned
    practices are listed with an empty PCN. Cells are neutralised against formula injection."""
    data = rounds_svc.build_configuration(rnd)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CONFIG_COLUMNS)
    pcn_by_code = {code: pcn for pcn in data.config.pcns for code in pcn.members}
    for code in sorted(data.config.practices):
        practice = data.config.practices[code]
        pcn = pcn_by_code.get(code)
        writer.writerow([neutralise(str(v)) for v in (
            code, pcn.name if pcn else "", (pcn.place if pcn else "") or "", (pcn.code if pcn else "") or "",
            practice.name, "" if practice.list_size is None else practice.list_size)])
    return out.getvalue()


@dataclass
class ConfigImportSummary:
    round: str
    source: str
    version: int | None
    practices: int
    pcns: int
    created: list[str]
    retired: list[str]
    moved: int

    def lines(self) -> list[str]:
        if self.version is None:
            return [f"{self.source}: the configuration of {self.round} already matches; nothing changed"]
        return [f"{self.source}: saved as version {self.version} of {self.round}",
                f"  {self.practices} practices in {self.pcns} PCNs; {self.moved} practice assignments changed",
                f"  PCNs created: {', '.join(self.created) or 'none'}",
                f"  PCNs retired: {', '.join(self.retired) or 'none'}"]


@dataclass
class Removals:
    """What an import would take away: practices that would be in no PCN, PCNs left empty."""

    practices_leaving: list[tuple[str, str]]      # (practice code, the PCN it leaves)
    pcns_emptied: list[str]

    def __bool__(self) -> bool:
        return bool(self.practices_leaving or self.pcns_emptied)

    def lines(self) -> list[str]:
        out = []
        if self.practices_leaving:
            out.append(f"{len(self.practices_leaving)} practice(s) would be in no PCN: "
                       + ", ".join(f"{code} (leaving {pcn})" for code, pcn in self.practices_leaving))
        if self.pcns_emptied:
            out.append(f"{len(self.pcns_emptied)} PCN(s) would be emptied and retired: " + ", ".join(self.pcns_emptied))
        return out


class ReplaceNeeded(ImportFailed):
    """The import would remove memberships: refused (nothing written) unless confirmed."""

    def __init__(self, removals: Removals):
        self.removals = removals
        super().__init__([ImportProblem(None, None, "this file would remove memberships from the grouping")]
                         + [ImportProblem(None, None, line) for line in removals.lines()])


def removals(current: ConfigState, desired: ConfigState) -> Removals:
    leaving = sorted((code, current.pcns.get(key, key)) for code, key in current.assignments.items()
                     if code not in desired.assignments)
    emptied = sorted(current.pcns[key] for key in set(current.assignments.values())
                     if key in current.pcns and not any(k == key for k in desired.assignments.values()))
    return Removals(leaving, emptied)


def import_configuration(*, round_name: str | None, data: bytes, author: str, reason: str,
                         source: str = "upload", replace: bool = False) -> ConfigImportSummary:
    """Load or replace a round's grouping from a configuration CSV, as one version.

    Columns: practice_code, pcn_name, place (name of a place of the round's system); optional
    pcn_code and any others (ignored, e.g. practice_name and list_size from the export). PCNs are
    matched by name (ignoring case); PCNs missing from the file are retired; practices missing
    from the file become unassigned. Rows with an empty pcn_name leave the practice unassigned.
    An import that would take a practice out of every PCN or empty a PCN is refused with
    ``ReplaceNeeded`` (listing them; nothing written) unless ``replace`` is given.
    """
    rnd = rounds_svc.get_round(round_name)
    text = decode(data, current_app.config["MAX_IMPORT_BYTES"], header=True)
    reader = csv.reader(io.StringIO(text, newline=""))
    problems: list[ImportProblem] = []
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ImportFailed([ImportProblem(1, c, "required column is missing (expected columns: "
                                                f"{', '.join(REQUIRED_COLUMNS)})") for c in missing])
    col = {name: header.index(name) for name in header}
    places = {p.name.casefold(): p for p in db.session.scalars(select(Place).where(Place.system_id == rnd.system_id))}
    practices = {p.code: p for p in db.session.scalars(select(Practice))}
    existing = {p.name.casefold(): p for p in db.session.scalars(select(Pcn).where(Pcn.round_id == rnd.id))}

    seen: dict[str, int] = {}
    wanted: dict[str, dict] = {}            # casefold name -> {name, place, code, rows, members}
    for rowno, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            problems.append(ImportProblem(rowno, None, f"has {len(row)} columns, expected {len(header)}"))
            continue
        code = row[col["practice_code"]].strip().upper()
        name = " ".join(row[col["pcn_name"]].split())
        place_name = row[col["place"]].strip()
        pcn_code = row[col["pcn_code"]].strip().upper() if "pcn_code" in col else ""
        if code in seen:
            problems.append(ImportProblem(rowno, "practice_code", f"{code} is listed twice (also row {seen[code]})"))
            continue
        seen[code] = rowno
        if code not in practices:
            why = "is not a known practice" if is_practice_code(code) else "is not a valid practice ODS code"
            problems.append(ImportProblem(rowno, "practice_code", f"{code!r} {why}"))
            continue
        if not name:
            continue
        if name[0] in "=+-@":
            problems.append(ImportProblem(rowno, "pcn_name", f"{name!r} starts with {name[0]} (formula injection)"))
            continue
        if place_name.casefold() not in places:
            problems.append(ImportProblem(rowno, "place", f"{place_name!r} is not a place of {rnd.system.name}"))
            continue
        if pcn_code and not is_pcn_code(pcn_code):
            problems.append(ImportProblem(rowno, "pcn_code", f"{pcn_code!r} is not a PCN ODS code (U + 5 digits)"))
            continue
        entry = wanted.setdefault(name.casefold(), {"name": name, "place": places[place_name.casefold()],
                                                    "code": pcn_code or None, "row": rowno, "members": []})
        if entry["place"] is not places[place_name.casefold()]:
            problems.append(ImportProblem(rowno, "place", f"{name} is in {entry['place'].name} on row "
                                                          f"{entry['row']} but {place_name} here"))
            continue
        entry["members"].append(code)
    if problems:
        raise ImportFailed(problems)
    if not seen:
        raise ImportFailed([ImportProblem(None, None, "the file has a header but no rows")])
    grouping = [WantedPcn(entry["name"], entry["members"], existing.get(key_name), entry["code"], entry["place"])
                for key_name, entry in wanted.items()]
    return save_grouping(rnd, grouping, author=author, reason=reason, source=source, replace=replace)


@dataclass
class WantedPcn:
    """A PCN an import wants, with its members; ``existing`` is the PCN of the round it
    continues (None: a new PCN). ``code`` and ``place``, when given, are set on the PCN."""

    name: str
    members: list[str]
    existing: Pcn | None = None
    code: str | None = None
    place: Place | None = None


def save_grouping(rnd: RegistrationRound, wanted: list[WantedPcn], *, author: str, reason: str,
                  source: str, replace: bool = True) -> ConfigImportSummary:
    """Make ``wanted`` the round's grouping, as one "import" version in one transaction (commit,
    or roll back and raise). PCNs of the round not wanted are retired; practices in no wanted
    PCN become unassigned. A new PCN's lead commissioner is the commonest commissioner of its
    members; its place, unless given, is that commissioner's place. Nothing to change: no
    version (``version`` None in the summary)."""
    try:
        return _save_grouping(rnd, wanted, author=author, reason=reason, source=source, replace=replace)
    except EditError as exc:
        raise ImportFailed([ImportProblem(None, None, str(exc))]) from exc


@one_transaction()
def _save_grouping(rnd: RegistrationRound, wanted: list[WantedPcn], *, author: str, reason: str,
                   source: str, replace: bool) -> ConfigImportSummary:
    current = head_state(rnd)
    codes = [c for w in wanted for c in w.members]
    practices = {p.code: p for p in db.session.scalars(select(Practice).where(Practice.code.in_(codes)))}
    pcns: dict[str, str] = {}
    assignments: dict[str, str] = {}
    created = []
    rows: list[Pcn] = []
    for w in wanted:
        pcn = w.existing
        if pcn is None:
            commonest = Counter(practices[c].commissioner for c in w.members).most_common(1)
            lead = commonest[0][0] if commonest else None
            pcn = Pcn(round_id=rnd.id, name=w.name, code=w.code, place=w.place or (lead.place if lead else None),
                      lead_commissioner=lead, active=False)
            db.session.add(pcn)
            created.append(w.name)
        else:
            if w.place is not None:
                pcn.place = w.place
            if w.code:
                pcn.code = w.code
        rows.append(pcn)
    db.session.flush()                    # the new PCNs in one statement: their ids are the keys
    for w, pcn in zip(wanted, rows, strict=True):
        pcns[str(pcn.id)] = w.name
        for c in w.members:
            assignments[c] = str(pcn.id)
    desired = ConfigState(pcns, assignments)
    if not replace:
        removed = removals(current, desired)
        if removed:
            raise ReplaceNeeded(removed)
    changes = changes_between(current, desired)
    if not changes:
        db.session.rollback()
        return ConfigImportSummary(rnd.name, source, None, len(assignments), len(pcns), [], [], 0)
    retired = [current.pcns[c.pcn] for c in changes if c.kind == "pcn_retire"]
    version = _save(rnd, desired, kind="import", author=author, reason=reason or f"Import of {source}")
    return ConfigImportSummary(rnd.name, source, version.number, len(assignments), len(pcns), created, retired,
                               sum(1 for c in changes if c.kind == "assign"))
