"""Geometry of PCN areas (shapely 2; plain functions, no Flask, no database).

Conventions: areas and distances in EPSG:27700 (British National Grid, metres); display in
EPSG:4326 (done by the services). Geometry is snapped to a ``SNAP_METRES`` grid before
adjacency is built, so float noise does not split neighbours.

Method of the default PCN areas: every block (LSOA or ward) goes to the PCN of the member
practice nearest to the block's representative point (a point guaranteed inside the block),
among the PCNs of the block's own place (the place of the commissioner the block belongs to);
ties go to the lower practice code. A PCN's area is the union of its blocks.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

SNAP_METRES = 1.0               # grid of stored geometry
ADJACENCY_BUFFER_METRES = 0.5   # blocks closer than this (after snapping) are neighbours
MAP_SIMPLIFY_METRES = 25.0      # tolerance of the simplified geometry drawn on maps


def snap(geom: BaseGeometry, grid: float = SNAP_METRES) -> BaseGeometry:
    """Snap to a fixed grid and make valid (snapping can create self-intersections)."""
    snapped = shapely.set_precision(geom, grid)
    return snapped if snapped.is_valid else shapely.make_valid(snapped)


def validate(geom: BaseGeometry | None) -> tuple[BaseGeometry | None, str | None]:
    """A valid geometry and a note of what was wrong, or (None, reason) when unusable."""
    if geom is None or geom.is_empty:
        return None, "empty geometry"
    note = None
    if not geom.is_valid:
        note = shapely.is_valid_reason(geom)
        geom = shapely.make_valid(geom)
    polys = [g for g in getattr(geom, "geoms", [geom]) if g.geom_type in ("Polygon", "MultiPolygon")]
    if not polys:
        return None, f"no polygon ({geom.geom_type})"
    geom = shapely.union_all(polys) if len(polys) > 1 else polys[0]
    return (None, "empty after repair") if geom.is_empty else (geom, note)


def nearest_assignment(block_points: Mapping[str, Point], practice_points: Mapping[str, Point],
                       practice_pcn: Mapping[str, str], block_place: Mapping[str, str | None] | None = None,
                       pcn_place: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """Block code -> PCN key of the nearest member practice (see module docstring).

    With ``block_place`` and ``pcn_place``, a block only goes to a PCN of its own place (the
    place that commissions it), so one place's PCNs do not spread over the next place; a block
    whose place has no PCN with a located practice falls back to the nearest of all."""
    codes = sorted(c for c in practice_points if c in practice_pcn)
    if not codes:
        return {}
    groups: dict[str | None, list[str]] = {None: codes}
    if block_place is not None and pcn_place is not None:
        for c in codes:
            place = pcn_place.get(practice_pcn[c])
            if place is not None:
                groups.setdefault(place, []).append(c)
    trees = {g: (STRtree([practice_points[c] for c in cs]), cs) for g, cs in groups.items()}
    out = {}
    for block, point in block_points.items():
        place = block_place.get(block) if block_place is not None else None
        tree, candidates = trees.get(place) or trees[None]
        idx = tree.query_nearest(point, all_matches=True)
        out[block] = practice_pcn[min(candidates[i] for i in idx)]   # ties: lowest practice code
    return out


def adjacency(blocks: Mapping[str, BaseGeometry], extra_pairs: Iterable[tuple[str, str]] = ()
              ) -> dict[str, set[str]]:
    """Neighbours of each block: geometries within ADJACENCY_BUFFER_METRES (touching, after
    snapping), plus the recorded 'treat as adjacent' pairs."""
    codes = sorted(blocks)
    geoms = [blocks[c] for c in codes]
    tree = STRtree(geoms)
    left, right = tree.query(geoms, predicate="dwithin", distance=ADJACENCY_BUFFER_METRES)
    out: dict[str, set[str]] = {c: set() for c in codes}
    for i, j in zip(left, right):
        if i != j:
            out[codes[i]].add(codes[j])
    for a, b in extra_pairs:
        if a in out and b in out:
            out[a].add(b)
            out[b].add(a)
    return out


def components(members: Iterable[str], neighbours: Mapping[str, set[str]]) -> list[set[str]]:
    """Connected groups of ``members`` under ``neighbours`` (largest first)."""
    todo, groups = set(members), []
    while todo:
        start = todo.pop()
        group, stack = {start}, [start]
        while stack:
            for n in neighbours.get(stack.pop(), ()):
                if n in todo:
                    todo.discard(n)
                    group.add(n)
                    stack.append(n)
        groups.append(group)
    return sorted(groups, key=lambda g: (-len(g), min(g)))


def union_by_pcn(block_pcn: Mapping[str, str], blocks: Mapping[str, BaseGeometry],
                 only: Iterable[str] | None = None) -> dict[str, BaseGeometry]:
    """PCN key -> union of its blocks; only for the PCN keys in ``only`` when given."""
    wanted = None if only is None else set(only)
    grouped: dict[str, list[BaseGeometry]] = defaultdict(list)
    for block, key in block_pcn.items():
        if wanted is None or key in wanted:
            grouped[key].append(blocks[block])
    return {key: snap(shapely.union_all(geoms)) for key, geoms in grouped.items()}


def parts(geom: BaseGeometry) -> int:
    """Number of separate polygons of an area."""
    return len(getattr(geom, "geoms", [geom])) if not geom.is_empty else 0


def share_outside(geom: BaseGeometry, container: BaseGeometry) -> float:
    """Fraction (0..1) of ``geom``'s area that lies outside ``container``."""
    if geom.is_empty or geom.area == 0:
        return 0.0
    return max(0.0, geom.difference(container).area / geom.area)


def shares(geom: BaseGeometry, regions: Mapping[str, BaseGeometry]) -> dict[str, float]:
    """Fraction of ``geom``'s area in each region it overlaps (regions with > 0 share)."""
    out = {}
    if geom.is_empty or geom.area == 0:
        return out
    for code, region in regions.items():
        if geom.intersects(region):
            a = geom.intersection(region).area / geom.area
            if a > 0:
                out[code] = a
    return out


def overlaps(areas: Mapping[str, BaseGeometry], min_area_m2: float = 1.0) -> list[tuple[str, str, float]]:
    """Pairs of areas that overlap by more than ``min_area_m2`` (key a < key b, area m²)."""
    keys = sorted(areas)
    tree = STRtree([areas[k] for k in keys])
    out = []
    for i, k in enumerate(keys):
        for j in tree.query(areas[k], predicate="intersects"):
            if j > i:
                inter = areas[k].intersection(areas[keys[j]]).area
                if inter > min_area_m2:
                    out.append((k, keys[j], inter))
    return out
