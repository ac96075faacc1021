"""Uploaded PCN areas: errors in plain words (never a library's message), invalid polygons
repaired and the repair reported, a vertex limit (issue #12, items 5 and 6)."""
from __future__ import annotations

import io
import json
import math
import zipfile

import pytest

from pcnreg.importers.csvio import ImportFailed
from pcnreg.importers.geodata import read_polygon_upload

LIBRARY_WORDS = ("sqlite3", "prepare", "does not exist in the file system", "not recognized as a supported",
                 "GDAL", "pyogrio", "DataSource", "vsizip", "/tmp", "Error", "OGR", "b'", "Traceback")


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return out.getvalue()


def _refusal(data: bytes, filename: str) -> str:
    with pytest.raises(ImportFailed) as caught:
        read_polygon_upload(data, filename, 10_000_000)
    text = str(caught.value)
    for word in LIBRARY_WORDS:
        assert word not in text, (word, text)
    return text


def test_a_broken_geopackage_is_not_a_geopackage():
    text = _refusal(b"SQLite format 3\x00" + b"\x00" * 200, "area.gpkg")
    assert "this is not a GeoPackage" in text


def test_a_zip_without_a_shapefile():
    assert "the zip file holds no shapefile (.shp)" in _refusal(_zip({"trav.zip": b"PK\x03\x04"}), "trav.zip")
    assert "holds no shapefile" in _refusal(_zip({"readme.txt": b"hello"}), "area.zip")


@pytest.mark.parametrize("members", [
    {"area.shp": b"\x00" * 100},                               # no .shx nor .dbf, and not a shapefile
    {"../../trav.shp": b"\x00" * 100},                         # a path that leaves the zip
    {"a/area.shp": b"\x00\x00\x27\x0a" + b"\x00" * 96, "a/area.dbf": b"\x03"},
])
def test_an_unreadable_shapefile_in_plain_words(members):
    text = _refusal(_zip(members), "area.zip")
    assert "shapefile" in text


def test_broken_geojson_and_a_broken_zip_in_plain_words():
    assert "cannot be read as GeoJSON" in _refusal(b'{"type": "FeatureCollection", "features": [}', "a.geojson")
    assert "not a readable zip file" in _refusal(b"PK\x03\x04" + b"\x00" * 64, "a.zip")


BOWTIE = {"type": "Polygon", "coordinates": [[[-1.2, 52.9], [-1.1, 53.0], [-1.1, 52.9], [-1.2, 53.0], [-1.2, 52.9]]]}


def test_a_self_intersecting_polygon_is_repaired_and_the_repair_reported():
    notes: list[str] = []
    area = read_polygon_upload(json.dumps(BOWTIE).encode(), "bowtie.geojson", 10_000_000, notes=notes)
    assert area.is_valid and area.area > 0
    assert len(notes) == 1 and "crossed itself near E" in notes[0] and "repaired" in notes[0]
    fine: list[str] = []
    square = {"type": "Polygon", "coordinates": [[[-1.2, 52.9], [-1.1, 52.9], [-1.1, 53.0], [-1.2, 53.0], [-1.2, 52.9]]]}
    read_polygon_upload(json.dumps(square).encode(), "square.geojson", 10_000_000, notes=fine)
    assert fine == []


def _circle(n: int) -> bytes:
    ring = [[-1.15 + 0.05 * math.cos(2 * math.pi * i / n), 52.95 + 0.03 * math.sin(2 * math.pi * i / n)]
            for i in range(n)]
    return json.dumps({"type": "Polygon", "coordinates": [ring + [ring[0]]]}).encode()


def test_too_many_vertices_are_refused_with_a_clear_message():
    data = _circle(5_000)
    assert read_polygon_upload(data, "c.geojson", 10_000_000, max_vertices=10_000).area > 0
    with pytest.raises(ImportFailed) as caught:
        read_polygon_upload(data, "c.geojson", 10_000_000, max_vertices=1_000)
    assert "the area has 5,001 vertices; at most 1,000 are accepted" in str(caught.value)


def test_the_default_limit_refuses_700000_vertices():
    with pytest.raises(ImportFailed, match="at most 100,000 are accepted"):
        read_polygon_upload(_circle(700_000), "huge.geojson", 100_000_000)


def test_the_vertex_limit_is_a_setting(monkeypatch, tmp_path, migrated_url):
    from pcnreg import create_app

    monkeypatch.setenv("PCNREG_INSTANCE", str(tmp_path / "i"))
    monkeypatch.setenv("PCNREG_MAX_AREA_VERTICES", "2500")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": migrated_url})
    assert app.config["MAX_AREA_VERTICES"] == 2500
