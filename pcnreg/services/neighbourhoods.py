"""Neighbourhoods and catchments of a round (issue #14): the LSOA registrations import, the
neighbourhoods upload, the round's settings, and what the rules, pages, map and exports read.

The computations are ``pcnreg.domain.catchments``; this module loads and stores. Each change is
one transaction with an audit event; a refused file writes nothing.
"""
from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from flask import current_app, has_app_context
from sqlalchemy import delete, func, select

from ..domain import catchments as cm
from ..extensions import db
from ..importers.csvio import ImportFailed, ImportProblem, check_text, decode, read_rows
from ..importers.lsoa_registrations import (
    ENGLISH_LSOA,
    SPECIAL_KINDS,
    LsoaLookup,
    parse_lsoa_registrations,
    read_lsoa_lookup,
    translate,
    vintage_of,
)
from ..models import (
    Block,
    Commissioner,
    LsoaRegisteredTotal,
    LsoaRegistration,
    LsoaRegistrationLoad,
    Membership,
    Neighbourhood,
    NeighbourhoodLsoa,
    NeighbourhoodSettings,
    Practice,
    RegistrationRound,
    utcnow,
)
from . import audit, round_state
from .errors import CONCURRENT, ServiceError
from .transactions import insert_rows, one_transaction

LOOKUP_FILE = "lsoa11-lsoa21-lad22-lookup-ew.csv"
MIN_BLOCK_MATCH = 0.9          # without a lookup: share of the system's blocks the file must name
VINTAGE_TEXT = {"lsoa21": "LSOA 2021", "lsoa11": "LSOA 2011", "blocks": "the codes of the system's blocks",
                "unknown": "not known (no blocks, no lookup)"}


class NeighbourhoodError(ServiceError):
    """A change that cannot be made, with a message for the user."""


# --- settings ------------------------------------------------------------------------------------------

def settings_of(rnd: RegistrationRound) -> cm.Settings:
    row = db.session.scalar(select(NeighbourhoodSettings).where(NeighbourhoodSettings.round_id == rnd.id))
    if row is None:
        return cm.Settings()
    return cm.Settings(row.catchment_threshold, row.catchment_method, row.alignment_threshold,
                       row.single_size, row.multi_size)


@one_transaction(lambda: NeighbourhoodError(CONCURRENT))
def save_settings(rnd: RegistrationRound, new: cm.Settings) -> cm.Settings:
    """Store a round's settings (one transaction, audited)."""
    if new.method not in cm.METHODS:
        raise NeighbourhoodError("Choose how catchments are drawn")
    if not (0 < new.threshold <= 1 and 0 < new.alignment_threshold <= 1):
        raise NeighbourhoodError("Shares must be more than 0% and at most 100%")
    if new.single_size <= 0 or new.multi_size <= 0:
        raise NeighbourhoodError("Neighbourhood sizes must be positive")
    old = settings_of(rnd)
    row = db.session.scalar(select(NeighbourhoodSettings).where(NeighbourhoodSettings.round_id == rnd.id))
    if row is None:
        row = NeighbourhoodSettings(round_id=rnd.id)
        db.session.add(row)
    row.catchment_threshold, row.catchment_method = new.threshold, new.method
    row.alignment_threshold, row.single_size, row.multi_size = new.alignment_threshold, new.single_size, new.multi_size
    audit.record(action="neighbourhoods.settings", object_type="round", object_id=str(rnd.id),
                 before=_settings_dict(old), after=_settings_dict(new), round_id=rnd.id)
    return new


def _settings_dict(s: cm.Settings) -> dict:
    return {"threshold": s.threshold, "method": s.method, "alignment_threshold": s.alignment_threshold,
            "single_size": s.single_size, "multi_size": s.multi_size}


# --- the LSOA registrations import --------------------------------------------------------------------------

class _Hashing(io.RawIOBase):
    """A binary stream that hashes (SHA-256) and counts what is read through it."""

    def __init__(self, raw: BinaryIO):
        self.raw, self.sha, self.size = raw, hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.sha.update(data)
        self.size += n
        return n


def round_practices(rnd: RegistrationRound) -> set[str]:
    """The round's practices: those of its system's commissioners and every member of its PCNs."""
    codes = set(db.session.scalars(select(Practice.code).join(Commissioner, Practice.commissioner_id == Commissioner.id)
                                   .where(Commissioner.system_id == rnd.system_id)))
    codes |= set(db.session.scalars(select(Practice.code).join(Membership, Membership.practice_id == Practice.id)
                                    .where(Membership.round_id == rnd.id)))
    return codes


def block_codes(rnd: RegistrationRound) -> set[str]:
    return set(db.session.scalars(select(Block.code).where(Block.system_id == rnd.system_id)))


def default_lookup() -> Path | None:
    """The LSOA 2011 -> 2021 lookup in the geodata folder, when there."""
    folder = current_app.config.get("GEODATA_PATH") if has_app_context() else None
    path = Path(folder) / LOOKUP_FILE if folder else None
    return path if path is not None and path.is_file() else None


@dataclass
class LsoaImportSummary:
    source: str
    extract_date: str | None
    vintage: str
    rows: int
    practices: int
    patients: int
    lsoas: int
    special: dict[str, int]
    special_rows: int
    missing_practices: list[str]
    other_practices: int
    other_sex_rows: int
    blocks: int = 0
    blocks_matched: int = 0
    split_lsoas: int = 0
    outside_patients: int = 0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "notes"}

    def lines(self) -> list[str]:
        out = [f"{self.source}: extract of {self.extract_date or 'unknown date'}, {self.rows:,} rows read; "
               f"LSOA codes: {VINTAGE_TEXT.get(self.vintage, self.vintage)}",
               f"{self.practices:,} practices of the round: {self.patients:,} patients living in {self.lsoas:,} "
               f"English LSOAs"]
        if self.blocks:
            out.append(f"{self.blocks_matched:,} of the system's {self.blocks:,} blocks have registered patients; "
                       f"{self.outside_patients:,} patients of the round's practices live outside the system")
        if self.special:
            out.append("not an English LSOA (counted, not imported): " + "; ".join(
                f"{SPECIAL_KINDS[k]}: {n:,} patients" for k, n in sorted(self.special.items())))
        if self.split_lsoas:
            out.append(f"{self.split_lsoas:,} split LSOAs: their patients were shared equally among their successors")
        if self.missing_practices:
            out.append(f"{len(self.missing_practices)} practices of the round are not in the file: "
                       + ", ".join(self.missing_practices[:20]) + (" …" if len(self.missing_practices) > 20 else ""))
        if self.other_practices:
            out.append(f"{self.other_practices:,} practices of other systems counted in the LSOAs' totals only")
        if self.other_sex_rows:
            out.append(f"{self.other_sex_rows:,} rows with SEX other than ALL skipped")
        return out + self.notes


