"""`pcnreg geodata`: reading official boundary files, installing them (one transaction), the
geographic findings they bring, and downloading the files against the manifest's checksums.

Facts checked against ../shared/geodata (see its README): the 7 districts of the system's
places hold 609 LSOAs (the 679 of the file less Bassetlaw's 70: Bassetlaw CCG 02Q is not a
commissioner of the 2019 system and Bassetlaw has no place); Orchard Surgery C82040 (Kegworth,
DE74) lies in North West Leicestershire and Pleasley Surgery C84057 in Bolsover, both outside
the system; the Hucknall practices of NNE PCN 1 lie in Ashfield (Mid Nottinghamshire).
"""
from __future__ import annotations

import functools
import hashlib
import json
import shutil
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import Polygon
from sqlalchemy import func, select

from pcnreg.importers.csvio import ImportFailed
from pcnreg.importers.geodata import read_layer, read_polygon_upload
from pcnreg.models import (
    Block,
    BlockAssignment,
    Commissioner,
    GeodataLoad,
    LocalAuthority,
    Membership,
    Pcn,
    PcnArea,
    Practice,
)
from pcnreg.services import geodata as service
from pcnreg.services.demo import load_demo

HUCKNALL_NNE1 = {"C84053", "C84095", "Y00026", "Y06443"}   # NNE PCN 1 members sited in Ashfield
PLACE_LAS = {"E06000018", "E07000170", "E07000171", "E07000172", "E07000173", "E07000174", "E07000175",
             "E07000176"}
CORE_FILES = ("lad19-nottinghamshire.geojson", "ccg19-nottinghamshire.geojson", "lsoa11-nottinghamshire.geojson",
              "nottinghamshire-practices.csv", "wards19-nottinghamshire.geojson")


def sources() -> dict[str, dict]:
    return {s["id"]: s for s in service.load_manifest()["sources"]}


@pytest.fixture
def cli(app, runner):
    if "geodata" not in app.cli.commands:
        from pcnreg.cli.geodata import geodata_group

        app.cli.add_command(geodata_group)
    return runner


@pytest.fixture
def demo(app, db, demo_round):
    return db


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def snapshot(db) -> dict:
    """What an install writes, to compare before and after a refused one."""
    return {
        "blocks": count(db, Block),
        "loads": count(db, GeodataLoad),
        "areas": count(db, PcnArea),
        "la": {la.code: la.geometry for la in db.session.scalars(select(LocalAuthority))},
        "practices": {p.code: (p.latitude, p.longitude, p.local_authority_id)
                      for p in db.session.scalars(select(Practice))},
    }


@pytest.fixture
def small(tmp_path, geodata) -> Path:
    """A folder with the small Nottinghamshire files and a manifest of its own (profile 'core',
    and 'core-wards' with wards as the block layer), for tests that break a file."""
    folder = tmp_path / "small"
    folder.mkdir()
    for name in CORE_FILES:
        shutil.copy(geodata / name, folder / name)
    by_id = sources()
    ids = ["lad19-nottinghamshire", "ccg19-nottinghamshire", "lsoa11-nottinghamshire", "nottinghamshire-practices"]
    manifest = {"default_profile": "core",
                "profiles": {"core": ids, "core-wards": ids[:2] + ["wards19-nottinghamshire", ids[3]]},
                "sources": [by_id[i] for i in ids + ["wards19-nottinghamshire"]]}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def edit_manifest(folder: Path, source_id: str, **changes) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    for source in manifest["sources"]:
        if source["id"] == source_id:
            source.update(changes)
    path.write_text(json.dumps(manifest))


def edit_features(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data["features"])
    path.write_text(json.dumps(data))


# --- install: the Nottinghamshire profile --------------------------------------------------------

