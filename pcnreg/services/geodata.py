"""Install and download the official geodata (``pcnreg geodata ...``).

``install`` reads the files of a manifest profile from a folder and, in ONE transaction:
stores the boundaries of the local authorities and commissioners, upserts the system's blocks
(LSOAs, or wards), gives practices their locations and joins each located practice to its local
authority (point in polygon), records a ``GeodataLoad`` and refreshes every round's block
assignments and PCN areas. Every file is read and validated before anything is written; any
problem rolls everything back and raises ``ImportFailed``.

Geometry is stored once, as WKB in EPSG:27700 (areas and distances in metres); display in
EPSG:4326 is done where it is drawn. Re-installing the same files changes nothing.

``download`` fetches the files of a profile (from the manifest's addresses or a mirror),
verifying each against the manifest's sha256 before it is moved into place.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from shapely.strtree import STRtree
from sqlalchemy import delete, func, or_, select

from ..extensions import db
from ..importers import geodata as reader
from ..importers.csvio import ImportFailed, ImportProblem
from ..models import (
    AdjacentPair,
    Block,
    BlockAssignment,
    Commissioner,
    GeodataLoad,
    LocalAuthority,
    Membership,
    PcnArea,
    Practice,
    RegistrationRound,
    System,
)
from ..resources import GEODATA_MANIFEST
from . import areas, audit
from .imports import transaction

MANIFEST = GEODATA_MANIFEST      # geodata/manifest.json, or its copy in an installed wheel
PROFILE_ALIASES = {"notts": "nottinghamshire", "notts-core": "nottinghamshire-core"}
BLOCK_KINDS = {"lsoa": "lsoa", "lsoas": "lsoa", "ward": "ward", "wards": "ward"}
#: Layers an install cannot do without (plus the block layer chosen).
REQUIRED_LAYERS = ("local_authorities", "commissioners", "practices")
#: Largest file ``download`` accepts when the manifest gives no size.
MAX_DOWNLOAD_BYTES = 500 * 1024 * 1024
CHUNK = 1024 * 1024
LIST_LIMIT = 20



# --- manifest ----------------------------------------------------------------------------------

def load_manifest(path: Path | str | None = None) -> dict:
    """The manifest (``geodata/manifest.json`` unless ``path``), checked for its shape."""
    path = Path(path) if path else MANIFEST
    name = path.name
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ImportFailed([ImportProblem(None, None, f"cannot read the manifest: {exc.strerror}")], source=name) from None
    except ValueError as exc:
        raise ImportFailed([ImportProblem(None, None, f"the manifest is not valid JSON: {exc}")], source=name) from None
    problems = []
    sources = manifest.get("sources") if isinstance(manifest, dict) else None
    if not isinstance(sources, list):
        raise ImportFailed([ImportProblem(None, "sources", "the manifest has no list of sources")], source=name)
    ids = set()
    for number, source in enumerate(sources, 1):
        sid = source.get("id") if isinstance(source, dict) else None
        if not sid:
            problems.append(ImportProblem(None, "id", f"source {number} has no id"))
            continue
        if sid in ids:
            problems.append(ImportProblem(None, "id", f"source {sid!r} appears twice"))
        ids.add(sid)
        if source.get("layer") not in reader.LAYERS:
            problems.append(ImportProblem(None, "layer", f"source {sid!r}: layer {source.get('layer')!r} is not one "
                                                         f"of {', '.join(reader.LAYERS)}"))
        file = source.get("file")
        if not file or Path(file).name != file or file.startswith("."):
            problems.append(ImportProblem(None, "file", f"source {sid!r}: {file!r} is not a plain file name"))
    for profile, members in (manifest.get("profiles") or {}).items():
        for sid in members:
            if sid not in ids:
                problems.append(ImportProblem(None, "profiles", f"profile {profile!r} names unknown source {sid!r}"))
    if problems:
        raise ImportFailed(problems, source=name)
    return manifest


def profile_sources(manifest: dict, profile: str | None) -> tuple[str, list[dict]]:
    """(profile name, its sources) — the manifest's default profile when ``profile`` is None."""
    profiles = manifest.get("profiles") or {}
    name = PROFILE_ALIASES.get(profile or "", profile) or manifest.get("default_profile")
    if name not in profiles:
        raise ImportFailed([ImportProblem(None, "--profile", (
            f"no profile {profile or name!r}; the manifest has: {', '.join(sorted(profiles)) or 'none'}"))])
    by_id = {s["id"]: s for s in manifest["sources"]}
    return name, [by_id[sid] for sid in profiles[name]]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- install -----------------------------------------------------------------------------------

