"""A round's state at one configuration version: one immutable value, derived once.

``RoundState`` holds everything the pages, the API and the CLI read of a round at a version:
the configuration (practices with the list sizes that count, PCNs with their members,
exceptions, geography), who is in which PCN, each PCN's total and band, the rules' findings,
and the counts of the summaries by system, place and commissioner.

Two ways to get one (the model is GerryChain's ``Partition`` with a parent and updaters):

- ``derive_all(config)`` computes everything from scratch;
- ``derive(parent, delta)`` computes the state after a ``Delta`` (the PCNs, practices and
  exceptions a change replaced, added or removed) by recomputing only what the delta touched:
  the PCNs it changed or moved practices between (their members, totals, bands and the
  PCN-scoped rules' findings), the practices whose data or assignment changed (the
  practice-scoped rules' findings), and the summary counts by subtracting what the touched
  items contributed before and adding what they contribute after. Everything else is shared
  with the parent (the parent itself is not kept: a chain of states would never be freed).

Geography: when the configuration has a ``Geography`` the geographic rules (``rules.GEOGRAPHIC``)
are split by what their findings depend on, like the others:

- ``GEO_PCN_RULES`` (contiguity, area outside the place, local authorities, member practices
  outside the area or in another place): a PCN's findings depend on that PCN, its members and
  its area and blocks, and on the geography's fixed parts (adjacency, places, local authorities,
  practice locations); they are recomputed for the PCNs a delta touched and for the PCNs whose
  area, area source or blocks differ in the delta's new geography;
- ``GEO_PRACTICE_RULES`` (a practice without a location): recomputed for the practices a delta
  changed;
- ``GEO_ROUND_RULES`` (gaps, overlaps, catchments, neighbourhood alignment): read every PCN's
  area or members; recomputed whenever PCNs, practices or the geography change (they are cheap
  when they have nothing to say: no gaps, no uploaded areas, no catchments loaded).

A new geography whose fixed parts differ from the parent's recomputes every geographic finding.
``derive(parent, delta)`` equals ``derive_all`` of the resulting configuration
(``tests/test_state.py`` checks it on random sequences of edits, geographic ones included).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from . import rules as rules_mod
from .rules import BandStatus, band_status
from .summary import RoundSummary, Summary
from .types import Configuration, Finding, Geography, Pcn, Practice, SizeException

_KEEP = object()

# Summary counts, in this order (see ``summary.Summary``).
_FIELDS = ("practices", "practices_covered", "patients", "patients_covered", "pcns", "pcns_in_band",
           "pcns_below", "pcns_above", "errors", "warnings", "infos")
_N = len(_FIELDS)
ScopeKey = tuple  # ("system",) | ("place", name) | ("commissioner", code)
_SYSTEM: ScopeKey = ("system",)

# The geographic rules by scope (see the module docstring).
GEO_PCN_RULES = ("pcn_contiguous", "pcn_outside_place", "pcn_local_authorities", "practice_place",
                 "practice_outside_area")
GEO_PRACTICE_RULES = ("practice_location",)
GEO_ROUND_RULES = tuple(name for name in rules_mod.GEOGRAPHIC
                        if name not in GEO_PCN_RULES and name not in GEO_PRACTICE_RULES)
# The parts of a Geography the PCN- and practice-scoped geographic rules read beside a PCN's own
# area, area source and blocks.
_GEO_FIXED = ("block_neighbours", "places", "local_authorities", "practice_points", "practice_la")


@dataclass(frozen=True)
class Delta:
    """What a change touched. Each mapping gives the new value of an item (PCN by key, practice by
    code, exception by PCN key), or None when the item is removed. A PCN's value carries its
    members, so a move is the new values of the PCNs it moves practices between.
    ``geography``: the new geography (left out: unchanged)."""

    pcns: Mapping[str, Pcn | None] = field(default_factory=dict)
    practices: Mapping[str, Practice | None] = field(default_factory=dict)
    exceptions: Mapping[str, SizeException | None] = field(default_factory=dict)
    geography: object = _KEEP

    @property
    def empty(self) -> bool:
        return not (self.pcns or self.practices or self.exceptions) and self.geography is _KEEP


class InconsistentDelta(ValueError):
    """A delta that would put a practice in two PCNs."""


@dataclass(frozen=True, eq=False)
class RoundState:
    """A round's state at a version. Immutable; build it with ``derive_all`` or ``derive``."""

    config: Configuration
    system_name: str
    pcn_by_key: Mapping[str, Pcn]
    pcn_of: Mapping[str, str]                              # practice code -> PCN key
    totals: Mapping[str, int]                              # PCN key -> registered patients
    bands: Mapping[str, BandStatus]                        # PCN key -> band status
    pcn_findings: Mapping[str, tuple[Finding, ...]]        # PCN-scoped rules, by PCN key
    practice_findings: Mapping[str, tuple[Finding, ...]]   # practice-scoped rules, by practice code
    geo_pcn_findings: Mapping[str, tuple[Finding, ...]]    # GEO_PCN_RULES, by the PCN they were run for
    geo_practice_findings: Mapping[str, tuple[Finding, ...]]  # GEO_PRACTICE_RULES, by practice code
    geo_round_findings: tuple[Finding, ...]                # GEO_ROUND_RULES (whole round)
    counts: Mapping[ScopeKey, tuple[int, ...]]             # summary counts by scope

    # --- what the pages read ------------------------------------------------------------------

    @cached_property
    def geo_findings(self) -> tuple[Finding, ...]:
        """Every geographic finding."""
        return (*(f for fs in self.geo_pcn_findings.values() for f in fs),
                *(f for fs in self.geo_practice_findings.values() for f in fs), *self.geo_round_findings)

    @cached_property
    def findings(self) -> list[Finding]:
        """Every finding, in ``rules.evaluate``'s order (sorted once per state, on first use)."""
        out = [f for fs in self.pcn_findings.values() for f in fs]
        out += [f for fs in self.practice_findings.values() for f in fs]
        out += self.geo_findings
        return sorted(out, key=rules_mod.finding_order)

    @cached_property
    def summary(self) -> RoundSummary:
        def make(scope: ScopeKey) -> Summary:
            name = self.system_name if scope == _SYSTEM else scope[1]
            return Summary(scope[0], name, **dict(zip(_FIELDS, self.counts.get(scope, (0,) * _N))))
        places = sorted((make(s) for s in self.counts if s[0] == "place"), key=lambda s: s.name)
        commissioners = sorted((make(s) for s in self.counts if s[0] == "commissioner"), key=lambda s: s.name)
        return RoundSummary(make(_SYSTEM), places, commissioners)

    @cached_property
    def _geo_by_subject(self) -> dict[tuple[str, str], list[Finding]]:
        out: dict[tuple[str, str], list[Finding]] = {}
        for f in self.geo_findings:
            if f.subject.type == "pcn" and f.subject.key:
                out.setdefault(("pcn", f.subject.key), []).append(f)
            elif f.subject.type == "practice" and f.subject.code:
                out.setdefault(("practice", f.subject.code), []).append(f)
        return out

    def pcn(self, key: str) -> Pcn:
        return self.pcn_by_key[key]

    def findings_for_pcn(self, key: str) -> list[Finding]:
        """Findings about a PCN or one of its member practices, in the order of ``findings``."""
        pcn = self.pcn_by_key[key]
        geo = self._geo_by_subject
        out = list(self.pcn_findings.get(key, ())) + geo.get(("pcn", key), [])
        for code in pcn.members:
            out += self.practice_findings.get(code, ())
            out += geo.get(("practice", code), [])
        return sorted(out, key=rules_mod.finding_order)


    def same_as(self, other: RoundState) -> bool:
        """Whether two states hold the same values (what the property tests compare)."""
        return (self.config.pcns == other.config.pcns and dict(self.config.practices) == dict(other.config.practices)
                and dict(self.config.exceptions) == dict(other.config.exceptions)
                and dict(self.pcn_of) == dict(other.pcn_of) and dict(self.totals) == dict(other.totals)
                and dict(self.bands) == dict(other.bands) and self.findings == other.findings
                and self.summary.as_dict() == other.summary.as_dict())