def test_install_notts_profile(demo, geodata):
    db = demo
    report = service.install(geodata)     # default profile: nottinghamshire
    assert report.profile == "nottinghamshire" and report.block_kind == "lsoa"
    assert report.seconds < 10, report.seconds

    blocks = list(db.session.scalars(select(Block)))
    assert len(blocks) == 609 and {b.kind for b in blocks} == {"lsoa"}
    assert {b.local_authority.code for b in blocks} == PLACE_LAS - {"E07000171"}
    assert all(b.population and b.population > 0 and b.area_m2 > 0 for b in blocks)

    las = {la.code: la for la in db.session.scalars(select(LocalAuthority))}
    with_geometry = {code for code, la in las.items() if la.geometry is not None}
    assert PLACE_LAS <= with_geometry                       # the 8 of the demo (Bassetlaw too)...
    assert with_geometry - PLACE_LAS == {"E07000134", "E07000033"}   # ...and the 2 practices are sited in
    assert las["E07000134"].name == "North West Leicestershire" and las["E07000134"].places == []
    assert las["E07000033"].name == "Bolsover" and las["E07000033"].places == []
    geom = shapely.from_wkb(las["E06000018"].geometry)
    assert geom.geom_type in ("Polygon", "MultiPolygon") and 74e6 < geom.area < 75.5e6   # Nottingham, m² in 27700

    commissioners = list(db.session.scalars(select(Commissioner)))
    assert len(commissioners) == 6 and all(c.geometry is not None for c in commissioners)

    practices = list(db.session.scalars(select(Practice)))
    assert len(practices) == 135
    assert all(p.latitude is not None and p.local_authority is not None for p in practices)
    orchard = db.session.scalar(select(Practice).where(Practice.code == "C82040"))
    assert orchard.local_authority.code == "E07000134" and orchard.local_authority.places == []
    assert (orchard.latitude, orchard.longitude) == (52.83643, -1.277998)
    assert {p.code for p in practices if p.local_authority.code == "E07000170"} >= HUCKNALL_NNE1

    assert count(db, PcnArea) == 22 == count(db, Pcn)
    assert count(db, BlockAssignment) == 609                # every block in a PCN
    load = db.session.scalar(select(GeodataLoad))
    files = json.loads(load.files)
    assert set(files) == {"lad19-england.geojson", "ccg19-nottinghamshire.geojson", "lsoa11-nottinghamshire.geojson",
                          "wards19-nottinghamshire.geojson", "nottinghamshire-practices.csv",
                          "lsoa11-population-mid2018-england.csv"}
    assert files["lsoa11-nottinghamshire.geojson"] == sources()["lsoa11-nottinghamshire"]["sha256"]
    summary = json.loads(load.summary)
    assert summary["blocks"]["added"] == 609 and summary["checksum_mismatches"] == []
    assert "E07000146" in summary["repaired"]               # King's Lynn: self-intersection after reprojection
    assert report.without_location == [] and report.outside_local_authorities == []
    text = "\n".join(report.lines())
    assert "E07000134 North West Leicestershire (practice C82040)" in text
    assert "blocks (lsoa): 609 added" in text


def test_reinstall_changes_nothing(demo, geodata):
    db = demo
    service.install(geodata, profile="notts")
    before = snapshot(db)
    blocks = {b.code: bytes(b.geometry) for b in db.session.scalars(select(Block))}
    areas_before = {a.pcn_id: (bytes(a.geometry), a.fingerprint) for a in db.session.scalars(select(PcnArea))}
    report = service.install(geodata, profile="notts")
    assert not report.changed
    assert report.blocks.unchanged == 609 and report.local_authorities.unchanged == 10
    assert report.commissioners.unchanged == 6 and report.practice_locations.unchanged == 135
    assert "0 reassigned; 0 PCN areas rebuilt" in report.rounds["Nottingham and Nottinghamshire 2019/20"]
    assert "Nothing changed." in report.lines()
    after = snapshot(db)
    assert after == before          # not even a new load record: map caches keyed on it stay valid
    assert {b.code: bytes(b.geometry) for b in db.session.scalars(select(Block))} == blocks
    assert {a.pcn_id: (bytes(a.geometry), a.fingerprint) for a in db.session.scalars(select(PcnArea))} == areas_before