@dataclass
class Counts:
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0

    def text(self) -> str:
        parts = [f"{self.added} added", f"{self.changed} changed", f"{self.unchanged} unchanged"]
        if self.removed:
            parts.append(f"{self.removed} removed")
        return ", ".join(parts)


@dataclass
class GeodataReport:
    """What an install read and did. ``files``: file -> sha256 of what was read."""

    source: str
    profile: str
    system: str
    block_kind: str
    files: dict[str, str] = field(default_factory=dict)
    local_authorities: Counts = field(default_factory=Counts)       # boundaries stored
    commissioners: Counts = field(default_factory=Counts)
    blocks: Counts = field(default_factory=Counts)
    practice_locations: Counts = field(default_factory=Counts)
    practice_local_authorities: Counts = field(default_factory=Counts)
    local_authorities_added: list[str] = field(default_factory=list)   # rows added, "CODE Name"
    without_location: list[str] = field(default_factory=list)          # in-scope practices
    outside_local_authorities: list[str] = field(default_factory=list)
    checksum_mismatches: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)                  # codes of repaired geometries
    notes: list[str] = field(default_factory=list)
    rounds: dict[str, str] = field(default_factory=dict)               # round name -> refresh summary
    load_id: int | None = None
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return any(c.added or c.changed or c.removed for c in (
            self.local_authorities, self.commissioners, self.blocks, self.practice_locations,
            self.practice_local_authorities))

    def summary(self) -> dict:
        out = asdict(self)
        out.pop("seconds")
        return out

    def lines(self) -> list[str]:
        out = [f"Installed geodata ({self.profile}) from {self.source} for {self.system} in {self.seconds:.1f} s:",
               f"  local authority boundaries: {self.local_authorities.text()}",
               f"  commissioner boundaries: {self.commissioners.text()}",
               f"  blocks ({self.block_kind}): {self.blocks.text()}",
               f"  practice locations: {self.practice_locations.text()}",
               f"  practice local authorities: {self.practice_local_authorities.text()}"]
        if self.local_authorities_added:
            out.append("  local authorities added (outside every place of the system): "
                       + ", ".join(self.local_authorities_added))
        for name, text in self.rounds.items():
            out.append(f"  {name}: {text}")
        if not self.changed:
            out.append("Nothing changed.")
        if self.without_location:
            out.append(f"{len(self.without_location)} practice{'s' if len(self.without_location) != 1 else ''} "
                       "without a location (kept, reported by the practice_location rule): "
                       + _short(self.without_location))
        if self.outside_local_authorities:
            out.append("Located outside every local authority read: " + _short(self.outside_local_authorities))
        for line in self.checksum_mismatches:
            out.append(f"Note: {line}")
        for line in self.notes:
            out.append(f"Note: {line}")
        return out


def _short(items: list[str], limit: int = LIST_LIMIT) -> str:
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _choose_system(system_code: str | None) -> System:
    systems = list(db.session.scalars(select(System).order_by(System.code)))
    if system_code:
        for system in systems:
            if system.code == system_code.strip().upper():
                return system
        raise ImportFailed([ImportProblem(None, "--system", (
            f"there is no system {system_code!r} (known: {', '.join(s.code for s in systems) or 'none'})"))])
    if not systems:
        raise ImportFailed([ImportProblem(None, None, (
            "there is no system in the database: load the demo (pcnreg demo) or set up the system first"))])
    if len(systems) > 1:
        raise ImportFailed([ImportProblem(None, "--system", (
            "there are several systems; choose one with --system: " + ", ".join(s.code for s in systems)))])
    return systems[0]


