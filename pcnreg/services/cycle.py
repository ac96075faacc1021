"""The yearly cycle of a round (``domain.cycle``): its dates (the contract-year file's, or the
commissioner's where the file gives none), practices opting out inside the window, each PCN's
annual return and the commissioner's review, the accepted changes (for the ODS change
instruction) and the year-end membership check CQRS asks commissioners to verify.

Every change is one transaction, audited; a refusal raises ``CycleError`` (a ``ServiceError``,
messages per field) and writes nothing.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import select

from ..domain import cycle
from ..domain.change_requests import contract_year
from ..domain.contract_years import Sourced, file_name
from ..domain.dates import uk_date
from ..extensions import db
from ..importers.csvio import write_csv
from ..models import (
    AnnualReturn,
    AnnualReturnChange,
    CycleSettings,
    MembershipChange,
    OptOut,
    Pcn,
    RegistrationRound,
)
from . import audit, clock, contract_years
from . import payment as payment_svc
from . import rounds as rounds_svc
from .errors import ServiceError
from .registration import actor
from .transactions import one_transaction


class CycleError(ServiceError):
    """A refused step of the yearly cycle."""


_commit = one_transaction(lambda: CycleError("Someone else changed this at the same moment: nothing was saved. "
                                             "Reload and try again."))


@lru_cache(maxsize=32)
def _year_dates(year: str) -> dict[str, Sourced]:
    path = contract_years.FOLDER / file_name(year)
    if not path.is_file():
        return cycle.parse_cycle(None, path.name)
    return cycle.parse_cycle(json.loads(path.read_text(encoding="utf-8")).get("cycle"), path.name)


def applies(rnd: RegistrationRound) -> bool:
    return cycle.applies(rnd.contract_year)


@dataclass(frozen=True)
class CycleDate:
    name: str
    title: str
    value: dt.date | None
    source: str | None              # the year file's source, or "set by the commissioner (who)"
    from_year: bool                 # the contract-year file gives it (the commissioner cannot change it)


def dates(rnd: RegistrationRound) -> dict[str, CycleDate]:
    year = _year_dates(rnd.contract_year) if rnd.contract_year else cycle.parse_cycle(None, "")
    settings = db.session.get(CycleSettings, rnd.id)
    out = {}
    for name in cycle.CYCLE_FIELDS:
        item = year[name]
        if item.is_set:
            out[name] = CycleDate(name, cycle.FIELD_TITLES[name], item.value, item.source, True)
        else:
            value = getattr(settings, name) if settings else None
            out[name] = CycleDate(name, cycle.FIELD_TITLES[name], value,
                                  f"set by the commissioner, {settings.updated_by}" if value else None, False)
    return out


def today(rnd: RegistrationRound) -> dt.date:
    from .changes import _today

    return _today(rnd)


def _need_cycle(rnd: RegistrationRound) -> None:
    if not applies(rnd):
        raise CycleError(f"{rnd.name} is a {rnd.contract_year or 'one-off'} round: the yearly cycle (opt-out window, "
                         "annual returns) applies from the 2020/21 contract year")


@_commit
def set_dates(rnd: RegistrationRound, values: dict[str, dt.date | None]) -> CycleSettings:
    """The commissioner sets the cycle's dates the contract-year file does not give."""
    _need_cycle(rnd)
    current = dates(rnd)
    problems: dict[str | None, list[str]] = {}
    for name, value in values.items():
        if name not in cycle.CYCLE_FIELDS:
            continue
        if current[name].from_year and value != current[name].value:
            problems.setdefault(name, []).append(
                f"{cycle.FIELD_TITLES[name]} is given by the {rnd.contract_year} contract-year file "
                f"({uk_date(current[name].value)}: {current[name].source}); it is not changed on the round")
    opens = values.get("opt_out_opens", current["opt_out_opens"].value)
    closes = values.get("opt_out_closes", current["opt_out_closes"].value)
    window = cycle.window_problems(opens, closes)
    if window:
        problems.setdefault("opt_out_closes", []).append(window)
    if problems:
        raise CycleError.per_field(problems)
    settings = db.session.get(CycleSettings, rnd.id)
    if settings is None:
        settings = CycleSettings(round_id=rnd.id, updated_by=actor())
        db.session.add(settings)
    before = {n: str(getattr(settings, n)) if getattr(settings, n) else None for n in cycle.CYCLE_FIELDS}
    for name, value in values.items():
        if name in cycle.CYCLE_FIELDS and not current[name].from_year:
            setattr(settings, name, value)
    settings.updated_by, settings.updated_at = actor(), clock.to_utc_naive(clock.now())
    audit.record(action="cycle.dates", object_type="round", object_id=str(rnd.id), round_id=rnd.id, before=before,
                 after={n: str(getattr(settings, n)) if getattr(settings, n) else None for n in cycle.CYCLE_FIELDS})
    return settings