@one_transaction(lambda: NeighbourhoodError(CONCURRENT))
def import_lsoa_registrations(rnd: RegistrationRound, stream: BinaryIO, *, source: str,
                              lookup: Path | None = None) -> LsoaImportSummary:
    """Stream an LSOA registrations file (binary stream) into a round: one transaction replacing the
    round's earlier load; ``ImportFailed`` (nothing written) for a bad file. ``lookup``: the LSOA 2011
    -> 2021 lookup (default: the geodata folder's) to tell the vintages apart and translate."""
    lookup_path = lookup or default_lookup()
    # Read first (its transient memory does not add to the file's), and once per file: what is
    # kept of it is small and immutable (``LsoaLookup``).
    table = _lookup_table(str(lookup_path), lookup_path.stat().st_mtime) if lookup_path is not None else None
    hashing = _Hashing(stream)
    text = io.TextIOWrapper(io.BufferedReader(hashing, 1 << 16), encoding="utf-8-sig", newline="")
    practices = round_practices(rnd)
    regs = parse_lsoa_registrations(text, practices)
    if hashing.size == 0:
        raise ImportFailed([ImportProblem(None, None, "the file is empty")], source=source)
    blocks = block_codes(rnd)
    split = 0
    if table is not None:
        file_vintage = vintage_of(regs.lsoa_totals, table)
        block_vintage = vintage_of(blocks, table) if blocks else None
        if file_vintage and block_vintage and file_vintage != block_vintage:
            split = translate(regs, table.mapping(file_vintage))
            vintage = f"{file_vintage} (translated to {block_vintage})"
        else:
            vintage = file_vintage or block_vintage or "unknown"
    else:
        vintage = "blocks" if blocks else "unknown"
    ours_lsoas = {lsoa for by in regs.counts.values() for lsoa in by}
    matched = len(blocks & ours_lsoas)
    if blocks and table is None and matched < MIN_BLOCK_MATCH * len(blocks):
        raise ImportFailed([ImportProblem(None, "LSOA_CODE", (
            f"only {matched:,} of the system's {len(blocks):,} blocks appear in the file: its LSOA codes look "
            f"like another vintage than the blocks; give the LSOA 2011 -> 2021 lookup ({LOOKUP_FILE}) to "
            "translate them"))], source=source)
    if not regs.counts:
        raise ImportFailed([ImportProblem(None, "PRACTICE_CODE", (
            f"no row is for a practice of {rnd.name} ({len(practices):,} practices): is it the right file?"))],
            source=source)
    keep = ours_lsoas | blocks
    totals = {lsoa: n for lsoa, n in regs.lsoa_totals.items() if lsoa in keep}
    summary = LsoaImportSummary(
        source=source, extract_date=regs.extract_date.isoformat() if regs.extract_date else None,
        vintage=vintage.split(" ")[0] if vintage.startswith(("lsoa11 (", "lsoa21 (")) else vintage,
        rows=regs.rows, practices=len(regs.counts), patients=regs.patients, lsoas=len(ours_lsoas),
        special=dict(regs.special), special_rows=sum(regs.special_values.values()),
        missing_practices=sorted(_open_practices(rnd, practices) - set(regs.counts)),
        other_practices=regs.other_practices, other_sex_rows=regs.other_sex_rows,
        blocks=len(blocks), blocks_matched=matched, split_lsoas=split,
        outside_patients=sum(n for by in regs.counts.values() for lsoa, n in by.items() if blocks and lsoa not in blocks))
    if vintage != summary.vintage:
        summary.notes.append(f"LSOA codes {vintage}")
    old = db.session.scalar(select(LsoaRegistrationLoad).where(LsoaRegistrationLoad.round_id == rnd.id))
    before = None
    if old is not None:
        before = {"source": old.source, "sha256": old.sha256, "patients": old.patients}
        db.session.execute(delete(LsoaRegistration).where(LsoaRegistration.load_id == old.id))
        db.session.execute(delete(LsoaRegisteredTotal).where(LsoaRegisteredTotal.load_id == old.id))
        db.session.delete(old)
        db.session.flush()
    load = LsoaRegistrationLoad(
        round_id=rnd.id, source=source[:200], sha256=hashing.sha.hexdigest(), extract_date=regs.extract_date,
        vintage=vintage[:20], rows_read=regs.rows, practices=summary.practices, patients=summary.patients,
        summary=json.dumps(summary.as_dict(), sort_keys=True), loaded_at=utcnow())
    db.session.add(load)
    db.session.flush()
    insert_rows(LsoaRegistration, ({"load_id": load.id, "practice_code": p, "lsoa_code": lsoa, "patients": n}
                               for p, by in regs.counts.items() for lsoa, n in by.items()))
    insert_rows(LsoaRegisteredTotal, ({"load_id": load.id, "lsoa_code": lsoa, "patients": n}
                                  for lsoa, n in totals.items()))
    audit.record(action="neighbourhoods.import_lsoa_registrations", object_type="round", object_id=str(rnd.id),
                 before=before, after={"sha256": load.sha256, **summary.as_dict()}, round_id=rnd.id)
    return summary


def _open_practices(rnd: RegistrationRound, codes: set[str]) -> set[str]:
    members = set(db.session.scalars(select(Practice.code).join(Membership, Membership.practice_id == Practice.id)
                                     .where(Membership.round_id == rnd.id)))
    return {c for c in members if c in codes}


def current_load(rnd: RegistrationRound) -> LsoaRegistrationLoad | None:
    return db.session.scalar(select(LsoaRegistrationLoad).where(LsoaRegistrationLoad.round_id == rnd.id))


# --- neighbourhoods -------------------------------------------------------------------------------------------

