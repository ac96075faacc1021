"""The map's table of a PCN and the ``pcn_local_authorities`` rule name the same local
authorities: one threshold (``rules.MIN_LOCAL_AUTHORITY_SHARE``), read by both. Pure data: a
square PCN area split between two local authorities by a vertical line, no database."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from shapely.geometry import box

from pcnreg.domain import rules
from pcnreg.domain.state import derive_all
from pcnreg.domain.types import Configuration, Geography, Pcn, Practice, RoundSpec
from pcnreg.services import maps
from pcnreg.services.rounds import RoundData

SIDE = 1000.0          # metres: the PCN's area is SIDE x SIDE


def _data(share_right: float) -> RoundData:
    """A round with one PCN whose area has ``share_right`` of itself in local authority "R"."""
    x = SIDE * (1 - share_right)
    geography = Geography(
        pcn_areas={"1": box(0, 0, SIDE, SIDE)}, pcn_area_source={"1": "upload"}, pcn_blocks={},
        block_neighbours={}, unassigned_blocks=(), places={},
        local_authorities={"L": ("Leftshire", box(-10, -10, x, SIDE + 10), None),
                           "R": ("Rightshire", box(x, -10, SIDE + 10, SIDE + 10), None)},
        practice_points={}, practice_la={"A11111": "L"})
    config = Configuration(
        RoundSpec("Test round", dt.date(2026, 4, 1)),
        {"A11111": Practice("A11111", "Alpha Surgery", "04K", None, list_size=40_000)},
        (Pcn("1", "Alpha PCN", members=("A11111",)),), geography=geography)
    return RoundData(None, SimpleNamespace(state=derive_all(config), info={}))


def _map_names(data: RoundData) -> set[str]:
    (row,) = maps.map_rows(data)
    return {text.split(" (")[0] for text in row.local_authorities}


def _rule_names(data: RoundData) -> set[str] | None:
    """The local authorities of the rule's finding; None when the rule finds nothing."""
    found = [f for f in data.findings_for_pcn("1") if f.rule == "pcn_local_authorities"]
    if not found:
        return None
    return {la["name"] for la in found[0].figures["local_authorities"].values()}


@pytest.mark.parametrize("share, expected", [
    (0.0005, {"Leftshire"}),
    (0.003, {"Leftshire"}),          # a 0.3% sliver: neither the map nor the rule counts it
    (rules.MIN_LOCAL_AUTHORITY_SHARE * 0.8, {"Leftshire"}),
    (rules.MIN_LOCAL_AUTHORITY_SHARE * 1.2, {"Leftshire", "Rightshire"}),
    (0.02, {"Leftshire", "Rightshire"}),
    (0.4, {"Leftshire", "Rightshire"}),
])
def test_map_and_rule_count_the_same_local_authorities(share, expected):
    data = _data(share)
    assert _map_names(data) == expected
    rule = _rule_names(data)
    if len(expected) > 1:
        assert rule == expected
    else:
        assert rule is None          # the rule speaks only of a PCN touching several


def test_the_threshold_is_half_a_percent():
    """The value the rule documents (smaller overlaps are slivers between generalised boundary files)."""
    assert rules.MIN_LOCAL_AUTHORITY_SHARE == 0.005
