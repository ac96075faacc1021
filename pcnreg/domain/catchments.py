"""Catchments and neighbourhoods (issue #14): plain functions, no Flask, no database.

Inputs are NHS England's registrations by LSOA: ``counts`` (practice code -> English LSOA ->
patients) for the round's practices, and ``lsoa_totals`` (LSOA -> patients registered at any
practice of the file: with the England file, practices of other systems count too).

- A **PCN's share of an LSOA**: the PCN's patients living in the LSOA / the LSOA's registered
  patients (``lsoa_totals``). An **LSOA's share of a PCN**: the PCN's patients living in the LSOA /
  the PCN's patients with an English LSOA (special values such as ``CLOSED`` or Welsh codes are
  left out of both).
- A PCN's **catchment** (method ``threshold``): the LSOAs where it holds at least ``threshold`` of
  the registered patients (default 50%): an LSOA is in at most one catchment when the threshold is
  over one half. Method ``largest``: every LSOA of the round (a block of the system, or an LSOA
  whose registered patients are mostly at the round's practices) goes to the PCN with the largest
  share (ties: the lower PCN key). From a one-system extract (the file holds no practice of
  another system) catchments keep to the system's blocks: elsewhere an LSOA's total lacks the
  patients of other systems' practices.
- A PCN's **neighbourhood alignment**: the share of its patients living in its best-matching
  neighbourhood (the one holding most of them). With registrations the weights are the PCN's own
  patients by LSOA ("registrations"); without, the blocks of its nearest-practice area weighted by
  their population, else their land area ("area").
"""
from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field

from .geometry import components

DEFAULT_THRESHOLD = 0.5
DEFAULT_METHOD = "threshold"
METHODS = ("threshold", "largest")
DEFAULT_ALIGNMENT = 0.8
SINGLE_SIZE = 50_000              # single-neighbourhood provider, about 50,000 people
MULTI_SIZE = 250_000              # multi-neighbourhood provider, about 250,000 people
KINDS = {"single": "Single-neighbourhood", "multi": "Multi-neighbourhood"}


@dataclass(frozen=True)
class Settings:
    """A round's catchment and neighbourhood settings."""

    threshold: float = DEFAULT_THRESHOLD
    method: str = DEFAULT_METHOD
    alignment_threshold: float = DEFAULT_ALIGNMENT
    single_size: int = SINGLE_SIZE
    multi_size: int = MULTI_SIZE

    def size_of(self, kind: str) -> int:
        return self.single_size if kind == "single" else self.multi_size


@dataclass(frozen=True)
class Inputs:
    """What the catchment and neighbourhood rules read (part of ``types.Geography``)."""

    settings: Settings = field(default_factory=Settings)
    counts: Mapping[str, Mapping[str, int]] | None = None     # practice -> LSOA -> patients (None: no file)
    lsoa_totals: Mapping[str, int] = field(default_factory=dict)
    neighbourhood_of: Mapping[str, str] = field(default_factory=dict)   # LSOA -> neighbourhood name
    kinds: Mapping[str, str] = field(default_factory=dict)              # neighbourhood name -> kind
    block_weights: Mapping[str, float] = field(default_factory=dict)    # block -> population (or m²)
    weight_basis: str = "population"                                     # or "land area"
    # A one-system extract (no practice of another system in the file): outside the system the LSOAs'
    # totals miss other systems' patients, so catchments keep to these LSOAs (the system's blocks).
    within: frozenset[str] | None = None


def pcn_lsoa_patients(counts: Mapping[str, Mapping[str, int]], members: Mapping[str, Iterable[str]]
                      ) -> dict[str, dict[str, int]]:
    """PCN key -> LSOA -> patients of its member practices living there (``members``: PCN key ->
    practice codes)."""
    out: dict[str, dict[str, int]] = {}
    for key, codes in members.items():
        acc: dict[str, int] = {}
        for code in codes:
            for lsoa, n in counts.get(code, {}).items():
                acc[lsoa] = acc.get(lsoa, 0) + n
        out[key] = acc
    return out


def lsoa_shares(pcn_lsoa: Mapping[str, Mapping[str, int]], lsoa_totals: Mapping[str, int]
                ) -> dict[str, dict[str, float]]:
    """LSOA -> PCN key -> share of the LSOA's registered patients who belong to the PCN."""
    ours: dict[str, dict[str, int]] = {}
    for key, by_lsoa in pcn_lsoa.items():
        for lsoa, n in by_lsoa.items():
            ours.setdefault(lsoa, {})[key] = n
    out = {}
    for lsoa, by_pcn in ours.items():
        total = max(lsoa_totals.get(lsoa, 0), sum(by_pcn.values()))
        out[lsoa] = {key: n / total for key, n in by_pcn.items()} if total else {}
    return out


def catchments(pcn_lsoa: Mapping[str, Mapping[str, int]], lsoa_totals: Mapping[str, int],
               threshold: float = DEFAULT_THRESHOLD, method: str = DEFAULT_METHOD,
               within: Iterable[str] | None = None, only: Container[str] | None = None
               ) -> dict[str, frozenset[str]]:
    """PCN key -> the LSOAs of its catchment (see the module docstring). ``within``: the blocks
    of the system (for ``largest``); ``only``: catchments keep to these LSOAs."""
    shares = lsoa_shares(pcn_lsoa, lsoa_totals)
    if only is not None:
        shares = {lsoa: v for lsoa, v in shares.items() if lsoa in only}
    out: dict[str, set[str]] = {key: set() for key in pcn_lsoa}
    if method == "threshold":
        for lsoa, by_pcn in shares.items():
            for key, share in by_pcn.items():
                if share >= threshold - 1e-12:
                    out[key].add(lsoa)
    elif method == "largest":
        inside = set(within or ())
        for lsoa, by_pcn in shares.items():
            if not by_pcn or (lsoa not in inside and sum(by_pcn.values()) < 0.5):
                continue
            best = min(by_pcn, key=lambda k: (-by_pcn[k], _key_order(k)))
            out[best].add(lsoa)
    else:
        raise ValueError(f"unknown catchment method {method!r}")
    return {key: frozenset(v) for key, v in out.items()}