NEIGHBOURHOOD_COLUMNS = {"lsoa": ("lsoa_code", "LSOA_CODE", "LSOA21CD", "LSOA11CD", "lsoa"),
                         "name": ("neighbourhood", "NEIGHBOURHOOD", "neighbourhood_name", "name"),
                         "kind": ("kind", "KIND", "neighbourhood_kind")}
KIND_WORDS = {"single": "single", "single-neighbourhood": "single", "s": "single",
              "multi": "multi", "multi-neighbourhood": "multi", "m": "multi"}


@dataclass
class NeighbourhoodSummary:
    source: str
    neighbourhoods: dict[str, tuple[str, int]]          # name -> (kind, LSOAs)
    replaced: int
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"{self.source}: {len(self.neighbourhoods)} neighbourhoods, "
                f"{sum(n for _, n in self.neighbourhoods.values()):,} LSOAs"
                + (f" (replacing {self.replaced})" if self.replaced else "")] + [
            f"  {name}: {cm.KINDS[kind].lower()}, {n} LSOAs" for name, (kind, n) in sorted(self.neighbourhoods.items())
        ] + self.notes


def parse_neighbourhoods(text: str, known: set[str] | None) -> dict[str, tuple[str, list[str]]]:
    """CSV of LSOA -> neighbourhood (columns ``lsoa_code``, ``neighbourhood``, optional ``kind``:
    single or multi, default single) -> name -> (kind, LSOAs). ``known``: the system's blocks."""
    problems: list[ImportProblem] = []
    rows = read_rows(text, problems)
    header_row, header = next(rows, (1, []))
    names = [h.strip() for h in header]
    index = {}
    for what, options in NEIGHBOURHOOD_COLUMNS.items():
        found = [names.index(o) for o in options if o in names]
        if found:
            index[what] = found[0]
        elif what != "kind":
            problems.append(ImportProblem(header_row, options[0], f"column is missing (one of {', '.join(options)})"))
    if problems:
        raise ImportFailed(problems)
    out: dict[str, tuple[str, list[str]]] = {}
    seen: dict[str, int] = {}
    kind_row: dict[str, int] = {}
    for row, values in rows:
        if len(values) != len(names):
            problems.append(ImportProblem(row, "columns", f"has {len(values)} columns; the header has {len(names)}"))
            continue
        lsoa = values[index["lsoa"]].strip().upper()
        name = check_text(values[index["name"]], row, names[index["name"]], problems)
        kind_text = values[index["kind"]].strip().lower() if "kind" in index else ""
        kind = KIND_WORDS.get(kind_text or "single")
        if kind is None:
            problems.append(ImportProblem(row, names[index["kind"]], f"{kind_text[:40]!r} is not single or multi"))
            continue
        if not ENGLISH_LSOA.match(lsoa):
            problems.append(ImportProblem(row, names[index["lsoa"]], f"{lsoa[:40]!r} is not an English LSOA code"))
            continue
        if known and lsoa not in known:
            problems.append(ImportProblem(row, names[index["lsoa"]], f"{lsoa} is not a block of the round's system"))
            continue
        if lsoa in seen:
            problems.append(ImportProblem(row, names[index["lsoa"]], f"{lsoa} is also on row {seen[lsoa]}"))
            continue
        if not name:
            continue
        seen[lsoa] = row
        if name in out and out[name][0] != kind:
            problems.append(ImportProblem(row, names[index["kind"]], (
                f"{name} is {out[name][0]} on row {kind_row[name]}: one kind per neighbourhood")))
            continue
        kind_row.setdefault(name, row)
        out.setdefault(name, (kind, []))[1].append(lsoa)
    if not out and not problems:
        problems.append(ImportProblem(None, None, "the file has a header but no data rows"))
    if problems:
        raise ImportFailed(problems)
    return out


GEO_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip")
#: How an uploaded polygon layer gives each LSOA its neighbourhood (said on the page and in the summary).
OVERLAP_RULE = ("each LSOA of the system goes to the neighbourhood covering the largest part of its area, "
                "when that part is at least half of the LSOA")
MIN_OVERLAP = 0.5


def is_polygon_file(source: str, data: bytes) -> bool:
    """Whether an upload is a polygon layer (by its name's extension; a name without one of the
    known extensions: by its content) rather than a CSV of LSOA -> neighbourhood."""
    from ..importers.geodata import sniff

    name = source.lower()
    if name.endswith(".csv"):
        return False
    if name.endswith(GEO_SUFFIXES):
        return True
    return sniff(data[:64]) is not None


def assign_lsoas(features, blocks: dict[str, object], min_overlap: float = MIN_OVERLAP
                 ) -> tuple[dict[str, tuple[int, float]], dict[str, float]]:
    """(block code -> (index of the feature covering the largest part of it, that share),
    block code -> the largest share for blocks left out, below ``min_overlap``). ``features``:
    geometries in EPSG:27700; ``blocks``: code -> geometry in EPSG:27700."""
    import shapely
    from shapely.strtree import STRtree

    codes = sorted(blocks)
    geoms = [blocks[c] for c in codes]
    tree = STRtree(geoms)
    best: dict[str, tuple[int, float]] = {}
    for index, feature in enumerate(features):
        shapely.prepare(feature)
        for i in tree.query(feature, predicate="intersects"):
            block = geoms[i]
            area = block.area
            if not area:
                continue
            share = shapely.intersection(feature, block).area / area
            code = codes[i]
            if share > best.get(code, (-1, 0.0))[1] + 1e-12:
                best[code] = (index, share)
    kept = {c: v for c, v in best.items() if v[1] >= min_overlap - 1e-9}
    short = {c: v[1] for c, v in best.items() if c not in kept}
    return kept, short