# --- the opt-out window ----------------------------------------------------------------------------------

def window(rnd: RegistrationRound) -> tuple[dt.date | None, dt.date | None]:
    d = dates(rnd)
    return d["opt_out_opens"].value, d["opt_out_closes"].value


def window_refusal(rnd: RegistrationRound) -> str | None:
    if not applies(rnd):
        return (f"{rnd.name} is a {rnd.contract_year or 'one-off'} round: practices opt out of the contract from "
                "2020/21")
    opens, closes = window(rnd)
    return cycle.opt_out_refusal(today(rnd), opens, closes, rnd.contract_year)


def opt_outs(rnd: RegistrationRound) -> list[OptOut]:
    return list(db.session.scalars(select(OptOut).where(OptOut.round_id == rnd.id).order_by(OptOut.practice_code)))


def opted_out_codes(rnd: RegistrationRound) -> set[str]:
    return set(db.session.scalars(select(OptOut.practice_code).where(OptOut.round_id == rnd.id)))


@_commit
def opt_out(rnd: RegistrationRound, practice_code: str, reason: str) -> OptOut:
    """The practice opts out of the round's contract year (inside the window, with its reason)."""
    code = " ".join((practice_code or "").split()).upper()[:20]
    reason = (reason or "").strip()
    problems: dict[str | None, list[str]] = {}
    refusal = window_refusal(rnd)
    if refusal:
        problems[None] = [refusal]
    data = rounds_svc.build_configuration(rnd)
    if not code:
        problems["practice"] = ["Enter the practice's ODS code"]
    elif data.pcn_of(code) is None:
        problems["practice"] = [f"{code[:10]} is not a member practice of a PCN in {rnd.name}"]
    elif code in opted_out_codes(rnd):
        problems["practice"] = [f"{code} has already opted out of {rnd.contract_year}"]
    if not reason:
        problems["reason"] = ["Enter the practice's reason for opting out"]
    elif len(reason) > 2000:
        problems["reason"] = ["The reason must be 2,000 characters or fewer"]
    if problems:
        raise CycleError.per_field(problems)
    row = OptOut(round_id=rnd.id, practice_code=code, reason=reason, recorded_by=actor(),
                 recorded_at=clock.to_utc_naive(clock.now()))
    db.session.add(row)
    pcn_key = data.pcn_of(code)
    audit.record(action="cycle.opt_out", object_type="practice", object_id=code, round_id=rnd.id,
                 pcn_id=int(pcn_key) if pcn_key else None, after={"reason": reason})
    return row


@_commit
def withdraw_opt_out(rnd: RegistrationRound, practice_code: str) -> str:
    """The practice takes part again: its opt-out is withdrawn, inside the window only (after it the
    year's membership is settled). The withdrawn opt-out and its reason stay in the audit trail.
    Returns the practice's code."""
    code = " ".join((practice_code or "").split()).upper()[:20]
    problems: dict[str | None, list[str]] = {}
    refusal = window_refusal(rnd)
    if refusal:
        problems[None] = [refusal]
    row = db.session.scalar(select(OptOut).where(OptOut.round_id == rnd.id, OptOut.practice_code == code)) \
        if code else None
    if row is None:
        problems["practice"] = [f"{code[:10]} has not opted out of {rnd.contract_year}" if code
                                else "Enter the practice's ODS code"]
    if problems:
        raise CycleError.per_field(problems)
    pcn_key = rounds_svc.build_configuration(rnd).pcn_of(code)
    audit.record(action="cycle.opt_out_withdrawn", object_type="practice", object_id=code, round_id=rnd.id,
                 pcn_id=int(pcn_key) if pcn_key else None,
                 before={"reason": row.reason, "recorded_by": row.recorded_by, "recorded_at": str(row.recorded_at)})
    db.session.delete(row)
    return code


# --- the annual return -------------------------------------------------------------------------------------

def annual_return(rnd: RegistrationRound, pcn: Pcn) -> AnnualReturn | None:
    return db.session.scalar(select(AnnualReturn).where(AnnualReturn.round_id == rnd.id, AnnualReturn.pcn_id == pcn.id))


def state_of(row: AnnualReturn | None) -> str:
    return row.state if row is not None else "not_started"


