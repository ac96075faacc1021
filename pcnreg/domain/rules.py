"""The configuration rules. Every rule a round checks lives in this file.

A rule is a function ``Configuration -> Iterable[Finding]``. ``evaluate`` runs all of them and
returns the findings in a stable order. Rules read only the plain data of ``types``.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal

from . import catchments as catchments_mod
from .dates import uk_date
from .geometry import components, overlaps, parts, share_outside, shares
from .types import Configuration, Finding, Pcn, Practice, Subject

Rule = Callable[[Configuration], Iterable[Finding]]
BandStatus = Literal["in_band", "below", "above"]


def band_status(total: int, band_min: int, band_max: int) -> BandStatus:
    """Where a list size stands against a band. Both bounds are inclusive."""
    if total < band_min:
        return "below"
    if total > band_max:
        return "above"
    return "in_band"


def _pcn_subject(pcn: Pcn) -> Subject:
    return Subject("pcn", pcn.code, pcn.name, pcn.key)


def _practice_subject(practice: Practice) -> Subject:
    return Subject("practice", practice.code, practice.name)


def list_size_band(config: Configuration) -> Iterable[Finding]:
    """PCN total against the round's band.

    Below the minimum: error "needs exception" (rural or exceptional circumstances, with the
    commissioner's agreement). Above the maximum: warning "needs approval" (commissioner's
    agreement; may be asked to work as neighbourhood teams). A recorded exception turns
    either into info. Empty PCNs are left to ``empty_pcn``.
    """
    lo, hi = config.round.band_min, config.round.band_max
    for pcn in config.pcns:
        if not pcn.members:
            continue
        total = config.pcn_total(pcn)
        status = band_status(total, lo, hi)
        if status == "in_band":
            continue
        figures = {"total": total, "band_min": lo, "band_max": hi, "band_status": status}
        exception = config.exceptions.get(pcn.key)
        if status == "below":
            severity, message = "error", (
                f"{pcn.name} has {total:,} registered patients, below the minimum of {lo:,}: "
                "needs an exception (rural or exceptional circumstances, commissioner agreement)")
        else:
            severity, message = "warning", (
                f"{pcn.name} has {total:,} registered patients, above the maximum of {hi:,}: "
                "needs commissioner approval (may be asked to work as neighbourhood teams "
                f"of {lo // 1000}–{hi // 1000}k)")
        if exception is not None:
            severity = "info"
            message += (f". Exception recorded by {exception.recorded_by} on "
                        f"{uk_date(exception.recorded_at)}: {exception.reason}")
            figures["exception"] = {
                "reason": exception.reason,
                "recorded_by": exception.recorded_by,
                "recorded_at": exception.recorded_at.isoformat(timespec="seconds"),
            }
        yield Finding("list_size_band", severity, _pcn_subject(pcn), message, figures)


def coverage(config: Configuration) -> Iterable[Finding]:
    """Every open practice in the round's scope must be in a PCN."""
    assigned = config.assigned_codes()
    for practice in sorted(config.practices.values(), key=lambda p: p.code):
        if practice.status == "open" and practice.code not in assigned:
            yield Finding(
                "coverage", "error", _practice_subject(practice),
                f"{practice.name} ({practice.code}) is not in any PCN",
                {"list_size": practice.list_size, "commissioner": practice.commissioner})


def single_place(config: Configuration) -> Iterable[Finding]:
    """A PCN's members (and the PCN itself) must all lie in one place (ICP)."""
    for pcn in config.pcns:
        members = [config.practices[c] for c in pcn.members if c in config.practices]
        counts = Counter(m.place for m in members if m.place is not None)
        places = set(counts) | ({pcn.place} if pcn.place else set())
        if len(places) > 1:
            detail = ", ".join(f"{p} ({counts.get(p, 0)} practices)" for p in sorted(places))
            yield Finding(
                "single_place", "error", _pcn_subject(pcn),
                f"{pcn.name} spans more than one place: {detail}; PCN place is {pcn.place or 'not set'}",
                {"places": dict(sorted(counts.items())), "pcn_place": pcn.place})


def single_commissioner(config: Configuration) -> Iterable[Finding]:
    """Members with different commissioners need the commissioners to agree a lead."""
    for pcn in config.pcns:
        members = [config.practices[c] for c in pcn.members if c in config.practices]
        counts = Counter(m.commissioner for m in members)
        if len(counts) > 1:
            detail = ", ".join(f"{c} ({n})" for c, n in sorted(counts.items()))
            yield Finding(
                "single_commissioner", "warning", _pcn_subject(pcn),
                f"{pcn.name} has members with different commissioners: {detail}; "
                f"lead commissioner {pcn.lead_commissioner or 'not set'}",
                {"commissioners": dict(sorted(counts.items())),
                 "lead_commissioner": pcn.lead_commissioner})