def _parse_polygons(rnd: RegistrationRound, data: bytes, source: str, max_bytes: int
                    ) -> tuple[dict[str, tuple[str, list[str]]], list[str]]:
    """A polygon layer -> (name -> (kind, LSOAs), notes); ``ImportFailed`` naming file, feature and field."""
    from ..importers.geodata import read_neighbourhood_layer

    layer = read_neighbourhood_layer(data, source, max_bytes)
    blocks = _block_geometries(rnd)
    if not blocks:
        raise ImportFailed([ImportProblem(None, None, (
            "the round's system has no LSOA boundaries installed: a polygon layer needs them (install the "
            "geodata, or upload a CSV of lsoa_code, neighbourhood, kind)"))], source=source)
    problems: list[ImportProblem] = []
    kinds: dict[str, tuple[str, int]] = {}
    for f in layer.features:
        kind = KIND_WORDS.get(f.kind.strip().lower() or "single")
        if kind is None:
            problems.append(ImportProblem(None, layer.kind_column, (
                f"feature {f.number} ({f.name}): {f.kind[:40]!r} is not single or multi")))
            continue
        if f.name in kinds and kinds[f.name][0] != kind:
            problems.append(ImportProblem(None, layer.kind_column, (
                f"feature {f.number} ({f.name}): {f.name} is {kinds[f.name][0]} in feature {kinds[f.name][1]}: "
                "one kind per neighbourhood")))
            continue
        kinds.setdefault(f.name, (kind, f.number))
    if problems:
        raise ImportFailed(problems, source=source)
    assigned, short = assign_lsoas([f.geometry for f in layer.features], blocks)
    out: dict[str, tuple[str, list[str]]] = {name: (kind, []) for name, (kind, _) in kinds.items()}
    for code, (index, _) in sorted(assigned.items()):
        out[layer.features[index].name][1].append(code)
    for name, (_, lsoas) in out.items():
        if not lsoas:
            numbers = ", ".join(str(f.number) for f in layer.features if f.name == name)
            problems.append(ImportProblem(None, "geometry", (
                f"feature {numbers} ({name}) covers at least half of no LSOA of {rnd.name}'s system: "
                "is it the right area, in the right coordinate reference system?")))
    if problems:
        raise ImportFailed(problems, source=source)
    notes = list(layer.notes)
    notes.append(f"{source}: LSOAs assigned by the largest overlap: {OVERLAP_RULE}")
    if short:
        notes.append(f"{source}: {len(short):,} LSOAs of the system touched by a neighbourhood are less than half "
                     "inside any and are left out: " + ", ".join(sorted(short)[:10]) + (" …" if len(short) > 10 else ""))
    outside = len(blocks) - len(assigned)
    if outside:
        notes.append(f"{source}: {outside:,} of the system's {len(blocks):,} LSOAs are in no neighbourhood")
    return out, notes


@one_transaction(lambda: NeighbourhoodError(CONCURRENT))
def import_neighbourhoods(rnd: RegistrationRound, data: bytes, *, source: str, max_bytes: int) -> NeighbourhoodSummary:
    """Replace a round's neighbourhoods with those of an upload (one transaction, audited): a CSV
    of LSOA -> neighbourhood, or a polygon layer (GeoJSON, GeoPackage, zipped shapefile; see
    ``OVERLAP_RULE``). A bad file raises ``ImportFailed`` and writes nothing."""
    if is_polygon_file(source, data):
        parsed, notes = _parse_polygons(rnd, data, source, max_bytes)
        how = "polygons"
    else:
        text = decode(data, max_bytes, header=True)
        parsed, notes, how = parse_neighbourhoods(text, block_codes(rnd) or None), [], "csv"
    summary = _replace_neighbourhoods(rnd, parsed, action="neighbourhoods.import", source=source, after={
        "sha256": hashlib.sha256(data).hexdigest(), "format": how})
    summary.notes = notes
    return summary


def _replace_neighbourhoods(rnd: RegistrationRound, parsed: dict[str, tuple[str, list[str]]], *, action: str,
                            source: str, after: dict) -> NeighbourhoodSummary:
    """Replace every neighbourhood of the round with ``parsed`` (inside the caller's transaction)."""
    old = {n.name: n.kind for n in db.session.scalars(select(Neighbourhood).where(Neighbourhood.round_id == rnd.id))}
    db.session.execute(delete(NeighbourhoodLsoa).where(NeighbourhoodLsoa.round_id == rnd.id))
    db.session.execute(delete(Neighbourhood).where(Neighbourhood.round_id == rnd.id))
    db.session.flush()
    for name, (kind, lsoas) in sorted(parsed.items()):
        row = Neighbourhood(round_id=rnd.id, name=name, kind=kind)
        db.session.add(row)
        db.session.flush()
        insert_rows(NeighbourhoodLsoa, ({"round_id": rnd.id, "neighbourhood_id": row.id, "lsoa_code": c}
                                    for c in sorted(lsoas)))
    summary = NeighbourhoodSummary(source, {n: (k, len(v)) for n, (k, v) in parsed.items()}, len(old))
    audit.record(action=action, object_type="round", object_id=str(rnd.id),
                 before={"neighbourhoods": old} if old else None,
                 after={"source": source, **after,
                        "neighbourhoods": {n: {"kind": k, "lsoas": c} for n, (k, c) in summary.neighbourhoods.items()}},
                 round_id=rnd.id)
    return summary


# --- what the rules and pages read ------------------------------------------------------------------------------

def _inputs_key(rnd: RegistrationRound) -> tuple:
    """What the cached inputs depend on. The neighbourhoods' count and highest id alone are not
    enough: neighbourhoods replaced by others over the same LSOAs can get the same ids again
    (SQLite reuses the highest rowids once deleted), so the geography generation token, which
    every write of a neighbourhood changes (``round_state``), is part of the key."""
    load = db.session.execute(select(LsoaRegistrationLoad.id, LsoaRegistrationLoad.sha256)
                              .where(LsoaRegistrationLoad.round_id == rnd.id)).first()
    nb = db.session.execute(select(func.count(), func.max(NeighbourhoodLsoa.id))
                            .where(NeighbourhoodLsoa.round_id == rnd.id)).first()
    return (str(db.engine.url), rnd.id, tuple(load) if load else None, tuple(nb), settings_of(rnd),
            round_state.tokens().get("geography", ""))


def load_inputs(rnd: RegistrationRound) -> cm.Inputs | None:
    """The round's ``catchments.Inputs`` (cached per process by load, neighbourhoods and settings),
    or None when neither registrations nor neighbourhoods are loaded."""
    key = _inputs_key(rnd)
    if key[2] is None and not key[3][0]:
        return None
    return _load_inputs(key)