def returns(rnd: RegistrationRound) -> list[tuple[Pcn, AnnualReturn | None]]:
    rows = {r.pcn_id: r for r in db.session.scalars(select(AnnualReturn).where(AnnualReturn.round_id == rnd.id))}
    pcns = db.session.scalars(select(Pcn).where(Pcn.round_id == rnd.id, Pcn.active.is_(True)).order_by(Pcn.name))
    return [(p, rows.get(p.id)) for p in pcns]


def _open_return(rnd: RegistrationRound, pcn: Pcn) -> AnnualReturn:
    _need_cycle(rnd)
    row = annual_return(rnd, pcn)
    if row is None:
        row = AnnualReturn(round_id=rnd.id, pcn_id=pcn.id, state="draft", no_change=False)
        db.session.add(row)
        db.session.flush()
    if row.state not in cycle.EDITABLE:
        raise CycleError(f"{pcn.name}'s annual return is {cycle.MACHINE.title(row.state).lower()}: it is no longer "
                         "changed")
    return row


def _members(rnd: RegistrationRound, pcn: Pcn) -> set[str]:
    data = rounds_svc.build_configuration(rnd)
    return {code for code, key in data.state.pcn_of.items() if key == str(pcn.id)}


@_commit
def add_change(rnd: RegistrationRound, pcn: Pcn, kind: str, *, practice: str = "", details: str = "",
               effective: dt.date | None = None) -> AnnualReturnChange:
    """A change the PCN's return notifies."""
    row = _open_return(rnd, pcn)
    practice = " ".join((practice or "").split()).upper()[:20]
    details = (details or "").strip()
    start, end = contract_year(rnd.contract_year, rnd.reference_date)
    data = rounds_svc.build_configuration(rnd)
    problems = cycle.change_problems(
        kind, practice=practice, details=details, effective=effective, members=_members(rnd, pcn),
        known_practice=practice in data.config.practices, year_start=start, year_end=end,
        own_account_allowed=payment_svc.rule_for(rnd).own_account_allowed)
    if problems:
        by_field: dict[str | None, list[str]] = {}
        for name, message in problems:
            by_field.setdefault(name, []).append(message)
        raise CycleError.per_field(by_field)
    change = AnnualReturnChange(kind=kind, practice_code=practice or None, details=details or None,
                                effective=effective)
    row.changes.append(change)
    row.no_change = False
    db.session.flush()
    audit.record(action="annual_return.change", object_type="pcn", object_id=str(pcn.id), round_id=rnd.id,
                 pcn_id=pcn.id, after={"kind": kind, "practice": practice or None, "details": details or None,
                                       "effective": str(effective)})
    return change


@_commit
def remove_change(rnd: RegistrationRound, pcn: Pcn, change_id: int) -> None:
    row = _open_return(rnd, pcn)
    change = next((c for c in row.changes if c.id == change_id), None)
    if change is None:
        raise CycleError("There is no such change in this return")
    row.changes.remove(change)
    audit.record(action="annual_return.remove_change", object_type="pcn", object_id=str(pcn.id), round_id=rnd.id,
                 pcn_id=pcn.id, before={"kind": change.kind, "practice": change.practice_code})


def _facts(rnd: RegistrationRound, row: AnnualReturn, *, no_change: bool | None = None, note: str = ""):
    return cycle.ReturnFacts(state=row.state, today=today(rnd), deadline=dates(rnd)["return_deadline"].value,
                             no_change=row.no_change if no_change is None else no_change, changes=len(row.changes),
                             note=note, year=rnd.contract_year or "")


@_commit
def submit(rnd: RegistrationRound, pcn: Pcn, *, no_change: bool) -> AnnualReturn:
    """The PCN lead makes the return: "no change", or the changes added to it."""
    row = _open_return(rnd, pcn)
    try:
        row.state = cycle.MACHINE.perform("submit", _facts(rnd, row, no_change=no_change))
    except cycle.Refused as exc:
        raise CycleError(exc.reasons) from None
    row.no_change = no_change
    row.made_by, row.made_at = actor(), clock.to_utc_naive(clock.now())
    row.review_note = None
    audit.record(action="annual_return.submit", object_type="pcn", object_id=str(pcn.id), round_id=rnd.id,
                 pcn_id=pcn.id, after={"no_change": no_change, "changes": len(row.changes)})
    return row


