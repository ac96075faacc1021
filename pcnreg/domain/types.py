"""The small data types the domain core works on.

Plain, immutable Python: no Flask, no database. Services build these from the models.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # pragma: no cover
    from shapely.geometry import Point
    from shapely.geometry.base import BaseGeometry

    from .catchments import Inputs as CatchmentInputs

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


@dataclass(frozen=True)
class RoundSpec:
    """What the rules need to know of a registration round."""

    name: str
    reference_date: dt.date
    band_min: int = 30_000
    band_max: int = 50_000
    system: str | None = None          # ONS code of the round's system, e.g. E54000014


@dataclass(frozen=True)
class Practice:
    code: str
    name: str
    commissioner: str                  # commissioner ODS code, e.g. "04K"
    place: str | None                  # name of the place (ICP) the practice answers to
    status: Literal["open", "closed"] = "open"
    list_size: int | None = None       # the size that counts for the round (see services)
    list_size_date: dt.date | None = None
    system: str | None = None          # ONS code of the system of the practice's commissioner


@dataclass(frozen=True)
class Pcn:
    key: str                           # stable identifier within the round (database id as text)
    name: str
    code: str | None = None            # PCN ODS code U + 5 digits, when known
    place: str | None = None
    lead_commissioner: str | None = None
    members: tuple[str, ...] = ()      # practice codes


@dataclass(frozen=True)
class SizeException:
    """An exception to the list-size band, agreed and recorded (reason, who, when)."""

    pcn_key: str
    reason: str
    recorded_by: str
    recorded_at: dt.datetime


@dataclass(frozen=True)
class Geography:
    """What the geographic rules read: geometries in EPSG:27700 (metres)."""

    pcn_areas: Mapping[str, BaseGeometry]                  # pcn key -> area
    pcn_area_source: Mapping[str, str]                     # pcn key -> 'blocks' | 'upload'
    pcn_blocks: Mapping[str, frozenset[str]]               # pcn key -> its block codes
    block_neighbours: Mapping[str, set[str]]               # adjacency, with 'treat as adjacent' pairs
    unassigned_blocks: tuple[str, ...]                     # blocks of the system in no PCN (gaps)
    places: Mapping[str, BaseGeometry]                     # place name -> union of its local authorities
    local_authorities: Mapping[str, tuple[str, BaseGeometry, str | None]]  # code -> (name, area, place)
    practice_points: Mapping[str, Point]                   # practice code -> location (absent: none)
    practice_la: Mapping[str, str]                         # practice code -> local authority code
    # Registrations by LSOA, neighbourhoods and the round's settings (issue #14); None: not loaded.
    catchments: CatchmentInputs | None = None


@dataclass(frozen=True)
class Configuration:
    """A round's grouping of practices into PCNs, with everything the rules read."""

    round: RoundSpec
    practices: Mapping[str, Practice]            # by code: every practice in the round's scope
    pcns: tuple[Pcn, ...]
    exceptions: Mapping[str, SizeException] = field(default_factory=dict)  # by pcn key
    geography: Geography | None = None                     # None: no geodata, no geographic rules

    def pcn_total(self, pcn: Pcn) -> int:
        """Registered patients of a PCN: the sum of its members' list sizes (missing = 0)."""
        return sum(self.practices[c].list_size or 0 for c in pcn.members if c in self.practices)

    def assigned_codes(self) -> set[str]:
        return {code for pcn in self.pcns for code in pcn.members}


@dataclass(frozen=True)
class Subject:
    type: Literal["pcn", "practice", "round", "block"]
    code: str | None
    name: str
    key: str | None = None             # pcn key where type == "pcn"

    def as_dict(self) -> dict:
        return {"type": self.type, "code": self.code, "name": self.name, "key": self.key}


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    subject: Subject
    message: str
    figures: Mapping[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "subject": self.subject.as_dict(),
            "message": self.message,
            "figures": dict(self.figures),
        }