def member_other_system(config: Configuration) -> Iterable[Finding]:
    """A member commissioned in another system stays in its PCN (the PCN belongs to the system of
    its lead commissioner): shown, never dropped, so the two systems can agree who holds it."""
    home = config.round.system
    for pcn in config.pcns:
        for code in pcn.members:
            practice = config.practices.get(code)
            if home and practice is not None and practice.system and practice.system != home:
                yield Finding(
                    "member_other_system", "warning", _pcn_subject(pcn),
                    f"{pcn.name} includes {practice.name} ({code}), commissioned by {practice.commissioner} "
                    f"in another system ({practice.system})",
                    {"practice": code, "commissioner": practice.commissioner, "system": practice.system})


def closed_practice(config: Configuration) -> Iterable[Finding]:
    """A closed practice cannot be a member of a PCN."""
    for pcn in config.pcns:
        for code in pcn.members:
            practice = config.practices.get(code)
            if practice is not None and practice.status == "closed":
                yield Finding(
                    "closed_practice", "error", _pcn_subject(pcn),
                    f"{pcn.name} includes {practice.name} ({code}), which is closed",
                    {"practice": code})


def empty_pcn(config: Configuration) -> Iterable[Finding]:
    for pcn in config.pcns:
        if not pcn.members:
            yield Finding("empty_pcn", "error", _pcn_subject(pcn), f"{pcn.name} has no member practices")


def list_size_date(config: Configuration) -> Iterable[Finding]:
    """An open practice's list size must be known and dated on or after the reference date."""
    ref = config.round.reference_date
    for practice in sorted(config.practices.values(), key=lambda p: p.code):
        if practice.status != "open":
            continue
        if practice.list_size is None:
            yield Finding(
                "list_size_date", "warning", _practice_subject(practice),
                f"{practice.name} ({practice.code}) has no registered list size",
                {"reference_date": ref.isoformat()})
        elif practice.list_size_date is None or practice.list_size_date < ref:
            when = (f"is dated {uk_date(practice.list_size_date)}, before"
                    if practice.list_size_date else "has no date; it should be dated on or after")
            yield Finding(
                "list_size_date", "warning", _practice_subject(practice),
                f"{practice.name} ({practice.code}): its list size {when} the round's "
                f"reference date {uk_date(ref)}",
                {"list_size": practice.list_size, "as_of": practice.list_size_date.isoformat()
                 if practice.list_size_date else None, "reference_date": ref.isoformat()})


# --- geographic rules (run only when the configuration has a Geography) ---------------------------

OUTSIDE_PLACE_TOLERANCE = 0.01      # share of a PCN's area outside its place that is reported
PRACTICE_AREA_TOLERANCE_M = 1.0     # a practice this close to its PCN's area counts as inside
MIN_LOCAL_AUTHORITY_SHARE = 0.005   # smaller overlaps are slivers between generalised boundary files


def local_authority_shares(area, local_authorities) -> dict[str, float]:
    """Local authority code -> share of ``area`` inside it, for the local authorities holding at
    least ``MIN_LOCAL_AUTHORITY_SHARE`` of it (``local_authorities`` as in ``Geography``: code ->
    (name, area, place)). The one test of which local authorities a PCN touches: the
    ``pcn_local_authorities`` rule and the maps' tables both use it."""
    found = shares(area, {code: g for code, (_, g, _) in local_authorities.items()})
    return {code: v for code, v in found.items() if v >= MIN_LOCAL_AUTHORITY_SHARE}


def _geo_pcns(config: Configuration):
    geo = config.geography
    if geo is None:
        return
    for pcn in config.pcns:
        area = geo.pcn_areas.get(pcn.key)
        if area is not None and not area.is_empty:
            yield geo, pcn, area


def pcn_contiguous(config: Configuration) -> Iterable[Finding]:
    """A PCN's area must be one contiguous area. Built from blocks: the blocks' adjacency (with
    'treat as adjacent' pairs) decides; uploaded: the polygon's parts. A single-practice PCN is
    contiguous by definition."""
    for geo, pcn, area in _geo_pcns(config):
        if len(pcn.members) <= 1:
            continue
        if geo.pcn_area_source.get(pcn.key) == "upload":
            n, detached = parts(area), []
        else:
            groups = components(geo.pcn_blocks.get(pcn.key, frozenset()), geo.block_neighbours)
            n, detached = len(groups), sorted(code for g in groups[1:] for code in g)
        if n > 1:
            yield Finding(
                "pcn_contiguous", "error", _pcn_subject(pcn),
                f"{pcn.name}'s area is in {n} separate parts"
                + (f"; blocks apart from the main part: {', '.join(detached[:10])}"
                   + (f" and {len(detached) - 10} more" if len(detached) > 10 else "") if detached else ""),
                {"parts": n, "detached_blocks": detached})