@lru_cache(maxsize=8)
def _load_inputs(key: tuple) -> cm.Inputs:
    _url, round_id, load, _nb, settings, _geography = key
    counts = lsoa_totals = None
    if load is not None:
        counts = {}
        for practice, lsoa, n in db.session.execute(select(LsoaRegistration.practice_code, LsoaRegistration.lsoa_code,
                                                           LsoaRegistration.patients)
                                                    .where(LsoaRegistration.load_id == load[0])):
            counts.setdefault(practice, {})[lsoa] = n
        lsoa_totals = dict(db.session.execute(select(LsoaRegisteredTotal.lsoa_code, LsoaRegisteredTotal.patients)
                                              .where(LsoaRegisteredTotal.load_id == load[0])).all())
    neighbourhood_of = dict(db.session.execute(
        select(NeighbourhoodLsoa.lsoa_code, Neighbourhood.name).join(Neighbourhood)
        .where(NeighbourhoodLsoa.round_id == round_id)).all())
    kinds = dict(db.session.execute(select(Neighbourhood.name, Neighbourhood.kind)
                                    .where(Neighbourhood.round_id == round_id)).all())
    weights, basis, within = {}, "population", None
    rnd = db.session.get(RegistrationRound, round_id)
    if load is not None and not json.loads(db.session.get(LsoaRegistrationLoad, load[0]).summary).get("other_practices"):
        within = frozenset(block_codes(rnd)) or None
    if counts is None and neighbourhood_of:
        rows = db.session.execute(select(Block.code, Block.population, Block.area_m2)
                                  .where(Block.system_id == rnd.system_id)).all()
        if rows and all(p is not None for _, p, _ in rows):
            weights = {c: float(p) for c, p, _ in rows}
        else:
            weights, basis = {c: float(a or 0) for c, _, a in rows}, "land area"
    return cm.Inputs(settings=settings, counts=counts, lsoa_totals=lsoa_totals or {},
                     neighbourhood_of=neighbourhood_of, kinds=kinds, block_weights=weights, weight_basis=basis,
                     within=within)


# --- the neighbourhoods page, its map and the catchments export ----------------------------------------------

@dataclass
class PcnCatchmentRow:
    key: str
    name: str
    colour: str
    patients: int                   # the PCN's patients with an English LSOA (registrations)
    lsoas: int                      # LSOAs its patients live in
    catchment: int                  # LSOAs of its catchment
    catchment_patients: int         # registered patients living in its catchment
    top_lsoa: str | None
    top_share: float | None         # share of its patients living in its top LSOA
    area_blocks: int                # blocks of its nearest-practice area
    gained: int                     # catchment LSOAs not in its area
    lost: int                       # area blocks not in its catchment
    best: str | None = None         # best-matching neighbourhood
    best_share: float | None = None


@dataclass
class NeighbourhoodRow:
    name: str
    kind: str
    lsoas: int
    population: int | None          # registered patients living there (None: no registrations)
    target: int
    pcns: list[tuple[str, str, float]]   # (key, name, share of the PCN in it) for PCNs matched to it
    resident: int | None = None     # resident population (None: not known, see ``CatchmentFacts.resident_note``)


@dataclass
class DifferenceRow:
    lsoa: str
    area_pcn: str | None
    catchment_pcn: str | None
    patients: int
    share: float | None


@dataclass
class CatchmentFacts:
    settings: cm.Settings
    load: LsoaRegistrationLoad | None
    load_summary: dict
    rows: list[PcnCatchmentRow]
    differences: list[DifferenceRow]
    neighbourhoods: list[NeighbourhoodRow]
    alignment_basis: str | None
    moved_patients: int
    catchments: dict[str, frozenset[str]]
    geodata: bool
    resident_note: str = ""


def page_facts(data) -> CatchmentFacts:
    """Everything the neighbourhoods page shows, from a loaded round (``rounds.RoundData``)."""
    from . import maps

    rnd = data.round
    geo = data.config.geography
    inputs = (geo.catchments if geo is not None else None) or load_inputs(rnd) or cm.Inputs(settings=settings_of(rnd))
    members = {p.key: p.members for p in data.config.pcns}
    names = {p.key: p.name for p in data.config.pcns}
    blocks = set(geo.block_neighbours) if geo is not None else set()
    pcn_blocks = {k: set(v) for k, v in geo.pcn_blocks.items()} if geo is not None else {}
    load = current_load(rnd)
    rows: list[PcnCatchmentRow] = []
    colours = {r.key: r.colour for r in maps.map_rows(data)}
    catch: dict[str, frozenset[str]] = {}
    diffs: list[DifferenceRow] = []
    pcn_lsoa: dict[str, dict[str, int]] = {}
    if inputs.counts is not None:
        pcn_lsoa, catch = cm.round_catchments(inputs, members, blocks)
        area_of = {b: k for k, bs in pcn_blocks.items() for b in bs}
        shares = cm.lsoa_shares(pcn_lsoa, inputs.lsoa_totals)
        diffs = [DifferenceRow(d.lsoa, d.area_pcn, d.catchment_pcn, d.patients, d.catchment_share)
                 for d in cm.differences(area_of, cm.lsoa_owner(catch), inputs.lsoa_totals, shares)]
    weights, basis = cm.weights_for(inputs, {k: v for k, v in members.items() if v}, pcn_blocks)
    align = cm.alignment(weights, inputs.neighbourhood_of, basis) if inputs.neighbourhood_of else {}
    for p in data.config.pcns:
        by = pcn_lsoa.get(p.key, {})
        total = sum(by.values())
        top = min(by, key=lambda c: (-by[c], c)) if by else None
        mine = catch.get(p.key, frozenset())
        area = pcn_blocks.get(p.key, set())
        a = align.get(p.key)
        rows.append(PcnCatchmentRow(
            p.key, p.name, colours.get(p.key, "#cccccc"), total, len(by), len(mine),
            sum(inputs.lsoa_totals.get(c, 0) for c in mine), top, by[top] / total if top and total else None,
            len(area), len(mine - area) if area else 0, len(area - mine) if inputs.counts is not None else 0,
            a.best if a else None, a.share if a and a.total else None))
    nb_rows = []
    population = cm.neighbourhood_population(inputs.neighbourhood_of, inputs.lsoa_totals) if inputs.counts else {}
    lsoa_count: dict[str, int] = {}
    for name in inputs.neighbourhood_of.values():
        lsoa_count[name] = lsoa_count.get(name, 0) + 1
    for name in sorted(inputs.kinds):
        matched = sorted(((k, names[k], a.share) for k, a in align.items() if a.best == name and k in names),
                         key=lambda x: -x[2])
        kind = inputs.kinds[name]
        nb_rows.append(NeighbourhoodRow(name, kind, lsoa_count.get(name, 0), population.get(name) if inputs.counts else None,
                                        inputs.settings.size_of(kind), matched))
    groups: dict[str, set[str]] = {}
    for lsoa, name in inputs.neighbourhood_of.items():
        groups.setdefault(name, set()).add(lsoa)
    resident, resident_note = resident_population(groups, blocks)
    for row in nb_rows:
        row.resident = resident.get(row.name) if resident is not None else None
    summary = json.loads(load.summary) if load is not None else {}
    return CatchmentFacts(inputs.settings, load, summary, rows, diffs, nb_rows,
                          basis if inputs.neighbourhood_of else None,
                          sum(d.patients for d in diffs), catch, geo is not None, resident_note)