@dataclass
class Inputs:
    """Everything read from the files, validated, before the database is touched."""

    local_authorities: object            # GeoDataFrame
    commissioners: object                # GeoDataFrame
    blocks: object                       # GeoDataFrame of the block layer chosen
    practices: reader.Table
    postcodes: reader.Table | None
    population: reader.Table | None


def _read_inputs(folder: Path, sources: list[dict], block_kind: str, report: GeodataReport) -> Inputs:
    by_layer: dict[str, dict] = {}
    problems: list[ImportProblem] = []
    for source in sources:
        if source["layer"] in by_layer:
            problems.append(ImportProblem(None, "profiles", (
                f"the profile has two {source['layer']} sources: {by_layer[source['layer']]['id']} and {source['id']}")))
        by_layer[source["layer"]] = source
    block_layer = "blocks" if block_kind == "lsoa" else "wards"
    for layer in (*REQUIRED_LAYERS, block_layer):
        if layer not in by_layer:
            problems.append(ImportProblem(None, "profiles", f"profile {report.profile!r} has no {layer} source"))
    if not folder.is_dir():
        problems.append(ImportProblem(None, None, f"{folder} is not a folder"))
    if problems:
        raise ImportFailed(problems)

    wanted = {layer: s for layer, s in by_layer.items()
              if layer in (*REQUIRED_LAYERS, "blocks", "wards", "postcodes", "population")}
    for layer, source in list(wanted.items()):
        path = folder / source["file"]
        if path.is_file():
            continue
        if layer in (*REQUIRED_LAYERS, block_layer):
            problems.append(ImportProblem(None, None, (
                f"{source['file']} ({layer}, source {source['id']}) is not in {folder}; "
                "fetch it with `pcnreg geodata download`")))
        else:
            report.notes.append(f"{source['file']} ({layer}) is not in the folder: skipped")
        del wanted[layer]
    if problems:
        raise ImportFailed(problems)

    for source in wanted.values():
        path = folder / source["file"]
        digest = sha256_file(path)
        report.files[source["file"]] = digest
        expected = source.get("sha256")
        if expected and expected != digest:
            report.checksum_mismatches.append(
                f"{source['file']} differs from the manifest's copy (sha256 {digest[:12]}…, manifest "
                f"{expected[:12]}…): a different vintage or an edited file; read all the same")

    frames: dict[str, object] = {}
    tables: dict[str, reader.Table] = {}
    for layer, source in wanted.items():
        path = folder / source["file"]
        try:
            if layer in ("practices", "postcodes"):
                tables[layer] = reader.read_locations(path, source)
                report.notes += tables[layer].notes
            elif layer == "population":
                tables[layer] = reader.read_population(path, source)
            else:
                frame = reader.read_layer(path, source)
                frames[layer] = frame
                report.notes += frame.attrs.get("notes", [])
                report.repaired += frame.attrs.get("repaired", [])
        except ImportFailed as exc:
            problems += [ImportProblem(None, None, f"{exc.source or source['file']}: {p}") for p in exc.problems]
    if problems:
        raise ImportFailed(problems)
    return Inputs(frames["local_authorities"], frames["commissioners"], frames[block_layer],
                   tables["practices"], tables.get("postcodes"), tables.get("population"))


def install(folder: Path | str, *, profile: str | None = None, system_code: str | None = None,
            blocks: str = "lsoa", manifest: Path | str | None = None) -> GeodataReport:
    """Install the geodata of ``profile`` (default: the manifest's) from ``folder`` for one
    system, in one transaction (see the module docstring). Raises ``ImportFailed``."""
    start = time.perf_counter()
    folder = Path(folder)
    block_kind = BLOCK_KINDS.get((blocks or "lsoa").lower())
    if block_kind is None:
        raise ImportFailed([ImportProblem(None, "--blocks", f"{blocks!r} is not lsoa or ward")], source=str(folder))

    def work() -> GeodataReport:
        spec = load_manifest(manifest)
        name, sources = profile_sources(spec, profile)
        system = _choose_system(system_code)
        report = GeodataReport(str(folder), name, f"{system.name} ({system.code})", block_kind)
        inputs = _read_inputs(folder, sources, block_kind, report)
        return write_inputs(system, inputs, report, str(folder))

    report = transaction(str(folder), work)
    report.seconds = time.perf_counter() - start
    return report