def _key_order(key: str):
    return (0, int(key), key) if key.isdigit() else (1, 0, key)


def lsoa_owner(catchment: Mapping[str, frozenset[str]]) -> dict[str, str]:
    """LSOA -> PCN key of the catchment it is in (the first PCN in key order if several)."""
    out: dict[str, str] = {}
    for key in sorted(catchment, key=_key_order):
        for lsoa in catchment[key]:
            out.setdefault(lsoa, key)
    return out


@dataclass(frozen=True)
class Difference:
    """An LSOA whose PCN differs between the nearest-practice areas and the catchments."""

    lsoa: str
    area_pcn: str | None           # PCN key of the nearest-practice area (None: in no area)
    catchment_pcn: str | None      # PCN key of the catchment (None: in no catchment)
    patients: int                  # registered patients living in the LSOA
    catchment_share: float | None  # the catchment PCN's share of the LSOA


def differences(area_of: Mapping[str, str], catchment_of: Mapping[str, str], lsoa_totals: Mapping[str, int],
                shares: Mapping[str, Mapping[str, float]]) -> list[Difference]:
    """LSOAs of the system's areas or of a catchment whose PCN changes, most patients first."""
    out = []
    for lsoa in set(area_of) | set(catchment_of):
        a, c = area_of.get(lsoa), catchment_of.get(lsoa)
        if a != c:
            out.append(Difference(lsoa, a, c, lsoa_totals.get(lsoa, 0),
                                  shares.get(lsoa, {}).get(c) if c is not None else None))
    return sorted(out, key=lambda d: (-d.patients, d.lsoa))


def parts(lsoas: Iterable[str], neighbours: Mapping[str, set[str]]) -> list[list[str]]:
    """The connected parts of a set of LSOAs under the block adjacency (largest first); LSOAs
    without a block (outside the system's geodata) are left out."""
    present = frozenset(code for code in lsoas if code in neighbours)
    return components(present, neighbours)


@dataclass(frozen=True)
class Alignment:
    """A PCN against the neighbourhoods: its patients by neighbourhood and the best match."""

    pcn: str
    basis: str                                  # 'registrations' or 'area'
    total: float                                # the PCN's weight (patients, or population/area of its area)
    by_neighbourhood: Mapping[str, float]       # neighbourhood -> weight inside it
    best: str | None
    inside: float

    @property
    def share(self) -> float:
        return self.inside / self.total if self.total else 0.0

    @property
    def outside(self) -> float:
        return self.total - sum(self.by_neighbourhood.values())


def alignment(weights: Mapping[str, Mapping[str, float]], neighbourhood_of: Mapping[str, str],
              basis: str = "registrations") -> dict[str, Alignment]:
    """PCN key -> its ``Alignment``. ``weights``: PCN key -> LSOA -> weight (its patients living
    there, or the population of its area's blocks)."""
    out = {}
    for key, by_lsoa in weights.items():
        acc: dict[str, float] = {}
        for lsoa, w in by_lsoa.items():
            name = neighbourhood_of.get(lsoa)
            if name is not None:
                acc[name] = acc.get(name, 0) + w
        best = min(acc, key=lambda n: (-acc[n], n)) if acc else None
        out[key] = Alignment(key, basis, sum(by_lsoa.values()), acc, best, acc.get(best, 0) if best else 0)
    return out


def area_weights(pcn_blocks: Mapping[str, Iterable[str]], block_weights: Mapping[str, float]
                 ) -> dict[str, dict[str, float]]:
    """PCN key -> block -> weight, for alignment by area (no registrations loaded)."""
    return {key: {b: block_weights.get(b, 0.0) for b in blocks} for key, blocks in pcn_blocks.items()}


def weights_for(inputs: Inputs, members: Mapping[str, Iterable[str]],
                pcn_blocks: Mapping[str, Iterable[str]]) -> tuple[dict[str, dict[str, float]], str]:
    """(PCN key -> LSOA -> weight, basis): registrations when loaded, else the PCNs' areas."""
    if inputs.counts is not None:
        return pcn_lsoa_patients(inputs.counts, members), "registrations"
    return area_weights(pcn_blocks, inputs.block_weights), "area"


def neighbourhood_population(neighbourhood_of: Mapping[str, str], lsoa_totals: Mapping[str, int]
                             ) -> dict[str, int]:
    """Neighbourhood -> registered patients living in its LSOAs."""
    out: dict[str, int] = {}
    for lsoa, name in neighbourhood_of.items():
        out[name] = out.get(name, 0) + lsoa_totals.get(lsoa, 0)
    return out


def round_catchments(inputs: Inputs, members: Mapping[str, Iterable[str]], blocks: Iterable[str] = ()
                     ) -> tuple[dict[str, dict[str, int]], dict[str, frozenset[str]]]:
    """(PCN key -> LSOA -> patients, PCN key -> catchment) of a round with the round's settings."""
    pcn_lsoa = pcn_lsoa_patients(inputs.counts or {}, members)
    s = inputs.settings
    return pcn_lsoa, catchments(pcn_lsoa, inputs.lsoa_totals, s.threshold, s.method, within=blocks,
                                only=inputs.within)
