"""Geography for onboarded systems: LSOA blocks, local authorities and commissioner areas from the
national files (``pcnreg onboard --blocks FILE [--local-authorities FILE]``).

- Blocks: the national LSOA boundary file of the era (``lsoa11-england.geojson.gz`` for 2019/20,
  ``lsoa21-england.geojson.gz`` for the ICB era), its columns found by name (``LSOAyyCD``,
  ``LSOAyyNM``, ``LADyyCD``, ``CCGyyCDH`` or ``SICBLyyCDH``); only the LSOAs the lookup gives the
  systems' commissioners are read, and invalid published polygons are repaired (``make_valid``)
  and counted.
- Local authorities: the boundary file given (``lad19-england.geojson``), or, without one, the
  union of each local authority's LSOAs (the ICB era's files have no separate LAD boundaries).
- Commissioner areas: the union of each commissioner's LSOAs.
- Practice locations: ``gp-practices-england.csv`` beside the block file, when there (postcode
  centroids of the Dec 2019 epraccur practices; later practices have none and the
  ``practice_location`` rule names them).

Everything is read and checked before anything is written; each system is then written by
``services.geodata.write_inputs`` in the caller's transaction, exactly as the Nottinghamshire
install, so PCN areas, maps and the geographic rules work as in the demo.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd

from ..importers import geodata as reader
from ..importers.csvio import ImportFailed, ImportProblem
from ..importers.organisations import Areas
from ..models import System
from . import geodata as geodata_svc

LOCATIONS_FILE = "gp-practices-england.csv"
LOCATIONS_SOURCE = {"layer": "practices", "columns": {"code": "practice_code", "latitude": "latitude",
                                                      "longitude": "longitude"}}


@dataclass
class Boundaries:
    blocks: gpd.GeoDataFrame                  # code, name, local_authority, commissioner, geometry
    local_authorities: gpd.GeoDataFrame       # code, name, geometry
    locations: reader.Table
    files: dict[str, str]
    notes: list[str]
    repaired: list[str]


def _columns(path: Path, pattern: dict[str, str]) -> dict[str, str]:
    """role -> column of a boundary file's header, found by regular expression."""
    import pyogrio

    try:
        fields = list(pyogrio.read_info(reader._ogr_path(path, "geojson"))["fields"])
    except Exception as exc:  # noqa: BLE001 - pyogrio raises several kinds for an unreadable file
        raise ImportFailed([ImportProblem(None, None, f"cannot be read as GeoJSON ({type(exc).__name__})")],
                           source=path.name) from None
    out, missing = {}, []
    for role, regex in pattern.items():
        found = next((f for f in fields if re.fullmatch(regex, f, flags=re.IGNORECASE)), None)
        if found is None:
            missing.append(f"{role} ({regex})")
        else:
            out[role] = found
    if missing:
        raise ImportFailed([ImportProblem(None, None, f"has no column for {', '.join(missing)}; its columns: "
                                                      f"{', '.join(fields)}")], source=path.name)
    return out


def read_boundaries(blocks: Path, local_authorities: Path | None, areas: Areas, commissioners: set[str]) -> Boundaries:
    """The blocks of ``commissioners`` (and, without a local-authority file, every LSOA of the
    local authorities they touch), checked; ``ImportFailed`` naming the file otherwise."""
    system_lsoas = {code for code, (comm, _lad) in areas.lsoas.items() if comm in commissioners}
    lads = {areas.lsoas[code][1] for code in system_lsoas}
    keep = set(system_lsoas)
    if local_authorities is None:
        keep |= {code for code, (_comm, lad) in areas.lsoas.items() if lad in lads}
    columns = _columns(blocks, {"code": r"LSOA\d\dCD", "name": r"LSOA\d\dNM", "local_authority": r"LAD\d\dCD",
                                "commissioner": r"(CCG|SICBL)\d\dCDH"})
    source = {"layer": "blocks", "format": "geojson", "columns": columns, "keep": keep}
    frame = reader.read_layer(blocks, source)
    notes = list(frame.attrs.get("notes", []))
    repaired = list(frame.attrs.get("repaired", []))
    missing = sorted(system_lsoas - set(frame["code"]))
    if missing:
        raise ImportFailed([ImportProblem(None, None, (
            f"has no boundary for {len(missing):,} LSOA{'s' if len(missing) != 1 else ''} of the lookup "
            f"({', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}): a boundary file of another "
            "LSOA vintage?"))], source=blocks.name)
    files = {blocks.name: geodata_svc.sha256_file(blocks)}
    if local_authorities is not None:
        la_columns = _columns(local_authorities, {"code": r"LAD\d\dCD", "name": r"LAD\d\dNM"})
        las = reader.read_layer(local_authorities, {"layer": "local_authorities", "format": "geojson",
                                                    "columns": la_columns, "keep": lads})
        notes += las.attrs.get("notes", [])
        repaired += las.attrs.get("repaired", [])
        files[local_authorities.name] = geodata_svc.sha256_file(local_authorities)
    else:
        whole = frame[frame["local_authority"].isin(lads)]
        las = whole.dissolve(by="local_authority", as_index=False)[["local_authority", "geometry"]]
        las = las.rename(columns={"local_authority": "code"})
        las["name"] = [areas.local_authorities.get(code, code) for code in las["code"]]
        notes.append(f"local authority boundaries made from their LSOAs ({len(las)})")
    locations_path = blocks.parent / LOCATIONS_FILE
    if locations_path.is_file():
        locations = reader.read_locations(locations_path, LOCATIONS_SOURCE)
        files[LOCATIONS_FILE] = geodata_svc.sha256_file(locations_path)
    else:
        locations = reader.Table(LOCATIONS_FILE)
        notes.append(f"no {LOCATIONS_FILE} beside {blocks.name}: practices have no locations")
    blocks_of_systems = frame[frame["code"].isin(system_lsoas)].copy()
    return Boundaries(blocks_of_systems, las, locations, files, notes, repaired)


def write_system(system: System, boundaries: Boundaries, areas: Areas) -> geodata_svc.GeodataReport:
    """Write one system's boundaries and blocks (caller's transaction)."""
    ours = {c.code for c in system.commissioners}
    blocks = boundaries.blocks[boundaries.blocks["commissioner"].isin(ours)]
    lads = set(blocks["local_authority"])
    commissioners = blocks.dissolve(by="commissioner", as_index=False)[["commissioner", "geometry"]]
    commissioners = commissioners.rename(columns={"commissioner": "code"})
    las = boundaries.local_authorities[boundaries.local_authorities["code"].isin(lads)]
    report = geodata_svc.GeodataReport(", ".join(boundaries.files), "onboard", f"{system.name} ({system.code})", "lsoa",
                                       files=dict(boundaries.files))
    report.notes += boundaries.notes
    report.repaired += [code for code in boundaries.repaired if code in set(blocks["code"]) | lads]
    inputs = geodata_svc.Inputs(las, commissioners, blocks, boundaries.locations, None, None)
    return geodata_svc.write_inputs(system, inputs, report, ", ".join(boundaries.files))
