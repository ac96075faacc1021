"""Geometry functions and geographic rules over synthetic shapes (metres, EPSG:27700)."""
from __future__ import annotations

import datetime as dt

from shapely.geometry import Point, Polygon, box

from pcnreg.domain import geometry, rules
from pcnreg.domain.types import Configuration, Geography, Pcn, Practice, RoundSpec

ROUND = RoundSpec("R", dt.date(2019, 1, 1))

# A 4 x 1 row of 1 km blocks B0..B3, plus B9 far away.
BLOCKS = {f"B{i}": box(i * 1000, 0, (i + 1) * 1000, 1000) for i in range(4)}
BLOCKS["B9"] = box(10_000, 0, 11_000, 1000)


def test_snap_removes_float_noise_that_splits_neighbours():
    a = box(0, 0, 1000, 1000)
    b = box(1000.0000004, 0, 2000, 1000)      # a sliver of float noise between them
    assert not a.intersects(b)
    assert geometry.snap(a).intersects(geometry.snap(b))


def test_validate_repairs_or_reports():
    bowtie = Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])
    geom, note = geometry.validate(bowtie)
    assert geom.is_valid and note and "Self-intersection" in note
    assert geometry.validate(Polygon()) == (None, "empty geometry")
    assert geometry.validate(Point(0, 0))[0] is None


def test_adjacency_and_components_with_treat_as_adjacent_pairs():
    neighbours = geometry.adjacency(BLOCKS)
    assert neighbours["B0"] == {"B1"} and neighbours["B9"] == set()
    assert geometry.components(["B0", "B1", "B3"], neighbours) == [{"B0", "B1"}, {"B3"}]
    joined = geometry.adjacency(BLOCKS, [("B1", "B3")])
    assert geometry.components(["B0", "B1", "B3"], joined) == [{"B0", "B1", "B3"}]


def test_nearest_assignment_ties_go_to_lower_practice_code():
    points = {"B0": Point(500, 500), "B3": Point(3500, 500)}
    practices = {"A00002": Point(2000, 500), "A00001": Point(2000, 500), "A00003": Point(3900, 500)}
    out = geometry.nearest_assignment(points, practices, {"A00001": "x", "A00002": "y", "A00003": "z"})
    assert out == {"B0": "x", "B3": "z"}


def test_union_parts_shares_and_overlaps():
    unions = geometry.union_by_pcn({"B0": "1", "B1": "1", "B3": "2", "B9": "2"}, BLOCKS)
    assert geometry.parts(unions["1"]) == 1 and geometry.parts(unions["2"]) == 2
    assert geometry.union_by_pcn({"B0": "1", "B3": "2"}, BLOCKS, only=["2"]).keys() == {"2"}
    assert abs(geometry.share_outside(unions["1"], BLOCKS["B0"]) - 0.5) < 1e-9
    assert geometry.shares(unions["1"], {"L": box(0, 0, 500, 1000), "M": box(500, 0, 5000, 1000)}) == \
        {"L": 0.25, "M": 0.75}
    assert geometry.overlaps({"a": box(0, 0, 10, 10), "b": box(5, 0, 15, 10), "c": box(20, 0, 30, 10)}) == \
        [("a", "b", 50.0)]


def geo_config(pcn_blocks, *, points=None, practice_la=None, source=None, unassigned=(), areas=None):
    practices = {c: Practice(c, c, "04K", "North", "open", 10_000, ROUND.reference_date)
                 for c in ("A00001", "A00002", "A00003")}
    pcns = (Pcn("1", "One", place="North", members=("A00001", "A00002")),
            Pcn("2", "Two", place="North", members=("A00003",)))
    areas = areas or geometry.union_by_pcn({b: k for k, bs in pcn_blocks.items() for b in bs}, BLOCKS)
    geo = Geography(
        pcn_areas=areas, pcn_area_source=source or {k: "blocks" for k in areas},
        pcn_blocks={k: frozenset(v) for k, v in pcn_blocks.items()},
        block_neighbours=geometry.adjacency(BLOCKS), unassigned_blocks=tuple(unassigned),
        places={"North": box(0, 0, 3000, 1000), "South": box(3000, 0, 20_000, 1000)},
        local_authorities={"E1": ("West", box(0, 0, 1500, 1000), "North"),
                           "E2": ("East", box(1500, 0, 20_000, 1000), "South")},
        practice_points=points if points is not None else {"A00001": Point(500, 500), "A00002": Point(1500, 500),
                                                           "A00003": Point(3500, 500)},
        practice_la=practice_la or {"A00001": "E1", "A00002": "E1", "A00003": "E2"})
    return Configuration(ROUND, practices, pcns, {}, geo)


