"""In-year membership changes: what makes a practice's notice, or a commissioner's assignment
of a practice no PCN will accept, acceptable. Pure: the service gathers the facts (today, the
round's contract year, the last applied change, the practice's current PCN) and refuses with
every problem found, each on the field it concerns.

The notice rule is ``deadlines.change_takes_effect``: 28 days' notice, from the start of the
next quarter after it has run. A notice may name a later quarter start, never an earlier one. An
assignment (after the LMC's engagement) needs no notice period but cannot be backdated.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .deadlines import QUARTER_STARTS, change_takes_effect

YEAR_START_MONTH = 4          # a contract year runs 1 April to 31 March


@dataclass(frozen=True)
class Problem:
    field: str               # the form field it concerns ("" for the summary only)
    message: str


@dataclass(frozen=True)
class Facts:
    """What the checks need to know about the request and the round."""

    today: dt.date
    year: tuple[dt.date, dt.date]          # the round's contract year, first and last day
    year_name: str
    round_name: str
    live: bool                             # the round has gone live
    practice_known: bool                   # a practice of the round's configuration
    practice_code: str
    current_pcn: str | None                # the PCN the practice is in now (name), None: none
    target_pcn: str | None                 # the PCN it moves to (name), None: unknown
    pending: bool                          # the practice already has a notified or approved change
    last_applied: dt.date | None           # the latest effective date of an applied change
    practice_last_applied: dt.date | None = None   # ... of a change applied to this practice (any round)


def contract_year(year: str | None, reference_date: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day of a contract year ("2019/20": 1 April 2019 to 31 March 2020);
    without one, the contract year that holds ``reference_date``."""
    if year and len(year) >= 4 and year[:4].isdigit():
        first = int(year[:4])
    else:
        first = reference_date.year if reference_date.month >= YEAR_START_MONTH else reference_date.year - 1
    return dt.date(first, YEAR_START_MONTH, 1), dt.date(first + 1, YEAR_START_MONTH, 1) - dt.timedelta(days=1)


def is_quarter_start(day: dt.date) -> bool:
    return day.day == 1 and day.month in QUARTER_STARTS


def earliest_notice_date(today: dt.date) -> dt.date:
    return change_takes_effect(today)


def closed_for_changes(year: tuple[dt.date, dt.date], today: dt.date) -> str | None:
    """Why no notice or assignment can be made in this contract year any more (None: they can):
    a notice given today would take effect after the year's last day."""
    if earliest_notice_date(today) > year[1]:
        return (f"The contract year ended on {long_date(year[1])}: a change given notice today could not take "
                "effect within it. Membership changes now belong to the round of a later contract year.")
    return None


def long_date(day: dt.date) -> str:
    """1 October 2019."""
    return f"{day.day} {day:%B %Y}"


def _common(facts: Facts, to_field: str) -> list[Problem]:
    out = []
    if not facts.live:
        out.append(Problem("", "The round has not gone live: change the grouping directly instead"))
    if not facts.practice_code:
        out.append(Problem("practice", "Enter the practice's ODS code"))
    elif not facts.practice_known:
        out.append(Problem("practice", f"{facts.practice_code} is not a practice of {facts.round_name}: "
                                       "check the ODS code"))
    if facts.target_pcn is None:
        out.append(Problem(to_field, "Choose the PCN the practice moves to"))
    elif facts.practice_known and facts.current_pcn == facts.target_pcn:
        out.append(Problem(to_field, f"{facts.practice_code} is already in {facts.target_pcn}: choose another PCN"))
    if facts.practice_known and facts.pending:
        out.append(Problem("practice", f"{facts.practice_code} already has a change waiting for a decision or "
                                       "its date: wait for it, or ask the commissioner to refuse it"))
    return out


def _date(facts: Facts, effective: dt.date | None, earliest: dt.date) -> list[Problem]:
    if effective is None:
        return []
    out = []
    first, last = facts.year
    if effective < earliest:
        out.append(Problem("effective_from", f"The change cannot take effect before {long_date(earliest)}"))
    if facts.last_applied is not None and effective < facts.last_applied:
        out.append(Problem("effective_from", f"The date is before the last change applied in this round "
                                             f"({long_date(facts.last_applied)}): choose a later date"))
    if facts.practice_last_applied is not None and effective <= facts.practice_last_applied:
        out.append(Problem("effective_from", before_last_applied(facts.practice_code, effective,
                                                                 facts.practice_last_applied)))
    if not first <= effective <= last:
        out.append(Problem("effective_from", f"The date is outside the {facts.year_name} contract year "
                                             f"({long_date(first)} to {long_date(last)})"))
    return out


def before_last_applied(practice: str, effective: dt.date, last: dt.date) -> str:
    """A change of a practice dated on or before the last change applied to it would rewrite its
    recorded history (``domain.memberships``): refused."""
    return (f"{practice}'s last applied change took effect on {long_date(last)}: a new change cannot take effect "
            f"on or before it ({long_date(effective)}); choose a later date")


def notice_problems(facts: Facts, reason: str, effective: dt.date | None) -> list[Problem]:
    """Why a practice's notice cannot be recorded (empty: it can). ``effective`` None: the
    earliest date the rule gives."""
    out = _common(facts, "to_pcn")
    if not (reason or "").strip():
        out.append(Problem("reason", "Enter the reason for the change"))
    earliest = earliest_notice_date(facts.today)
    out += _date(facts, effective if effective is not None else earliest, earliest)
    if effective is not None and not is_quarter_start(effective):
        out.append(Problem("effective_from", "A change takes effect on the first day of a quarter "
                                             "(1 January, April, July or October)"))
    return out


def assignment_problems(facts: Facts, effective: dt.date | None, lmc_on: dt.date | None,
                        lmc_summary: str) -> list[Problem]:
    """Why a commissioner's assignment cannot be recorded (empty: it can)."""
    out = _common(facts, "to_pcn")
    if lmc_on is None:
        out.append(Problem("lmc_on", "Enter the date the LMC was engaged"))
    elif lmc_on > facts.today:
        out.append(Problem("lmc_on", "The LMC's engagement cannot be in the future"))
    if not (lmc_summary or "").strip():
        out.append(Problem("lmc_summary", "Summarise the LMC's engagement"))
    if effective is None:
        out.append(Problem("effective_from", "Enter the date the assignment takes effect"))
    else:
        out += _date(facts, effective, facts.today)
    return out