def write_inputs(system: System, inputs: Inputs, report: GeodataReport, source: str) -> GeodataReport:
    """Write read and checked geodata for ``system`` (caller's transaction): boundaries, blocks,
    practice locations, every round's areas; a ``GeodataLoad`` when something changed."""
    _write(system, inputs, report)
    db.session.flush()
    for rnd in db.session.scalars(select(RegistrationRound).where(RegistrationRound.system_id == system.id)
                                  .order_by(RegistrationRound.id)):
        report.rounds[rnd.name] = areas.refresh(rnd).lines()[0]
    previous = db.session.scalar(select(GeodataLoad).order_by(GeodataLoad.id.desc()).limit(1))
    if report.changed or previous is None:
        # A load that changed nothing is not recorded, so map caches keyed on it stay valid.
        load = GeodataLoad(source=source, files=json.dumps(report.files, sort_keys=True),
                           summary=json.dumps(report.summary(), sort_keys=True))
        db.session.add(load)
        db.session.flush()
        audit.record(action="geodata.install", object_type="geodata_load", object_id=str(load.id),
                     after={"source": source, "profile": report.profile, "files": report.files})
        previous = load
    report.load_id = previous.id
    return report


def _frame_index(frame) -> dict[str, tuple[str, object]]:
    names = frame["name"].tolist() if "name" in frame.columns else frame["code"].tolist()
    return {code: (name, geom) for code, name, geom in zip(frame["code"].tolist(), names, frame.geometry.values)}


def _locate(practice: Practice, inputs: Inputs) -> tuple[float, float] | None:
    """(latitude, longitude) of a practice from the files: the practice file (by its code or
    an earlier code), else the postcode-centroid file; None when neither has one."""
    codes = [practice.code] + [c for c in (practice.other_codes or "").split(";") if c]
    for code in codes:
        found = inputs.practices.rows.get(code)
        if found is not None:
            return found  # type: ignore[return-value]
    if inputs.postcodes is not None and practice.postcode:
        return inputs.postcodes.rows.get(practice.postcode.replace(" ", "").upper())  # type: ignore[return-value]
    return None