def test_cli_install_then_validate_reports_geographic_findings(app, demo, cli, geodata):
    app.config["GEODATA_PATH"] = geodata                    # `--from` defaults to PCNREG_GEODATA
    result = cli.invoke(args=["geodata", "install", "--profile", "notts"])
    assert result.exit_code == 0, result.output
    assert f"from {geodata} for Nottingham and Nottinghamshire" in result.output
    assert "blocks (lsoa): 609 added" in result.output
    status = cli.invoke(args=["geodata", "status"])
    assert status.exit_code == 0, status.output
    assert "Blocks: 609 LSOAs, 0 wards; PCN areas: 22" in status.output
    assert "Local authorities with a boundary: 10 of 10" in status.output
    assert "Practices with a location: 135 of 135" in status.output

    result = cli.invoke(args=["validate", "--json"])
    assert result.exit_code == 0, result.output
    findings = json.loads(result.output)["findings"]
    by_rule: dict[str, list[dict]] = {}
    for f in findings:
        by_rule.setdefault(f["rule"], []).append(f)
    # Hucknall: in Ashfield (Mid Nottinghamshire) but members of NNE PCN 1 (South Nottinghamshire).
    place = {f["subject"]["code"]: f["figures"] for f in by_rule["practice_place"]}
    assert HUCKNALL_NNE1 <= set(place)
    assert all(place[c]["local_authority"] == "E07000170" and place[c]["pcn"] == "NNE PCN 1"
               and place[c]["local_authority_place"] == "Mid Nottinghamshire" for c in HUCKNALL_NNE1)
    assert place["C82040"]["local_authority"] == "E07000134" and place["C82040"]["local_authority_place"] is None
    assert place["C84057"]["local_authority"] == "E07000033"
    # NNE PCN 1's area takes in Hucknall, which is in Ashfield: partly outside its place, two LAs.
    nne1 = [f for f in by_rule["pcn_outside_place"] if f["subject"]["name"] == "NNE PCN 1"]
    assert nne1 and nne1[0]["figures"]["place"] == "South Nottinghamshire"
    assert nne1[0]["figures"]["share_outside_pct"] > 10
    las = [f for f in by_rule["pcn_local_authorities"] if f["subject"]["name"] == "NNE PCN 1"]
    assert las and {"E07000170", "E07000173"} <= set(las[0]["figures"]["local_authorities"])
    # Practices sited across the system's border lie outside their PCN's area.
    outside = {f["subject"]["code"] for f in by_rule["practice_outside_area"]}
    assert {"C82040", "C84057"} <= outside
    # Blocks go to the nearest practice's PCN within their own place: every demo PCN is one piece.
    assert "pcn_contiguous" not in by_rule
    assert "practice_location" not in by_rule and "area_gaps" not in by_rule   # all located, all blocks assigned


# --- install: the small profile, other layers, refusals -----------------------------------------

def test_core_profile_reports_practices_outside_the_boundaries_read(demo, small):
    report = service.install(small, manifest=small / "manifest.json")
    assert report.profile == "core" and report.blocks.added == 609
    # Only the 8 Nottinghamshire districts are read: the two practices sited beyond them are
    # reported, and no local authority row is invented for them.
    assert sorted(report.outside_local_authorities) == ["C82040 Orchard Surgery", "C84057 Pleasley Surgery"]
    assert report.local_authorities.added == 8 and report.local_authorities_added == []
    assert "lad19-england.geojson" not in report.files


def test_practice_without_location_is_reported_not_dropped(demo, small, cli):
    db = demo
    path = small / "nottinghamshire-practices.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    lat, lon = header.index("latitude"), header.index("longitude")
    out = [lines[0]]
    for line in lines[1:]:
        if line.startswith("C84067,"):
            cells = line.split(",")
            cells[lat] = cells[lon] = ""
            line = ",".join(cells)
        out.append(line)
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    report = service.install(small, manifest=small / "manifest.json")
    assert [p for p in report.without_location if p.startswith("C84067")]
    practice = db.session.scalar(select(Practice).where(Practice.code == "C84067"))
    assert practice.latitude is None
    assert db.session.scalar(select(Membership).where(Membership.practice_id == practice.id)) is not None
    findings = json.loads(cli.invoke(args=["validate", "--json"]).output)["findings"]
    assert [f for f in findings if f["rule"] == "practice_location" and f["subject"]["code"] == "C84067"]
    assert "without a location" in "\n".join(report.lines())


def test_wards_as_blocks_replace_lsoas(demo, small):
    db = demo
    service.install(small, manifest=small / "manifest.json")
    report = service.install(small, manifest=small / "manifest.json", profile="core-wards", blocks="ward")
    # The wards of the 7 districts of the system's places (Bassetlaw's 25 of the 189 are not).
    assert report.blocks.added == 164 and report.blocks.removed == 609
    assert {b.kind for b in db.session.scalars(select(Block))} == {"ward"}
    assert count(db, Block) == 164 == count(db, BlockAssignment)
    assert count(db, PcnArea) == 22