def pcn_outside_place(config: Configuration) -> Iterable[Finding]:
    """A PCN's area should lie inside its place (ICP)."""
    for geo, pcn, area in _geo_pcns(config):
        place = geo.places.get(pcn.place or "")
        if place is None:
            continue
        share = share_outside(area, place)
        if share > OUTSIDE_PLACE_TOLERANCE:
            yield Finding(
                "pcn_outside_place", "warning", _pcn_subject(pcn),
                f"{share:.1%} of {pcn.name}'s area lies outside {pcn.place}",
                {"share_outside_pct": round(100 * share, 1), "place": pcn.place})


def pcn_local_authorities(config: Configuration) -> Iterable[Finding]:
    """A PCN touching several local authorities: each with its share of area and of patients."""
    for geo, pcn, area in _geo_pcns(config):
        by_area = local_authority_shares(area, geo.local_authorities)
        if len(by_area) <= 1:
            continue
        total = config.pcn_total(pcn)
        patients: dict[str, int] = {}
        for code in pcn.members:
            la = geo.practice_la.get(code)
            if la and code in config.practices:
                patients[la] = patients.get(la, 0) + (config.practices[code].list_size or 0)
        detail = []
        figures = {}
        for la in sorted(set(by_area) | set(patients), key=lambda c: -by_area.get(c, 0)):
            name = geo.local_authorities[la][0] if la in geo.local_authorities else la
            pct_pat = round(100 * patients.get(la, 0) / total, 1) if total else 0.0
            figures[la] = {"name": name, "area_pct": round(100 * by_area.get(la, 0), 1), "patients_pct": pct_pat}
            detail.append(f"{name} {figures[la]['area_pct']}% of area, {pct_pat}% of patients")
        yield Finding("pcn_local_authorities", "info", _pcn_subject(pcn),
                      f"{pcn.name} touches {len(figures)} local authorities: " + "; ".join(detail),
                      {"local_authorities": figures})


def practice_place(config: Configuration) -> Iterable[Finding]:
    """A member practice whose local authority lies in a different place than its PCN. Only where
    places are made of local authorities: a system whose places stand for commissioners (as
    onboarding makes them) gives its local authorities no place, and this rule nothing to say."""
    geo = config.geography
    if geo is None or not any(place for _, _, place in geo.local_authorities.values()):
        return
    for pcn in config.pcns:
        for code in pcn.members:
            la = geo.practice_la.get(code)
            if la is None or la not in geo.local_authorities or code not in config.practices:
                continue
            name, _, la_place = geo.local_authorities[la]
            if la_place != pcn.place:
                practice = config.practices[code]
                yield Finding(
                    "practice_place", "warning", _practice_subject(practice),
                    f"{practice.name} ({code}) is in {name}, "
                    f"{'in ' + la_place if la_place else 'outside every place of the system'}, "
                    f"but its PCN {pcn.name} is in {pcn.place or 'no place'}",
                    {"local_authority": la, "local_authority_place": la_place, "pcn": pcn.name,
                     "pcn_place": pcn.place})


def practice_outside_area(config: Configuration) -> Iterable[Finding]:
    """A member practice located outside its PCN's area."""
    for geo, pcn, area in _geo_pcns(config):
        for code in pcn.members:
            point = geo.practice_points.get(code)
            if point is not None and area.distance(point) > PRACTICE_AREA_TOLERANCE_M and code in config.practices:
                practice = config.practices[code]
                yield Finding(
                    "practice_outside_area", "warning", _practice_subject(practice),
                    f"{practice.name} ({code}) is located {area.distance(point) / 1000:.1f} km outside "
                    f"the area of its PCN {pcn.name}",
                    {"pcn": pcn.name, "distance_m": round(area.distance(point))})


def practice_location(config: Configuration) -> Iterable[Finding]:
    """An open practice without a location cannot be placed on the map: never dropped silently."""
    geo = config.geography
    if geo is None:
        return
    for practice in sorted(config.practices.values(), key=lambda p: p.code):
        if practice.status == "open" and practice.code not in geo.practice_points:
            yield Finding("practice_location", "warning", _practice_subject(practice),
                          f"{practice.name} ({practice.code}) has no location: it is left out of the "
                          "maps and of the nearest-practice areas", {})