def _write(system: System, inputs: Inputs, report: GeodataReport) -> None:
    la_file = _frame_index(inputs.local_authorities)
    la_codes = sorted(la_file)
    la_tree = STRtree([la_file[c][1] for c in la_codes])
    la_rows = {la.code: la for la in db.session.scalars(select(LocalAuthority))}

    def la_at(point) -> str | None:
        hits = la_tree.query(point, predicate="intersects")
        return min((la_codes[i] for i in hits), default=None)   # on a boundary: the lower code

    def la_row(code: str, why: str) -> LocalAuthority | None:
        row = la_rows.get(code)
        if row is None and code in la_file:
            name, geom = la_file[code]
            row = LocalAuthority(code=code, name=name, geometry=areas.to_wkb(geom))
            db.session.add(row)
            la_rows[code] = row
            report.local_authorities.added += 1
            report.local_authorities_added.append(f"{code} {name} ({why})")
        return row

    # Local authority and commissioner boundaries of the rows already there.
    for code, row in sorted(la_rows.items()):
        if code not in la_file:
            if row.geometry is None:
                report.notes.append(f"local authority {code} {row.name} is not in the boundary file: no geometry")
            else:
                report.notes.append(f"local authority {code} {row.name} is not in the boundary file: "
                                    "its stored boundary is kept")
            continue
        _set_geometry(row, la_file[code][1], report.local_authorities)
    ccg_file = _frame_index(inputs.commissioners)
    commissioners = list(db.session.scalars(select(Commissioner).order_by(Commissioner.code)))
    for row in commissioners:
        if row.code in ccg_file:
            _set_geometry(row, ccg_file[row.code][1], report.commissioners)
        elif row.system_id == system.id:
            report.notes.append(f"commissioner {row.code} {row.name} is not in the boundary file: no geometry")

    # Practices: locations, then their local authority (point in polygon).
    member_ids = set(db.session.scalars(select(Membership.practice_id).join(
        RegistrationRound, Membership.round_id == RegistrationRound.id).where(RegistrationRound.system_id == system.id)))
    system_ccgs = {c.id for c in commissioners if c.system_id == system.id}
    for practice in db.session.scalars(select(Practice).order_by(Practice.code)):
        in_scope = practice.commissioner_id in system_ccgs or practice.id in member_ids
        found = _locate(practice, inputs)
        if found is not None:
            if (practice.latitude, practice.longitude) != found:
                if practice.latitude is None or practice.longitude is None:
                    report.practice_locations.added += 1
                else:
                    report.practice_locations.changed += 1
                practice.latitude, practice.longitude = found
            else:
                report.practice_locations.unchanged += 1
        point = areas.practice_point(practice)
        if point is None:
            if in_scope:
                report.without_location.append(f"{practice.code} {practice.name}")
            continue
        code = la_at(point)
        if code is None:
            if in_scope:
                report.outside_local_authorities.append(f"{practice.code} {practice.name}")
            continue
        la = la_row(code, f"practice {practice.code}") if in_scope else la_rows.get(code)
        if la is None:
            continue
        if la.id is None:
            db.session.flush()
        if practice.local_authority_id != la.id:
            if practice.local_authority_id is None:
                report.practice_local_authorities.added += 1
            else:
                report.practice_local_authorities.changed += 1
            practice.local_authority_id = la.id
        else:
            report.practice_local_authorities.unchanged += 1

    _write_blocks(system, inputs, report, la_at, la_row, ccg_file)


def _set_geometry(row, geom, counts: Counts) -> None:
    wkb = areas.to_wkb(geom)
    if row.geometry is None:
        row.geometry = wkb
        counts.added += 1
    elif bytes(row.geometry) != wkb:
        row.geometry = wkb
        counts.changed += 1
    else:
        counts.unchanged += 1


