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
"""

from .cache import (
    cache_dir,
    cache_key,
    configuration_map,
    configuration_map_with_key,
    pcn_map,
    pcn_map_with_key,
    state_map_with_key,
)
from .display import (
    BNG,
    DECIMALS,
    ERROR_OUTLINE,
    LA_LINE,
    OUTLINE,
    PLACE_LINE,
    WGS84,
    collection,
    display_geometries,
    feature,
    latlng_bounds,
    practice_radius,
    text,
    thousands,
)
from .export import COLUMNS, areas_geodataframe, export_geojson, export_gpkg, export_png, render_png
from .render import (
    LABEL_VERSION,
    MAP_FORMAT,
    Html,
    LocalMap,
    build_configuration_map,
    build_pcn_map,
    label_point,
    legend,
    map_response_csp,
    new_map,
    pcn_href,
    swatch,
    tooltip,
)
from .rows import (
    BlockRow,
    MapRow,
    MapUnavailable,
    MemberRow,
    PairRow,
    PcnMapFacts,
    adjacent_pairs,
    boundaries,
    colours,
    map_rows,
    pcn_areas,
    pcn_facts,
    unknown_blocks,
)
from .states import STATE_COLOURS, build_state_map, state_colour

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