def area_gaps(config: Configuration) -> Iterable[Finding]:
    """Every block of the system must belong to a PCN."""
    geo = config.geography
    if geo is None or not geo.unassigned_blocks:
        return
    gaps = sorted(geo.unassigned_blocks)
    yield Finding("area_gaps", "error", Subject("round", None, config.round.name),
                  f"{len(gaps)} blocks are in no PCN's area: {', '.join(gaps[:10])}"
                  + (f" and {len(gaps) - 10} more" if len(gaps) > 10 else ""),
                  {"blocks": gaps})


def area_overlaps(config: Configuration) -> Iterable[Finding]:
    """Uploaded areas must not overlap other PCNs' areas."""
    geo = config.geography
    if geo is None or "upload" not in geo.pcn_area_source.values():
        return
    names = {p.key: p for p in config.pcns}
    areas = {k: a for k, a in geo.pcn_areas.items() if k in names and not a.is_empty}
    for a, b, m2 in overlaps(areas):
        if "upload" in (geo.pcn_area_source.get(a), geo.pcn_area_source.get(b)):
            yield Finding("area_overlaps", "error", _pcn_subject(names[a]),
                          f"{names[a].name}'s area overlaps {names[b].name}'s by {m2 / 1e6:.2f} km²",
                          {"other": names[b].name, "other_key": b, "overlap_km2": round(m2 / 1e6, 3)})


# --- catchments and neighbourhoods (issue #14; run with a Geography carrying ``catchments``) ---------------

def _catchment_inputs(config: Configuration):
    geo = config.geography
    return (geo, geo.catchments) if geo is not None and geo.catchments is not None else (None, None)


def catchment_contiguous(config: Configuration) -> Iterable[Finding]:
    """A PCN's catchment (the LSOAs where it holds the round's threshold share of the registered
    patients, from the LSOA registrations) in several parts under the block adjacency the
    ``pcn_contiguous`` rule uses. Catchments are advice, not contract: a warning."""
    geo, inputs = _catchment_inputs(config)
    if inputs is None or inputs.counts is None:
        return
    members = {p.key: p.members for p in config.pcns}
    s = inputs.settings
    _, catch = catchments_mod.round_catchments(inputs, members, geo.block_neighbours.keys())
    for pcn in config.pcns:
        groups = catchments_mod.parts(catch.get(pcn.key, ()), geo.block_neighbours)
        if len(groups) > 1:
            detached = sorted(code for g in groups[1:] for code in g)
            yield Finding(
                "catchment_contiguous", "warning", _pcn_subject(pcn),
                f"{pcn.name}'s catchment ({len(catch[pcn.key])} LSOAs where it holds "
                + (f"at least {s.threshold:.0%}" if s.method == "threshold" else "the largest share")
                + f" of the registered patients) is in {len(groups)} separate parts; LSOAs apart from the main "
                f"part: {', '.join(detached[:10])}" + (f" and {len(detached) - 10} more" if len(detached) > 10 else ""),
                {"parts": len(groups), "detached_lsoas": detached, "catchment_lsoas": len(catch[pcn.key]),
                 "method": s.method, "threshold": s.threshold})


def neighbourhood_alignment(config: Configuration) -> Iterable[Finding]:
    """A PCN with less than the round's alignment threshold (default 80%) of its patients inside
    its best-matching neighbourhood: by the LSOA registrations when loaded, else by its area's
    blocks (weighted by population, else land area). Only when neighbourhoods are defined."""
    geo, inputs = _catchment_inputs(config)
    if inputs is None or not inputs.neighbourhood_of:
        return
    members = {p.key: p.members for p in config.pcns if p.members}
    weights, basis = catchments_mod.weights_for(inputs, members, geo.pcn_blocks)
    result = catchments_mod.alignment(weights, inputs.neighbourhood_of, basis)
    limit = inputs.settings.alignment_threshold
    unit = "registered patients" if basis == "registrations" else f"area (by {inputs.weight_basis})"
    for pcn in config.pcns:
        a = result.get(pcn.key)
        if a is None or not a.total or a.share >= limit - 1e-12:
            continue
        others = sorted(((n, w) for n, w in a.by_neighbourhood.items() if n != a.best), key=lambda x: -x[1])
        detail = "; ".join(f"{n} {w / a.total:.1%}" for n, w in others[:5])
        where = (f"{a.share:.1%} of its {unit} in its best-matching neighbourhood {a.best}" if a.best
                 else f"none of its {unit} in a neighbourhood")
        yield Finding(
            "neighbourhood_alignment", "warning", _pcn_subject(pcn),
            f"{pcn.name} has {where}, below the round's {limit:.0%}"
            + (f"; also {detail}" if detail else "")
            + (f"; {a.outside / a.total:.1%} outside every neighbourhood" if a.outside > 0.0005 * a.total else ""),
            {"basis": basis, "best": a.best, "share_pct": round(100 * a.share, 1),
             "threshold_pct": round(100 * limit, 1),
             "by_neighbourhood_pct": {n: round(100 * w / a.total, 1) for n, w in sorted(a.by_neighbourhood.items())},
             "outside_pct": round(100 * a.outside / a.total, 1),
             "kind": inputs.kinds.get(a.best) if a.best else None})