def _block_geometries(rnd: RegistrationRound) -> dict[str, object]:
    from .areas import from_wkb

    return {code: from_wkb(wkb) for code, wkb in db.session.execute(
        select(Block.code, Block.geometry).where(Block.system_id == rnd.system_id))}


def _unions(groups: dict[str, set | frozenset], geoms: dict[str, object]) -> dict[str, object]:
    import shapely

    out = {}
    for key, codes in groups.items():
        parts = [geoms[c] for c in codes if c in geoms]
        if parts:
            out[key] = shapely.union_all(parts)
    return out


def catchments_geojson(rnd: RegistrationRound) -> bytes:
    """The round's catchments as GeoJSON (EPSG:4326): one feature per PCN with a catchment drawn
    from the system's blocks, with its figures. Raises LookupError without registrations or geodata."""
    import geopandas as gpd

    from . import rounds as rounds_svc

    data = rounds_svc.build_configuration(rnd)
    facts = page_facts(data)
    if facts.load is None or not facts.geodata:
        raise LookupError("No LSOA registrations or no geodata")
    unions = _unions(dict(facts.catchments), _block_geometries(rnd))
    rows = [r for r in facts.rows if r.key in unions]
    frame = gpd.GeoDataFrame({
        "pcn_key": [r.key for r in rows], "pcn_name": [r.name for r in rows],
        "pcn_code": [data.pcns[r.key].code for r in rows],
        "catchment_lsoas": [r.catchment for r in rows], "patients_living": [r.catchment_patients for r in rows],
        "pcn_patients": [r.patients for r in rows], "method": [facts.settings.method] * len(rows),
        "threshold": [facts.settings.threshold] * len(rows),
        "lsoas": [";".join(sorted(facts.catchments[r.key])) for r in rows],
    }, geometry=[unions[r.key] for r in rows], crs="EPSG:27700").to_crs("EPSG:4326")
    return frame.to_json(drop_id=True).encode()


def catchment_map(rnd: RegistrationRound) -> str:
    """The map document: nearest-practice areas, catchments and neighbourhoods as layers."""
    import folium

    from . import maps
    from . import rounds as rounds_svc

    if not db.session.scalar(select(func.count()).select_from(Block).where(Block.system_id == rnd.system_id)):
        raise maps.MapUnavailable("No geodata is installed")
    data = rounds_svc.build_configuration(rnd)
    facts = page_facts(data)
    rows = {r.key: r for r in facts.rows}
    geoms = _block_geometries(rnd)
    stored = maps.pcn_areas(rnd)
    layers = [("Nearest-practice areas", {k: g for k, g in stored.items() if k in rows and not g.is_empty}, True, 0.5, "solid")]
    if facts.load is not None:
        layers.append(("Catchments", _unions(dict(facts.catchments), geoms), True, 0.75, "dashed"))
    nb_groups: dict[str, set[str]] = {}
    inputs = load_inputs(rnd)
    for lsoa, name in (inputs.neighbourhood_of.items() if inputs else ()):
        nb_groups.setdefault(name, set()).add(lsoa)
    nb_unions = _unions(nb_groups, geoms)
    all_display = maps.display_geometries(list(stored.values()) or list(geoms.values())[:1])
    m = maps.new_map(maps.latlng_bounds(all_display))
    for title, shapes, show, opacity, dash in layers:
        keys = sorted(shapes, key=lambda k: rows[k].name.casefold() if k in rows else k)
        shown = maps.display_geometries([shapes[k] for k in keys])
        features = [maps.feature(g, f"{title[:5]}-{k}", {
            "name": maps.text(rows[k].name), "layer": title,
            "figures": (f"{rows[k].catchment} LSOAs, {rows[k].catchment_patients:,} patients living there"
                        if title == "Catchments" else f"{rows[k].area_blocks} blocks")})
            for k, g in zip(keys, shown) if k in rows]
        colour = {f"{title[:5]}-{k}": rows[k].colour for k in keys if k in rows}
        group = folium.FeatureGroup(name=title, show=show)
        folium.GeoJson(maps.collection(features),
                       style_function=lambda f, colour=colour, opacity=opacity, dash=dash: {
                           "fillColor": colour.get(f["id"], "#cccccc"), "fillOpacity": opacity if dash == "solid" else 0.15,
                           "color": maps.OUTLINE if dash == "solid" else colour.get(f["id"], "#425563"),
                           "weight": 1 if dash == "solid" else 3, "dashArray": None if dash == "solid" else "6 4"},
                       tooltip=maps.tooltip(["name", "layer", "figures"], ["PCN", "Layer", "Figures"])).add_to(group)
        group.add_to(m)
    if nb_unions:
        keys = sorted(nb_unions)
        shown = maps.display_geometries([nb_unions[k] for k in keys])
        kinds = inputs.kinds if inputs else {}
        features = [maps.feature(g, f"nb-{i}", {"name": maps.text(k), "kind": cm.KINDS.get(kinds.get(k, ""), "")})
                    for i, (k, g) in enumerate(zip(keys, shown))]
        group = folium.FeatureGroup(name="Neighbourhoods", show=True)
        folium.GeoJson(maps.collection(features), style_function=lambda f: {
            "fill": False, "color": maps.PLACE_LINE, "weight": 4, "opacity": 0.9},
            tooltip=maps.tooltip(["name", "kind"], ["Neighbourhood", "Kind"])).add_to(group)
        group.add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    items = [f"{maps.swatch(r.colour)} {maps.text(r.name)}" for r in facts.rows]
    maps.Html(maps.legend(f"Legend: {rnd.name}", [("", [
        "Filled: nearest-practice areas; dashed outline: catchments; thick blue line: neighbourhoods"]),
        ("PCNs", items)])).add_to(m)
    return m.get_root().render()