def test_gpkg_and_zipped_shapefile_install(demo, small, tmp_path):
    db = demo
    lsoa = gpd.read_file(small / "lsoa11-nottinghamshire.geojson")
    lsoa.to_file(small / "lsoa.gpkg", driver="GPKG", layer="lsoa11")
    lad = gpd.read_file(small / "lad19-nottinghamshire.geojson")
    shp = tmp_path / "shp"
    shp.mkdir()
    lad.to_file(shp / "lad19.shp", driver="ESRI Shapefile")
    with zipfile.ZipFile(small / "lad19.zip", "w") as zf:
        for f in shp.iterdir():
            zf.write(f, f"LAD_Dec_2019/{f.name}")
    edit_manifest(small, "lsoa11-nottinghamshire", file="lsoa.gpkg", format="gpkg", file_layer="lsoa11")
    edit_manifest(small, "lad19-nottinghamshire", file="lad19.zip", format="shp-zip")
    report = service.install(small, manifest=small / "manifest.json")
    assert report.blocks.added == 609 and report.local_authorities.added == 8
    assert len(report.checksum_mismatches) == 2            # not the manifest's files: noted, not refused
    assert count(db, PcnArea) == 22


def test_read_layer_formats(small, tmp_path):
    src = sources()["lsoa11-nottinghamshire"]
    frame = gpd.read_file(small / "lsoa11-nottinghamshire.geojson")
    frame.to_file(tmp_path / "l.gpkg", driver="GPKG")
    (tmp_path / "shp").mkdir()
    frame.to_file(tmp_path / "shp" / "l.shp", driver="ESRI Shapefile")
    with zipfile.ZipFile(tmp_path / "l.zip", "w") as zf:
        for f in (tmp_path / "shp").iterdir():
            zf.write(f, f.name)
    geojson = read_layer(small / "lsoa11-nottinghamshire.geojson", src)
    gpkg = read_layer(tmp_path / "l.gpkg", {**src, "format": "gpkg"})
    shz = read_layer(tmp_path / "l.zip", {**src, "format": "shp-zip"})
    assert len(geojson) == len(gpkg) == len(shz) == 679
    assert list(geojson.columns) == ["code", "name", "local_authority", "commissioner", "geometry"]
    assert geojson.crs.to_epsg() == 27700
    assert list(geojson["code"]) == list(shz["code"])
    assert all(a.equals(b) for a, b in zip(geojson.geometry.values, shz.geometry.values))


def test_read_layer_without_crs_assumes_wgs84_and_says_so(tmp_path):
    square = Polygon([(-1.2, 52.9), (-1.1, 52.9), (-1.1, 53.0), (-1.2, 53.0)])
    (tmp_path / "shp").mkdir()
    gpd.GeoDataFrame({"LAD19CD": ["E07000999"], "LAD19NM": ["Test"]}, geometry=[square]).to_file(
        tmp_path / "shp" / "x.shp", driver="ESRI Shapefile")        # no CRS: no .prj written
    assert not (tmp_path / "shp" / "x.prj").exists()
    with zipfile.ZipFile(tmp_path / "x.zip", "w") as zf:
        for f in (tmp_path / "shp").iterdir():
            zf.write(f, f.name)
    frame = read_layer(tmp_path / "x.zip", {"layer": "local_authorities", "format": "shp-zip",
                                             "columns": {"code": "LAD19CD", "name": "LAD19NM"}})
    assert "assumed EPSG:4326" in " ".join(frame.attrs["notes"])
    x0, y0, _, _ = frame.geometry.values[0].bounds
    assert 440_000 < x0 < 460_000 and 330_000 < y0 < 350_000     # Nottingham, British National Grid


