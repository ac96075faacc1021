"""PCN areas: blocks -> PCNs, stored unions, block moves, uploaded polygons; and the
``Geography`` the geographic rules read.

Areas are refreshed on the write path (after every saved configuration version, a block move,
an upload or a geodata install), never while rendering a page. Only PCNs whose set of blocks
changed are recomputed (``PcnArea.fingerprint``).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache

import shapely
from pyproj import Transformer
from shapely.geometry import Point
from sqlalchemy import delete, func, select

from ..domain import geometry
from ..domain.types import Geography
from ..extensions import db
from ..models import (
    AdjacentPair,
    Block,
    BlockAssignment,
    Commissioner,
    GeodataLoad,
    LocalAuthority,
    Membership,
    Pcn,
    PcnArea,
    Place,
    Practice,
    RegistrationRound,
    place_local_authority,
    utcnow,
)
from . import audit
from .errors import CONCURRENT, ServiceError
from .transactions import one_transaction

TO_BNG = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
TO_WGS84 = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)


class AreaError(ServiceError):
    """A block move or upload that cannot be made, with a message for the user."""


def to_wkb(geom) -> bytes:
    return shapely.to_wkb(geom)


def from_wkb(data: bytes):
    return shapely.from_wkb(data)


def practice_point(practice: Practice) -> Point | None:
    if practice.latitude is None or practice.longitude is None:
        return None
    x, y = TO_BNG.transform(practice.longitude, practice.latitude)
    return Point(round(x, 1), round(y, 1))


def has_geodata(rnd: RegistrationRound) -> bool:
    return db.session.scalar(select(func.count()).select_from(Block).where(Block.system_id == rnd.system_id)) > 0


def _fingerprint(codes) -> str:
    return hashlib.sha256(",".join(sorted(codes)).encode()).hexdigest()


@dataclass
class RefreshReport:
    blocks: int = 0
    reassigned: int = 0
    rebuilt: list[str] = field(default_factory=list)     # pcn keys whose area was recomputed

    def lines(self) -> list[str]:
        return [f"{self.blocks} blocks; {self.reassigned} reassigned; "
                f"{len(self.rebuilt)} PCN areas rebuilt"]


def refresh(rnd: RegistrationRound) -> RefreshReport:
    """Bring block assignments and PCN areas in line with the head configuration. The caller
    commits. Manual block assignments are kept while their PCN exists; every other block goes
    to the PCN of its nearest member practice."""
    report = RefreshReport()
    blocks = list(db.session.execute(select(Block.id, Block.code, Block.geometry)
                                     .where(Block.system_id == rnd.system_id)).all())
    if not blocks:
        return report
    block_place = _block_places(rnd)
    pcn_place = {str(pid): place for pid, place in db.session.execute(
        select(Pcn.id, Pcn.place_id).where(Pcn.round_id == rnd.id)).all()}
    report.blocks = len(blocks)
    active = {str(p) for p in db.session.scalars(select(Pcn.id).where(Pcn.round_id == rnd.id, Pcn.active.is_(True)))}
    members = db.session.execute(select(Practice, Membership.pcn_id).join(Membership.practice)
                                 .where(Membership.round_id == rnd.id)).all()
    points = {p.code: pt for p, _ in members if (pt := practice_point(p)) is not None}
    practice_pcn = {p.code: str(pcn_id) for p, pcn_id in members}
    geoms = {code: from_wkb(wkb) for _, code, wkb in blocks}
    rep_points = {code: g.representative_point() for code, g in geoms.items()}
    nearest = geometry.nearest_assignment(rep_points, points, practice_pcn, block_place, pcn_place)

    stored = {row.block_id: row for row in db.session.scalars(
        select(BlockAssignment).where(BlockAssignment.round_id == rnd.id))}
    block_pcn: dict[str, str] = {}
    for block_id, code, _ in blocks:
        row = stored.get(block_id)
        if row is not None and row.method == "manual" and str(row.pcn_id) in active:
            block_pcn[code] = str(row.pcn_id)
            continue
        target = nearest.get(code)
        if target is None:
            if row is not None:
                db.session.delete(row)
            continue
        block_pcn[code] = target
        if row is None:
            db.session.add(BlockAssignment(round_id=rnd.id, block_id=block_id, pcn_id=int(target), method="nearest"))
            report.reassigned += 1
        elif str(row.pcn_id) != target or row.method != "nearest":
            row.pcn_id, row.method = int(target), "nearest"
            report.reassigned += 1

    by_pcn: dict[str, set[str]] = {}
    for code, key in block_pcn.items():
        by_pcn.setdefault(key, set()).add(code)
    areas = {str(a.pcn_id): a for a in db.session.scalars(select(PcnArea).where(PcnArea.round_id == rnd.id))}
    for key, area in list(areas.items()):
        if key not in active or (area.source == "blocks" and key not in by_pcn):
            db.session.delete(area)
            del areas[key]
    changed = [k for k, codes in by_pcn.items()
               if k not in areas or (areas[k].source == "blocks" and areas[k].fingerprint != _fingerprint(codes))]
    unions = geometry.union_by_pcn(block_pcn, geoms, only=changed)
    for key in changed:
        row = areas.get(key)
        if row is None:
            db.session.add(PcnArea(round_id=rnd.id, pcn_id=int(key), source="blocks",
                                   fingerprint=_fingerprint(by_pcn[key]), geometry=to_wkb(unions[key])))
        else:
            row.fingerprint, row.geometry = _fingerprint(by_pcn[key]), to_wkb(unions[key])
            row.built_at = utcnow()
    report.rebuilt = sorted(changed, key=int)
    db.session.flush()
    return report


def _block_places(rnd: RegistrationRound) -> dict[str, int | None]:
    """Block code -> id of its place: the place of the block's commissioner, else of its
    local authority (the contractual place, as for practices)."""
    rows = db.session.execute(
        select(Block.code, Commissioner.place_id, Block.local_authority_id)
        .outerjoin(Commissioner, Block.commissioner_id == Commissioner.id)
        .where(Block.system_id == rnd.system_id)).all()
    la_places = la_place_ids(rnd.system_id)
    return {code: by_ccg if by_ccg is not None else la_places.get(la_id) for code, by_ccg, la_id in rows}


def la_place_ids(system_id: int) -> dict[int, int]:
    """Local authority id -> the id of its place in ``system_id`` (places made of local authorities)."""
    return dict(db.session.execute(
        select(place_local_authority.c.local_authority_id, place_local_authority.c.place_id)
        .join(Place, Place.id == place_local_authority.c.place_id).where(Place.system_id == system_id)).all())


@one_transaction(lambda: AreaError(CONCURRENT))
def move_block(rnd: RegistrationRound, block_code: str, to_key: str) -> RefreshReport:
    """Move a block to a neighbouring PCN (manual assignment kept from now on). One transaction."""
    block = db.session.scalar(select(Block).where(Block.code == block_code, Block.system_id == rnd.system_id))
    pcn = db.session.get(Pcn, int(to_key)) if str(to_key).isdigit() else None
    if block is None:
        raise AreaError(f"There is no block {block_code} in {rnd.system.name}")
    if pcn is None or pcn.round_id != rnd.id or not pcn.active:
        raise AreaError("That PCN does not exist in the current configuration")
    row = db.session.scalar(select(BlockAssignment).where(BlockAssignment.round_id == rnd.id,
                                                          BlockAssignment.block_id == block.id))
    if row is not None and row.pcn_id == pcn.id:
        raise AreaError(f"{block.name} is already in {pcn.name}")
    area = db.session.scalar(select(PcnArea).where(PcnArea.round_id == rnd.id, PcnArea.pcn_id == pcn.id))
    if area is not None and from_wkb(area.geometry).distance(from_wkb(block.geometry)) > \
            geometry.ADJACENCY_BUFFER_METRES and not _paired_with(block, rnd, pcn):
        raise AreaError(f"{block.name} does not touch {pcn.name}'s area: move blocks to a neighbouring PCN")
    audit.record(action="area.move_block", object_type="block", object_id=block.code,
                 before={"pcn": row.pcn_id if row else None}, after={"pcn": pcn.id}, round_id=rnd.id,
                 pcn_id=pcn.id)
    if row is None:
        db.session.add(BlockAssignment(round_id=rnd.id, block_id=block.id, pcn_id=pcn.id, method="manual"))
    else:
        row.pcn_id, row.method = pcn.id, "manual"
    db.session.flush()
    report = refresh(rnd)
    return report


def _paired_with(block: Block, rnd: RegistrationRound, pcn: Pcn) -> bool:
    """True when a 'treat as adjacent' pair links the block to a block of the PCN."""
    pcn_blocks = set(db.session.scalars(select(BlockAssignment.block_id).where(
        BlockAssignment.round_id == rnd.id, BlockAssignment.pcn_id == pcn.id)))
    for pair in db.session.scalars(select(AdjacentPair).where(
            (AdjacentPair.block_a_id == block.id) | (AdjacentPair.block_b_id == block.id))):
        other = pair.block_b_id if pair.block_a_id == block.id else pair.block_a_id
        if other in pcn_blocks:
            return True
    return False


def geodata_key() -> int:
    """Identifies the installed geodata and adjacency overrides (part of cache keys)."""
    load = db.session.scalar(select(func.max(GeodataLoad.id))) or 0
    pairs = db.session.scalar(select(func.count()).select_from(AdjacentPair)) or 0
    return hash((load, pairs))


@lru_cache(maxsize=8)
def _adjacency(system_id: int, key: int, blocks: tuple[tuple[str, bytes], ...],
               pairs: tuple[tuple[str, str], ...]) -> dict[str, set[str]]:
    return geometry.adjacency({code: from_wkb(wkb) for code, wkb in blocks}, pairs)


def load_geography(rnd: RegistrationRound, members: dict[str, str]) -> Geography | None:
    """The Geography of a round for the rules, or None without geodata. ``members`` maps
    practice code -> pcn key of the configuration being evaluated (areas are the stored ones
    of the head configuration)."""
    blocks = tuple(db.session.execute(select(Block.code, Block.geometry).where(Block.system_id == rnd.system_id)
                                      .order_by(Block.code)).all())
    if not blocks:
        return None
    pairs = tuple(db.session.execute(
        select(Block.code, AdjacentPair.block_b_id).join(AdjacentPair, AdjacentPair.block_a_id == Block.id)
        .where(Block.system_id == rnd.system_id)).all())
    if pairs:
        codes = dict(db.session.execute(select(Block.id, Block.code).where(Block.system_id == rnd.system_id)).all())
        pairs = tuple((a, codes[b]) for a, b in pairs)
    neighbours = _adjacency(rnd.system_id, geodata_key(), tuple((c, bytes(w)) for c, w in blocks), pairs)

    areas = {str(a.pcn_id): a for a in db.session.scalars(select(PcnArea).where(PcnArea.round_id == rnd.id))}
    assigned = db.session.execute(select(Block.code, BlockAssignment.pcn_id).join(
        BlockAssignment, BlockAssignment.block_id == Block.id).where(BlockAssignment.round_id == rnd.id)).all()
    pcn_blocks: dict[str, set[str]] = {}
    for code, pcn_id in assigned:
        pcn_blocks.setdefault(str(pcn_id), set()).add(code)
    assigned_codes = {code for code, _ in assigned}

    las = list(db.session.scalars(select(LocalAuthority).where(LocalAuthority.geometry.is_not(None))))
    place_names = dict(db.session.execute(select(Place.id, Place.name).where(Place.system_id == rnd.system_id)).all())
    la_places = {la_id: place_names[pid] for la_id, pid in la_place_ids(rnd.system_id).items()}
    la_geoms = {la.code: (la.name, from_wkb(la.geometry), la_places.get(la.id)) for la in las}
    places: dict[str, list] = {}
    for _name, geom, place in la_geoms.values():
        if place:
            places.setdefault(place, []).append(geom)

    practices = db.session.scalars(select(Practice).join(Commissioner).where(Commissioner.system_id == rnd.system_id)
                                   .where(Practice.latitude.is_not(None)))
    points = {p.code: pt for p in practices if (pt := practice_point(p)) is not None}
    extra = set(members) - set(points)
    if extra:
        for p in db.session.scalars(select(Practice).where(Practice.code.in_(extra))):
            if (pt := practice_point(p)) is not None:
                points[p.code] = pt
    practice_la = dict(db.session.execute(select(Practice.code, LocalAuthority.code).join(
        LocalAuthority, Practice.local_authority_id == LocalAuthority.id)).all())
    from . import neighbourhoods  # registrations by LSOA and neighbourhoods (issue #14)
    return Geography(
        pcn_areas={k: from_wkb(a.geometry) for k, a in areas.items()},
        pcn_area_source={k: a.source for k, a in areas.items()},
        pcn_blocks={k: frozenset(v) for k, v in pcn_blocks.items()},
        block_neighbours=neighbours,
        unassigned_blocks=tuple(sorted(code for code, _ in blocks if code not in assigned_codes)),
        places={name: shapely.union_all(geoms) for name, geoms in places.items()},
        local_authorities=la_geoms,
        practice_points=points,
        practice_la=practice_la,
        catchments=neighbourhoods.load_inputs(rnd),
    )


@one_transaction(lambda: AreaError(CONCURRENT))
def record_adjacent(block_a: str, block_b: str, *, reason: str, recorded_by: str,
                    system_id: int | None = None) -> AdjacentPair:
    """Record that two blocks of a system are treated as adjacent (across a river, to an island).
    One transaction. Areas do not change: the pair only joins blocks for the contiguity rule.
    Without ``system_id`` the blocks' codes must name blocks of one system only."""
    reason, recorded_by = (reason or "").strip(), (recorded_by or "").strip()
    if not reason or not recorded_by:
        raise AreaError("Enter the reason and who agreed that the blocks are treated as adjacent")
    query = select(Block).where(Block.code.in_([block_a, block_b]))
    if system_id is not None:
        query = query.where(Block.system_id == system_id)
    rows = list(db.session.scalars(query))
    if len({b.system_id for b in rows}) > 1:
        raise AreaError(f"{block_a} and {block_b} are blocks of several systems: say which system")
    found = {b.code: b for b in rows}
    missing = [c for c in (block_a, block_b) if c not in found]
    if missing:
        raise AreaError(f"Unknown block {', '.join(missing)}")
    a, b = sorted((found[block_a], found[block_b]), key=lambda blk: blk.id)
    if a.id == b.id:
        raise AreaError("Choose two different blocks")
    if a.system_id != b.system_id:
        raise AreaError("The blocks are in different systems")
    if db.session.scalar(select(AdjacentPair).where(AdjacentPair.block_a_id == a.id,
                                                    AdjacentPair.block_b_id == b.id)):
        raise AreaError(f"{a.code} and {b.code} are already treated as adjacent")
    pair = AdjacentPair(block_a_id=a.id, block_b_id=b.id, reason=reason, recorded_by=recorded_by[:200])
    db.session.add(pair)
    audit.record(action="area.adjacent_pair", object_type="block", object_id=f"{a.code}+{b.code}",
                 after={"blocks": [a.code, b.code], "reason": reason, "recorded_by": recorded_by})
    return pair


