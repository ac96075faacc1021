"""A round's state (domain/state.py): derived incrementally after each change, it equals the state
derived from scratch; on random sequences of moves, merges, splits, new and retired PCNs,
list-size changes, practices closing and exceptions (hypothesis); and with a geography (a grid of
blocks, two places of one local authority each, practice locations), with PCN areas redrawn and
the geography's fixed parts replaced, so that the geographic rules' incremental path is checked
against the full one too."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from pcnreg.domain import rules
from pcnreg.domain import state as S
from pcnreg.domain.summary import summarise
from pcnreg.domain.types import (
    Configuration,
    Geography,
    Pcn,
    Practice,
    RoundSpec,
    SizeException,
)

ROUND = RoundSpec("R", dt.date(2019, 1, 1), band_min=20_000, band_max=40_000, system="E1")
CODES = [f"A{n:05d}" for n in range(14)]
PLACES = ["North", "South", None]
COMMISSIONERS = ["04K", "02Q", "52R"]
WHEN = dt.datetime(2019, 5, 1, 12)


def practice(code: str, i: int, size: int | None, status: str = "open", dated: dt.date | None = None) -> Practice:
    return Practice(code, f"Practice {code}", COMMISSIONERS[i % 3], PLACES[i % 3], status, size,
                    dated or dt.date(2019, 1, 1), "E1" if i % 5 else "E2")


# A 4 x 4 grid of 1 km blocks; North is the top half (local authority L1), South the bottom (L2).
GRID = 4
BLOCKS = {f"B{x}{y}": box(x * 1000, y * 1000, (x + 1) * 1000, (y + 1) * 1000)
          for x in range(GRID) for y in range(GRID)}
NEIGHBOURS = {f"B{x}{y}": {f"B{x + dx}{y + dy}" for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1))
                           if 0 <= x + dx < GRID and 0 <= y + dy < GRID}
              for x in range(GRID) for y in range(GRID)}
NORTH, SOUTH = box(0, 2000, 4000, 4000), box(0, 0, 4000, 2000)


def areas_of(pcn_blocks: dict[str, frozenset[str]], sources: dict[str, str]) -> dict:
    """Areas, sources and gaps of a Geography for these PCN blocks (an uploaded area is its
    blocks' box grown by 300 m, so that it overlaps its neighbours)."""
    areas = {}
    for key, blocks in pcn_blocks.items():
        area = shapely.union_all([BLOCKS[b] for b in blocks])
        areas[key] = area.envelope.buffer(300) if sources.get(key) == "upload" else area
    taken = set().union(*pcn_blocks.values()) if pcn_blocks else set()
    return {"pcn_areas": areas, "pcn_area_source": {k: sources.get(k, "blocks") for k in pcn_blocks},
            "pcn_blocks": dict(pcn_blocks), "unassigned_blocks": tuple(sorted(set(BLOCKS) - taken))}


def draw_blocks(draw, keys: list[str], free: set[str]) -> dict[str, frozenset[str]]:
    out = {}
    for key in keys:
        chosen = draw(st.lists(st.sampled_from(sorted(free)), max_size=4, unique=True)) if free else []
        free -= set(chosen)
        if chosen:
            out[key] = frozenset(chosen)
    return out


def draw_points(draw) -> tuple[dict, dict]:
    points, las = {}, {}
    for code in CODES:
        if draw(st.integers(0, 5)):          # one practice in six has no location
            x, y = draw(st.integers(0, 3999)), draw(st.integers(0, 3999))
            points[code] = Point(x + 0.5, y + 0.5)
            las[code] = "L1" if y >= 2000 else "L2"
    return points, las


def geography(draw, keys: list[str]) -> Geography:
    points, las = draw_points(draw)
    uploads = {k: "upload" for k in keys if draw(st.integers(0, 4)) == 0}
    return Geography(**areas_of(draw_blocks(draw, keys, set(BLOCKS)), uploads), block_neighbours=NEIGHBOURS,
                     places={"North": NORTH, "South": SOUTH},
                     local_authorities={"L1": ("Northshire", NORTH, "North"), "L2": ("Southshire", SOUTH, "South")},
                     practice_points=points, practice_la=las)


@st.composite
def configurations(draw, with_geography: bool | None = False):
    practices = {c: practice(c, i, draw(st.one_of(st.none(), st.integers(0, 15_000))))
                 for i, c in enumerate(CODES)}
    n = draw(st.integers(1, 5))
    members: dict[str, list[str]] = {str(k): [] for k in range(1, n + 1)}
    for code in CODES:
        key = draw(st.one_of(st.none(), st.sampled_from(sorted(members))))
        if key is not None:
            members[key].append(code)
    pcns = tuple(Pcn(k, f"PCN {k}", None, draw(st.sampled_from(PLACES)), draw(st.sampled_from(COMMISSIONERS)),
                     tuple(sorted(v))) for k, v in members.items())
    geo = None
    if with_geography or (with_geography is None and draw(st.booleans())):
        geo = geography(draw, sorted(members))
    return Configuration(ROUND, practices, S._sorted_pcns(pcns), {}, geo)


def edit(draw, state: S.RoundState, serial: int) -> S.Delta:
    """One random change of ``state`` as a delta."""
    keys = sorted(state.pcn_by_key)
    geo = state.config.geography
    kinds = ["move", "merge", "split", "create", "retire", "rename", "size", "close", "exception", "unexception",
             "place"]
    kind = draw(st.sampled_from(kinds + (["areas", "areas", "points"] if geo is not None else [])))
    if kind == "areas" and keys:
        # Redraw the areas of a few PCNs (as a move and its recomputed block assignments would).
        redrawn = draw(st.lists(st.sampled_from(keys), min_size=1, max_size=3, unique=True))
        kept = {k: b for k, b in geo.pcn_blocks.items() if k not in redrawn}
        free = set(BLOCKS) - set().union(*kept.values()) if kept else set(BLOCKS)
        blocks = {**kept, **draw_blocks(draw, redrawn, free)}
        sources = {k: v for k, v in geo.pcn_area_source.items() if k in blocks}
        new = dataclasses.replace(geo, **areas_of(blocks, sources))
        # The areas kept are the same objects, as the service's reload would give equal ones.
        new = dataclasses.replace(new, pcn_areas={k: geo.pcn_areas[k] if k in kept else a
                                                  for k, a in new.pcn_areas.items()})
        return S.Delta(geography=new)
    if kind == "points":
        points, las = draw_points(draw)
        return S.Delta(geography=dataclasses.replace(geo, practice_points=points, practice_la=las))
    if kind == "move":
        codes = draw(st.lists(st.sampled_from(CODES), min_size=1, max_size=3, unique=True))
        return S.move(state, codes, draw(st.one_of(st.none(), st.sampled_from(keys))) if keys else None)
    if kind == "merge" and len(keys) >= 2:
        a, b = draw(st.lists(st.sampled_from(keys), min_size=2, max_size=2, unique=True))
        into = state.pcn(a)
        merged = Pcn(a, into.name, into.code, into.place, into.lead_commissioner,
                     tuple(sorted(into.members + state.pcn(b).members)))
        return S.Delta(pcns={a: merged, b: None})
    if kind == "split" and keys:
        source = state.pcn(draw(st.sampled_from(keys)))
        if len(source.members) >= 2:
            out = draw(st.lists(st.sampled_from(source.members), min_size=1, max_size=len(source.members) - 1,
                                unique=True))
            key = f"n{serial}"
            return S.Delta(pcns={
                source.key: Pcn(source.key, source.name, source.code, source.place, source.lead_commissioner,
                                tuple(c for c in source.members if c not in out)),
                key: Pcn(key, f"New {serial}", None, source.place, source.lead_commissioner, tuple(sorted(out)))})
    if kind == "create":
        key = f"c{serial}"
        return S.Delta(pcns={key: Pcn(key, draw(st.sampled_from(["aa", "Zed", "PCN 2"])), None,
                                      draw(st.sampled_from(PLACES)), "04K")})
    if kind == "retire":
        empty = [k for k in keys if not state.pcn(k).members]
        if empty:
            return S.Delta(pcns={draw(st.sampled_from(empty)): None})
    if kind == "rename" and keys:
        p = state.pcn(draw(st.sampled_from(keys)))
        return S.Delta(pcns={p.key: Pcn(p.key, f"Renamed {serial}", p.code, p.place, p.lead_commissioner, p.members)})
    if kind == "place" and keys:
        p = state.pcn(draw(st.sampled_from(keys)))
        return S.Delta(pcns={p.key: Pcn(p.key, p.name, p.code, draw(st.sampled_from(PLACES)),
                                        draw(st.sampled_from(COMMISSIONERS + [None])), p.members)})
    if kind == "size":
        code = draw(st.sampled_from(CODES))
        i = CODES.index(code)
        dated = draw(st.sampled_from([dt.date(2019, 1, 1), dt.date(2018, 6, 1), None]))
        return S.Delta(practices={code: practice(code, i, draw(st.one_of(st.none(), st.integers(0, 30_000))),
                                                 state.config.practices[code].status, dated)})
    if kind == "close":
        code = draw(st.sampled_from(CODES))
        old = state.config.practices[code]
        return S.Delta(practices={code: Practice(old.code, old.name, old.commissioner, old.place,
                                                 "closed" if old.status == "open" else "open", old.list_size,
                                                 old.list_size_date, old.system)})
    if kind == "exception" and keys:
        key = draw(st.sampled_from(keys))
        return S.Delta(exceptions={key: SizeException(key, f"Reason {serial}", "Committee", WHEN)})
    if kind == "unexception" and state.config.exceptions:
        return S.Delta(exceptions={draw(st.sampled_from(sorted(state.config.exceptions))): None})
    return S.Delta()


@settings(max_examples=150, deadline=None)
@given(configurations(), st.data())
def test_incremental_derivation_equals_derivation_from_scratch(config, data):
    state = S.derive_all(config, "Sys")
    for serial in range(data.draw(st.integers(1, 12))):
        delta = edit(data.draw, state, serial)
        state = S.derive(state, delta)
        full = S.derive_all(state.config, "Sys")
        assert state.same_as(full), delta


@settings(max_examples=150, deadline=None)
@given(configurations(with_geography=True), st.data())
def test_incremental_geographic_derivation_equals_derivation_from_scratch(config, data):
    state = S.derive_all(config, "Sys")
    for serial in range(data.draw(st.integers(1, 10))):
        delta = edit(data.draw, state, serial)
        state = S.derive(state, delta)
        full = S.derive_all(state.config, "Sys")
        assert state.same_as(full), delta


@settings(max_examples=60, deadline=None)
@given(configurations(with_geography=None))
def test_derive_all_agrees_with_the_rules_and_the_summary(config):
    state = S.derive_all(config, "Sys")
    findings = rules.evaluate(config)
    assert state.findings == findings
    assert state.summary.as_dict() == summarise(config, findings, "Sys").as_dict()
    for pcn in config.pcns:
        assert state.totals[pcn.key] == config.pcn_total(pcn)
        members = set(pcn.members)
        assert state.findings_for_pcn(pcn.key) == [
            f for f in findings if (f.subject.type == "pcn" and f.subject.key == pcn.key)
            or (f.subject.type == "practice" and f.subject.code in members)]


def test_a_move_touches_only_the_two_pcns():
    practices = {c: practice(c, i, 10_000) for i, c in enumerate(CODES)}
    pcns = S._sorted_pcns([Pcn("1", "One", members=tuple(CODES[:5])), Pcn("2", "Two", members=tuple(CODES[5:10])),
                           Pcn("3", "Three", members=tuple(CODES[10:]))])
    parent = S.derive_all(Configuration(ROUND, practices, pcns))
    child = S.derive(parent, S.move(parent, [CODES[0]], "2"))
    assert child.totals == {"1": 40_000, "2": 60_000, "3": 40_000}
    assert child.pcn_findings["3"] is parent.pcn_findings["3"]        # shared, not recomputed
    assert child.pcn_of[CODES[0]] == "2" and parent.pcn_of[CODES[0]] == "1"   # the parent is unchanged
    assert "list_size_band" in [f.rule for f in child.findings_for_pcn("2")]         # 60,000: above the band
    assert "list_size_band" not in [f.rule for f in child.findings_for_pcn("1")]


def test_a_practice_cannot_be_in_two_pcns():
    practices = {c: practice(c, i, 10_000) for i, c in enumerate(CODES[:2])}
    parent = S.derive_all(Configuration(ROUND, practices, (Pcn("1", "One", members=(CODES[0],)),
                                                           Pcn("2", "Two", members=(CODES[1],)))))
    with pytest.raises(S.InconsistentDelta):
        S.derive(parent, S.Delta(pcns={"2": Pcn("2", "Two", members=(CODES[0], CODES[1]))}))


def test_every_rule_has_a_scope():
    assert set(rules.PCN_RULES) | set(rules.PRACTICE_RULES) | set(rules.GEOGRAPHIC) == set(rules.RULES)
    assert not set(rules.PCN_RULES) & set(rules.PRACTICE_RULES)


def test_a_move_recomputes_the_geography_of_the_two_pcns_only():
    practices = {c: practice(c, i, 10_000) for i, c in enumerate(CODES)}
    pcns = S._sorted_pcns([Pcn("1", "One", place="North", members=tuple(CODES[:5])),
                           Pcn("2", "Two", place="North", members=tuple(CODES[5:10])),
                           Pcn("3", "Three", place="South", members=tuple(CODES[10:]))])
    blocks = {"1": frozenset({"B00", "B33"}), "2": frozenset({"B11"}), "3": frozenset({"B01", "B22"})}
    geo = Geography(**areas_of(blocks, {}), block_neighbours=NEIGHBOURS, places={"North": NORTH, "South": SOUTH},
                    local_authorities={"L1": ("Northshire", NORTH, "North"), "L2": ("Southshire", SOUTH, "South")},
                    practice_points={c: Point(500, 500) for c in CODES}, practice_la={c: "L2" for c in CODES})
    parent = S.derive_all(Configuration(ROUND, practices, pcns, {}, geo))
    assert {f.rule for f in parent.geo_pcn_findings["3"]} >= {"pcn_contiguous", "pcn_outside_place"}
    child = S.derive(parent, S.move(parent, [CODES[0]], "2"))
    assert child.geo_pcn_findings["3"] is parent.geo_pcn_findings["3"]      # shared, not recomputed
    assert child.same_as(S.derive_all(child.config))
    # New areas for PCN 1 alone: PCN 3's geographic findings are still shared.
    moved = dataclasses.replace(geo, **areas_of({**blocks, "1": frozenset({"B00", "B10"})}, {}))
    moved = dataclasses.replace(moved, pcn_areas={**moved.pcn_areas, "2": geo.pcn_areas["2"], "3": geo.pcn_areas["3"]})
    again = S.derive(child, S.Delta(geography=moved))
    assert again.geo_pcn_findings["3"] is child.geo_pcn_findings["3"]
    assert "pcn_contiguous" not in {f.rule for f in again.geo_pcn_findings.get("1", ())}    # B00 and B10 touch
    assert again.same_as(S.derive_all(again.config))


def test_every_geographic_rule_has_one_scope():
    scopes = [S.GEO_PCN_RULES, S.GEO_PRACTICE_RULES, S.GEO_ROUND_RULES]
    assert sorted(n for scope in scopes for n in scope) == sorted(rules.GEOGRAPHIC)


def test_a_new_gap_alone_recomputes_the_round_rules():
    """The round-wide geographic rules read inputs no PCN owns (blocks in no PCN, catchments):
    a geography that changes only those must still give what a derivation from scratch gives."""
    practices = {c: practice(c, i, 10_000) for i, c in enumerate(CODES)}
    pcns = S._sorted_pcns([Pcn("1", "One", place="North", members=tuple(CODES[:10])),
                           Pcn("2", "Two", place="South", members=tuple(CODES[10:]))])
    blocks = {"1": frozenset({"B00", "B01"}), "2": frozenset({"B11"})}
    geo = Geography(**areas_of(blocks, {}), block_neighbours=NEIGHBOURS, places={"North": NORTH, "South": SOUTH},
                    local_authorities={"L1": ("Northshire", NORTH, "North"), "L2": ("Southshire", SOUTH, "South")},
                    practice_points={c: Point(500, 500) for c in CODES}, practice_la={c: "L1" for c in CODES})
    parent = S.derive_all(Configuration(ROUND, practices, pcns, {}, geo))
    gap = dataclasses.replace(geo, unassigned_blocks=("B22",))
    child = S.derive(parent, S.Delta(geography=gap))
    scratch = S.derive_all(child.config)
    assert scratch.geo_round_findings != parent.geo_round_findings      # the gaps differ
    assert child.same_as(scratch)