def test_read_layer_refuses_coordinates_in_the_wrong_crs(tmp_path):
    feature = {"type": "Feature", "properties": {"LAD19CD": "E07000999", "LAD19NM": "Metres"},
               "geometry": {"type": "Polygon", "coordinates": [[[450000, 340000], [451000, 340000],
                                                                [451000, 341000], [450000, 340000]]]}}
    (tmp_path / "m.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    with pytest.raises(ImportFailed) as caught:
        read_layer(tmp_path / "m.geojson", {"layer": "local_authorities",
                                            "columns": {"code": "LAD19CD", "name": "LAD19NM"}})
    assert "E07000999 (Metres): lies outside Great Britain" in str(caught.value)
    assert "coordinate reference system" in str(caught.value)


def test_self_intersecting_polygon_is_repaired_and_noted(tmp_path):
    bowtie = Polygon([(-1.2, 52.9), (-1.1, 53.0), (-1.1, 52.9), (-1.2, 53.0)])
    square = Polygon([(-1.0, 52.9), (-0.9, 52.9), (-0.9, 53.0), (-1.0, 53.0)])
    assert not bowtie.is_valid
    gpd.GeoDataFrame({"LAD19CD": ["E07000901", "E07000902"], "LAD19NM": ["Bow", "Square"]},
                     geometry=[bowtie, square], crs="EPSG:4326").to_file(tmp_path / "b.geojson", driver="GeoJSON")
    frame = read_layer(tmp_path / "b.geojson", {"layer": "local_authorities",
                                                "columns": {"code": "LAD19CD", "name": "LAD19NM"}})
    assert frame.attrs["repaired"] == ["E07000901"]
    assert "E07000901 (Bow) was invalid (Self-intersection" in frame.attrs["notes"][0]
    repaired = frame.geometry.values[0]
    assert repaired.is_valid and repaired.geom_type == "MultiPolygon" and repaired.area > 0


def test_install_notes_a_repaired_block(demo, small):
    def bow(features):
        f = features[0]
        x0, y0, x1, y1 = shapely.geometry.shape(f["geometry"]).bounds
        f["geometry"] = {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y1], [x1, y0], [x0, y1], [x0, y0]]]}
    edit_features(small / "lsoa11-nottinghamshire.geojson", bow)
    report = service.install(small, manifest=small / "manifest.json")
    assert report.repaired == ["E01013810"]
    assert any("E01013810 (Nottingham 018A) was invalid" in n for n in report.notes)


def _missing_column(folder: Path) -> str:
    path = folder / "lsoa11-nottinghamshire.geojson"
    path.write_text(path.read_text().replace('"LSOA11NM"', '"NAME"'))
    return "column 'LSOA11NM' (name) is missing"


def _empty_geometry(folder: Path) -> str:
    def empty(features):
        features[5]["geometry"] = None
        features[9]["geometry"] = {"type": "Polygon", "coordinates": []}
    edit_features(folder / "lsoa11-nottinghamshire.geojson", empty)
    codes = [f["properties"]["LSOA11CD"] for f in json.loads(
        (folder / "lsoa11-nottinghamshire.geojson").read_text())["features"]]
    return f"{codes[5]} "


def _not_geodata(folder: Path) -> str:
    shutil.copy(folder / "nottinghamshire-practices.csv", folder / "lsoa11-nottinghamshire.geojson")
    return "lsoa11-nottinghamshire.geojson: cannot be read as geojson"