# --- computing ---------------------------------------------------------------------------------

def _sorted_pcns(pcns: Iterable[Pcn]) -> tuple[Pcn, ...]:
    return tuple(sorted(pcns, key=lambda p: (p.name.casefold(), p.key)))


def _total(practices: Mapping[str, Practice], pcn: Pcn) -> int:
    return sum(practices[c].list_size or 0 for c in pcn.members if c in practices)


def _group(findings: Iterable[Finding], by: str) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for f in findings:
        out.setdefault((f.subject.key if by == "pcn" else f.subject.code) or "", []).append(f)
    return out


def _pcn_rule_findings(config: Configuration) -> dict[str, list[Finding]]:
    """The PCN-scoped rules' findings for the PCNs of ``config``, by PCN key."""
    return _group((f for rule in rules_mod.PCN_RULES.values() for f in rule(config)), "pcn")


def _practice_rule_findings(config: Configuration) -> dict[str, list[Finding]]:
    return _group((f for rule in rules_mod.PRACTICE_RULES.values() for f in rule(config)), "practice")


def _run(names: Iterable[str], config: Configuration) -> list[Finding]:
    if config.geography is None:
        return []
    return [f for name in names for f in rules_mod.RULES[name](config)]


def _geo_pcn_rule_findings(config: Configuration) -> dict[str, tuple[Finding, ...]]:
    """The PCN-scoped geographic rules, run for each PCN of ``config`` alone (a finding about a
    member practice is kept under its PCN)."""
    out: dict[str, tuple[Finding, ...]] = {}
    if config.geography is None:
        return out
    for pcn in config.pcns:
        found = _run(GEO_PCN_RULES, Configuration(config.round, config.practices, (pcn,), config.exceptions,
                                                   config.geography))
        if found:
            out[pcn.key] = tuple(found)
    return out


