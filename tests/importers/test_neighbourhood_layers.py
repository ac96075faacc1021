"""Reading an uploaded neighbourhood layer (issue #14): names, kinds, reprojection, repairs and
the limits, on small hand-made GeoJSON (no database)."""
from __future__ import annotations

import json

import pytest
from pyproj import Transformer

from pcnreg.importers.csvio import ImportFailed
from pcnreg.importers.geodata import read_neighbourhood_layer


def _square(lon: float, lat: float, d: float = 0.01, points: int = 4) -> dict:
    ring = [[lon + d * i / points, lat] for i in range(points)] + [[lon + d, lat], [lon + d, lat + d], [lon, lat + d],
                                                                   [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def _file(*features) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": props, "geometry": geom} for props, geom in features]}).encode()


def test_names_kinds_and_british_national_grid():
    layer = read_neighbourhood_layer(_file(({"Neighbourhood": "A", "KIND": "multi"}, _square(-2.18, 53.0)),
                                           ({"Neighbourhood": "B", "KIND": None}, _square(-2.1, 53.0))),
                                     "nb.geojson", 1 << 20)
    assert (layer.format, layer.name_column, layer.kind_column) == ("geojson", "Neighbourhood", "KIND")
    assert [(f.number, f.name, f.kind) for f in layer.features] == [(1, "A", "multi"), (2, "B", "")]
    x, y = Transformer.from_crs(4326, 27700, always_xy=True).transform(-2.18, 53.0)
    x0, y0, _, _ = layer.features[0].geometry.bounds
    assert x0 == pytest.approx(x, abs=1.5) and y0 == pytest.approx(y, abs=1.5)       # snapped to the 1 m grid


def test_a_bow_tie_is_repaired_and_said():
    bow = {"type": "Polygon", "coordinates": [[[-2.2, 53.0], [-2.1, 53.1], [-2.1, 53.0], [-2.2, 53.1], [-2.2, 53.0]]]}
    layer = read_neighbourhood_layer(_file(({"name": "Bow"}, bow)), "bow.geojson", 1 << 20)
    assert layer.features[0].geometry.is_valid and layer.features[0].geometry.geom_type == "MultiPolygon"
    assert any("feature 1 (Bow) crossed itself near E" in n and "repaired" in n for n in layer.notes)


def test_limits():
    data = _file(*(({"name": f"N{i}"}, _square(-2.2 + i * 0.01, 53.0)) for i in range(5)))
    with pytest.raises(ImportFailed, match="the file has 5 features; at most 4"):
        read_neighbourhood_layer(data, "many.geojson", 1 << 20, max_features=4)
    many = _file(({"name": "Fine"}, _square(-2.2, 53.0, points=500)))
    with pytest.raises(ImportFailed, match="the file has 50[0-9] vertices; at most 100 are accepted"):
        read_neighbourhood_layer(many, "fine.geojson", 1 << 20, max_vertices=100)
    with pytest.raises(ImportFailed, match="the limit is"):
        read_neighbourhood_layer(many, "fine.geojson", 100)
    with pytest.raises(ImportFailed) as failed:
        read_neighbourhood_layer(b"lsoa_code,neighbourhood\n", "x.dat", 1 << 20)
    assert "not a CSV, GeoJSON, GeoPackage or zipped shapefile" in str(failed.value)
