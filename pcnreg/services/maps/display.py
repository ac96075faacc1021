"""How the maps draw geometry and text: the coordinate systems, the simplification for display,
GeoJSON pieces, escaping, and the colours of outlines and boundary lines (shared by the HTML maps
and the PNG).

Areas and boundaries are stored in EPSG:27700 (metres). Maps draw them simplified with
``shapely.simplify(geom, MAP_SIMPLIFY_METRES, preserve_topology=True)``: Douglas-Peucker with a
tolerance of 25 m (``pcnreg.domain.geometry.MAP_SIMPLIFY_METRES``), so no drawn boundary is more
than 25 m from the stored one, and a polygon keeps its rings (no part vanishes, no
self-intersection). Each polygon is simplified on its own: where two PCNs share a border the two
simplified lines can differ by up to 25 m (slivers visible only at street zoom). The simplified
geometry is then transformed to EPSG:4326 and rounded to 5 decimal places (about 1 m). Exports and
the PNG use the stored, unsimplified geometry.
"""

from __future__ import annotations

import html
import math

import geopandas as gpd
import numpy as np
import shapely

from ...domain.geometry import MAP_SIMPLIFY_METRES

BNG, WGS84 = 27700, 4326
DECIMALS = 5                        # of displayed coordinates (about 1 m)

ERROR_OUTLINE = "#d5281b"           # NHS red: a PCN with at least one error finding
OUTLINE = "#425563"                 # NHS dark grey
LA_LINE = "#212b32"
PLACE_LINE = "#005eb8"              # NHS blue


def text(value) -> str:
    """Escaped for HTML that folium places inside a JavaScript template literal."""
    return html.escape(str(value)).replace("`", "&#96;").replace("$", "&#36;").replace("\\", "&#92;")


def thousands(value) -> str:
    return "not known" if value is None else f"{value:,}"


def display_geometries(geoms) -> list:
    """Stored EPSG:27700 geometries -> simplified (MAP_SIMPLIFY_METRES, topology preserved),
    EPSG:4326, coordinates rounded to DECIMALS places."""
    if not len(geoms):
        return []
    simplified = shapely.simplify(np.asarray(list(geoms), dtype=object), MAP_SIMPLIFY_METRES, preserve_topology=True)
    wgs = gpd.GeoSeries(simplified, crs=BNG).to_crs(WGS84)
    return list(shapely.transform(np.asarray(list(wgs), dtype=object), lambda c: np.round(c, DECIMALS)))


def feature(geom, fid: str, props: dict) -> dict:
    return {"type": "Feature", "id": fid, "properties": props, "geometry": shapely.geometry.mapping(geom)}


def collection(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


def latlng_bounds(geoms) -> list[list[float]] | None:
    geoms = [g for g in geoms if g is not None and not g.is_empty]
    if not geoms:
        return None
    minx, miny, maxx, maxy = shapely.total_bounds(np.asarray(geoms, dtype=object))
    return [[float(miny), float(minx)], [float(maxy), float(maxx)]]


def practice_radius(list_size: int | None) -> float:
    """Marker radius in pixels, proportional to the square root of the list size (so the
    circle's area is proportional to the patients): 5 px for 10,000 patients; 2 px at least."""
    if not list_size:
        return 2.0
    return round(max(2.0, 0.05 * math.sqrt(list_size)), 1)
