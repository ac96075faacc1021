"""The rounds a user may read, with each one's phase and figures (the /rounds page and the
national overview).

Figures come from the round's rules (``rounds.build_configuration``), kept in a per-process cache
keyed by what they derive from: the head version, the latest list-size row, the latest geodata
load, the exceptions, the last change of places or neighbourhoods (LSOA registrations, settings)
and the round's settings. A cache miss recomputes; nothing is shared between app servers.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from ..domain import policy
from ..domain.phases import PHASE_COLOURS, PHASE_TITLES, PHASES, RoundDates, phase
from ..extensions import db
from ..models import AuditEvent, GeodataLoad, ListSize, RegistrationRound, SizeException, System
from . import clock
from . import rounds as rounds_svc

PAGE_SIZE = 50
SORTS = ("system", "name", "year", "phase", "pcns", "out_of_band", "coverage", "errors")
_CACHE: dict[tuple, "Figures"] = {}
_CACHE_LIMIT = 500


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
    return phase(RoundDates(rnd.opens, rnd.submission_deadline, rnd.go_live), today_for(rnd))


def _key(rnd: RegistrationRound, latest: tuple) -> tuple:
    return (rnd.id, rnd.head_version_id, rnd.reference_date, rnd.band_min, rnd.band_max, *latest)


def figures(rnd: RegistrationRound, latest: tuple | None = None) -> Figures:
    """The round's figures, from the cache when nothing they derive from has changed."""
    if latest is None:
        latest = _latest()
    key = _key(rnd, latest)
    found = _CACHE.get(key)
    if found is None:
        data = rounds_svc.build_configuration(rnd)
        s = data.summary.system
        found = Figures(s.pcns, s.pcns_in_band, s.pcns - s.pcns_in_band, s.practices, s.practices_covered,
                        s.errors, s.warnings)
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.clear()
        _CACHE[key] = found
    return found


def _latest() -> tuple:
    return (db.session.scalar(select(func.max(ListSize.id))), db.session.scalar(select(func.max(GeodataLoad.id))),
            db.session.scalar(select(func.count()).select_from(SizeException)),
            db.session.scalar(select(func.max(AuditEvent.seq)).where(
                AuditEvent.action.like("place.%") | AuditEvent.action.like("neighbourhoods.%"))))


def visible_rounds(principal: policy.Principal) -> list[RegistrationRound]:
    rounds = db.session.scalars(select(RegistrationRound).join(System).order_by(System.name, RegistrationRound.name))
    return [r for r in rounds if policy.may_view_round(principal, r.system_id)]


def listing(principal: policy.Principal, *, system: str = "", year: str = "", sort: str = "system",
            descending: bool = False, page: int = 1) -> tuple[list[RoundRow], int, dict]:
    """(rows of the page, number of pages, totals over every matching round)."""
    latest = _latest()
    rows = [RoundRow(r, round_phase(r), figures(r, latest)) for r in visible_rounds(principal)
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
