"""The rounds a user may read, with each one's phase and figures (the /rounds page and the
national overview).

Figures come from the round's state (``services.round_state``): computed once per version and
key (head version, list sizes, geodata, exceptions, settings, rules) and read from there.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ..domain import policy
from ..domain.change_requests import contract_year
from ..domain.phases import PHASE_COLOURS, PHASE_TITLES, PHASES, RoundDates, phase
from ..extensions import db
from ..models import RegistrationRound, System
from . import clock, round_state

PAGE_SIZE = 50
SORTS = ("system", "name", "year", "phase", "pcns", "out_of_band", "coverage", "errors")


@dataclass(frozen=True)
class Figures:
    pcns: int
    in_band: int
    out_of_band: int
    practices: int
    covered: int
    errors: int
    warnings: int

    @property
    def coverage_pct(self) -> float:
        return round(100 * self.covered / self.practices, 1) if self.practices else 0.0


@dataclass(frozen=True)
class RoundRow:
    round: RegistrationRound
    phase: str
    figures: Figures

    @property
    def phase_title(self) -> str:
        return PHASE_TITLES[self.phase]

    @property
    def phase_colour(self) -> str:
        return PHASE_COLOURS[self.phase]


def today_for(rnd: RegistrationRound) -> dt.date:
    return clock.now().astimezone(ZoneInfo(rnd.timezone)).date()


def round_phase(rnd: RegistrationRound) -> str:
    year_ends = contract_year(rnd.contract_year, rnd.reference_date)[1] if rnd.contract_year else None
    return phase(RoundDates(rnd.opens, rnd.submission_deadline, rnd.go_live, year_ends), today_for(rnd))


def figures(rnd: RegistrationRound, latest: tuple | None = None) -> Figures:
    """The round's figures, from its state (computed only when something it derives from changed).
    ``latest`` is accepted for callers of the earlier signature and ignored."""
    s = round_state.entry(rnd).state.summary.system
    return Figures(s.pcns, s.pcns_in_band, s.pcns - s.pcns_in_band, s.practices, s.practices_covered,
                   s.errors, s.warnings)


def visible_rounds(principal: policy.Principal) -> list[RegistrationRound]:
    rounds = db.session.scalars(select(RegistrationRound).join(System).order_by(System.name, RegistrationRound.name))
    return [r for r in rounds if policy.may_view_round(principal, r.system_id)]


def listing(principal: policy.Principal, *, system: str = "", year: str = "", sort: str = "system",
            descending: bool = False, page: int = 1) -> tuple[list[RoundRow], int, dict]:
    """(rows of the page, number of pages, totals over every matching round)."""
    rows = [RoundRow(r, round_phase(r), figures(r)) for r in visible_rounds(principal)
            if (not system or r.system.code == system) and (not year or r.contract_year == year)]
    keys = {
        "system": lambda row: (row.round.system.name, row.round.name),
        "name": lambda row: row.round.name.casefold(),
        "year": lambda row: (row.round.contract_year or "", row.round.name),
        "phase": lambda row: PHASES.index(row.phase),
        "pcns": lambda row: row.figures.pcns,
        "out_of_band": lambda row: row.figures.out_of_band,
        "coverage": lambda row: row.figures.coverage_pct,
        "errors": lambda row: row.figures.errors,
    }
    rows.sort(key=keys.get(sort, keys["system"]), reverse=descending)
    totals = {"rounds": len(rows), "systems": len({r.round.system_id for r in rows}),
              "pcns": sum(r.figures.pcns for r in rows), "out_of_band": sum(r.figures.out_of_band for r in rows),
              "practices": sum(r.figures.practices for r in rows), "covered": sum(r.figures.covered for r in rows),
              "errors": sum(r.figures.errors for r in rows)}
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(max(1, page), pages)
    return rows[(page - 1) * PAGE_SIZE: page * PAGE_SIZE], pages, totals
