"""Dated memberships and practices' commissioner history, stored (``domain.memberships``).

- ``store_workbook``: every core-partner relationship of an ePCN workbook as a period, the ended
  ones too (the caller's transaction: the ePCN import's, onboarding's), replacing the periods of
  the same file;
- ``record_change``: an applied in-year change ends the practice's open period the day before its
  effective date and opens one in the new PCN (inside ``changes.apply_due``'s transaction);
- ``configuration_on``: the configuration of a system on a date (``pcnreg configuration on``, the
  system's configuration page); ``practice_history``: a practice's commissioners and PCNs over time;
- ``last_applied_for``: the latest effective date of a change applied to a practice (a notice
  cannot be dated before it).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select

from ..domain import memberships as dom
from ..extensions import db
from ..importers.csvio import write_csv
from ..importers.epcn import Workbook
from ..models import (
    Commissioner,
    CommissionerPeriod,
    MembershipChange,
    MembershipPeriod,
    Pcn,
    Practice,
    RegistrationRound,
    System,
)
from .transactions import insert_rows

CSV_COLUMNS = ["date", "pcn_code", "pcn_name", "practice_code", "practice_name", "start_date", "end_date", "source"]


def periods_from_workbook(book: Workbook, source: str) -> list[dom.Period]:
    """Every core-partner row of the workbook as a period (ended relationships included). A
    relationship without an end date in a PCN with a close date ends on that date."""
    pcns = {p.ref: p for p in book.pcns}
    out = []
    for partner in book.partners:
        pcn = pcns[partner.pcn]
        end = partner.end_date
        if end is None and pcn.close_date is not None:
            end = pcn.close_date
        out.append(dom.Period(partner.practice_code, pcn.code, pcn.name, partner.start_date, end, source,
                              partner.practice_commissioner_code, pcn.commissioner_code))
    return out


def store_workbook(book: Workbook, source: str) -> int:
    """Store the workbook's periods, replacing those of the same ``source`` (the caller's
    transaction). Returns how many."""
    source = source[:200]
    db.session.execute(delete(MembershipPeriod).where(MembershipPeriod.source == source,
                                                      MembershipPeriod.change_id.is_(None)))
    periods = periods_from_workbook(book, source)
    return insert_rows(MembershipPeriod, (_values(p) for p in periods))    # a national workbook: ~20,000


def _values(p: dom.Period, **extra) -> dict:
    return dict(practice_code=p.practice[:6], pcn_code=p.pcn_code[:16], pcn_name=p.pcn_name[:200],
                practice_commissioner=p.practice_commissioner[:5], pcn_commissioner=p.pcn_commissioner[:5],
                start_date=p.start, end_date=p.end, source=p.source[:200], **extra)


def _row(p: dom.Period, **extra) -> MembershipPeriod:
    return MembershipPeriod(**_values(p, **extra))


def _period(row: MembershipPeriod) -> dom.Period:
    return dom.Period(row.practice_code, row.pcn_code, row.pcn_name, row.start_date, row.end_date, row.source,
                      row.practice_commissioner, row.pcn_commissioner)


def stored(system: System | None = None) -> list[dom.Period]:
    """The stored periods (of ``system``: its practices', or where the practice's or the PCN's
    commissioner is one of its commissioners)."""
    query = select(MembershipPeriod)
    if system is not None:
        codes = [c.code for c in system.commissioners]
        practices = select(Practice.code).join(Commissioner, Practice.commissioner_id == Commissioner.id) \
            .where(Commissioner.system_id == system.id)
        query = query.where(or_(MembershipPeriod.practice_code.in_(practices),
                                MembershipPeriod.practice_commissioner.in_(codes),
                                MembershipPeriod.pcn_commissioner.in_(codes)))
    return [_period(r) for r in db.session.scalars(query.order_by(MembershipPeriod.id))]


def configuration_on(system: System | None, day: dt.date) -> list[dom.Period]:
    return dom.configuration_on(stored(system), day)


def configuration_csv(system: System | None, day: dt.date) -> str:
    rows = configuration_on(system, day)
    names = dict(db.session.execute(select(Practice.code, Practice.name).where(
        Practice.code.in_({p.practice for p in rows}))).all()) if rows else {}
    return write_csv([[day.isoformat(), p.pcn_code, p.pcn_name, p.practice, names.get(p.practice, ""),
                          p.start.isoformat() if p.start else "", p.end.isoformat() if p.end else "", p.source]
                      for p in rows], CSV_COLUMNS)


def record_change(rnd: RegistrationRound, change: MembershipChange) -> None:
    """An applied change as periods (caller's transaction): the practice's periods open on the
    effective date end the day before it; a period in the new PCN opens on it. Where no stored
    period says where the practice was, the PCN it left is recorded as ending then (start not
    recorded)."""
    practice = change.practice_code
    rows = list(db.session.scalars(select(MembershipPeriod).where(MembershipPeriod.practice_code == practice)))
    pairs = [(r, _period(r)) for r in rows]
    target = db.session.get(Pcn, change.to_pcn_id)
    source = f"membership change {change.id} ({rnd.name})"
    ended, new = dom.move([p for _, p in pairs], practice, target.code or "", target.name, change.effective_from,
                          source)
    for old, closed in ended:
        next(r for r, p in pairs if p is old).end_date = closed.end
    if not ended and change.from_pcn_id is not None:
        left = db.session.get(Pcn, change.from_pcn_id)
        db.session.add(_row(dom.Period(practice, left.code or "", left.name, None,
                                       change.effective_from - dom.ONE_DAY, f"round {rnd.name}"), round_id=rnd.id))
    db.session.add(_row(new, round_id=rnd.id, change_id=change.id))
    db.session.flush()


def last_applied_for(practice_code: str) -> dt.date | None:
    """The latest effective date of a change applied to the practice (any round, or recorded as
    a period from a change)."""
    applied = db.session.scalar(select(func.max(MembershipChange.effective_from)).where(
        MembershipChange.practice_code == practice_code, MembershipChange.state == "applied"))
    period = db.session.scalar(select(func.max(MembershipPeriod.start_date)).where(
        MembershipPeriod.practice_code == practice_code, MembershipPeriod.change_id.is_not(None)))
    found = [d for d in (applied, period) if d is not None]
    return max(found) if found else None


# --- a practice's history -----------------------------------------------------------------------------

@dataclass(frozen=True)
class CommissionerRow:
    code: str
    name: str | None
    kind: str | None
    system: str | None
    start: dt.date | None
    end: dt.date | None
    source: str


@dataclass(frozen=True)
class PracticeHistory:
    code: str
    name: str | None
    commissioners: list[CommissionerRow]
    memberships: list[dom.Period]


def practice_history(code: str) -> PracticeHistory:
    code = (code or "").strip().upper()[:6]
    name = db.session.scalar(select(Practice.name).where(Practice.code == code))
    rows = list(db.session.scalars(select(CommissionerPeriod).where(CommissionerPeriod.practice_code == code)))
    names = dict(db.session.execute(select(Commissioner.code, Commissioner.name).where(
        Commissioner.code.in_({r.commissioner_code for r in rows}))).all()) if rows else {}
    commissioners = sorted((CommissionerRow(r.commissioner_code, names.get(r.commissioner_code), r.kind, r.system_code,
                                            r.start_date, r.end_date, r.source) for r in rows),
                           key=lambda r: (r.source, r.start or dt.date.min))
    periods = [_period(r) for r in db.session.scalars(select(MembershipPeriod).where(
        MembershipPeriod.practice_code == code))]
    return PracticeHistory(code, name, commissioners, dom.history_of(periods, code))


def store_commissioner_history(history: dict[str, list[dom.CommissionerPeriod]], source: str) -> int:
    """Replace the commissioner periods of ``source`` (caller's transaction)."""
    source = source[:200]
    db.session.execute(delete(CommissionerPeriod).where(CommissionerPeriod.source == source))
    rows = [dict(practice_code=p.practice[:6], commissioner_code=p.commissioner[:5], kind=p.kind,
                 system_code=p.system, start_date=p.start, end_date=p.end, source=source)
            for periods in history.values() for p in periods]
    return insert_rows(CommissionerPeriod, rows)


# --- pages ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConfigurationRow:
    pcn_code: str
    pcn_name: str
    practice: str
    practice_name: str
    start: dt.date | None
    end: dt.date | None
    source: str


@dataclass(frozen=True)
class ConfigurationPage:
    day: dt.date
    rows: list[ConfigurationRow]
    pcns: int
    recorded: int                    # periods stored for the system (any date)
    first: dt.date | None            # the earliest start recorded


def configuration_page(system: System, day: dt.date) -> ConfigurationPage:
    """The system's configuration on ``day`` with the practices' names, for the page."""
    periods = stored(system)
    rows = dom.configuration_on(periods, day)
    names = dict(db.session.execute(select(Practice.code, Practice.name).where(
        Practice.code.in_({p.practice for p in rows}))).all()) if rows else {}
    return ConfigurationPage(day, [ConfigurationRow(p.pcn_code, p.pcn_name, p.practice, names.get(p.practice, ""),
                                                    p.start, p.end, p.source) for p in rows],
                             len({(p.pcn_code, p.pcn_name) for p in rows}), len(periods), dom.first_start(periods))


def practice_of_system(system: System, code: str) -> bool:
    """Whether the practice is the system's: commissioned by one of its commissioners now, or in
    a commissioner period or a membership period of the system."""
    code = (code or "").strip().upper()[:6]
    codes = [c.code for c in system.commissioners]
    now = db.session.scalar(select(Practice.id).join(Commissioner, Practice.commissioner_id == Commissioner.id)
                            .where(Practice.code == code, Commissioner.system_id == system.id))
    if now is not None:
        return True
    if db.session.scalar(select(CommissionerPeriod.id).where(
            CommissionerPeriod.practice_code == code,
            or_(CommissionerPeriod.system_code == system.code, CommissionerPeriod.commissioner_code.in_(codes)))
            .limit(1)) is not None:
        return True
    return db.session.scalar(select(MembershipPeriod.id).where(
        MembershipPeriod.practice_code == code,
        or_(MembershipPeriod.practice_commissioner.in_(codes), MembershipPeriod.pcn_commissioner.in_(codes)))
        .limit(1)) is not None