def _geo_practice_rule_findings(config: Configuration) -> dict[str, tuple[Finding, ...]]:
    return {k: tuple(v) for k, v in _group(_run(GEO_PRACTICE_RULES, config), "practice").items()}


def _same(a, b) -> bool:
    return a is b or a == b


def _geo_changed(old: Geography | None, new: Geography | None, keys: Iterable[str]) -> set[str] | None:
    """The PCN keys (of ``keys``) whose geographic facts differ between two geographies; None
    when the geographies differ in more than the PCNs' areas (everything must be recomputed)."""
    if old is new:
        return set()
    if old is None or new is None or not all(_same(getattr(old, f), getattr(new, f)) for f in _GEO_FIXED):
        return None
    return {k for k in keys
            if not (_same(old.pcn_areas.get(k), new.pcn_areas.get(k))
                    and old.pcn_area_source.get(k) == new.pcn_area_source.get(k)
                    and old.pcn_blocks.get(k) == new.pcn_blocks.get(k))}


class _Counts:
    """Summary counts by scope, changed by adding or taking away contributions."""

    def __init__(self, base: Mapping[ScopeKey, tuple[int, ...]] | None = None):
        self.data: dict[ScopeKey, list[int]] = {k: list(v) for k, v in (base or {}).items()}

    def _scopes(self, place: str | None, commissioner: str | None) -> list[list[int]]:
        out = [self.data.setdefault(_SYSTEM, [0] * _N)]
        if place:
            out.append(self.data.setdefault(("place", place), [0] * _N))
        if commissioner:
            out.append(self.data.setdefault(("commissioner", commissioner), [0] * _N))
        return out

    def practice(self, p: Practice, assigned: bool, sign: int) -> None:
        if p.status != "open":
            return
        size = p.list_size or 0
        for c in self._scopes(p.place, p.commissioner):
            c[0] += sign
            c[2] += sign * size
            if assigned:
                c[1] += sign
                c[3] += sign * size

    def pcn(self, pcn: Pcn, band: BandStatus, sign: int) -> None:
        index = {"in_band": 5, "below": 6, "above": 7}[band]
        for c in self._scopes(pcn.place, pcn.lead_commissioner):
            c[4] += sign
            c[index] += sign

    def finding(self, f: Finding, pcns: Mapping[str, Pcn], practices: Mapping[str, Practice], sign: int) -> None:
        place = commissioner = None
        if f.subject.type == "pcn":
            pcn = pcns.get(f.subject.key or "")
            if pcn is not None:
                place, commissioner = pcn.place, pcn.lead_commissioner
        elif f.subject.type == "practice" and f.subject.code in practices:
            p = practices[f.subject.code]
            place, commissioner = p.place, p.commissioner
        index = {"error": 8, "warning": 9}.get(f.severity, 10)
        for c in self._scopes(place, commissioner):
            c[index] += sign

    def frozen(self) -> dict[ScopeKey, tuple[int, ...]]:
        # A scope exists while something counts in it: an open practice, a PCN or a finding
        # (as ``summary.summarise`` creates a scope only for such an item).
        return {k: tuple(v) for k, v in self.data.items()
                if v[0] or v[4] or v[8] or v[9] or v[10] or k == _SYSTEM}


