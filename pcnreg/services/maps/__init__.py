"""Maps of a round (folium/Leaflet), the tables that carry the same facts, and the exports of
PCN areas (GeoJSON, GeoPackage, a static PNG for committee papers).

One module per concern:

- ``rows``: what the maps and their tables show (per PCN facts and colours, a PCN's blocks,
  members and neighbours, the stored areas and boundaries);
- ``display``: geometry and text as the maps draw them (simplified, EPSG:4326, escaped);
- ``render``: the configuration map and the PCN map as HTML documents (no host but pcnreg's own);
- ``states``: the committee's map of registration states;
- ``cache``: the built maps in ``<instance>/map-cache/``, keyed by everything they show;
- ``export``: GeoJSON, GeoPackage and the PNG.

Callers use the names re-exported here (``from pcnreg.services import maps; maps.pcn_map(...)``).

The submodules are imported when one of their names is first used (``__getattr__`` below):
folium, geopandas and pandas take most of a second to import, and a process that draws no map
(``pcnreg check``, an import from the command line, a worker) should not pay for them.
"""
from __future__ import annotations

import importlib

# Each public name and the submodule that defines it.
_HOME = {
    "BlockRow": "rows", "MapRow": "rows", "MapUnavailable": "rows", "MemberRow": "rows", "PairRow": "rows",
    "PcnMapFacts": "rows", "adjacent_pairs": "rows", "boundaries": "rows", "colours": "rows",
    "map_rows": "rows", "pcn_areas": "rows", "pcn_facts": "rows", "unknown_blocks": "rows",
    "BNG": "display", "DECIMALS": "display", "ERROR_OUTLINE": "display", "LA_LINE": "display",
    "OUTLINE": "display", "PLACE_LINE": "display", "WGS84": "display", "collection": "display",
    "display_geometries": "display", "feature": "display", "latlng_bounds": "display",
    "practice_radius": "display", "text": "display", "thousands": "display",
    "LABEL_VERSION": "render", "MAP_FORMAT": "render", "Html": "render", "LocalMap": "render",
    "build_configuration_map": "render", "build_pcn_map": "render", "label_point": "render",
    "legend": "render", "map_response_csp": "render", "new_map": "render", "pcn_href": "render",
    "swatch": "render", "tooltip": "render",
    "STATE_COLOURS": "states", "build_state_map": "states", "state_colour": "states",
    "cache_dir": "cache", "cache_key": "cache", "configuration_map": "cache",
    "configuration_map_with_key": "cache", "pcn_map": "cache", "pcn_map_with_key": "cache",
    "state_map_with_key": "cache",
    "COLUMNS": "export", "areas_geodataframe": "export", "export_geojson": "export", "export_gpkg": "export",
    "export_png": "export", "render_png": "export",
}
_SUBMODULES = frozenset(_HOME.values())

__all__ = [
    "BNG", "COLUMNS", "DECIMALS", "ERROR_OUTLINE", "LABEL_VERSION", "LA_LINE", "MAP_FORMAT", "OUTLINE", "PLACE_LINE",
    "STATE_COLOURS", "WGS84", "BlockRow", "Html", "LocalMap", "MapRow", "MapUnavailable", "MemberRow", "PairRow",
    "PcnMapFacts", "adjacent_pairs", "areas_geodataframe", "boundaries", "build_configuration_map", "build_pcn_map",
    "build_state_map", "cache_dir", "cache_key", "collection", "colours", "configuration_map",
    "configuration_map_with_key", "display_geometries", "export_geojson", "export_gpkg", "export_png", "feature",
    "label_point", "latlng_bounds", "legend", "map_rows", "map_response_csp", "new_map", "pcn_areas", "pcn_facts",
    "pcn_href", "pcn_map", "pcn_map_with_key", "practice_radius", "render_png", "state_colour", "state_map_with_key",
    "swatch", "text", "thousands", "tooltip", "unknown_blocks",
]


def __getattr__(name: str):
    """``maps.<name>``: imports the submodule that defines it (once) and keeps the name here;
    ``maps.<submodule>`` (e.g. ``maps.cache``) imports that submodule."""
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME) | _SUBMODULES)