# --- grouping PCNs into a neighbourhood on a page ------------------------------------------------------------

BASES = {"catchment": "their catchments (where their patients live)",
         "area": "their nearest-practice areas"}


@dataclass
class GroupingChoices:
    """What the grouping page offers: the round's PCNs with their LSOAs by each basis."""

    pcns: list[tuple[str, str, int, int, str | None]]   # (key, name, catchment LSOAs, area LSOAs, neighbourhood now)
    bases: list[str]                                     # the bases available ("catchment" needs registrations)
    neighbourhoods: dict[str, str]                       # name -> kind
    members: dict[str, list[str]]                        # neighbourhood -> PCN keys matched to it


def _pcn_lsoas(data, basis: str) -> dict[str, frozenset[str]]:
    if basis == "catchment":
        return dict(page_facts(data).catchments)
    geo = data.config.geography
    return {k: frozenset(v) for k, v in (geo.pcn_blocks.items() if geo is not None else ())}


def grouping_choices(rnd: RegistrationRound) -> GroupingChoices:
    from . import rounds as rounds_svc

    data = rounds_svc.build_configuration(rnd)
    facts = page_facts(data)
    geo = data.config.geography
    area = {k: len(v) for k, v in geo.pcn_blocks.items()} if geo is not None else {}
    bases = (["catchment"] if facts.load is not None else []) + (["area"] if area else [])
    inputs = load_inputs(rnd)
    kinds = dict(inputs.kinds) if inputs else {}
    members: dict[str, list[str]] = {}
    rows = []
    for r in sorted(facts.rows, key=lambda r: r.name.casefold()):
        rows.append((r.key, r.name, r.catchment, area.get(r.key, 0), r.best))
        if r.best:
            members.setdefault(r.best, []).append(r.key)
    return GroupingChoices(rows, bases, kinds, members)


@dataclass
class GroupResult:
    name: str
    kind: str
    basis: str
    pcns: list[str]
    lsoas: int
    edited: bool
    moved: dict[str, int]            # other neighbourhood -> LSOAs taken from it
    emptied: list[str]               # neighbourhoods left without LSOAs (removed)

    def message(self) -> str:
        out = (f"{self.name} ({cm.KINDS[self.kind].lower()}) {'now has' if self.edited else 'was made with'} "
               f"{self.lsoas:,} LSOAs: those of {BASES[self.basis]} of {', '.join(self.pcns)}.")
        if self.moved:
            out += " LSOAs taken from " + ", ".join(f"{n} ({c:,})" for n, c in sorted(self.moved.items())) + "."
        if self.emptied:
            out += " Removed, left without LSOAs: " + ", ".join(self.emptied) + "."
        return out


@one_transaction(lambda: NeighbourhoodError(CONCURRENT))
def group_neighbourhood(rnd: RegistrationRound, name: str, kind: str, pcn_keys: list[str], basis: str
                        ) -> GroupResult:
    """Make (or, for a name in use, replace) the neighbourhood ``name`` of ``kind`` from the LSOAs
    of the chosen PCNs (their catchments or their nearest-practice areas). LSOAs of other
    neighbourhoods move to it; a neighbourhood left empty is removed. One transaction, audited."""
    from . import rounds as rounds_svc

    name = " ".join((name or "").split())
    problems: dict[str | None, list[str]] = {}
    if not name:
        problems.setdefault("name", []).append("Enter a name for the neighbourhood")
    elif len(name) > 200:
        problems.setdefault("name", []).append("The name must be 200 characters or fewer")
    if kind not in cm.KINDS:
        problems.setdefault("kind", []).append("Choose the kind of neighbourhood")
    if basis not in BASES:
        problems.setdefault("basis", []).append("Choose whose LSOAs make the neighbourhood")
    data = rounds_svc.build_configuration(rnd)
    names = {p.key: p.name for p in data.config.pcns}
    keys = list(dict.fromkeys(str(k) for k in pcn_keys or ()))
    if not keys:
        problems.setdefault("pcns", []).append("Choose at least one PCN")
    elif any(k not in names for k in keys):
        problems.setdefault("pcns", []).append("Choose PCNs of this round from the list")
    if basis == "catchment" and current_load(rnd) is None:
        problems.setdefault("basis", []).append(
            "No LSOA registrations are loaded: catchments are not known; choose their nearest-practice areas")
    if basis == "area" and (data.config.geography is None or not data.config.geography.pcn_blocks):
        problems.setdefault("basis", []).append("No geodata is installed: the PCNs have no areas")
    if problems:
        raise NeighbourhoodError.per_field(problems)
    by_pcn = _pcn_lsoas(data, basis)
    lsoas = sorted(set().union(*(by_pcn.get(k, frozenset()) for k in keys)))
    if not lsoas:
        raise NeighbourhoodError(f"The chosen PCNs have no LSOAs in {BASES[basis]}", "pcns")
    rows = {n.name: n for n in db.session.scalars(select(Neighbourhood).where(Neighbourhood.round_id == rnd.id))}
    by_id = {n.id: n.name for n in rows.values()}
    before = dict(db.session.execute(select(NeighbourhoodLsoa.lsoa_code, NeighbourhoodLsoa.neighbourhood_id)
                                     .where(NeighbourhoodLsoa.round_id == rnd.id)).all())
    target = rows.get(name)
    edited = target is not None
    old = None
    if target is None:
        target = Neighbourhood(round_id=rnd.id, name=name, kind=kind)
        db.session.add(target)
        db.session.flush()
    else:
        old = {"kind": target.kind, "lsoas": sum(1 for v in before.values() if v == target.id)}
        target.kind = kind
    moved: dict[str, int] = {}
    for code in lsoas:
        other = before.get(code)
        if other is not None and other != target.id:
            moved[by_id[other]] = moved.get(by_id[other], 0) + 1
    db.session.execute(delete(NeighbourhoodLsoa).where(NeighbourhoodLsoa.round_id == rnd.id,
                                                      (NeighbourhoodLsoa.neighbourhood_id == target.id)
                                                      | NeighbourhoodLsoa.lsoa_code.in_(lsoas)))
    db.session.flush()
    insert_rows(NeighbourhoodLsoa, ({"round_id": rnd.id, "neighbourhood_id": target.id, "lsoa_code": c} for c in lsoas))
    left = set(db.session.scalars(select(NeighbourhoodLsoa.neighbourhood_id)
                                  .where(NeighbourhoodLsoa.round_id == rnd.id).distinct()))
    emptied = sorted(n.name for n in rows.values() if n.id not in left and n.id != target.id)
    for n in emptied:
        db.session.delete(rows[n])
    result = GroupResult(name, kind, basis, [names[k] for k in keys], len(lsoas), edited, moved, emptied)
    audit.record(action="neighbourhoods.group", object_type="round", object_id=str(rnd.id),
                 before={"neighbourhood": name, **old} if old else None,
                 after={"neighbourhood": name, "kind": kind, "basis": basis, "lsoas": len(lsoas),
                        "pcns": [data.pcns[k].code or names[k] for k in keys], "moved_from": moved,
                        "removed": emptied}, round_id=rnd.id)
    return result