def _write_blocks(system: System, inputs: Inputs, report: GeodataReport, la_at, la_row, ccg_file) -> None:
    """Upsert the system's blocks; remove the system's blocks no longer selected."""
    frame = inputs.blocks
    ccg_codes = {c.code for c in system.commissioners}
    commissioner_ids = {c.code: c.id for c in system.commissioners}
    place_las = {la.code for place in system.places for la in place.local_authorities}
    has_ccg = "commissioner" in frame.columns
    has_la = "local_authority" in frame.columns
    population = inputs.population.rows if inputs.population is not None else {}
    existing = {b.code: b for b in db.session.scalars(select(Block).where(Block.system_id == system.id))}
    problems: list[ImportProblem] = []
    selected: set[str] = set()
    kind = report.block_kind
    columns = {c: frame[c].tolist() for c in frame.columns if c != frame.geometry.name}
    for i, geom in enumerate(frame.geometry.values):
        code, name = columns["code"][i], columns["name"][i]
        la_code = columns["local_authority"][i] if has_la else None
        ccg = columns["commissioner"][i] if has_ccg else None
        point = geom.representative_point()
        if ccg is None:   # no CCG column: the commissioner whose boundary holds the block
            ccg = next((c for c in sorted(ccg_codes) if c in ccg_file and ccg_file[c][1].contains(point)), None)
        inside = ccg in ccg_codes
        la_code = la_code or la_at(point)
        if not inside and la_code not in place_las:
            continue
        selected.add(code)
        la = la_row(la_code, f"block {code}") if la_code else None
        if la_code and la is None:
            report.notes.append(f"block {code}: local authority {la_code} is in neither the database nor the "
                                "boundary file")
        if la is not None and la.id is None:
            db.session.flush()
        values = {"name": name, "kind": kind, "system_id": system.id,
                  "local_authority_id": la.id if la is not None else None,
                  "commissioner_id": commissioner_ids.get(ccg),
                  "population": population.get(code), "area_m2": float(geom.area),
                  "geometry": areas.to_wkb(geom)}
        block = existing.get(code)
        if block is None:
            db.session.add(Block(code=code, **values))
            report.blocks.added += 1
            continue
        changed = False
        for attr, value in values.items():
            current = getattr(block, attr)
            if attr == "geometry":
                current = bytes(current)
            if current != value:
                setattr(block, attr, value)
                changed = True
        if changed:
            report.blocks.changed += 1
        else:
            report.blocks.unchanged += 1
    if problems:
        raise ImportFailed(problems)
    if not selected:
        raise ImportFailed([ImportProblem(None, None, (
            f"no {kind} of the block file lies in {system.name}: its commissioners "
            f"({', '.join(sorted(ccg_codes)) or 'none'}) and the local authorities of its places "
            f"({', '.join(sorted(place_las)) or 'none'}) match none of them"))])
    stale = [b for code, b in existing.items() if b.system_id == system.id and code not in selected]
    if stale:
        ids = [b.id for b in stale]
        pairs = db.session.scalar(select(func.count()).select_from(AdjacentPair).where(
            or_(AdjacentPair.block_a_id.in_(ids), AdjacentPair.block_b_id.in_(ids))))
        if pairs:
            report.notes.append(f"{pairs} 'treat as adjacent' pair{'s' if pairs != 1 else ''} of removed blocks deleted")
        db.session.execute(delete(AdjacentPair).where(
            or_(AdjacentPair.block_a_id.in_(ids), AdjacentPair.block_b_id.in_(ids))))
        db.session.execute(delete(BlockAssignment).where(BlockAssignment.block_id.in_(ids)))
        for block in stale:
            db.session.delete(block)
        report.blocks.removed = len(stale)
        db.session.flush()


# --- status ------------------------------------------------------------------------------------

def status() -> dict:
    """What is installed: the newest GeodataLoad and counts of what has geometry."""
    def count(query) -> int:
        return db.session.scalar(query) or 0

    load = db.session.scalar(select(GeodataLoad).order_by(GeodataLoad.id.desc()).limit(1))
    blocks = dict(db.session.execute(select(Block.kind, func.count()).group_by(Block.kind)).all())
    return {
        "last_load": None if load is None else {
            "id": load.id, "source": load.source, "loaded_at": load.loaded_at.isoformat(timespec="seconds"),
            "files": json.loads(load.files), "summary": json.loads(load.summary)},
        "loads": count(select(func.count()).select_from(GeodataLoad)),
        "blocks": {"lsoa": blocks.get("lsoa", 0), "ward": blocks.get("ward", 0)},
        "local_authorities": {
            "total": count(select(func.count()).select_from(LocalAuthority)),
            "with_geometry": count(select(func.count()).select_from(LocalAuthority)
                                   .where(LocalAuthority.geometry.is_not(None)))},
        "commissioners": {
            "total": count(select(func.count()).select_from(Commissioner)),
            "with_geometry": count(select(func.count()).select_from(Commissioner)
                                   .where(Commissioner.geometry.is_not(None)))},
        "practices": {
            "total": count(select(func.count()).select_from(Practice)),
            "with_location": count(select(func.count()).select_from(Practice).where(
                Practice.latitude.is_not(None), Practice.longitude.is_not(None))),
            "with_local_authority": count(select(func.count()).select_from(Practice)
                                          .where(Practice.local_authority_id.is_not(None)))},
        "pcn_areas": count(select(func.count()).select_from(PcnArea)),
    }


# --- download ----------------------------------------------------------------------------------

@dataclass
class DownloadResult:
    file: str
    url: str
    status: str          # 'downloaded' or 'present' (already there with the right checksum)
    bytes: int
    sha256: str


def _source_url(source: dict, base_url: str | None) -> str:
    if base_url:
        return base_url.rstrip("/") + "/" + urllib.parse.quote(source["file"])
    return source.get("url") or ""