@one_transaction(lambda: AreaError(CONCURRENT))
def upload_area(rnd: RegistrationRound, pcn_key: str, data: bytes, filename: str, max_bytes: int,
                notes: list[str] | None = None) -> PcnArea:
    """Replace a PCN's area with an uploaded polygon (GeoJSON, GeoPackage or zipped shapefile,
    recognised by content). One transaction. Raises ImportFailed for a bad file (plain words),
    or one with more vertices than ``MAX_AREA_VERTICES`` (``PCNREG_MAX_AREA_VERTICES``). An
    invalid polygon is repaired: the repair is appended to ``notes`` and recorded in the audit."""
    from flask import current_app, has_app_context

    from ..importers.geodata import MAX_AREA_VERTICES, read_polygon_upload

    notes = [] if notes is None else notes
    limit = current_app.config.get("MAX_AREA_VERTICES", MAX_AREA_VERTICES) if has_app_context() else MAX_AREA_VERTICES

    pcn = db.session.get(Pcn, int(pcn_key)) if str(pcn_key).isdigit() else None
    if pcn is None or pcn.round_id != rnd.id or not pcn.active:
        raise AreaError("That PCN does not exist in the current configuration")
    geom = geometry.snap(read_polygon_upload(data, filename, max_bytes, max_vertices=limit, notes=notes))
    row = db.session.scalar(select(PcnArea).where(PcnArea.round_id == rnd.id, PcnArea.pcn_id == pcn.id))
    digest = hashlib.sha256(data).hexdigest()
    audit.record(action="area.upload", object_type="pcn", object_id=str(pcn.id),
                 before={"source": row.source if row else None}, after={"source": "upload", "file": filename,
                                                                       "sha256": digest,
                                                                       "area_km2": round(geom.area / 1e6, 3),
                                                                       **({"repaired": notes} if notes else {})},
                 round_id=rnd.id, pcn_id=pcn.id)
    if row is None:
        row = PcnArea(round_id=rnd.id, pcn_id=pcn.id, source="upload", fingerprint=digest, geometry=to_wkb(geom))
        db.session.add(row)
    else:
        row.source, row.fingerprint, row.geometry = "upload", digest, to_wkb(geom)
    return row


@one_transaction(lambda: AreaError(CONCURRENT))
def revert_area(rnd: RegistrationRound, pcn_key: str) -> RefreshReport:
    """Drop an uploaded area: the PCN's area is the union of its blocks again."""
    removed = db.session.execute(delete(PcnArea).where(PcnArea.round_id == rnd.id, PcnArea.pcn_id == int(pcn_key),
                                                       PcnArea.source == "upload")).rowcount
    if removed:
        audit.record(action="area.revert", object_type="pcn", object_id=str(pcn_key),
                     before={"source": "upload"}, after={"source": "blocks"}, round_id=rnd.id,
                     pcn_id=int(pcn_key))
    report = refresh(rnd)
    return report
