"""Funding entitlement per PCN from dated rates per registered patient.

A rate is either per year (``basis`` 'year': paid pro rata for the whole months of the funding
period it covers) or for its whole period ('period', e.g. the 2019/20 Clinical Director
contribution of £0.514 per patient for July 2019 – March 2020). The funding period of a round
runs from its go-live date to the end of the rate's validity. Amounts are Decimal pounds,
rounded to the penny (half up) per PCN and rate.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

PENNY = Decimal("0.01")
CD_WTE_PER_50K = Decimal("0.25")        # about 0.25 WTE Clinical Director per 50,000 patients (2019/20)


@dataclass(frozen=True)
class Rate:
    kind: str
    title: str
    amount: Decimal                     # pounds per registered patient
    basis: str                          # 'year' | 'period'
    valid_from: dt.date
    valid_to: dt.date                   # inclusive


def whole_months(start: dt.date, end: dt.date) -> int:
    """Calendar months from ``start`` (a first of the month) to ``end`` inclusive, counted whole:
    1 July 2019 – 31 March 2020 is 9."""
    if end < start:
        return 0
    months = (end.year - start.year) * 12 + (end.month - start.month)
    next_day = end + dt.timedelta(days=1)
    return months + (1 if next_day.day == 1 else 0)


def applicable(rates: list[Rate], go_live: dt.date) -> list[Rate]:
    """Rates in force for a round going live on ``go_live`` (valid on that day)."""
    return [r for r in rates if r.valid_from <= go_live <= r.valid_to]


def per_patient(rate: Rate, go_live: dt.date) -> Decimal:
    """What one registered patient brings over the round's funding period under ``rate``."""
    if rate.basis == "period":
        return rate.amount
    start = max(go_live, rate.valid_from)
    return rate.amount * whole_months(start, rate.valid_to) / 12


def entitlement(list_size: int, rate: Rate, go_live: dt.date) -> Decimal:
    return (per_patient(rate, go_live) * list_size).quantize(PENNY, rounding=ROUND_HALF_UP)


def annual(list_size: int, rate: Rate) -> Decimal | None:
    """A year's worth at a yearly rate (None for a rate that is for its period only)."""
    return (rate.amount * list_size).quantize(PENNY, rounding=ROUND_HALF_UP) if rate.basis == "year" else None


def cd_wte(list_size: int) -> Decimal:
    """The Clinical Director time the contribution is meant to fund, in whole-time equivalents."""
    return (CD_WTE_PER_50K * list_size / 50_000).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# --- funding per contract year, from the year's file (``domain.contract_years.RateSpec``) -------------

POPULATION_TITLES = {"registered_list": "registered list", "adjusted_population": "adjusted population"}


@dataclass(frozen=True)
class YearLine:
    """One funding line of a contract year for a PCN: its rate, what it is paid per head of, and
    the amount over the rate's period; None where the PCN's population of that kind is not known."""

    kind: str
    title: str
    rate: Decimal
    population: str                     # "registered_list" | "adjusted_population"
    basis: str                          # "year" (pro rata over its period) | "period"
    valid_from: dt.date
    valid_to: dt.date
    source: str
    amount: Decimal | None
    note: str = ""

    @property
    def population_title(self) -> str:
        return POPULATION_TITLES.get(self.population, self.population)


def year_line(spec, list_size: int | None) -> YearLine:
    """``spec`` (a contract-year file's rate) for a PCN of ``list_size`` registered patients: a rate
    per registered patient is computed over its whole period; a rate per head of adjusted
    population is not (pcnreg holds registered lists only), and says so."""
    rate = Rate(spec.kind, spec.title, spec.amount, spec.basis, spec.valid_from, spec.valid_to)
    if spec.population != "registered_list":
        return YearLine(spec.kind, spec.title, spec.amount, spec.population, spec.basis, spec.valid_from,
                        spec.valid_to, spec.source, None,
                        "Not computed: this part is paid per head of adjusted population, which pcnreg does not "
                        "hold (it knows registered lists only)")
    if list_size is None:
        return YearLine(spec.kind, spec.title, spec.amount, spec.population, spec.basis, spec.valid_from,
                        spec.valid_to, spec.source, None, "Not computed: the registered list size is not known")
    return YearLine(spec.kind, spec.title, spec.amount, spec.population, spec.basis, spec.valid_from, spec.valid_to,
                    spec.source, entitlement(list_size, rate, spec.valid_from))


@dataclass(frozen=True)
class Counted:
    """A PCN's registered patients that count for its funding, and the members left out."""

    list_size: int
    opted_out: tuple[tuple[str, int | None], ...] = ()    # (practice code, its list size)

    @property
    def opted_out_patients(self) -> int:
        return sum(size or 0 for _code, size in self.opted_out)


def counted(list_sizes: dict[str, int | None], opted_out: set[str]) -> Counted:
    """The registered list a PCN is funded for: the sum of its members' list sizes (``list_sizes``:
    member code -> list size, missing = 0) less those of the members that opted out of the
    Network Contract DES for the year: a practice that opts out is in no PCN that year, so neither
    its patients nor its share of the funding count for the network it belonged to."""
    out = tuple(sorted((code, size) for code, size in list_sizes.items() if code in opted_out))
    return Counted(sum(size or 0 for code, size in list_sizes.items() if code not in opted_out), out)