def download(dest: Path | str, *, base_url: str | None = None, profile: str | None = None, timeout: float = 30,
             manifest: Path | str | None = None) -> list[DownloadResult]:
    """Fetch the files of ``profile`` into ``dest``: from ``base_url`` + file name when given
    (a mirror, or a test server), else from the manifest's address.

    Each file is streamed to a hidden temporary file in ``dest`` (at most the manifest's size)
    and checked against the manifest's sha256; only when every file of the profile has been
    fetched and checked are they renamed into place, so a failure leaves ``dest`` as it was.
    A file already there with the right checksum is not fetched again. Raises ``ImportFailed``
    naming the file."""
    dest = Path(dest)
    spec = load_manifest(manifest)
    _, sources = profile_sources(spec, profile)
    problems = []
    for source in sources:
        url = _source_url(source, base_url)
        scheme = urllib.parse.urlsplit(url).scheme
        if not base_url and source.get("derived"):
            problems.append(ImportProblem(None, source["file"], (
                f"is derived from the official data ({source.get('url') or 'no address'}), not published as "
                "this file: download it from a mirror with --base-url")))
        elif scheme not in ("http", "https"):
            problems.append(ImportProblem(None, source["file"], f"no http(s) address to download from ({url!r})"))
        elif not source.get("sha256"):
            problems.append(ImportProblem(None, source["file"], "the manifest gives no sha256 to check it against"))
    if problems:
        raise ImportFailed(problems, source="download")
    dest.mkdir(parents=True, exist_ok=True)
    results: list[DownloadResult] = []
    fetched: list[tuple[Path, Path]] = []          # (temporary file, target)
    try:
        for source in sources:
            target = dest / source["file"]
            if target.is_file() and sha256_file(target) == source["sha256"]:
                results.append(DownloadResult(source["file"], _source_url(source, base_url), "present",
                                              target.stat().st_size, source["sha256"]))
                continue
            tmp, result = _fetch(source, _source_url(source, base_url), dest, timeout)
            fetched.append((tmp, target))
            results.append(result)
        for tmp, target in fetched:
            os.replace(tmp, target)
        fetched = []
        return results
    finally:
        for tmp, _ in fetched:
            tmp.unlink(missing_ok=True)


def _fetch(source: dict, url: str, dest: Path, timeout: float) -> tuple[Path, DownloadResult]:
    """Stream ``url`` into a temporary file of ``dest``, checked; (file, result) or ImportFailed."""
    file, expected = source["file"], source["sha256"]
    limit = int(source.get("bytes") or MAX_DOWNLOAD_BYTES)

    def fail(message: str) -> ImportFailed:
        return ImportFailed([ImportProblem(None, None, message)], source=file)

    fd, tmp_name = tempfile.mkstemp(dir=dest, prefix=f".{file}.", suffix=".part")
    tmp = Path(tmp_name)
    ok = False
    try:
        digest, size = hashlib.sha256(), 0
        request = urllib.request.Request(url, headers={"User-Agent": "pcnreg-geodata"})
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (scheme checked)
                    length = response.headers.get("Content-Length")
                    if length and length.isdigit() and int(length) > limit:
                        raise fail(f"{url} is {int(length):,} bytes; the manifest expects {limit:,}: not saved")
                    while chunk := response.read(CHUNK):
                        size += len(chunk)
                        if size > limit:
                            raise fail(f"{url} is larger than the {limit:,} bytes the manifest expects: not saved")
                        digest.update(chunk)
                        out.write(chunk)
            except urllib.error.HTTPError as exc:
                raise fail(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from None
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                raise fail(f"cannot download {url}: {getattr(exc, 'reason', exc)}") from None
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != expected:
            raise fail(f"the file from {url} has sha256 {digest.hexdigest()}, not the manifest's {expected}: "
                       "not saved")
        ok = True
        return tmp, DownloadResult(file, url, "downloaded", size, expected)
    finally:
        if not ok:
            tmp.unlink(missing_ok=True)