def derive_all(config: Configuration, system_name: str = "System") -> RoundState:
    """A round's state computed from scratch."""
    pcn_by_key = {p.key: p for p in config.pcns}
    pcn_of = {code: p.key for p in config.pcns for code in p.members}
    totals = {p.key: _total(config.practices, p) for p in config.pcns}
    lo, hi = config.round.band_min, config.round.band_max
    bands = {k: band_status(t, lo, hi) for k, t in totals.items()}
    pcn_findings = {k: tuple(v) for k, v in _pcn_rule_findings(config).items()}
    practice_findings = {k: tuple(v) for k, v in _practice_rule_findings(config).items()}
    geo_pcn = _geo_pcn_rule_findings(config)
    geo_practice = _geo_practice_rule_findings(config)
    geo_round = tuple(_run(GEO_ROUND_RULES, config))
    counts = _Counts()
    for p in config.practices.values():
        counts.practice(p, p.code in pcn_of, +1)
    for p in config.pcns:
        counts.pcn(p, bands[p.key], +1)
    for fs in (*pcn_findings.values(), *practice_findings.values(), *geo_pcn.values(), *geo_practice.values(),
               geo_round):
        for f in fs:
            counts.finding(f, pcn_by_key, config.practices, +1)
    return RoundState(config, system_name, pcn_by_key, pcn_of, totals, bands, pcn_findings, practice_findings,
                      geo_pcn, geo_practice, geo_round, counts.frozen())