def _corrupt_zip(folder: Path) -> str:
    data = (folder / "lad19-nottinghamshire.geojson").read_bytes()
    with zipfile.ZipFile(folder / "lad19.zip", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("lad19.shp", data)
    raw = bytearray((folder / "lad19.zip").read_bytes())
    raw[60:80] = b"\x00" * 20                                     # damage the compressed data
    (folder / "lad19.zip").write_bytes(bytes(raw))
    edit_manifest(folder, "lad19-nottinghamshire", file="lad19.zip", format="shp-zip")
    return "lad19.zip"


def _bad_coordinates(folder: Path) -> str:
    path = folder / "nottinghamshire-practices.csv"
    path.write_text(path.read_text(encoding="utf-8").replace("52.83643,-1.277998", "north,-1.277998"),
                    encoding="utf-8")
    return "'north' is not a number"


@pytest.mark.parametrize("breaks", [_missing_column, _empty_geometry, _not_geodata, _corrupt_zip, _bad_coordinates])
def test_bad_file_is_refused_and_nothing_changes(demo, small, cli, breaks):
    db = demo
    service.install(small, manifest=small / "manifest.json")
    before = snapshot(db)
    expected = breaks(small)
    with pytest.raises(ImportFailed) as caught:
        service.install(small, manifest=small / "manifest.json")
    assert expected in str(caught.value)
    result = cli.invoke(args=["geodata", "install", "--from", str(small), "--manifest", str(small / "manifest.json")])
    assert result.exit_code == 1
    assert expected in result.stderr and "nothing was changed" in result.stderr
    assert "Traceback" not in result.output
    db.session.expire_all()
    assert snapshot(db) == before


def test_empty_geometry_is_named_by_code(small):
    expected = _empty_geometry(small)
    with pytest.raises(ImportFailed) as caught:
        read_layer(small / "lsoa11-nottinghamshire.geojson", sources()["lsoa11-nottinghamshire"])
    text = str(caught.value)
    assert f"{expected.strip()} (" in text and "empty geometry" in text
    assert len(caught.value.problems) == 2


def test_install_needs_a_system_and_the_files(app, db, cli, small, tmp_path):
    app.config["GEODATA_PATH"] = None
    result = cli.invoke(args=["geodata", "install"])
    assert result.exit_code == 2 and "no geodata folder" in result.output
    with pytest.raises(ImportFailed, match="load the demo"):
        service.install(small, manifest=small / "manifest.json")
    load_demo(None)
    with pytest.raises(ImportFailed, match="no system 'E54000999'"):
        service.install(small, manifest=small / "manifest.json", system_code="E54000999")
    (small / "ccg19-nottinghamshire.geojson").unlink()
    result = cli.invoke(args=["geodata", "install", "--from", str(small), "--manifest", str(small / "manifest.json")])
    assert result.exit_code == 1 and "ccg19-nottinghamshire.geojson (commissioners" in result.stderr
    result = cli.invoke(args=["geodata", "install", "--from", str(small), "--profile", "nope",
                              "--manifest", str(small / "manifest.json")])
    assert result.exit_code == 1 and "no profile 'nope'" in result.stderr
    assert count(db, Block) == 0 and count(db, GeodataLoad) == 0


# --- uploaded PCN areas ------------------------------------------------------------------------------

def test_read_polygon_upload_sniffs_content(tmp_path, small):
    frame = gpd.read_file(small / "lsoa11-nottinghamshire.geojson").iloc[:3]
    expected = shapely.union_all(list(read_layer(
        small / "lsoa11-nottinghamshire.geojson", sources()["lsoa11-nottinghamshire"]).geometry.values[:3]))
    geojson = frame.to_json().encode()
    area = read_polygon_upload(geojson, "area.zip", 10_000_000)        # named .zip, but GeoJSON
    assert area.is_valid and abs(area.area - expected.area) < 1_000
    frame.to_file(tmp_path / "a.gpkg", driver="GPKG")
    assert read_polygon_upload((tmp_path / "a.gpkg").read_bytes(), "area.geojson", 10_000_000).equals(area)
    (tmp_path / "shp").mkdir()
    frame.to_file(tmp_path / "shp" / "a.shp", driver="ESRI Shapefile")
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as zf:
        for f in (tmp_path / "shp").iterdir():
            zf.write(f, f"area/{f.name}")
    assert read_polygon_upload((tmp_path / "a.zip").read_bytes(), "area", 10_000_000).equals(area)


@pytest.mark.parametrize("data, message", [
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "not a GeoJSON, GeoPackage or zipped shapefile"),
    (b'{"type": "Point", "coordinates": [-1.15, 52.95]}', "holds no polygon"),
    (b'{"type": "FeatureCollection", "features": [}', "cannot be read"),
    (b"PK\x03\x04" + b"\x00" * 64, "not a readable zip file"),
    (b"", "the file is empty"),
    (b'{"type": "Polygon", "coordinates": [[[450000, 340000], [451000, 340000], [451000, 341000], '
     b'[450000, 340000]]]}', "outside Great Britain"),                # metres in a GeoJSON
])
def test_read_polygon_upload_refuses(data, message):
    with pytest.raises(ImportFailed) as caught:
        read_polygon_upload(data, "area.geojson", 10_000_000)
    assert message in str(caught.value)


def test_read_polygon_upload_size_limit():
    square = b'{"type": "Polygon", "coordinates": [[[-1.2, 52.9], [-1.1, 52.9], [-1.1, 53.0], [-1.2, 52.9]]]}'
    assert read_polygon_upload(square, "a.geojson", len(square)).area > 0
    with pytest.raises(ImportFailed, match="the limit is"):
        read_polygon_upload(square, "a.geojson", len(square) - 1)