def found(config, rule):
    return [f for f in rules.evaluate(config) if f.rule == rule]


def test_contiguity_error_names_detached_blocks_and_single_practice_is_exempt():
    [f] = found(geo_config({"1": {"B0", "B1", "B9"}, "2": {"B3"}}), "pcn_contiguous")
    assert f.severity == "error" and f.figures == {"parts": 2, "detached_blocks": ["B9"]}
    assert found(geo_config({"1": {"B0", "B1"}, "2": {"B3", "B9"}}), "pcn_contiguous") == []  # PCN 2: 1 practice


def test_uploaded_area_contiguity_counts_polygon_parts():
    cfg = geo_config({"1": {"B0", "B9"}, "2": {"B3"}}, source={"1": "upload", "2": "blocks"})
    [f] = found(cfg, "pcn_contiguous")
    assert f.figures["parts"] == 2


def test_area_outside_place_and_local_authority_shares():
    cfg = geo_config({"1": {"B0", "B1", "B2", "B3"}, "2": {"B9"}})
    [out] = [f for f in found(cfg, "pcn_outside_place") if f.subject.key == "1"]
    assert out.figures["share_outside_pct"] == 25.0 and out.severity == "warning"
    [las] = [f for f in found(cfg, "pcn_local_authorities") if f.subject.key == "1"]
    assert las.severity == "info"
    assert las.figures["local_authorities"]["E1"] == {"name": "West", "area_pct": 37.5, "patients_pct": 100.0}
    assert las.figures["local_authorities"]["E2"]["area_pct"] == 62.5


def test_practice_in_another_places_authority_and_outside_its_area():
    cfg = geo_config({"1": {"B0"}, "2": {"B3"}}, practice_la={"A00001": "E1", "A00002": "E2", "A00003": "E2"})
    place = found(cfg, "practice_place")
    assert {f.subject.code for f in place} == {"A00002", "A00003"}   # E2 lies in South
    outside = found(cfg, "practice_outside_area")
    assert [(f.subject.code, f.figures["distance_m"]) for f in outside] == [("A00002", 500)]


def test_practice_without_location_and_gaps():
    cfg = geo_config({"1": {"B0", "B1"}, "2": {"B3"}}, points={"A00001": Point(500, 500)}, unassigned=("B2", "B9"))
    assert {f.subject.code for f in found(cfg, "practice_location")} == {"A00002", "A00003"}
    [gap] = found(cfg, "area_gaps")
    assert gap.severity == "error" and gap.figures["blocks"] == ["B2", "B9"]


def test_overlap_of_an_uploaded_area_is_an_error():
    cfg = geo_config({"1": set(), "2": {"B1", "B3"}}, source={"1": "upload", "2": "blocks"},
                     areas={"1": box(0, 0, 2000, 1000), "2": geometry.union_by_pcn({"B1": "2", "B3": "2"}, BLOCKS)["2"]})
    [f] = found(cfg, "area_overlaps")
    assert f.figures["overlap_km2"] == 1.0


def test_no_geography_no_geographic_findings():
    cfg = geo_config({"1": {"B0"}, "2": {"B3"}})
    plain = Configuration(cfg.round, cfg.practices, cfg.pcns)
    geo_rules = {"pcn_contiguous", "pcn_outside_place", "pcn_local_authorities", "practice_place",
                 "practice_outside_area", "practice_location", "area_gaps", "area_overlaps"}
    assert not [f for f in rules.evaluate(plain) if f.rule in geo_rules]


def test_nearest_assignment_keeps_blocks_in_their_place():
    points = {"B0": Point(500, 500), "B3": Point(3500, 500)}
    practices = {"A00001": Point(2000, 500), "A00002": Point(9000, 500)}
    pcn_of = {"A00001": "north", "A00002": "south"}
    free = geometry.nearest_assignment(points, practices, pcn_of)
    assert free == {"B0": "north", "B3": "north"}
    placed = geometry.nearest_assignment(points, practices, pcn_of, {"B0": "N", "B3": "S"},
                                         {"north": "N", "south": "S"})
    assert placed == {"B0": "north", "B3": "south"}
    # a block whose place has no PCN falls back to the nearest of all
    assert geometry.nearest_assignment(points, practices, pcn_of, {"B0": "X", "B3": "S"},
                                       {"north": "N", "south": "S"})["B0"] == "north"