@_commit
def review(rnd: RegistrationRound, pcn: Pcn, *, accept: bool, note: str = "") -> AnnualReturn:
    """The commissioner accepts the return, or asks for changes (with the reason)."""
    _need_cycle(rnd)
    row = annual_return(rnd, pcn)
    if row is None:
        raise CycleError(f"{pcn.name} has not made its annual return yet")
    note = (note or "").strip()
    step = "accept" if accept else "ask_changes"
    try:
        state = cycle.MACHINE.perform(step, _facts(rnd, row, note=note))
    except cycle.Refused as exc:
        raise CycleError.per_field({"note" if "Enter" in m else None: m for m in exc.reasons}) from None
    before = row.state
    row.state = state
    row.reviewed_by, row.reviewed_at, row.review_note = actor(), clock.to_utc_naive(clock.now()), note or None
    audit.record(action=f"annual_return.{step}", object_type="pcn", object_id=str(pcn.id), round_id=rnd.id,
                 pcn_id=pcn.id, before={"state": before}, after={"state": state, "note": note or None})
    return row


def accepted_changes(rnd: RegistrationRound) -> list[tuple[Pcn, AnnualReturnChange]]:
    """The changes of the round's accepted returns, by date, PCN and kind."""
    found = db.session.execute(
        select(Pcn, AnnualReturnChange).join(AnnualReturn, AnnualReturn.pcn_id == Pcn.id)
        .join(AnnualReturnChange, AnnualReturnChange.return_id == AnnualReturn.id)
        .where(AnnualReturn.round_id == rnd.id, AnnualReturn.state == "accepted")
        .order_by(AnnualReturnChange.effective, Pcn.name, AnnualReturnChange.id)).all()
    return [(p, c) for p, c in found]


# --- the year-end membership check ---------------------------------------------------------------------

@dataclass
class YearEndMember:
    code: str
    name: str
    list_size: int | None
    opted_out: bool
    changes: list[str] = field(default_factory=list)


@dataclass
class YearEndPcn:
    pcn: Pcn
    members: list[YearEndMember]

    @property
    def taking_part(self) -> list[YearEndMember]:
        return [m for m in self.members if not m.opted_out]

    @property
    def opted_out(self) -> list[YearEndMember]:
        return [m for m in self.members if m.opted_out]

    @property
    def total(self) -> int:
        return sum(m.list_size or 0 for m in self.taking_part)


def _changes_in_year(rnd: RegistrationRound) -> dict[str, list[str]]:
    """Practice code -> what changed for it this year (in-year moves, accepted returns' changes)."""
    out: dict[str, list[str]] = {}
    pcns = {p.id: p.name for p in db.session.scalars(select(Pcn).where(Pcn.round_id == rnd.id))}
    for c in db.session.scalars(select(MembershipChange).where(
            MembershipChange.round_id == rnd.id, MembershipChange.state.in_(("approved", "applied")))
            .order_by(MembershipChange.effective_from)):
        out.setdefault(c.practice_code, []).append(
            f"moves from {pcns.get(c.from_pcn_id, 'no PCN')} to {pcns.get(c.to_pcn_id)} from {uk_date(c.effective_from)}"
            f" ({c.state})")
    for pcn, c in accepted_changes(rnd):
        if c.practice_code and c.kind in ("join", "leave"):
            verb = "joins" if c.kind == "join" else "leaves"
            out.setdefault(c.practice_code, []).append(
                f"{verb} {pcn.name} from {uk_date(c.effective)} (annual return)")
    return out


def year_end(rnd: RegistrationRound) -> list[YearEndPcn]:
    """Per PCN its member practices with list sizes, whether each opted out, and its changes in year."""
    data = rounds_svc.build_configuration(rnd)
    out_codes = opted_out_codes(rnd)
    changes = _changes_in_year(rnd)
    rows = []
    for pcn in sorted(data.config.pcns, key=lambda p: p.name.casefold()):
        members = [YearEndMember(code, data.config.practices[code].name if code in data.config.practices else "",
                                 data.config.practices[code].list_size if code in data.config.practices else None,
                                 code in out_codes, changes.get(code, []))
                   for code in sorted(pcn.members)]
        rows.append(YearEndPcn(data.pcns[pcn.key], members))
    return rows


YEAR_END_COLUMNS = ("PCN Code", "PCN Name", "Practice Code", "Practice Name", "Registered list size",
                    "Taking part", "Changes in year")


def year_end_csv(rnd: RegistrationRound) -> str:
    cells = []
    for row in year_end(rnd):
        for m in row.members:
            cells.append([row.pcn.code or "", row.pcn.name, m.code, m.name,
                          "" if m.list_size is None else str(m.list_size), "no (opted out)" if m.opted_out else "yes",
                          "; ".join(m.changes)])
    return write_csv(cells, YEAR_END_COLUMNS)


def year_end_file_name(rnd: RegistrationRound) -> str:
    from .pages import slug

    return f"{slug(rnd.name)}-year-end-membership-check.csv"