# --- download ------------------------------------------------------------------------------------------

@pytest.fixture
def serve():
    """serve(folder) -> base URL of a loopback HTTP server for that folder."""
    servers = []

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass            # a client that stops reading (a file over its size limit) is expected

    def start(folder: Path) -> str:
        server = Server(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_manifest_matches_the_shared_files(geodata):
    manifest = service.load_manifest()
    assert manifest["default_profile"] in manifest["profiles"]
    for source in manifest["sources"]:
        path = geodata / source["file"]
        assert path.stat().st_size == source["bytes"], source["id"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == source["sha256"], source["id"]
        assert source["url"].startswith("https://") and source["licence"] and source["attribution"]


def test_download_profile_from_a_mirror(app, geodata, serve, tmp_path, cli):
    base = serve(geodata)
    dest = tmp_path / "dest"
    results = service.download(dest, base_url=base, profile="notts")
    names = {s["file"] for s in sources().values() if s["id"] in service.load_manifest()["profiles"]["nottinghamshire"]}
    assert {r.file for r in results} == names and {r.status for r in results} == {"downloaded"}
    assert {p.name for p in dest.iterdir()} == names                   # no temporary files left
    for name in names:
        assert (dest / name).read_bytes() == (geodata / name).read_bytes()
    again = cli.invoke(args=["geodata", "download", "--to", str(dest), "--base-url", base, "--profile", "notts"])
    assert again.exit_code == 0, again.output
    assert again.output.count("already present") == len(names)


def test_download_refuses_a_tampered_file(app, geodata, serve, tmp_path, cli):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name in ("lad19-nottinghamshire.geojson", "ccg19-nottinghamshire.geojson", "lsoa11-nottinghamshire.geojson",
                 "nottinghamshire-practices.csv"):
        shutil.copy(geodata / name, mirror / name)
    tampered = bytearray((mirror / "lsoa11-nottinghamshire.geojson").read_bytes())
    tampered[-100] = ord("7") if tampered[-100] != ord("7") else ord("8")   # same size, other content
    (mirror / "lsoa11-nottinghamshire.geojson").write_bytes(bytes(tampered))
    base = serve(mirror)
    dest = tmp_path / "dest"
    with pytest.raises(ImportFailed) as caught:
        service.download(dest, base_url=base, profile="nottinghamshire-core")
    assert list(dest.iterdir()) == []
    assert caught.value.source == "lsoa11-nottinghamshire.geojson" and "not the manifest's" in str(caught.value)
    assert list(dest.iterdir()) == []                                   # nothing half-written, nothing kept
    result = cli.invoke(args=["geodata", "download", "--to", str(dest), "--base-url", base,
                              "--profile", "nottinghamshire-core"])
    assert result.exit_code == 1 and "lsoa11-nottinghamshire.geojson" in result.stderr
    assert list(dest.iterdir()) == []
    # Larger than the manifest says: stopped at the limit.
    (mirror / "ccg19-nottinghamshire.geojson").write_bytes((geodata / "ccg19-nottinghamshire.geojson").read_bytes()
                                                           + b" " * 10)
    with pytest.raises(ImportFailed, match="bytes; the manifest expects 77,070"):
        service.download(dest, base_url=base, profile="nottinghamshire-core")
    assert list(dest.iterdir()) == []
    assert list(dest.iterdir()) == []
    # A missing file on the mirror.
    for name in ("ccg19-nottinghamshire.geojson", "lsoa11-nottinghamshire.geojson"):
        shutil.copy(geodata / name, mirror / name)
    (mirror / "nottinghamshire-practices.csv").unlink()
    with pytest.raises(ImportFailed, match="HTTP 404"):
        service.download(dest, base_url=base, profile="nottinghamshire-core")
    assert list(dest.iterdir()) == []


def test_download_without_mirror_explains_derived_files(app, tmp_path):
    with pytest.raises(ImportFailed) as caught:
        service.download(tmp_path / "dest", profile="nottinghamshire")
    text = str(caught.value)
    assert "lad19-england.geojson" in text and "--base-url" in text
    assert not (tmp_path / "dest").exists()