RULES: dict[str, Rule] = {
    "list_size_band": list_size_band,
    "coverage": coverage,
    "single_place": single_place,
    "single_commissioner": single_commissioner,
    "member_other_system": member_other_system,
    "closed_practice": closed_practice,
    "empty_pcn": empty_pcn,
    "list_size_date": list_size_date,
    "pcn_contiguous": pcn_contiguous,
    "pcn_outside_place": pcn_outside_place,
    "pcn_local_authorities": pcn_local_authorities,
    "practice_place": practice_place,
    "practice_outside_area": practice_outside_area,
    "practice_location": practice_location,
    "area_gaps": area_gaps,
    "area_overlaps": area_overlaps,
    "catchment_contiguous": catchment_contiguous,
    "neighbourhood_alignment": neighbourhood_alignment,
}

RULE_TITLES: dict[str, str] = {
    "list_size_band": "List size outside the band",
    "coverage": "Practice not in any PCN",
    "single_place": "PCN spans more than one place",
    "single_commissioner": "Members with different commissioners",
    "member_other_system": "Member commissioned in another system",
    "closed_practice": "Closed practice in a PCN",
    "empty_pcn": "PCN with no members",
    "list_size_date": "List size missing or out of date",
    "pcn_contiguous": "PCN area not contiguous",
    "pcn_outside_place": "PCN area outside its place",
    "pcn_local_authorities": "PCN touches several local authorities",
    "practice_place": "Practice's local authority in another place",
    "practice_outside_area": "Practice outside its PCN's area",
    "practice_location": "Practice without a location",
    "area_gaps": "Blocks in no PCN",
    "area_overlaps": "Overlapping PCN areas",
    "catchment_contiguous": "PCN catchment not contiguous",
    "neighbourhood_alignment": "PCN not aligned with a neighbourhood",
}

# What each rule's findings depend on, so that a change re-runs only the rules it touched
# (``domain.state``): a PCN-scoped rule's findings for a PCN depend only on that PCN, its members
# and its exception (its subject is the PCN); a practice-scoped rule's only on the practice and
# whether it is in a PCN (its subject is the practice); the geographic rules read the round's
# geography and run on the whole round.
PCN_RULES: dict[str, Rule] = {name: RULES[name] for name in (
    "list_size_band", "single_place", "single_commissioner", "member_other_system", "closed_practice", "empty_pcn")}
PRACTICE_RULES: dict[str, Rule] = {name: RULES[name] for name in ("coverage", "list_size_date")}
GEOGRAPHIC: dict[str, Rule] = {name: rule for name, rule in RULES.items()
                               if name not in PCN_RULES and name not in PRACTICE_RULES}

# Identifies this rule set (and the state and summary code that read it): part of the key of a
# round's stored state, so that a deployment with changed rules never reads states of the old ones.
RULESET_VERSION = hashlib.sha256(b"".join(
    (Path(__file__).parent / name).read_bytes() for name in ("rules.py", "summary.py", "state.py", "types.py",
                                                             "geometry.py"))).hexdigest()[:16]

_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def finding_order(f: Finding) -> tuple:
    """Errors first, then by rule and subject (the message breaks ties: one order, always)."""
    return (_SEVERITY_ORDER[f.severity], f.rule, f.subject.type, f.subject.name, f.subject.code or "", f.message,
            f.subject.key or "")       # two PCNs of one name (and no code yet) still have one order


def evaluate(config: Configuration, rules: dict[str, Rule] | None = None) -> list[Finding]:
    """All findings of a configuration, errors first, then by rule and subject."""
    findings = [f for rule in (rules or RULES).values() for f in rule(config)]
    return sorted(findings, key=finding_order)
