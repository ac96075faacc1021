"""Reading official geodata files (no database): boundaries, small areas, locations.

Boundary layers (GeoJSON, GeoPackage, zipped ESRI Shapefile) are read with geopandas through
pyogrio, checked against the columns the manifest expects, reprojected to EPSG:27700 (British
National Grid, metres) and validated feature by feature: a geometry that is invalid is repaired
with ``make_valid`` and noted by its code; an empty or unusable one is a problem, reported by
its code, and the whole file is refused (``ImportFailed``: nothing is written). Every geometry
is then snapped to the grid of ``pcnreg.domain.geometry.SNAP_METRES``, as it will be stored.

Table layers (practice locations, postcode centroids, LSOA populations) are CSV files read with
the csv module.

``read_polygon_upload`` reads a PCN area a user uploads: the format is recognised by the
file's content, never by its name.
"""
from __future__ import annotations

import copy
import csv
import functools
import io
import math
import tempfile
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from ..domain.codes import COMMISSIONER_CODE, GSS_CODE, PRACTICE_CODE
from ..domain.geometry import SNAP_METRES, snap, validate
from .csvio import MAX_REPORTED, ImportFailed, ImportProblem, check_size
from .memo import by_file

#: The logical layers a manifest source can provide.
LAYERS = ("local_authorities", "commissioners", "blocks", "wards", "practices", "postcodes", "population")
GEO_FORMATS = ("geojson", "gpkg", "shp-zip")
TABLE_FORMATS = ("csv",)

#: Roles every source of a layer must map to a column (``columns`` in the manifest).
REQUIRED_ROLES: dict[str, tuple[str, ...]] = {
    "local_authorities": ("code", "name"),
    "commissioners": ("code",),
    "blocks": ("code", "name"),
    "wards": ("code", "name"),
    "practices": ("code", "latitude", "longitude"),
    "postcodes": ("postcode", "latitude", "longitude"),
    "population": ("code", "population"),
}

#: What a code of each layer looks like (a wrong column is caught here, not in the database).
CODE_FORMATS = {
    "local_authorities": (GSS_CODE, "GSS code (like E07000170)"),
    "commissioners": (COMMISSIONER_CODE, "commissioner ODS code (like 04K)"),
    "blocks": (GSS_CODE, "GSS code (like E01013810)"),
    "wards": (GSS_CODE, "GSS code (like E05012270)"),
}

TARGET_CRS = "EPSG:27700"
#: Extent of Great Britain and its waters in EPSG:27700 (with a margin): anything outside came
#: from a wrong coordinate reference system.
BNG_BOUNDS = (-100_000.0, -100_000.0, 800_000.0, 1_300_000.0)
#: Latitude/longitude box of the United Kingdom (with a margin).
UK_LAT = (49.0, 61.5)
UK_LON = (-9.0, 3.0)

GPKG_MAGIC = b"SQLite format 3\x00"
ZIP_MAGIC = b"PK\x03\x04"
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError)
#: A zipped upload may expand to at most this many times the upload limit (zip bombs).
ZIP_EXPANSION_LIMIT = 10


def _problem(message: str) -> ImportProblem:
    return ImportProblem(None, None, message)


def _fail(file: str, message: str, field_name: str | None = None) -> ImportFailed:
    return ImportFailed([ImportProblem(None, field_name, message)], source=file)


def _describe(code: object, name: object = None) -> str:
    return f"{code} ({name})" if name not in (None, "") and name != code else str(code)


def _check_columns(file: str, source: dict, available: list[str]) -> dict[str, str]:
    """role -> column, or ImportFailed naming the file and every missing column."""
    layer = source.get("layer", "")
    columns: dict[str, str] = dict(source.get("columns") or {})
    problems = [ImportProblem(None, "columns", f"the manifest gives no column for {role!r} of {layer}")
                for role in REQUIRED_ROLES.get(layer, ()) if role not in columns]
    for role, column in columns.items():
        if column not in available:
            problems.append(ImportProblem(None, column, (
                f"column {column!r} ({role}) is missing; the file has: {', '.join(available) or 'no columns'}")))
    if problems:
        raise ImportFailed(problems, source=file)
    return columns


