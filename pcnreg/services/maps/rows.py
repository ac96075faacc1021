"""What the maps and the tables beside them show: per PCN its facts and colour, the facts of one
PCN's map (blocks, members, neighbours), the 'treat as adjacent' pairs, and the stored areas and
boundaries the maps draw.

A local authority is listed for a PCN when the ``pcn_local_authorities`` rule would count it
(``domain.rules.local_authority_shares``: at least ``MIN_LOCAL_AUTHORITY_SHARE`` of the area), so
the map's table and the rule's finding name the same local authorities.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import shapely
from sqlalchemy import or_, select
from sqlalchemy.orm import aliased

from ...domain.geometry import ADJACENCY_BUFFER_METRES
from ...domain.palette import PALETTE, assign_colours, pcn_adjacency
from ...domain.rules import local_authority_shares
from ...extensions import db
from ...models import AdjacentPair, Block, BlockAssignment, LocalAuthority, PcnArea, Place, RegistrationRound
from .. import areas
from .. import rounds as rounds_svc
from ..pages import pcn_row, per_state

BAND_TEXT = {"in_band": "in band", "below": "below band", "above": "above band"}


class MapUnavailable(LookupError):
    """There is no geodata for the round (or no area to draw): the pages show a notice instead."""


def colours(keys, geography=None) -> dict[str, str]:
    """PCN key -> fill colour: graph colouring over PCN adjacency (``domain.palette``), so
    neighbouring PCNs never share a colour. Neighbours: the block adjacency the geographic rules
    use (with 'treat as adjacent' pairs); a PCN whose area is an uploaded polygon also neighbours
    every area within the adjacency distance of it. Without geography no PCN has neighbours and
    the colours are taken in turn."""
    keys = list(keys)
    if geography is None:
        ordered = sorted(keys, key=_key_order)
        return {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(ordered)}
    return assign_colours(keys, _pcn_neighbours(keys, geography))


def _pcn_neighbours(keys, geo) -> dict[str, set[str]]:
    wanted = set(keys)
    pcn_blocks = {k: v for k, v in geo.pcn_blocks.items() if k in wanted}
    extra = []
    uploaded = [k for k in wanted if geo.pcn_area_source.get(k) == "upload" and k in geo.pcn_areas]
    for k in uploaded:
        area = geo.pcn_areas[k]
        for other, geom in geo.pcn_areas.items():
            if other != k and other in wanted and not geom.is_empty and not area.is_empty and \
                    area.distance(geom) <= ADJACENCY_BUFFER_METRES:
                extra.append((k, other))
    return pcn_adjacency(pcn_blocks, geo.block_neighbours, extra)


def _key_order(key: str):
    return (0, int(key), "") if str(key).isdigit() else (1, 0, str(key))


@dataclass(frozen=True)
class MapRow:
    """One PCN: the facts its map shows, for the accessible table beside the map."""

    key: str
    name: str
    code: str | None
    place: str | None
    lead_commissioner: str | None
    members: int
    total: int
    band: str
    errors: int
    warnings: int
    colour: str
    area_km2: float | None = None
    source: str | None = None
    local_authorities: list[str] = field(default_factory=list)   # "Gedling (82.1%)", largest share first

    @property
    def band_text(self) -> str:
        return BAND_TEXT.get(self.band, self.band)

    @property
    def local_authorities_text(self) -> str:
        return ", ".join(self.local_authorities) or "none"


def map_rows(data: rounds_svc.RoundData) -> list[MapRow]:
    """Per PCN (in the configuration's order, by name): the facts the configuration map shows.
    Area and local authorities only with geodata; a local authority is listed when the
    ``pcn_local_authorities`` rule counts it (``domain.rules.local_authority_shares``).

    The rows follow from the round's state alone (its configuration, findings and geography):
    computed once per state (``pages.per_state``) and shared, so a caller gets its own list of
    rows it must not change (the rows are frozen)."""
    return list(per_state(data, "map_rows", lambda: _map_rows(data)))


def _map_rows(data: rounds_svc.RoundData) -> list[MapRow]:
    geo = data.config.geography
    palette = colours((p.key for p in data.config.pcns), geo)
    la_names = {code: name for code, (name, _, _) in geo.local_authorities.items()} if geo else {}
    rows = []
    for pcn in data.config.pcns:
        r = pcn_row(data, pcn.key)
        more: dict = {}
        area = geo.pcn_areas.get(pcn.key) if geo else None
        if area is not None and not area.is_empty:
            share = sorted(((v, c) for c, v in local_authority_shares(area, geo.local_authorities).items()),
                           reverse=True)
            more = {"area_km2": round(area.area / 1e6, 1), "source": geo.pcn_area_source.get(pcn.key),
                    "local_authorities": [f"{la_names[c]} ({100 * v:.1f}%)" for v, c in share]}
        rows.append(MapRow(pcn.key, pcn.name, pcn.code, pcn.place, pcn.lead_commissioner, r.members, r.total,
                           r.band, r.errors, r.warnings, palette[pcn.key], **more))
    return rows


@dataclass
class BlockRow:
    code: str
    name: str
    population: int | None
    local_authority: str | None
    method: str                         # 'nearest' or 'manual'


@dataclass
class MemberRow:
    code: str
    name: str
    list_size: int | None
    located: bool


@dataclass
class PcnMapFacts:
    """The facts of one PCN's map: its row, blocks, members and neighbouring PCNs."""

    row: MapRow
    blocks: list[BlockRow]
    members: list[MemberRow]
    neighbours: list[MapRow]
    has_area: bool


def pcn_facts(data: rounds_svc.RoundData, key: str, rows: list[MapRow] | None = None) -> PcnMapFacts:
    """The tables of a PCN's map. Neighbours: PCNs whose area touches this one's (within the
    adjacency distance, ``ADJACENCY_BUFFER_METRES``)."""
    rows = rows if rows is not None else map_rows(data)
    by_key = {r.key: r for r in rows}
    rnd = data.round
    blocks = [BlockRow(code, name, population, la, method) for code, name, population, la, method in db.session.execute(
        select(Block.code, Block.name, Block.population, LocalAuthority.name, BlockAssignment.method)
        .join(BlockAssignment, BlockAssignment.block_id == Block.id)
        .outerjoin(LocalAuthority, Block.local_authority_id == LocalAuthority.id)
        .where(BlockAssignment.round_id == rnd.id, BlockAssignment.pcn_id == int(key))
        .order_by(Block.code))]
    pcn = data.pcn_data(key)
    data.practices.preload(pcn.members)         # one query for the members' models
    members = []
    for code in pcn.members:
        practice = data.config.practices.get(code)
        model = data.practices.get(code)
        members.append(MemberRow(code, practice.name if practice else code,
                                 practice.list_size if practice else None,
                                 bool(model is not None and model.latitude is not None and model.longitude is not None)))
    geo = data.config.geography
    area = geo.pcn_areas.get(key) if geo else None
    neighbours = []
    if area is not None and not area.is_empty:
        for other, geom in geo.pcn_areas.items():
            if other != key and other in by_key and not geom.is_empty and \
                    area.distance(geom) <= ADJACENCY_BUFFER_METRES:
                neighbours.append(by_key[other])
    neighbours.sort(key=lambda r: (r.name.casefold(), r.key))
    return PcnMapFacts(by_key[key], blocks, members, neighbours, area is not None and not area.is_empty)


@dataclass
class PairRow:
    """Two blocks treated as adjacent; ``code_a`` is a block of the PCN the table is for."""

    code_a: str
    name_a: str
    code_b: str
    name_b: str
    reason: str
    recorded_by: str
    recorded_at: dt.datetime


def adjacent_pairs(rnd: RegistrationRound, key: str) -> list[PairRow]:
    """The 'treat as adjacent' pairs with at least one block in the PCN (in this round), oldest
    first, the PCN's own block first in each pair."""
    own = set(db.session.scalars(select(BlockAssignment.block_id).where(
        BlockAssignment.round_id == rnd.id, BlockAssignment.pcn_id == int(key))))
    if not own:
        return []
    a, b = aliased(Block), aliased(Block)
    rows = db.session.execute(
        select(a.id, a.code, a.name, b.code, b.name, AdjacentPair.reason, AdjacentPair.recorded_by,
               AdjacentPair.recorded_at)
        .join(a, a.id == AdjacentPair.block_a_id).join(b, b.id == AdjacentPair.block_b_id)
        .where(a.system_id == rnd.system_id,
               or_(AdjacentPair.block_a_id.in_(own), AdjacentPair.block_b_id.in_(own)))
        .order_by(AdjacentPair.recorded_at, AdjacentPair.id)).all()
    out = []
    for a_id, code_a, name_a, code_b, name_b, reason, by, at in rows:
        if a_id not in own:
            code_a, name_a, code_b, name_b = code_b, name_b, code_a, name_a
        out.append(PairRow(code_a, name_a, code_b, name_b, reason, by, at))
    return out


def unknown_blocks(rnd: RegistrationRound, codes: list[str]) -> list[str]:
    """The codes among ``codes`` that name no block of the round's system, in the given order."""
    known = set(db.session.scalars(select(Block.code).where(Block.system_id == rnd.system_id,
                                                            Block.code.in_(codes))))
    return [c for c in dict.fromkeys(codes) if c not in known]


def pcn_areas(rnd: RegistrationRound) -> dict[str, object]:
    return {str(pcn_id): areas.from_wkb(wkb) for pcn_id, wkb in db.session.execute(
        select(PcnArea.pcn_id, PcnArea.geometry).where(PcnArea.round_id == rnd.id))}


def boundaries(rnd: RegistrationRound) -> tuple[list[tuple[str, str, object]], list[tuple[str, object]]]:
    """Local authorities with a boundary, of the round's system (by place or by its blocks), as
    (code, name, geometry); and the places as (name, union of their local authorities)."""
    block_las = select(Block.local_authority_id).where(Block.system_id == rnd.system_id,
                                                       Block.local_authority_id.is_not(None)).distinct()
    la_places = areas.la_place_ids(rnd.system_id)
    rows = db.session.execute(
        select(LocalAuthority.code, LocalAuthority.name, LocalAuthority.id, LocalAuthority.geometry)
        .where(LocalAuthority.geometry.is_not(None))
        .where(LocalAuthority.id.in_(block_las) | LocalAuthority.id.in_(list(la_places)))
        .order_by(LocalAuthority.name)).all()
    rows = [(code, name, la_places.get(la_id), wkb) for code, name, la_id, wkb in rows]
    las = [(code, name, areas.from_wkb(wkb)) for code, name, _, wkb in rows]
    place_names = dict(db.session.execute(select(Place.id, Place.name).where(Place.system_id == rnd.system_id)).all())
    grouped: dict[str, list] = {}
    for (_, _, place_id, _), (_, _, geom) in zip(rows, las):
        if place_id in place_names:
            grouped.setdefault(place_names[place_id], []).append(geom)
    places = [(name, shapely.union_all(geoms)) for name, geoms in sorted(grouped.items())]
    return las, places
