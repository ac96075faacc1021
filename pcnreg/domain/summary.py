"""Summaries of a configuration per commissioner, place and system.

A round is complete only with 100% coverage of open practices and no errors.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .rules import band_status
from .types import Configuration, Finding


@dataclass
class Summary:
    scope: str                     # "system", "place" or "commissioner"
    name: str
    practices: int = 0             # open practices in scope
    practices_covered: int = 0
    patients: int = 0              # registered patients of open practices in scope
    patients_covered: int = 0
    pcns: int = 0
    pcns_in_band: int = 0
    pcns_below: int = 0
    pcns_above: int = 0
    errors: int = 0
    warnings: int = 0
    infos: int = 0

    @property
    def coverage_pct(self) -> float:
        return 100.0 if self.practices == 0 else round(100 * self.practices_covered / self.practices, 1)

    @property
    def patients_covered_pct(self) -> float:
        return 100.0 if self.patients == 0 else round(100 * self.patients_covered / self.patients, 1)

    @property
    def complete(self) -> bool:
        return self.practices_covered == self.practices and self.errors == 0

    def as_dict(self) -> dict:
        data = asdict(self)
        data.update(coverage_pct=self.coverage_pct, patients_covered_pct=self.patients_covered_pct,
                    complete=self.complete)
        return data


@dataclass
class RoundSummary:
    system: Summary
    places: list[Summary] = field(default_factory=list)
    commissioners: list[Summary] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.system.complete

    def as_dict(self) -> dict:
        return {"complete": self.complete, "system": self.system.as_dict(),
                "places": [s.as_dict() for s in self.places],
                "commissioners": [s.as_dict() for s in self.commissioners]}


def summarise(config: Configuration, findings: list[Finding], system_name: str = "System") -> RoundSummary:
    """Counts per scope. A PCN counts for the place it is recorded in and its lead
    commissioner; a practice for its own place and commissioner; a finding for the scopes of
    its subject."""
    system = Summary("system", system_name)
    places: dict[str, Summary] = {}
    commissioners: dict[str, Summary] = {}

    def scopes(place: str | None, commissioner: str | None) -> list[Summary]:
        out = [system]
        if place:
            out.append(places.setdefault(place, Summary("place", place)))
        if commissioner:
            out.append(commissioners.setdefault(commissioner, Summary("commissioner", commissioner)))
        return out

    assigned = config.assigned_codes()
    for p in config.practices.values():
        if p.status != "open":
            continue
        for s in scopes(p.place, p.commissioner):
            s.practices += 1
            s.patients += p.list_size or 0
            if p.code in assigned:
                s.practices_covered += 1
                s.patients_covered += p.list_size or 0

    pcn_scope = {}
    for pcn in config.pcns:
        pcn_scope[pcn.key] = (pcn.place, pcn.lead_commissioner)
        status = band_status(config.pcn_total(pcn), config.round.band_min, config.round.band_max)
        for s in scopes(pcn.place, pcn.lead_commissioner):
            s.pcns += 1
            if status == "in_band":
                s.pcns_in_band += 1
            elif status == "below":
                s.pcns_below += 1
            else:
                s.pcns_above += 1

    for f in findings:
        if f.subject.type == "pcn":
            place, commissioner = pcn_scope.get(f.subject.key or "", (None, None))
        elif f.subject.type == "practice" and f.subject.code in config.practices:
            practice = config.practices[f.subject.code]
            place, commissioner = practice.place, practice.commissioner
        else:
            place, commissioner = None, None
        for s in scopes(place, commissioner):
            if f.severity == "error":
                s.errors += 1
            elif f.severity == "warning":
                s.warnings += 1
            else:
                s.infos += 1

    return RoundSummary(
        system,
        sorted(places.values(), key=lambda s: s.name),
        sorted(commissioners.values(), key=lambda s: s.name))
