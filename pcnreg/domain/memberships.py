"""Dated memberships and practices' commissioner history (plain Python, no Flask, no database).

A membership *period* is a practice's relationship with a PCN from a start date to an end date,
both inclusive, as the ePCN's "Practice to PCN Relationship Start/End Date" columns give them
(a relationship ending 31 March 2020 and the next starting 1 April 2020 do not overlap); an open
period has no end. ``configuration_on(periods, day)`` is the configuration on a date: the periods
current on it. An applied in-year change ends the practice's open period the day before its
effective date and opens one from that date (``move``).

A commissioner period says which commissioner (CCG, then sub-ICB location) a practice had from
one date to another, worked out from two epraccur files of different dates (the join date the
later file gives) and the organisation lookups of the two eras (``commissioner_history``).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Period:
    practice: str
    pcn_code: str                       # may be empty (a PCN of a round without an ODS code yet)
    pcn_name: str
    start: dt.date | None               # None: not given (from the beginning)
    end: dt.date | None                 # inclusive; None: open
    source: str = ""
    practice_commissioner: str = ""     # as the source gives it
    pcn_commissioner: str = ""

    def current_on(self, day: dt.date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)


def configuration_on(periods: Iterable[Period], day: dt.date) -> list[Period]:
    """The periods current on ``day``, one per practice, in PCN name then practice code order.
    Where a source gives a practice two current periods (the January 2025 ePCN has practices in
    U04503 from 1 to 2 July 2024 and in U17156 from 1 July 2024, open) the later-starting one
    counts, and of two starting the same day the one lasting longer (an open one)."""
    best: dict[str, Period] = {}
    for p in periods:
        if not p.current_on(day):
            continue
        known = best.get(p.practice)
        if known is None or _rank(p) > _rank(known):
            best[p.practice] = p
    return sorted(best.values(), key=lambda p: (p.pcn_name.casefold(), p.pcn_code, p.practice))


def _rank(p: Period) -> tuple[dt.date, dt.date]:
    return p.start or dt.date.min, p.end or dt.date.max


def first_start(periods: Iterable[Period]) -> dt.date | None:
    """The earliest start date given (None: no period gives one)."""
    starts = [p.start for p in periods if p.start is not None]
    return min(starts) if starts else None


def configuration_date(periods: list[Period], reference: dt.date) -> dt.date:
    """The date whose configuration a round with this ``reference`` date takes: the reference
    date itself, unless no period is current on it because every relationship the source records
    starts later (the December 2019 ePCN's start on 1 October 2019, after the 2019/20 list-size
    date of 1 January 2019): then the configuration the source first records, on the date by
    which every practice it lists had started its first relationship (2019-12's six practices
    that joined on 1 December 2019 included), but not after the first relationship ended."""
    if configuration_on(periods, reference):
        return reference
    firsts: dict[str, dt.date] = {}
    for p in periods:
        if p.start is not None and (p.practice not in firsts or p.start < firsts[p.practice]):
            firsts[p.practice] = p.start
    if not firsts:
        return reference
    day = max(firsts.values())
    ends = [p.end for p in periods if p.end is not None]
    if ends:
        day = min(day, min(ends))
    return day if day > reference else reference


def history_of(periods: Iterable[Period], practice: str) -> list[Period]:
    """One practice's periods, earliest first."""
    return sorted((p for p in periods if p.practice == practice),
                  key=lambda p: (p.start or dt.date.min, p.end or dt.date.max))


def last_start(periods: Iterable[Period], practice: str) -> dt.date | None:
    starts = [p.start for p in periods if p.practice == practice and p.start is not None]
    return max(starts) if starts else None


def move(periods: Iterable[Period], practice: str, pcn_code: str, pcn_name: str, effective: dt.date,
         source: str) -> tuple[list[tuple[Period, Period]], Period]:
    """An applied change of ``practice`` to another PCN from ``effective``: (each period of the
    practice still open on that date -> the same ended the day before, the new open period).
    A period that starts on or after ``effective`` is not the one being left and is not touched."""
    ended = [(p, replace(p, end=effective - ONE_DAY)) for p in periods
             if p.practice == practice and p.current_on(effective) and (p.start is None or p.start < effective)]
    return ended, Period(practice, pcn_code, pcn_name, effective, None, source)


# --- commissioner history -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Snapshot:
    """One practice in one epraccur file: its commissioner, the date it joined it, its close date."""

    commissioner: str
    joined: dt.date | None
    closed: dt.date | None = None


@dataclass(frozen=True)
class Organisation:
    """A commissioner in one lookup: its kind ("ccg" | "sub_icb") and system (ONS code)."""

    kind: str
    system: str


@dataclass(frozen=True)
class CommissionerPeriod:
    practice: str
    commissioner: str
    kind: str | None                    # "ccg" | "sub_icb"; None: no lookup gives it
    system: str | None
    start: dt.date | None
    end: dt.date | None                 # inclusive; None: open


def commissioner_history(before: Mapping[str, Snapshot], after: Mapping[str, Snapshot],
                         before_org: Mapping[str, Organisation], after_org: Mapping[str, Organisation],
                         before_era: str, after_era: str,
                         after_era_from: dt.date | None) -> dict[str, list[CommissionerPeriod]]:
    """Each practice of the later file: its commissioner periods, earliest first.

    A practice whose commissioner changed between the files had the earlier one from the date
    it joined it (the earlier file's join date) to the day before it joined the later one (the
    later file's join date). When the later lookup is of another era (CCG -> sub-ICB location)
    and ``after_era_from`` (the date its organisations took effect) is given, a later
    commissioner's period that starts before it is cut there: of the earlier era's kind before
    (in the earlier era commissioners were of its kind), of the later lookup's after. Without
    that date the later commissioner is shown as the later lookup has it, not cut.
    """
    out: dict[str, list[CommissionerPeriod]] = {}
    for practice, now in sorted(after.items()):
        periods: list[CommissionerPeriod] = []
        then = before.get(practice)
        start = now.joined
        if then is not None and then.commissioner != now.commissioner:
            org = before_org.get(then.commissioner)
            end = now.joined - ONE_DAY if now.joined else None
            periods.append(CommissionerPeriod(practice, then.commissioner, org.kind if org else before_era,
                                              org.system if org else None, then.joined, end))
        elif then is not None and then.joined is not None and (start is None or then.joined < start):
            start = then.joined
        org = after_org.get(now.commissioner)
        kind = org.kind if org else None
        system = org.system if org else None
        if (after_era_from is not None and kind is not None and kind != before_era and start is not None
                and start < after_era_from and (now.closed is None or now.closed >= after_era_from)):
            earlier = before_org.get(now.commissioner)
            periods.append(CommissionerPeriod(practice, now.commissioner, before_era,
                                              earlier.system if earlier else None, start, after_era_from - ONE_DAY))
            start = after_era_from
        periods.append(CommissionerPeriod(practice, now.commissioner, kind, system, start, now.closed))
        out[practice] = periods
    return out