def derive(parent: RoundState, delta: Delta) -> RoundState:
    """The state after ``delta``, recomputing only what it touched (see the module docstring)."""
    if delta.empty:
        return parent
    old = parent.config
    practices: Mapping[str, Practice] = old.practices
    if delta.practices:
        practices = dict(old.practices)
        for code, value in delta.practices.items():
            if value is None:
                practices.pop(code, None)
            else:
                practices[code] = value
    exceptions: Mapping[str, SizeException] = old.exceptions
    if delta.exceptions:
        exceptions = dict(old.exceptions)
        for key, value in delta.exceptions.items():
            if value is None:
                exceptions.pop(key, None)
            else:
                exceptions[key] = value
    geography: Geography | None = old.geography if delta.geography is _KEEP else delta.geography  # type: ignore[assignment]

    # The PCNs touched: replaced, added or removed; holding a changed practice; with a changed exception.
    touched = set(delta.pcns)
    touched.update(parent.pcn_of[c] for c in delta.practices if c in parent.pcn_of)
    touched.update(k for k in delta.exceptions if k in parent.pcn_by_key or k in delta.pcns)
    pcn_by_key = dict(parent.pcn_by_key)
    for key, value in delta.pcns.items():
        if value is None:
            pcn_by_key.pop(key, None)
        else:
            pcn_by_key[key] = value
    new_pcns = {k: pcn_by_key[k] for k in touched if k in pcn_by_key}
    old_pcns = {k: parent.pcn_by_key[k] for k in touched if k in parent.pcn_by_key}

    # Who is where: take out the old members of touched PCNs, put in the new ones.
    pcn_of = dict(parent.pcn_of)
    for pcn in old_pcns.values():
        for code in pcn.members:
            if pcn_of.get(code) == pcn.key:
                del pcn_of[code]
    for pcn in new_pcns.values():
        for code in pcn.members:
            if code in pcn_of and pcn_of[code] != pcn.key:
                raise InconsistentDelta(f"{code} would be in {pcn_of[code]} and {pcn.key}")
            pcn_of[code] = pcn.key
    # Practices whose practice-scoped findings or counts may change.
    codes = set(delta.practices)
    for pcn in (*old_pcns.values(), *new_pcns.values()):
        codes.update(pcn.members)

    config = Configuration(old.round, practices, _sorted_pcns(pcn_by_key.values()) if delta.pcns else old.pcns,
                           exceptions, geography)
    lo, hi = old.round.band_min, old.round.band_max
    totals, bands = dict(parent.totals), dict(parent.bands)
    for key in old_pcns:
        totals.pop(key, None)
        bands.pop(key, None)
    for key, pcn in new_pcns.items():
        totals[key] = _total(practices, pcn)
        bands[key] = band_status(totals[key], lo, hi)

    # Findings of the touched PCNs and practices, from the rules run on just those.
    scoped = Configuration(old.round, practices, tuple(new_pcns.values()), exceptions, None)
    pcn_findings = dict(parent.pcn_findings)
    for key in old_pcns:
        pcn_findings.pop(key, None)
    pcn_findings.update({k: tuple(v) for k, v in _pcn_rule_findings(scoped).items()})
    holders = {pcn_of[c] for c in codes if c in pcn_of}
    scoped_practices = Configuration(
        old.round, {c: practices[c] for c in codes if c in practices},
        tuple(pcn_by_key[k] for k in holders), exceptions, None)
    practice_findings = dict(parent.practice_findings)
    for code in codes:
        practice_findings.pop(code, None)
    practice_findings.update({k: tuple(v) for k, v in _practice_rule_findings(scoped_practices).items()})
    # Geographic findings: of the touched PCNs and of those whose area changed; of the changed
    # practices; the round's, unless only exceptions changed (no geographic rule reads them).
    geo_pcn, geo_practice = dict(parent.geo_pcn_findings), dict(parent.geo_practice_findings)
    geo_round = parent.geo_round_findings
    # (a PCN whose exception alone changed keeps its geographic findings)
    geo_pcn_keys: set[str] = set(delta.pcns) | {parent.pcn_of[c] for c in delta.practices if c in parent.pcn_of}
    geo_codes: set[str] = set(delta.practices)
    changed = _geo_changed(old.geography, geography, set(parent.pcn_by_key) | set(pcn_by_key))
    if changed is None:
        geo_pcn_keys = set(parent.geo_pcn_findings) | set(pcn_by_key)
        geo_codes = set(parent.geo_practice_findings) | set(practices)
    else:
        geo_pcn_keys |= changed
    # The round's rules read more than the PCNs' areas: the gaps (unassigned blocks) and the
    # catchments (registrations by LSOA, neighbourhoods) may change with nothing else.
    round_inputs_changed = changed is None or (old.geography is not geography and not (
        old.geography.unassigned_blocks == geography.unassigned_blocks
        and _same(old.geography.catchments, geography.catchments)))
    if round_inputs_changed:
        geo_round = tuple(_run(GEO_ROUND_RULES, config))
    if geo_pcn_keys or geo_codes:
        for key in geo_pcn_keys:
            geo_pcn.pop(key, None)
        geo_pcn.update(_geo_pcn_rule_findings(Configuration(
            old.round, practices, tuple(pcn_by_key[k] for k in geo_pcn_keys if k in pcn_by_key), exceptions,
            geography)))
        for code in geo_codes:
            geo_practice.pop(code, None)
        geo_practice.update(_geo_practice_rule_findings(Configuration(
            old.round, {c: practices[c] for c in geo_codes if c in practices}, (), exceptions, geography)))
        geo_round = tuple(_run(GEO_ROUND_RULES, config))

    # Summary counts: take away what the touched items counted for, add what they count for now.
    counts = _Counts(parent.counts)
    for code in codes:
        if code in old.practices:
            counts.practice(old.practices[code], code in parent.pcn_of, -1)
        if code in practices:
            counts.practice(practices[code], code in pcn_of, +1)
    for key, pcn in old_pcns.items():
        counts.pcn(pcn, parent.bands[key], -1)
    for key, pcn in new_pcns.items():
        counts.pcn(pcn, bands[key], +1)
    for key in old_pcns:
        for f in parent.pcn_findings.get(key, ()):
            counts.finding(f, parent.pcn_by_key, old.practices, -1)
    for code in codes:
        for f in parent.practice_findings.get(code, ()):
            counts.finding(f, parent.pcn_by_key, old.practices, -1)
    for key in geo_pcn_keys:
        for f in parent.geo_pcn_findings.get(key, ()):
            counts.finding(f, parent.pcn_by_key, old.practices, -1)
    for code in geo_codes:
        for f in parent.geo_practice_findings.get(code, ()):
            counts.finding(f, parent.pcn_by_key, old.practices, -1)
    if geo_round is not parent.geo_round_findings:
        for f in parent.geo_round_findings:
            counts.finding(f, parent.pcn_by_key, old.practices, -1)
    for key in new_pcns:
        for f in pcn_findings.get(key, ()):
            counts.finding(f, pcn_by_key, practices, +1)
    for code in codes:
        for f in practice_findings.get(code, ()):
            counts.finding(f, pcn_by_key, practices, +1)
    for key in geo_pcn_keys:
        for f in geo_pcn.get(key, ()):
            counts.finding(f, pcn_by_key, practices, +1)
    for code in geo_codes:
        for f in geo_practice.get(code, ()):
            counts.finding(f, pcn_by_key, practices, +1)
    if geo_round is not parent.geo_round_findings:
        for f in geo_round:
            counts.finding(f, pcn_by_key, practices, +1)
    return RoundState(config, parent.system_name, pcn_by_key, pcn_of, totals, bands, pcn_findings,
                      practice_findings, geo_pcn, geo_practice, geo_round, counts.frozen())