def _file_format(path: Path, source: dict) -> str:
    fmt = (source.get("format") or "").lower()
    if fmt:
        return fmt
    name = path.name.lower()
    if name.endswith((".geojson", ".json", ".geojson.gz", ".json.gz")):
        return "geojson"
    if name.endswith(".gpkg"):
        return "gpkg"
    if name.endswith(".zip"):
        return "shp-zip"
    if name.endswith(".csv"):
        return "csv"
    return ""


def _ogr_path(path: Path, fmt: str) -> str:
    """The path GDAL reads: a zipped shapefile through /vsizip/ (the .shp inside it), a gzipped
    file through /vsigzip/."""
    if fmt != "shp-zip":
        return f"/vsigzip/{path}" if path.name.lower().endswith(".gz") else str(path)
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
            names = [n for n in zf.namelist() if n.lower().endswith(".shp") and not n.startswith("__MACOSX")]
    except ZIP_ERRORS as exc:
        raise _fail(path.name, f"not a readable zip file ({exc})") from None
    if bad is not None:
        raise _fail(path.name, f"the zip file is corrupt (member {bad!r} fails its CRC check)")
    if not names:
        raise _fail(path.name, "the zip file holds no shapefile (.shp)")
    if len(names) > 1:
        raise _fail(path.name, f"the zip file holds {len(names)} shapefiles ({', '.join(names[:5])}); "
                               "expected one")
    return f"/vsizip/{path}/{names[0]}"


def _read_frame(path: Path, fmt: str, file: str, layer: str | None = None) -> gpd.GeoDataFrame:
    ogr_path = _ogr_path(path, fmt)
    try:
        frame = gpd.read_file(ogr_path, engine="pyogrio", **({"layer": layer} if layer else {}))
    except Exception as exc:  # noqa: BLE001 pyogrio DataSourceError, DataLayerError, ...
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        message = message.replace(ogr_path, file).replace(str(path), file)   # no temporary paths
        raise _fail(file, f"cannot be read as {fmt or 'geodata'}: {message}") from None
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame.columns:
        raise _fail(file, "the file has no geometry")
    return frame


def _to_bng(frame: gpd.GeoDataFrame, file: str, notes: list[str]) -> gpd.GeoDataFrame:
    """The frame in EPSG:27700. A file without a CRS is taken to be EPSG:4326 (said in notes),
    unless its coordinates are plainly British National Grid metres."""
    if frame.crs is None:
        bounds = frame.total_bounds
        lonlat = all(math.isfinite(b) for b in bounds) and -180 <= bounds[0] <= bounds[2] <= 180 \
            and -90 <= bounds[1] <= bounds[3] <= 90
        if lonlat or not len(frame):
            frame = frame.set_crs("EPSG:4326")
            notes.append(f"{file}: no coordinate reference system given; assumed EPSG:4326 (WGS84 longitude/latitude)")
        else:
            frame = frame.set_crs(TARGET_CRS)
            notes.append(f"{file}: no coordinate reference system given; the coordinates are metres, "
                         "assumed EPSG:27700 (British National Grid)")
    try:
        return frame.to_crs(TARGET_CRS)
    except Exception as exc:  # noqa: BLE001  (any reader or GEOS failure: plain words, never a 500)
        raise _fail(file, f"cannot reproject from {frame.crs} to {TARGET_CRS}: {exc}") from None


