"""Contract years of the Network Contract DES: dates, size band and funding rates as data.

A contract year is a JSON file in ``pcnreg/contract_years`` (one per year, e.g. ``2019-20.json``;
a later year is added as a file, without code). Every value carries its source; a value whose
source is missing is "not set": the commissioner sets it for the round. Plain Python: the
service reads the files, this module checks and holds them.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

#: The round settings a contract year may give, in the order the pages show them.
DATE_FIELDS = ("reference_date", "opens", "submission_deadline", "committee_date", "confirmation_date",
               "schedule1_deadline", "go_live")
NUMBER_FIELDS = ("band_min", "band_max")
# A date that follows another: a file that gives it must give the date it follows, and not before it
# (the committee, the confirmation of coverage and Schedule 1 come after the submission deadline).
FOLLOWS = {"committee_date": "submission_deadline", "confirmation_date": "submission_deadline",
           "schedule1_deadline": "submission_deadline", "submission_deadline": "opens"}
NEEDS_WHAT_IT_FOLLOWS = ("committee_date", "confirmation_date", "schedule1_deadline")
FIELDS = DATE_FIELDS + NUMBER_FIELDS
FIELD_TITLES = {
    "reference_date": "List sizes as at", "opens": "Round opens", "submission_deadline": "Submission deadline",
    "committee_date": "Committee meets", "confirmation_date": "Commissioner confirms coverage by",
    "schedule1_deadline": "Schedule 1 of the Network Agreement by", "go_live": "Go-live",
    "band_min": "Band minimum (patients)", "band_max": "Band maximum (patients)",
}
YEAR = re.compile(r"^(\d{4})/(\d{2})$")
#: Until 30 June 2022 commissioners were CCGs; ICBs and sub-ICB locations from 1 July 2022.
ICB_ERA_FROM = 2022


class ContractYearError(ValueError):
    """A contract-year file that is not right; ``problems`` name the field of each."""

    def __init__(self, source: str, problems: list[str]):
        self.source, self.problems = source, problems
        super().__init__(f"{source}: " + "; ".join(problems))


@dataclass(frozen=True)
class Sourced:
    value: object
    source: str | None

    @property
    def is_set(self) -> bool:
        return self.value is not None and bool(self.source)


@dataclass(frozen=True)
class RateSpec:
    kind: str
    title: str
    amount: Decimal
    basis: str
    valid_from: dt.date
    valid_to: dt.date
    source: str
    #: what the rate is paid per head of: "registered_list" or "adjusted_population"
    population: str = "registered_list"


#: what a rate may be paid per head of
POPULATIONS = ("registered_list", "adjusted_population")


@dataclass(frozen=True)
class ContractYear:
    year: str
    about: str
    values: dict[str, Sourced] = field(default_factory=dict)
    funding_rates: tuple[RateSpec, ...] = ()

    def value(self, name: str):
        """The value of ``name``, or None when the year does not set it (no value, or no source)."""
        item = self.values.get(name)
        return item.value if item is not None and item.is_set else None

    def source(self, name: str) -> str | None:
        item = self.values.get(name)
        return item.source if item is not None and item.is_set else None

    def not_set(self) -> list[str]:
        return [name for name in FIELDS if self.value(name) is None]

    @property
    def eras(self) -> tuple[str, ...]:
        """The commissioner kinds of the year: CCGs before 2022/23, sub-ICB locations after it;
        2022/23 began with CCGs and ended with ICBs."""
        start = int(self.year[:4])
        if start < ICB_ERA_FROM:
            return ("ccg",)
        return ("ccg", "sub_icb") if start == ICB_ERA_FROM else ("sub_icb",)


def file_name(year: str) -> str:
    """``2019/20`` -> ``2019-20.json``."""
    return year.replace("/", "-") + ".json"


def check_year(year: str) -> str:
    """A contract year label like 2019/20 (the second part is the next year), or ValueError."""
    year = (year or "").strip()
    match = YEAR.match(year)
    if not match or (int(match.group(1)) + 1) % 100 != int(match.group(2)):
        raise ValueError(f"{year[:20]!r} is not a contract year like 2019/20")
    return year


def _date(value, where: str, problems: list[str]) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        problems.append(f"{where}: {str(value)[:40]!r} is not a date (YYYY-MM-DD)")
        return None


def parse(data: object, source: str) -> ContractYear:
    """A contract year from a file's JSON, or ``ContractYearError`` listing every problem."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise ContractYearError(source, ["the file is not a JSON object"])
    try:
        year = check_year(str(data.get("year", "")))
    except ValueError as exc:
        problems.append(f"year: {exc}")
        year = ""
    raw = data.get("values")
    if not isinstance(raw, dict):
        raw = {}
        problems.append("values: missing (an object of the round settings)")
    values: dict[str, Sourced] = {}
    for name, item in raw.items():
        if name not in FIELDS:
            problems.append(f"values.{name}: not a round setting (known: {', '.join(FIELDS)})")
            continue
        if not isinstance(item, dict):
            problems.append(f"values.{name}: must be an object with value and source")
            continue
        value, src = item.get("value"), item.get("source")
        if name in DATE_FIELDS:
            value = _date(value, f"values.{name}", problems)
        elif value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            problems.append(f"values.{name}: {value!r} is not a whole number of patients")
            value = None
        values[name] = Sourced(value, src if isinstance(src, str) and src.strip() else None)
    for name, earlier in FOLLOWS.items():
        later, first = values.get(name), values.get(earlier)
        if later is None or later.value is None or later.source is None:
            continue
        if first is None or first.value is None or first.source is None:
            if name in NEEDS_WHAT_IT_FOLLOWS:
                problems.append(f"values.{name}: given without values.{earlier}, the date it follows "
                                "(give both, each with its source, or neither)")
        elif isinstance(later.value, dt.date) and isinstance(first.value, dt.date) and later.value < first.value:
            problems.append(f"values.{name}: {later.value.isoformat()} is before values.{earlier} "
                            f"({first.value.isoformat()}), the date it follows")
    lo, hi = values.get("band_min"), values.get("band_max")
    if lo and hi and lo.value is not None and hi.value is not None and lo.value > hi.value:
        problems.append("values.band_min: larger than band_max")
    rates = []
    for number, rate in enumerate(data.get("funding_rates") or [], 1):
        where = f"funding_rates[{number}]"
        if not isinstance(rate, dict):
            problems.append(f"{where}: must be an object")
            continue
        missing = [k for k in ("kind", "title", "amount", "basis", "valid_from", "valid_to", "source") if not rate.get(k)]
        if missing:
            problems.append(f"{where}: missing {', '.join(missing)} (a rate without a source is not taken)")
            continue
        try:
            amount = Decimal(str(rate["amount"]))
        except InvalidOperation:
            problems.append(f"{where}.amount: {rate['amount']!r} is not a number")
            continue
        start = _date(rate["valid_from"], f"{where}.valid_from", problems)
        end = _date(rate["valid_to"], f"{where}.valid_to", problems)
        population = rate.get("population", "registered_list")
        if population not in POPULATIONS:
            problems.append(f"{where}.population: {population!r} is not {' or '.join(POPULATIONS)}")
        elif rate["basis"] not in ("year", "period"):
            problems.append(f"{where}.basis: {rate['basis']!r} is not year or period")
        elif start and end:
            if start > end:
                problems.append(f"{where}: valid_from is after valid_to")
            else:
                rates.append(RateSpec(rate["kind"], rate["title"], amount, rate["basis"], start, end, rate["source"],
                                      population))
    if problems:
        raise ContractYearError(source, problems)
    return ContractYear(year, str(data.get("about", "")), values, tuple(rates))