# --- deltas of the usual edits -------------------------------------------------------------------

def _with_members(pcn: Pcn, members: Iterable[str]) -> Pcn:
    return Pcn(pcn.key, pcn.name, pcn.code, pcn.place, pcn.lead_commissioner, tuple(sorted(set(members))))


def move(state: RoundState, codes: Iterable[str], to_key: str | None) -> Delta:
    """Move practices into ``to_key`` (None: out of any PCN)."""
    codes = set(codes)
    changed: dict[str, set[str]] = {}
    for code in codes:
        key = state.pcn_of.get(code)
        if key is not None and key != to_key:
            changed.setdefault(key, set(state.pcn_by_key[key].members)).discard(code)
    if to_key is not None:
        changed.setdefault(to_key, set(state.pcn_by_key[to_key].members)).update(codes)
    return Delta(pcns={k: _with_members(state.pcn_by_key[k], m) for k, m in changed.items()})


def to_assignments(state: RoundState, assignments: Mapping[str, str], names: Mapping[str, str],
                   meta: Mapping[str, Pcn] | None = None) -> Delta:
    """The delta from ``state`` to the grouping ``assignments`` (practice -> PCN key) with the PCNs
    ``names`` (key -> name). A PCN the state does not have takes its code, place and lead from
    ``meta`` (a ``Pcn`` whose members are ignored)."""
    members: dict[str, list[str]] = {k: [] for k in names}
    for code, key in assignments.items():
        members.setdefault(key, []).append(code)
    out: dict[str, Pcn | None] = {k: None for k in state.pcn_by_key if k not in names}
    for key, name in names.items():
        base = state.pcn_by_key.get(key) or (meta or {}).get(key) or Pcn(key, name)
        pcn = Pcn(key, name, base.code, base.place, base.lead_commissioner, tuple(sorted(members[key])))
        if state.pcn_by_key.get(key) != pcn:
            out[key] = pcn
    return Delta(pcns=out)