def _clean_code(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _copy_frame(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A kept layer for one caller: its own frame and notes (the geometries, immutable, are shared)."""
    out = frame.copy()
    out.attrs = copy.deepcopy(frame.attrs)
    return out


# Layers kept by file content and source (importers/memo.py): installing a system's geodata reads
# four or five layers (England's local authorities among them: ~0.8 s to read, 4 MB of coordinates
# kept), onboarding two.
LAYERS_KEPT = 6


@functools.partial(by_file, kept=LAYERS_KEPT, copy=_copy_frame)
def read_layer(path: Path | str, source: dict) -> gpd.GeoDataFrame:
    """A boundary layer as a GeoDataFrame in EPSG:27700, validated and snapped.

    Columns: the roles of ``source["columns"]`` (``code``, ``name``, ``local_authority`` ...) as
    text, and ``geometry`` (Polygon or MultiPolygon). ``source["keep"]``, when given, is the set of
    codes to read (the rest of the file is passed over before any check). ``attrs["notes"]``: what was assumed or
    repaired; ``attrs["repaired"]``: codes of the repaired geometries. Raises ``ImportFailed``
    (source = file name) listing every problem: a missing column, a missing or duplicate code,
    an empty or unusable geometry (by code), coordinates outside Great Britain.

    A layer read without problems is kept by the file's content, its name and ``source``
    (``memo.by_file``, ``LAYERS_KEPT`` layers): reading it again gives a copy of the kept frame
    (``read_layer.uncached`` reads the file).
    """
    path = Path(path)
    file = path.name
    fmt = _file_format(path, source)
    if fmt not in GEO_FORMATS:
        raise _fail(file, f"format {fmt or 'unknown'!r} is not a boundary format ({', '.join(GEO_FORMATS)})")
    if not path.is_file():
        raise _fail(file, "the file does not exist")
    frame = _read_frame(path, fmt, file, source.get("file_layer"))
    columns = _check_columns(file, source, [c for c in frame.columns if c != frame.geometry.name])
    notes: list[str] = []
    keep = source.get("keep")
    if keep is not None:     # only these codes (a system's LSOAs of a national file)
        frame = frame[frame[columns["code"]].astype(str).str.strip().isin(keep)]
    if not len(frame):
        raise _fail(file, "the file has no features")
    crs = frame.crs.to_string() if frame.crs is not None else "no CRS"
    frame = _to_bng(frame, file, notes)

    layer = source.get("layer", "")
    code_format = CODE_FORMATS.get(layer)
    problems: list[ImportProblem] = []
    seen: dict[str, int] = {}
    records: dict[str, list] = {role: [] for role in columns}
    geoms: list[BaseGeometry] = []
    repaired: list[str] = []
    minx, miny, maxx, maxy = BNG_BOUNDS
    code_col = columns["code"]
    name_col = columns.get("name")
    values = {column: frame[column].tolist() for column in set(columns.values())}
    sound = _sound(frame.geometry.values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)       # NaN bounds of empty geometries
        bounds = shapely.bounds(frame.geometry.values)
    for number, geom in enumerate(frame.geometry.values, 1):
        data = {column: values[column][number - 1] for column in values}
        code = _clean_code(data[code_col])
        name = _clean_code(data[name_col]) if name_col else ""
        label = _describe(code, name)
        if not code:
            problems.append(_problem(f"feature {number} has no {code_col}"))
            continue
        if code_format and not code_format[0].match(code):
            problems.append(ImportProblem(None, code_col, f"feature {number}: {code[:40]!r} is not a {code_format[1]}"))
            continue
        if code in seen:
            problems.append(_problem(f"{label}: appears twice (features {seen[code]} and {number})"))
            continue
        seen[code] = number
        x0, y0, x1, y1 = bounds[number - 1]
        if geom is not None and not geom.is_empty and not (
                minx <= x0 and miny <= y0 and x1 <= maxx and y1 <= maxy):   # also false for inf, NaN
            problems.append(_problem(f"{label}: lies outside Great Britain in {TARGET_CRS} "
                                     f"(is the file's coordinate reference system right? read as {crs})"))
            continue
        valid, reason = (geom, None) if sound[number - 1] else validate(geom)
        if valid is None:
            problems.append(_problem(f"{label}: {reason}"))
            continue
        snapped, reason_after = _snapped(valid)
        if snapped is None:
            problems.append(_problem(f"{label}: {reason_after} after snapping to the {SNAP_METRES:g} m grid"))
            continue
        if reason:
            repaired.append(code)
            notes.append(f"{file}: {label} was invalid ({reason}); repaired with make_valid")
        for role, column in columns.items():
            records[role].append(_clean_code(data[column]))
        geoms.append(snapped)
    if problems:
        raise ImportFailed(problems, source=file)
    out = gpd.GeoDataFrame(records, geometry=geoms, crs=TARGET_CRS)
    out.attrs["notes"] = notes
    out.attrs["repaired"] = repaired
    return out


def _sound(geoms) -> list[bool]:
    """Which geometries are already valid, non-empty polygons: ``validate`` would return them
    as they are (it only unions their parts again), so the costly call is skipped for them."""
    kinds = shapely.get_type_id(geoms)
    polygonal = (kinds == 3) | (kinds == 6)              # Polygon, MultiPolygon
    return list(polygonal & shapely.is_valid(geoms) & ~shapely.is_empty(geoms))


def _snapped(geom: BaseGeometry) -> tuple[BaseGeometry | None, str | None]:
    """``geom`` snapped to the storage grid; polygons kept (snapping can leave a collection)."""
    snapped = snap(geom)
    if snapped.geom_type in ("Polygon", "MultiPolygon") and not snapped.is_empty:
        return snapped, None
    return validate(snapped)


# --- tables ------------------------------------------------------------------------------------

@dataclass
class Table:
    """A table layer: ``rows`` keyed by code; ``notes`` for the report."""

    file: str
    rows: dict[str, object] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _read_csv(path: Path, source: dict) -> tuple[str, csv.DictReader, dict[str, str]]:
    file = path.name
    if (source.get("format") or "csv").lower() not in TABLE_FORMATS:
        raise _fail(file, f"format {source.get('format')!r} is not a table format (csv)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _fail(file, f"cannot read the file: {exc.strerror}") from None
    if b"\x00" in data[:65536]:
        raise _fail(file, "the file is binary, not CSV text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _fail(file, f"byte {exc.start} is not UTF-8; save the file as CSV UTF-8") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    columns = _check_columns(file, source, header)
    return file, reader, columns


def _coordinate(value: str, row: int, column: str, bounds: tuple[float, float],
                problems: list[ImportProblem]) -> float | None:
    value = value.strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        problems.append(ImportProblem(row, column, f"{value[:40]!r} is not a number"))
        return None
    if not math.isfinite(number) or not bounds[0] <= number <= bounds[1]:
        problems.append(ImportProblem(row, column, f"{value[:40]!r} is outside the United Kingdom "
                                                   f"({bounds[0]} to {bounds[1]})"))
        return None
    return number


def read_locations(path: Path | str, source: dict) -> Table:
    """Practice locations (layer ``practices``, key: practice code) or postcode centroids (layer
    ``postcodes``, key: postcode without spaces, upper case) from a CSV: key -> (latitude,
    longitude) in EPSG:4326, or None when the row has no coordinates."""
    path = Path(path)
    file, reader, columns = _read_csv(path, source)
    key_role = "postcode" if source.get("layer") == "postcodes" else "code"
    key_col, lat_col, lon_col = columns[key_role], columns["latitude"], columns["longitude"]
    table = Table(file)
    problems: list[ImportProblem] = []
    missing = 0
    try:
        for record in reader:
            row = reader.line_num
            key = (record.get(key_col) or "").strip().upper()
            if key_role == "postcode":
                key = key.replace(" ", "")
            if not key:
                continue
            if key_role == "code" and not PRACTICE_CODE.match(key):
                problems.append(ImportProblem(row, key_col, f"{key[:40]!r} is not a practice code"))
                continue
            lat = _coordinate(record.get(lat_col) or "", row, lat_col, UK_LAT, problems)
            lon = _coordinate(record.get(lon_col) or "", row, lon_col, UK_LON, problems)
            if lat is None or lon is None:
                missing += 1
                table.rows.setdefault(key, None)
            else:
                table.rows[key] = (lat, lon)
            if len(problems) > MAX_REPORTED:
                break
    except csv.Error as exc:
        problems.append(ImportProblem(reader.line_num, None, f"not valid CSV ({exc})"))
    if problems:
        raise ImportFailed(problems, source=file)
    if missing:
        table.notes.append(f"{file}: {missing} row{'s' if missing != 1 else ''} without coordinates")
    return table


def read_population(path: Path | str, source: dict) -> Table:
    """Resident population by small-area code from a CSV: code -> whole number."""
    path = Path(path)
    file, reader, columns = _read_csv(path, source)
    code_col, pop_col = columns["code"], columns["population"]
    table = Table(file)
    problems: list[ImportProblem] = []
    try:
        for record in reader:
            row = reader.line_num
            code = (record.get(code_col) or "").strip()
            value = (record.get(pop_col) or "").strip().replace(",", "")
            if not code:
                continue
            if not value.isdigit():
                problems.append(ImportProblem(row, pop_col, f"{value[:40]!r} is not a whole number"))
            else:
                table.rows[code] = int(value)
            if len(problems) > MAX_REPORTED:
                break
    except csv.Error as exc:
        problems.append(ImportProblem(reader.line_num, None, f"not valid CSV ({exc})"))
    if problems:
        raise ImportFailed(problems, source=file)
    return table


# --- uploads -----------------------------------------------------------------------------------

def sniff(data: bytes) -> str | None:
    """'geojson', 'gpkg' or 'shp-zip' by the content of a file, or None."""
    if data.startswith(GPKG_MAGIC):
        return "gpkg"
    if data.startswith(ZIP_MAGIC):
        return "shp-zip"
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{":
        return "geojson"
    return None


_SUFFIX = {"geojson": ".geojson", "gpkg": ".gpkg", "shp-zip": ".zip"}


#: The most vertices an uploaded area may have (``PCNREG_MAX_AREA_VERTICES`` sets the app's limit).
MAX_AREA_VERTICES = 100_000

#: Messages of our own that may be shown as they are; any other reading error (GDAL's, pyogrio's,
#: pyproj's) is replaced by plain words for the format (``_plain_failure``).
_OWN_MESSAGES = ("the zip file holds", "the zip file expands", "the zip file is corrupt", "the file has no geometry")
_PLAIN = {
    "gpkg": "this is not a GeoPackage, or it is damaged: save the area again as a GeoPackage (.gpkg)",
    "shp-zip": "the zip file does not hold a readable shapefile (a .shp with its .shx and .dbf)",
    "geojson": "the file cannot be read as GeoJSON: save the area again as GeoJSON (.geojson)",
}


def _plain_failure(exc: ImportFailed, fmt: str, filename: str) -> ImportFailed:
    message = exc.problems[0].message if exc.problems else ""
    if message.startswith(_OWN_MESSAGES):
        return ImportFailed([_problem(message)], source=filename)
    if message.startswith("not a readable zip file"):
        return ImportFailed([_problem("this is not a readable zip file")], source=filename)
    if message.startswith("cannot reproject"):
        return ImportFailed([_problem("its coordinate reference system cannot be converted to British National "
                                      "Grid: save the area in EPSG:27700 or EPSG:4326")], source=filename)
    return ImportFailed([_problem(_PLAIN.get(fmt, "the file cannot be read"))], source=filename)


def _repair_note(reason: str | None) -> str:
    """A repair in plain words: 'crossed itself near E 452,001 N 340,010' and the like."""
    import re

    found = re.match(r"\s*([A-Za-z -]+?)\s*\[\s*([-0-9.eE+]+)\s+([-0-9.eE+]+)", reason or "")
    what = {"self-intersection": "crossed itself", "ring self-intersection": "crossed itself",
            "too few points": "had a ring of too few points", "hole lies outside shell": "had a hole outside it",
            "nested holes": "had holes inside holes", "interior is disconnected": "was split by its holes",
            "nested shells": "had one part inside another", "duplicate rings": "repeated a ring"}
    if not found:
        return "was not a valid polygon"
    kind = what.get(found.group(1).strip().lower(), "was not a valid polygon")
    try:
        x, y = float(found.group(2)), float(found.group(3))
    except ValueError:
        return kind
    if not (math.isfinite(x) and math.isfinite(y)):
        return kind
    return f"{kind} near E {x:,.0f} N {y:,.0f}"


def read_polygon_upload(data: bytes, filename: str, max_bytes: int, max_vertices: int | None = None,
                        notes: list[str] | None = None) -> BaseGeometry:
    """The polygon (or multipolygon) of an uploaded PCN area, in EPSG:27700, valid and snapped.

    The format is recognised by content: GeoJSON (starts with ``{``), GeoPackage (SQLite
    header) or a zipped shapefile (zip header). The file must hold polygons; they are united.
    Anything else raises ``ImportFailed`` with a message for the user, in plain words (never a
    library's message). More than ``max_vertices`` vertices (default ``MAX_AREA_VERTICES``) is
    refused. An invalid polygon (crossing itself, …) is repaired (``shapely.make_valid``) and
    the repair is said in ``notes``.
    """
    limit = MAX_AREA_VERTICES if max_vertices is None else max_vertices
    notes = [] if notes is None else notes
    check_size(len(data), max_bytes)
    fmt = sniff(data)
    if fmt is None:
        raise ImportFailed([_problem(
            "the file is not a GeoJSON, GeoPackage or zipped shapefile (recognised by its content, "
            f"which starts with {data[:8]!r})")], source=filename)
    with tempfile.TemporaryDirectory(prefix="pcnreg-upload-") as tmp:
        path = Path(tmp) / f"upload{_SUFFIX[fmt]}"
        path.write_bytes(data)
        try:
            if fmt == "shp-zip":
                _check_zip_size(path, filename, max_bytes * ZIP_EXPANSION_LIMIT)
            layer = _polygon_layer(path) if fmt == "gpkg" else None
            frame = _read_frame(path, fmt, filename, layer)
            frame = frame[~(frame.geometry.isna() | frame.geometry.is_empty)]
            vertices = int(shapely.get_num_coordinates(frame.geometry.values).sum()) if len(frame) else 0
            if vertices > limit:
                raise ImportFailed([_problem(
                    f"the area has {vertices:,} vertices; at most {limit:,} are accepted: simplify it (a 1 m "
                    "tolerance keeps its shape) and upload it again")], source=filename)
            frame = _to_bng(frame, filename, [])
        except ImportFailed as exc:
            if exc.problems and exc.problems[0].message.startswith("the area has"):
                raise
            raise _plain_failure(exc, fmt, filename) from None
        except Exception:       # noqa: BLE001 anything else a reader or projection raises: plain words, never its text
            raise ImportFailed([_problem(_PLAIN.get(fmt, "the file cannot be read"))], source=filename) from None
    try:
        return _polygon_of(frame, filename, notes)
    except ImportFailed:
        raise
    except Exception:           # noqa: BLE001 shapely/GEOS on absurd coordinates
        raise ImportFailed([_problem("the polygon cannot be used: its coordinates do not make a shape")],
                           source=filename) from None


def _polygon_of(frame, filename: str, notes: list[str]) -> BaseGeometry:
    minx, miny, maxx, maxy = BNG_BOUNDS
    x0, y0, x1, y1 = frame.total_bounds if len(frame) else (0.0, 0.0, 0.0, 0.0)
    if not (minx <= x0 and miny <= y0 and x1 <= maxx and y1 <= maxy):     # also false for inf, NaN
        raise ImportFailed([_problem("the area lies outside Great Britain (is its coordinate reference system "
                                     "right? GeoJSON must be in longitude/latitude, EPSG:4326)")], source=filename)
    # Each feature made valid (the repair said in notes); its polygons kept (points and lines say
    # nothing of an area).
    polygons = []
    for geom in frame.geometry.values:
        valid, note = validate(geom)
        if valid is not None:
            polygons.append(valid)
            if note and geom is not None and not geom.is_valid:
                notes.append(f"The polygon {_repair_note(note)} and was repaired: check its shape on the map.")
    if not polygons:
        kinds = sorted({g.geom_type for g in frame.geometry.values if g is not None}) or ["none"]
        raise ImportFailed([_problem(
            "the file holds no polygon: a PCN area must be a polygon or multipolygon "
            f"(found: {', '.join(kinds)})")], source=filename)
    area, reason = _snapped(shapely.union_all(polygons))
    if area is None:
        raise ImportFailed([_problem(f"the area is unusable: {reason}")], source=filename)
    return area


def _check_zip_size(path: Path, filename: str, limit: int) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            total = sum(info.file_size for info in zf.infolist())
    except ZIP_ERRORS as exc:
        raise _fail(filename, f"not a readable zip file ({exc})") from None
    if total > limit:
        raise _fail(filename, f"the zip file expands to {total:,} bytes; at most {limit:,} are allowed")


def _polygon_layer(path: Path) -> str | None:
    """The first layer of a GeoPackage that holds polygons (None: let GDAL choose)."""
    import pyogrio

    try:
        layers = pyogrio.list_layers(path)
    except Exception:  # noqa: BLE001  (any reader or GEOS failure: plain words, never a 500)
        return None
    for name, kind in layers:
        if kind and "polygon" in str(kind).lower():
            return str(name)
    return None


# --- neighbourhood layers ------------------------------------------------------------------------

#: The most vertices and features an uploaded neighbourhood layer may have (a whole ICB's
#: neighbourhoods drawn from LSOA boundaries stay well below both).
MAX_NEIGHBOURHOOD_VERTICES = 2_000_000
MAX_NEIGHBOURHOOD_FEATURES = 2_000
NEIGHBOURHOOD_NAME_COLUMNS = ("name", "neighbourhood", "neighbourhood_name", "nbhd_name", "nbhd")
NEIGHBOURHOOD_KIND_COLUMNS = ("kind", "neighbourhood_kind", "type")


@dataclass
class NeighbourhoodFeature:
    """One polygon of an uploaded neighbourhood layer (EPSG:27700, valid, snapped)."""

    number: int                  # 1-based position in the file
    name: str
    kind: str                    # as written (empty when the file has no kind column)
    geometry: BaseGeometry


@dataclass
class NeighbourhoodLayer:
    format: str
    name_column: str
    kind_column: str | None
    features: list[NeighbourhoodFeature]
    notes: list[str] = field(default_factory=list)


def _column(available: list[str], options: tuple[str, ...]) -> str | None:
    lower = {c.lower(): c for c in available}
    return next((lower[o] for o in options if o in lower), None)


def read_neighbourhood_layer(data: bytes, filename: str, max_bytes: int,
                             max_vertices: int = MAX_NEIGHBOURHOOD_VERTICES,
                             max_features: int = MAX_NEIGHBOURHOOD_FEATURES) -> NeighbourhoodLayer:
    """The polygons of an uploaded neighbourhood layer (GeoJSON, GeoPackage or zipped shapefile,
    recognised by content), each with its name (column ``name`` or ``neighbourhood``, any case)
    and optional kind (``kind``), reprojected to EPSG:27700. An invalid polygon is repaired
    (``make_valid``, said in ``notes`` naming the feature); a feature without a name, with an
    empty or non-polygon geometry or outside Great Britain is a problem naming the feature and
    field. Raises ``ImportFailed`` (source = ``filename``) listing every problem."""
    check_size(len(data), max_bytes)
    fmt = sniff(data)
    if fmt is None:
        raise ImportFailed([_problem(
            "the file is not a CSV, GeoJSON, GeoPackage or zipped shapefile (recognised by its content, "
            f"which starts with {data[:8]!r})")], source=filename)
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="pcnreg-upload-") as tmp:
        path = Path(tmp) / f"upload{_SUFFIX[fmt]}"
        path.write_bytes(data)
        try:
            if fmt == "shp-zip":
                _check_zip_size(path, filename, max_bytes * ZIP_EXPANSION_LIMIT)
            layer = _polygon_layer(path) if fmt == "gpkg" else None
            frame = _read_frame(path, fmt, filename, layer)
            if len(frame) > max_features:
                raise _fail(filename, f"the file has {len(frame):,} features; at most {max_features:,} "
                                      "neighbourhoods are accepted")
            good = frame.geometry.values[~(frame.geometry.isna() | frame.geometry.is_empty).to_numpy()]
            vertices = int(shapely.get_num_coordinates(good).sum()) if len(good) else 0
            if vertices > max_vertices:
                raise _fail(filename, f"the file has {vertices:,} vertices; at most {max_vertices:,} are accepted: "
                                      "simplify the polygons (a 1 m tolerance keeps their shape) and upload it again")
            frame = _to_bng(frame, filename, notes)
        except ImportFailed as exc:
            message = exc.problems[0].message if exc.problems else ""
            if message.startswith(("the file has", "the zip file")):
                raise ImportFailed(exc.problems, source=filename) from None
            raise _plain_failure(exc, fmt, filename) from None
        except Exception:       # noqa: BLE001 anything else a reader or projection raises: plain words
            raise ImportFailed([_problem(_PLAIN.get(fmt, "the file cannot be read"))], source=filename) from None
    available = [c for c in frame.columns if c != frame.geometry.name]
    name_col = _column(available, NEIGHBOURHOOD_NAME_COLUMNS)
    kind_col = _column(available, NEIGHBOURHOOD_KIND_COLUMNS)
    if name_col is None:
        raise ImportFailed([ImportProblem(None, "name", (
            f"column is missing (one of {', '.join(NEIGHBOURHOOD_NAME_COLUMNS)}); the file has: "
            f"{', '.join(map(str, available)) or 'no columns'}"))], source=filename)
    if not len(frame):
        raise _fail(filename, "the file has no features")
    problems: list[ImportProblem] = []
    features: list[NeighbourhoodFeature] = []
    names = frame[name_col].tolist()
    kinds = frame[kind_col].tolist() if kind_col else [""] * len(frame)
    minx, miny, maxx, maxy = BNG_BOUNDS
    for number, (geom, raw_name, raw_kind) in enumerate(zip(frame.geometry.values, names, kinds), 1):
        name = _clean_code(raw_name)
        label = f"feature {number}" + (f" ({name[:60]})" if name else "")
        if not name:
            problems.append(ImportProblem(None, name_col, f"{label} has no name"))
            continue
        if len(name) > 200:
            problems.append(ImportProblem(None, name_col, f"{label}: the name is longer than 200 characters"))
            continue
        try:
            valid, reason = validate(geom)
        except Exception:  # noqa: BLE001 GEOS on absurd coordinates
            valid, reason = None, "its coordinates do not make a shape"
        if valid is None:
            problems.append(ImportProblem(None, "geometry", f"{label}: not a usable polygon ({reason})"))
            continue
        x0, y0, x1, y1 = valid.bounds
        if not (minx <= x0 and miny <= y0 and x1 <= maxx and y1 <= maxy):
            problems.append(ImportProblem(None, "geometry", (
                f"{label} lies outside Great Britain (is the file's coordinate reference system right? "
                "GeoJSON must be in longitude/latitude, EPSG:4326)")))
            continue
        if reason:
            notes.append(f"{filename}: {label} {_repair_note(reason)} and was repaired (make_valid)")
        snapped, reason_after = _snapped(valid)
        if snapped is None:
            problems.append(ImportProblem(None, "geometry", f"{label}: {reason_after} after snapping to the "
                                                            f"{SNAP_METRES:g} m grid"))
            continue
        features.append(NeighbourhoodFeature(number, name, _clean_code(raw_kind), snapped))
        if len(problems) > MAX_REPORTED:
            break
    if problems:
        raise ImportFailed(problems, source=filename)
    return NeighbourhoodLayer(fmt, name_col, kind_col, features, notes)
