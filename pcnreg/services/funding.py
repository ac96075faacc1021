"""Funding entitlement table of a round: each PCN's combined list size at the round's reference
date times the dated rates in force at go-live (``domain.funding``)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from ..domain import funding
from ..domain.dates import uk_date
from ..extensions import db
from ..models import FundingRate, RegistrationRound
from . import rounds as rounds_svc


@dataclass
class FundingRow:
    key: str
    name: str
    list_size: int
    amounts: list[Decimal]              # one per rate, in FundingTable.rates order
    annual_core: Decimal | None
    cd_wte: Decimal

    @property
    def total(self) -> Decimal:
        return sum(self.amounts, Decimal("0.00"))


@dataclass
class FundingTable:
    go_live: dt.date | None
    rates: list[funding.Rate]
    rows: list[FundingRow]
    notice: str | None = None           # why the table is empty, if it is

    @property
    def totals(self) -> list[Decimal]:
        return [sum((r.amounts[i] for r in self.rows), Decimal("0.00")) for i in range(len(self.rates))]

    @property
    def grand_total(self) -> Decimal:
        return sum(self.totals, Decimal("0.00"))

    def period(self, rate: funding.Rate) -> tuple[dt.date, dt.date]:
        return max(self.go_live, rate.valid_from) if self.go_live else rate.valid_from, rate.valid_to


def rates() -> list[funding.Rate]:
    return [funding.Rate(r.kind, r.title, Decimal(r.amount), r.basis, r.valid_from, r.valid_to)
            for r in db.session.scalars(select(FundingRate).order_by(FundingRate.valid_from, FundingRate.kind))]


def entitlements(rnd: RegistrationRound) -> FundingTable:
    if rnd.go_live is None:
        return FundingTable(None, [], [], "The round has no go-live date, so no funding period.")
    in_force = funding.applicable(rates(), rnd.go_live)
    if not in_force:
        return FundingTable(rnd.go_live, [], [], f"No funding rates are recorded for {uk_date(rnd.go_live)}.")
    data = rounds_svc.build_configuration(rnd)
    core = next((r for r in in_force if r.kind == "core_pcn_funding"), None)
    rows = []
    for pcn in data.config.pcns:
        size = data.config.pcn_total(pcn)
        rows.append(FundingRow(pcn.key, pcn.name, size, [funding.entitlement(size, r, rnd.go_live) for r in in_force],
                               funding.annual(size, core) if core else None, funding.cd_wte(size)))
    return FundingTable(rnd.go_live, in_force, rows)


@dataclass
class YearFunding:
    """A PCN's funding lines for its round's contract year (``domain.funding.year_line``)."""

    year: str | None
    list_size: int | None
    lines: list[funding.YearLine]
    notice: str | None = None           # why there are no lines ("not set")
    opted_out: tuple[tuple[str, int | None], ...] = ()   # members not counted: (code, list size)

    @property
    def opted_out_patients(self) -> int:
        return sum(size or 0 for _code, size in self.opted_out)

    @property
    def known_total(self) -> Decimal:
        return sum((ln.amount for ln in self.lines if ln.amount is not None), Decimal("0.00"))

    @property
    def partial(self) -> bool:
        return any(ln.amount is None for ln in self.lines)


def year_funding(rnd: RegistrationRound, list_size: int | None) -> YearFunding:
    """The funding lines of the round's contract year for a PCN of ``list_size`` registered patients,
    from the year's file; "not set" when no source gives a rate for the year."""
    from . import contract_years

    if not rnd.contract_year:
        return YearFunding(None, list_size, [], "The round has no contract year: its funding rates are not set.")
    try:
        spec = contract_years.load(rnd.contract_year)
    except ValueError as exc:
        return YearFunding(rnd.contract_year, list_size, [], f"The contract-year file cannot be read: {exc}")
    if not spec.funding_rates:
        return YearFunding(rnd.contract_year, list_size, [],
                           f"Not set: no source gives a funding rate for {rnd.contract_year}, so none is shown "
                           "(add the year's rates, with their source, to its contract-year file).")
    return YearFunding(rnd.contract_year, list_size, [funding.year_line(r, list_size) for r in spec.funding_rates])


@dataclass
class YearTable:
    """Every PCN's funding lines of the round's contract year (the funding page when the round's
    go-live has no rates recorded in the funding-rate table)."""

    year: str | None
    titles: list[str]
    rows: list[tuple[int, str, int, YearFunding]]      # (PCN key, name, registered list, its lines)
    notice: str | None = None


def counted(rnd: RegistrationRound, data, pcn) -> funding.Counted:
    """The registered list ``pcn`` (a domain Pcn of ``data``, the round's configuration) is funded
    for: its members' list sizes less those of the practices that opted out of the round's year."""
    from .cycle import opted_out_codes

    sizes = {c: data.config.practices[c].list_size if c in data.config.practices else None for c in pcn.members}
    return funding.counted(sizes, opted_out_codes(rnd) if rnd.contract_year else set())


def pcn_year_funding(rnd: RegistrationRound, pcn_key: str) -> YearFunding:
    """``year_funding`` for the PCN ``pcn_key`` of the round's head configuration, for the patients
    that count (``counted``: the members that opted out of the year are left out and named)."""
    data = rounds_svc.build_configuration(rnd)
    pcn = next((p for p in data.config.pcns if p.key == str(pcn_key)), None)
    if pcn is None:
        return year_funding(rnd, None)
    count = counted(rnd, data, pcn)
    result = year_funding(rnd, count.list_size)
    result.opted_out = count.opted_out
    return result


def year_table(rnd: RegistrationRound) -> YearTable:
    data = rounds_svc.build_configuration(rnd)
    rows = []
    for pcn in data.config.pcns:
        count = counted(rnd, data, pcn)
        result = year_funding(rnd, count.list_size)
        result.opted_out = count.opted_out
        rows.append((pcn.key, pcn.name, count.list_size, result))
    first = year_funding(rnd, None)
    if not first.lines:
        return YearTable(rnd.contract_year, [], [], first.notice)
    return YearTable(rnd.contract_year, [ln.title for ln in first.lines], rows)