# --- alignment of chosen PCNs (the committee's agenda) ----------------------------------------------------------

@dataclass
class AlignmentFact:
    """A PCN against the round's neighbourhoods, now: what the ``neighbourhood_alignment`` rule reads."""

    key: str
    best: str | None                 # best-matching neighbourhood
    kind: str | None
    share: float                     # share of its patients (or area) inside it
    threshold: float                 # the round's alignment threshold
    basis: str                       # 'registrations' or 'area'
    message: str | None              # the rule's finding, when it ran (it needs the round's geography)

    @property
    def below(self) -> bool:
        return self.share < self.threshold - 1e-12


def alignment_facts(data, keys) -> dict[str, AlignmentFact]:
    """PCN key -> ``AlignmentFact`` for the PCNs ``keys`` of a loaded round (``rounds.RoundData``);
    empty when the round has no neighbourhoods."""
    geo = data.config.geography
    inputs = (geo.catchments if geo is not None else None) or load_inputs(data.round)
    if inputs is None or not inputs.neighbourhood_of:
        return {}
    wanted = {str(k) for k in keys}
    members = {p.key: p.members for p in data.config.pcns if p.key in wanted and p.members}
    pcn_blocks = {k: v for k, v in (geo.pcn_blocks.items() if geo is not None else ()) if k in wanted}
    weights, basis = cm.weights_for(inputs, members, pcn_blocks)
    found = {f.subject.key: f.message for f in data.findings if f.rule == "neighbourhood_alignment"}
    out = {}
    for key, a in cm.alignment(weights, inputs.neighbourhood_of, basis).items():
        if a.total:
            out[key] = AlignmentFact(key, a.best, inputs.kinds.get(a.best) if a.best else None, a.share,
                                     inputs.settings.alignment_threshold, basis, found.get(key))
    return out


def neighbourhood_geometries(rnd: RegistrationRound) -> dict[str, object]:
    """Neighbourhood name -> the union of its LSOAs' boundaries (EPSG:27700; empty without geodata)."""
    inputs = load_inputs(rnd)
    groups: dict[str, set[str]] = {}
    for lsoa, name in (inputs.neighbourhood_of.items() if inputs else ()):
        groups.setdefault(name, set()).add(lsoa)
    return _unions(groups, _block_geometries(rnd)) if groups else {}


def neighbourhoods_key(rnd: RegistrationRound) -> str:
    """What the round's neighbourhoods are made of, for a cache key."""
    return json.dumps(_inputs_key(rnd)[3])


# --- resident population of the neighbourhoods -------------------------------------------------------------------

POPULATION_FILE = "lsoa11-population-mid2018-england.csv"
POPULATION_SOURCE = "ONS mid-2018 estimates for 2011 LSOAs (lsoa11-population-mid2018-england.csv)"


def _geodata_file(name: str) -> Path | None:
    folder = current_app.config.get("GEODATA_PATH") if has_app_context() else None
    path = Path(folder) / name if folder else None
    return path if path is not None and path.is_file() else None


@lru_cache(maxsize=2)
def _lookup_table(path: str, mtime: float) -> LsoaLookup:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return read_lsoa_lookup(fh)


@lru_cache(maxsize=2)
def _population_table(path: str, mtime: float) -> dict[str, int]:
    import csv

    out: dict[str, int] = {}
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            code, value = (row.get("lsoa11cd") or "").strip(), (row.get("population_mid2018") or "").strip()
            if code and value.replace(",", "").isdigit():
                out[code] = int(value.replace(",", ""))
    return out


def resident_population(groups: dict[str, set[str]], blocks: set[str] | frozenset = frozenset()
                        ) -> tuple[dict[str, int] | None, str]:
    """(neighbourhood -> resident population, or None when not known; a sentence saying which).
    Known only for 2011 LSOAs (``POPULATION_FILE``); the vintage is told by the ONS LSOA 2011 -> 2021
    lookup from the codes found in one vintage only, among the neighbourhoods' LSOAs and the
    system's ``blocks`` (most codes are the same in both vintages)."""
    if not groups:
        return None, ""
    codes = set().union(*groups.values())
    every = codes | set(blocks)
    lookup_path = default_lookup()
    if lookup_path is None:
        return None, (f"Resident population not known: the LSOA vintage cannot be told without {LOOKUP_FILE} "
                      "in the geodata folder.")
    table = _lookup_table(str(lookup_path), lookup_path.stat().st_mtime)
    vintage = vintage_of(every, table)
    if vintage == "lsoa21" or (vintage is None and every & table.only21):
        return None, ("Resident population not known for the 2021 LSOA vintage: the population estimates at hand "
                      f"({POPULATION_FILE}) are for 2011 LSOAs.")
    path = _geodata_file(POPULATION_FILE)
    if path is None:
        return None, f"Resident population not known: {POPULATION_FILE} is not in the geodata folder."
    population = _population_table(str(path), path.stat().st_mtime)
    out = {name: sum(population.get(c, 0) for c in lsoas) for name, lsoas in groups.items()}
    missing = sorted(c for c in codes if c not in population)
    note = f"Resident population: {POPULATION_SOURCE}."
    if missing:
        note += (f" {len(missing):,} LSOAs have no estimate and count as 0: " + ", ".join(missing[:10])
                 + (" …" if len(missing) > 10 else ""))
    return out, note
