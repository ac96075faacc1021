"""Maps of a round (folium/Leaflet), the tables that carry the same facts, and the exports of
PCN areas (GeoJSON, GeoPackage, a static PNG for committee papers).

No request to another host
    The maps load Leaflet 1.9.4 from pcnreg itself (``/assets/leaflet/``, npm package pinned in
    package.json) and nothing else: no jQuery, Bootstrap, icon fonts, web fonts or CDN. Only
    GeoJson, CircleMarker, FeatureGroup/LayerControl, plain-HTML tooltips and an HTML legend are
    used, because other folium elements pull scripts from CDNs. A basemap is optional and off by
    default: set the app config ``MAP_TILE_URL`` (a Leaflet tile URL template) and
    ``MAP_TILE_ATTRIBUTION`` to draw one. ``map_response_csp`` gives the Content-Security-Policy
    the map views send, so a browser refuses any other host as well.

Geometry
    Areas and boundaries are stored in EPSG:27700 (metres). Maps draw them simplified with
    ``shapely.simplify(geom, MAP_SIMPLIFY_METRES, preserve_topology=True)``: Douglas-Peucker with
    a tolerance of 25 m (``pcnreg.domain.geometry.MAP_SIMPLIFY_METRES``), so no drawn boundary is
    more than 25 m from the stored one, and a polygon keeps its rings (no part vanishes, no
    self-intersection). Each polygon is simplified on its own: where two PCNs share a border the
    two simplified lines can differ by up to 25 m (slivers visible only at street zoom). The
    simplified geometry is then transformed to EPSG:4326 and rounded to 5 decimal places (about
    1 m). Exports and the PNG use the stored, unsimplified geometry.

Cache
    The map HTML is written to ``<instance>/map-cache/`` and served from there until its inputs
    change. The file name carries the map's kind, round and PCN and a sha256 of everything the
    map shows (``_cache_key``): the round's head configuration version, the installed geodata
    (``areas.geodata_key()``), the PCN areas (count, newest ``built_at`` and the fingerprints of
    their blocks, so a block move counts), band exceptions, list sizes, practice names, status
    and locations, local authorities and places, the round's band, the basemap settings and
    ``MAP_FORMAT``. Writing a new file removes the older files of the same map.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import html
import io
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import Element, MacroElement
from flask import current_app, url_for
from folium.template import Template
from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased

from ..domain import labels
from ..domain.geometry import ADJACENCY_BUFFER_METRES, MAP_SIMPLIFY_METRES, shares
from ..domain.palette import PALETTE, PALETTE_VERSION, assign_colours, pcn_adjacency, text_colour
from ..extensions import db
from ..models import (
    AdjacentPair,
    Block,
    BlockAssignment,
    Commissioner,
    ListSize,
    LocalAuthority,
    PcnArea,
    Place,
    Practice,
    RegistrationRound,
    SizeException,
)
from . import areas
from . import rounds as rounds_svc
from .pages import pcn_row

MAP_FORMAT = 2                      # bump when the map builders change: every cached map is rebuilt
LABEL_VERSION = 1                   # of the PCN name labels (maps and PNG); part of the cache key
LEAFLET_JS = "/assets/leaflet/leaflet.js"
LEAFLET_CSS = "/assets/leaflet/leaflet.css"
BNG, WGS84 = 27700, 4326
DECIMALS = 5                        # of displayed coordinates (about 1 m)
FIT_PADDING_PX = 12                 # around the subject when a map is fitted to it

ERROR_OUTLINE = "#d5281b"           # NHS red: a PCN with at least one error finding
OUTLINE = "#425563"                 # NHS dark grey
LA_LINE = "#212b32"
PLACE_LINE = "#005eb8"              # NHS blue
BAND_TEXT = {"in_band": "in band", "below": "below band", "above": "above band"}
ATTRIBUTION = "Boundaries: ONS, contains OS data &copy; Crown copyright and database right. OGL v3.0"
PNG_ATTRIBUTION = ("Boundaries: Source: Office for National Statistics licensed under the Open Government Licence "
                   "v.3.0. Contains OS data © Crown copyright and database right 2021.\nPractice locations: OS "
                   "Code-Point Open (contains OS data © Crown copyright and database right); practices and list "
                   "sizes: NHS Digital.\nContains public sector information licensed under the Open Government "
                   "Licence v3.0.")


class MapUnavailable(LookupError):
    """There is no geodata for the round (or no area to draw): the pages show a notice instead."""


def colours(keys, geography=None) -> dict[str, str]:
    """PCN key -> fill colour: graph colouring over PCN adjacency (``domain.palette``), so
    neighbouring PCNs never share a colour. Neighbours: the block adjacency the geographic rules
    use (with 'treat as adjacent' pairs); a PCN whose area is an uploaded polygon also neighbours
    every area within the adjacency distance of it. Without geography no PCN has neighbours and
    the colours are taken in turn."""
    keys = list(keys)
    if geography is None:
        ordered = sorted(keys, key=_key_order)
        return {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(ordered)}
    return assign_colours(keys, _pcn_neighbours(keys, geography))


def _pcn_neighbours(keys, geo) -> dict[str, set[str]]:
    wanted = set(keys)
    pcn_blocks = {k: v for k, v in geo.pcn_blocks.items() if k in wanted}
    extra = []
    uploaded = [k for k in wanted if geo.pcn_area_source.get(k) == "upload" and k in geo.pcn_areas]
    for k in uploaded:
        area = geo.pcn_areas[k]
        for other, geom in geo.pcn_areas.items():
            if other != k and other in wanted and not geom.is_empty and not area.is_empty and \
                    area.distance(geom) <= ADJACENCY_BUFFER_METRES:
                extra.append((k, other))
    return pcn_adjacency(pcn_blocks, geo.block_neighbours, extra)


def _key_order(key: str):
    return (0, int(key), "") if str(key).isdigit() else (1, 0, str(key))


def _text(value) -> str:
    """Escaped for HTML that folium places inside a JavaScript template literal."""
    return html.escape(str(value)).replace("`", "&#96;").replace("$", "&#36;").replace("\\", "&#92;")


def _thousands(value) -> str:
    return "not known" if value is None else f"{value:,}"


# --- what the maps and the tables show ----------------------------------------------------------

@dataclass
class MapRow:
    """One PCN: the facts its map shows, for the accessible table beside the map."""

    key: str
    name: str
    code: str | None
    place: str | None
    lead_commissioner: str | None
    members: int
    total: int
    band: str
    errors: int
    warnings: int
    colour: str
    area_km2: float | None = None
    source: str | None = None
    local_authorities: list[str] = field(default_factory=list)   # "Gedling (82.1%)", largest share first

    @property
    def band_text(self) -> str:
        return BAND_TEXT.get(self.band, self.band)

    @property
    def local_authorities_text(self) -> str:
        return ", ".join(self.local_authorities) or "none"


def map_rows(data: rounds_svc.RoundData) -> list[MapRow]:
    """Per PCN (in the configuration's order, by name): the facts the configuration map shows.
    Area and local authorities only with geodata; a local authority is listed when at least
    0.1% of the PCN's area lies in it (the threshold of the ``pcn_local_authorities`` rule)."""
    geo = data.config.geography
    palette = colours((p.key for p in data.config.pcns), geo)
    la_geoms = {code: geom for code, (_, geom, _) in geo.local_authorities.items()} if geo else {}
    la_names = {code: name for code, (name, _, _) in geo.local_authorities.items()} if geo else {}
    rows = []
    for pcn in data.config.pcns:
        r = pcn_row(data, pcn.key)
        row = MapRow(pcn.key, pcn.name, pcn.code, pcn.place, pcn.lead_commissioner, r.members, r.total,
                     r.band, r.errors, r.warnings, palette[pcn.key])
        area = geo.pcn_areas.get(pcn.key) if geo else None
        if area is not None and not area.is_empty:
            row.area_km2 = round(area.area / 1e6, 1)
            row.source = geo.pcn_area_source.get(pcn.key)
            share = sorted(((v, c) for c, v in shares(area, la_geoms).items() if v >= 0.001), reverse=True)
            row.local_authorities = [f"{la_names[c]} ({100 * v:.1f}%)" for v, c in share]
        rows.append(row)
    return rows


@dataclass
class BlockRow:
    code: str
    name: str
    population: int | None
    local_authority: str | None
    method: str                         # 'nearest' or 'manual'


@dataclass
class MemberRow:
    code: str
    name: str
    list_size: int | None
    located: bool


@dataclass
class PcnMapFacts:
    """The facts of one PCN's map: its row, blocks, members and neighbouring PCNs."""

    row: MapRow
    blocks: list[BlockRow]
    members: list[MemberRow]
    neighbours: list[MapRow]
    has_area: bool


def pcn_facts(data: rounds_svc.RoundData, key: str, rows: list[MapRow] | None = None) -> PcnMapFacts:
    """The tables of a PCN's map. Neighbours: PCNs whose area touches this one's (within the
    adjacency distance, ``ADJACENCY_BUFFER_METRES``)."""
    rows = rows if rows is not None else map_rows(data)
    by_key = {r.key: r for r in rows}
    rnd = data.round
    blocks = [BlockRow(code, name, population, la, method) for code, name, population, la, method in db.session.execute(
        select(Block.code, Block.name, Block.population, LocalAuthority.name, BlockAssignment.method)
        .join(BlockAssignment, BlockAssignment.block_id == Block.id)
        .outerjoin(LocalAuthority, Block.local_authority_id == LocalAuthority.id)
        .where(BlockAssignment.round_id == rnd.id, BlockAssignment.pcn_id == int(key))
        .order_by(Block.code))]
    pcn = data.pcn_data(key)
    data.practices.preload(pcn.members)         # one query for the members' models
    members = []
    for code in pcn.members:
        practice = data.config.practices.get(code)
        model = data.practices.get(code)
        members.append(MemberRow(code, practice.name if practice else code,
                                 practice.list_size if practice else None,
                                 bool(model is not None and model.latitude is not None and model.longitude is not None)))
    geo = data.config.geography
    area = geo.pcn_areas.get(key) if geo else None
    neighbours = []
    if area is not None and not area.is_empty:
        for other, geom in geo.pcn_areas.items():
            if other != key and other in by_key and not geom.is_empty and \
                    area.distance(geom) <= ADJACENCY_BUFFER_METRES:
                neighbours.append(by_key[other])
    neighbours.sort(key=lambda r: (r.name.casefold(), r.key))
    return PcnMapFacts(by_key[key], blocks, members, neighbours, area is not None and not area.is_empty)


@dataclass
class PairRow:
    """Two blocks treated as adjacent; ``code_a`` is a block of the PCN the table is for."""

    code_a: str
    name_a: str
    code_b: str
    name_b: str
    reason: str
    recorded_by: str
    recorded_at: dt.datetime


def adjacent_pairs(rnd: RegistrationRound, key: str) -> list[PairRow]:
    """The 'treat as adjacent' pairs with at least one block in the PCN (in this round), oldest
    first, the PCN's own block first in each pair."""
    own = set(db.session.scalars(select(BlockAssignment.block_id).where(
        BlockAssignment.round_id == rnd.id, BlockAssignment.pcn_id == int(key))))
    if not own:
        return []
    a, b = aliased(Block), aliased(Block)
    rows = db.session.execute(
        select(a.id, a.code, a.name, b.code, b.name, AdjacentPair.reason, AdjacentPair.recorded_by,
               AdjacentPair.recorded_at)
        .join(a, a.id == AdjacentPair.block_a_id).join(b, b.id == AdjacentPair.block_b_id)
        .where(a.system_id == rnd.system_id,
               or_(AdjacentPair.block_a_id.in_(own), AdjacentPair.block_b_id.in_(own)))
        .order_by(AdjacentPair.recorded_at, AdjacentPair.id)).all()
    out = []
    for a_id, code_a, name_a, code_b, name_b, reason, by, at in rows:
        if a_id not in own:
            code_a, name_a, code_b, name_b = code_b, name_b, code_a, name_a
        out.append(PairRow(code_a, name_a, code_b, name_b, reason, by, at))
    return out


def unknown_blocks(rnd: RegistrationRound, codes: list[str]) -> list[str]:
    """The codes among ``codes`` that name no block of the round's system, in the given order."""
    known = set(db.session.scalars(select(Block.code).where(Block.system_id == rnd.system_id,
                                                            Block.code.in_(codes))))
    return [c for c in dict.fromkeys(codes) if c not in known]


# --- geometry for display ---------------------------------------------------------------------------

def display_geometries(geoms) -> list:
    """Stored EPSG:27700 geometries -> simplified (MAP_SIMPLIFY_METRES, topology preserved),
    EPSG:4326, coordinates rounded to DECIMALS places."""
    if not len(geoms):
        return []
    simplified = shapely.simplify(np.asarray(list(geoms), dtype=object), MAP_SIMPLIFY_METRES, preserve_topology=True)
    wgs = gpd.GeoSeries(simplified, crs=BNG).to_crs(WGS84)
    return list(shapely.transform(np.asarray(list(wgs), dtype=object), lambda c: np.round(c, DECIMALS)))


def _feature(geom, fid: str, props: dict) -> dict:
    return {"type": "Feature", "id": fid, "properties": props, "geometry": shapely.geometry.mapping(geom)}


def _collection(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


def _bounds(geoms) -> list[list[float]] | None:
    geoms = [g for g in geoms if g is not None and not g.is_empty]
    if not geoms:
        return None
    minx, miny, maxx, maxy = shapely.total_bounds(np.asarray(geoms, dtype=object))
    return [[float(miny), float(minx)], [float(maxy), float(maxx)]]


# --- folium elements ------------------------------------------------------------------------------------

class LocalMap(folium.Map):
    """A folium Map whose only scripts and styles are the Leaflet files pcnreg serves."""

    default_js = [("leaflet", LEAFLET_JS)]
    default_css = [("leaflet_css", LEAFLET_CSS)]


class _Html(MacroElement):
    """Plain HTML placed in the page beside the map (the legend)."""

    _template = Template("""
        {% macro html(this, kwargs) %}{{ this.markup }}{% endmacro %}
    """)

    def __init__(self, markup: str):
        super().__init__()
        self._name = "Legend"
        self.markup = markup


class _Attribution(MacroElement):
    """Sets the attribution text (no link to leafletjs.com: the prefix is plain text)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            {{ this._parent.get_name() }}.attributionControl.setPrefix("Leaflet");
            {{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.text|tojson }});
        {% endmacro %}
    """)

    def __init__(self, text: str):
        super().__init__()
        self._name = "Attribution"
        self.text = text


def _script_json(value) -> str:
    """JSON for a script element: no character of it can end the script or start a template
    literal's substitution (names are user input)."""
    text = json.dumps(value, ensure_ascii=True)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("$", "\\u0024"), ("`", "\\u0060")):
        text = text.replace(ch, esc)
    return text


def pcn_href(rnd: RegistrationRound, key: str) -> str:
    """The path of a PCN's page (also outside a request, for cached maps built by the CLI)."""
    try:
        return url_for("main.pcn", round_id=rnd.id, pcn_id=int(key))
    except (RuntimeError, ValueError):
        return f"/rounds/{rnd.id}/pcns/{key}"


def label_point(geom):
    """Where a PCN's name goes: the pole of inaccessibility of its largest part (the point
    farthest from the boundary, so a name sits well inside even a crescent-shaped area), to
    about 1% of that part's size. EPSG:27700 in, a point in the same CRS out."""
    from shapely.ops import polylabel

    if geom is None or geom.is_empty:
        return None
    part = max(getattr(geom, "geoms", [geom]), key=lambda g: g.area)
    if part.geom_type != "Polygon":
        return geom.representative_point()
    minx, miny, maxx, maxy = part.bounds
    try:
        return polylabel(part, tolerance=max(10.0, 0.01 * max(maxx - minx, maxy - miny)))
    except Exception:   # noqa: BLE001 - a degenerate ring: fall back to a point surely inside
        return part.representative_point()


@dataclass
class Label:
    """A PCN's name on a map: where it goes (EPSG:4326), the bounds of its area (to hide the
    name when the area is drawn too small for it), the page it links to."""

    key: str
    name: str
    lat: float
    lng: float
    bounds: list[list[float]]
    href: str
    total: str
    band: str
    main: bool = False

    def as_json(self) -> dict:
        return {"key": self.key, "name": self.name, "lat": self.lat, "lng": self.lng, "b": self.bounds,
                "href": self.href, "total": self.total, "band": self.band, "main": self.main}


def _labels(rnd: RegistrationRound, rows_stored: list[tuple[MapRow, object]], main: str | None = None) -> list[Label]:
    """Labels of PCN areas (stored EPSG:27700 geometry), largest area first: the declutter
    keeps the larger areas' names when two would overlap (the main PCN's first of all)."""
    items = [(row, geom) for row, geom in rows_stored if geom is not None and not geom.is_empty]
    if not items:
        return []
    points = [label_point(g) for _, g in items]
    boxes = [shapely.box(*g.bounds) for _, g in items]
    wgs = gpd.GeoSeries(points + boxes, crs=BNG).to_crs(WGS84)
    out = []
    for i, (row, geom) in enumerate(items):
        pt, box = wgs.iloc[i], wgs.iloc[len(items) + i]
        minx, miny, maxx, maxy = box.bounds
        out.append(Label(row.key, row.name, round(pt.y, DECIMALS), round(pt.x, DECIMALS),
                         [[round(miny, DECIMALS), round(minx, DECIMALS)], [round(maxy, DECIMALS), round(maxx, DECIMALS)]],
                         pcn_href(rnd, row.key), _thousands(row.total), row.band_text, row.key == main))
    area = {row.key: geom.area for row, geom in items}
    out.sort(key=lambda lb: (not lb.main, -area[lb.key], lb.key))
    return out


class _Interact(MacroElement):
    """PCN names on the map and what a click does.

    Names: one label per PCN at its label point, a link to the PCN's page. After every zoom or
    move the labels are decluttered: a name is shown only when its area is drawn at least about
    as wide as the name, and no larger area's name (or the main PCN's) is already where it would
    go. Click on a PCN area: a popup with its name, registered patients, band and a link to its
    page; the page around the map (same origin) is told which PCN was chosen, so it can
    highlight that PCN's row in its table. The map is fitted to its subject again when its
    frame changes size (until the user has zoomed or moved it)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
          var map = {{ this._parent.get_name() }};
          var labels = {{ this.labels_json }};
          var areaLayers = [{% for name in this.layer_names %}{{ name }}{% if not loop.last %}, {% endif %}{% endfor %}];
          var fit = {{ this.fit_json }};
          var byKey = {};
          var group = L.layerGroup().addTo(map);
          var items = labels.map(function (l) {
            byKey[l.key] = l;
            var a = document.createElement('a');
            a.href = l.href; a.target = '_top'; a.textContent = l.name;
            a.className = 'pcnreg-label__text';
            var icon = L.divIcon({className: 'pcnreg-label' + (l.main ? ' pcnreg-label--main' : ''), html: a, iconSize: null});
            var marker = L.marker([l.lat, l.lng], {icon: icon, keyboard: false, interactive: true}).addTo(group);
            return {l: l, marker: marker, bounds: L.latLngBounds(l.b)};
          });
          function overlaps(r, p) {
            return !(r.right + 2 < p.left || p.right + 2 < r.left || r.bottom + 1 < p.top || p.bottom + 1 < r.top);
          }
          function declutter() {
            var placed = [];
            items.forEach(function (it) {
              var el = it.marker.getElement();
              if (!el) { return; }
              el.style.display = '';
              var text = el.firstChild;
              var r = text.getBoundingClientRect();
              var nw = map.latLngToContainerPoint(it.bounds.getNorthWest());
              var se = map.latLngToContainerPoint(it.bounds.getSouthEast());
              var show = it.l.main || ((se.x - nw.x) >= 0.8 * r.width && (se.y - nw.y) >= 1.5 * r.height);
              for (var i = 0; show && !it.l.main && i < placed.length; i++) {
                if (overlaps(r, placed[i])) { show = false; }
              }
              if (show) { placed.push(r); } else { el.style.display = 'none'; }
            });
          }
          map.on('zoomend moveend resize', declutter);
          declutter();
          function chosen(key) {
            if (window.parent && window.parent !== window) {
              try { window.parent.postMessage({type: 'pcnreg:pcn', key: key}, window.location.origin); } catch (e) { /* no page around */ }
            }
          }
          function popup(l) {
            var box = document.createElement('div');
            var name = document.createElement('strong');
            name.textContent = l.name;
            var facts = document.createElement('p');
            facts.textContent = l.total + ' registered patients, ' + l.band;
            var link = document.createElement('a');
            link.href = l.href; link.target = '_top';
            link.textContent = 'Open the page of ' + l.name;
            box.appendChild(name); box.appendChild(facts); box.appendChild(link);
            return box;
          }
          areaLayers.forEach(function (g) {
            g.eachLayer(function (layer) {
              var p = layer.feature && layer.feature.properties;
              if (!p || p.kind !== 'pcn_area' || !byKey[p.key]) { return; }
              layer.on('click', function (e) {
                chosen(p.key);
                L.popup({className: 'pcnreg-popup'}).setLatLng(e.latlng).setContent(popup(byKey[p.key])).openOn(map);
              });
            });
          });
          var touched = false;
          map.on('zoomstart movestart', function () { if (!map._pcnregFitting) { touched = true; } });
          map.on('resize', function () {
            var size = map.getSize();
            if (fit && !touched && size.x > 0 && size.y > 0) {   /* a frame of no size (closing, hidden): no fit */
              map._pcnregFitting = true;
              map.fitBounds(fit, {padding: [{{ this.padding }}, {{ this.padding }}], animate: false});
              map._pcnregFitting = false;
            }
          });
        })();
        {% endmacro %}
    """)

    def __init__(self, labels: list[Label], layers: list, fit):
        super().__init__()
        self._name = "PcnLabels"
        self.labels_json = _script_json([lb.as_json() for lb in labels])
        self.layer_names = [layer.get_name() for layer in layers]
        self.fit_json = _script_json(fit)
        self.padding = FIT_PADDING_PX


STYLE = """<style>
  html, body { background: #f0f4f5; }
  .folium-map.leaflet-container { background: #f0f4f5; font-family: Arial, Helvetica, sans-serif; font-size: 14px; }
  .pcnreg-legend { position: fixed; bottom: 44px; left: 10px; z-index: 1000; width: 16rem; max-width: calc(100% - 40px);
    max-height: calc(100% - 130px); overflow: auto; box-sizing: border-box; background: #fff;
    border: 2px solid rgba(0,0,0,0.2); border-radius: 4px; padding: 6px 8px;
    font: 12px/1.3 Arial, Helvetica, sans-serif; color: #212b32; }
  .pcnreg-legend summary { font-weight: bold; cursor: pointer; }
  .pcnreg-legend ul { list-style: none; margin: 4px 0; padding: 0; }
  .pcnreg-legend li { margin: 2px 0; display: flex; align-items: center; gap: 6px; }
  .pcnreg-legend .sw { display: inline-block; flex: none; width: 16px; height: 12px; box-sizing: border-box; }
  .pcnreg-legend .ln { display: inline-block; flex: none; width: 16px; height: 0; }
  .pcnreg-legend .dot { display: inline-block; flex: none; border-radius: 50%; border: 1px solid #212b32; background: #fff; }
  .pcnreg-legend h2 { font-size: 12px; margin: 6px 0 2px; }
  .pcnreg-legend:not([open]) { width: auto; }
  .leaflet-interactive:focus { outline: none; }
  .pcnreg-label { background: none; border: 0; width: 0 !important; height: 0 !important; }
  .pcnreg-label__text { position: absolute; left: 0; top: 0; transform: translate(-50%, -50%); width: max-content;
    max-width: 9em; text-align: center; font: bold 12px/1.15 Arial, Helvetica, sans-serif; color: #212b32;
    text-decoration: none; text-shadow: 0 0 2px #fff, 0 0 2px #fff, 0 0 3px #fff, 0 0 4px #fff; }
  .leaflet-container a.pcnreg-label__text { color: #212b32; }
  .leaflet-container a.pcnreg-label__text:hover, .leaflet-container a.pcnreg-label__text:focus { text-decoration: underline; color: #003087; }
  .pcnreg-label--main .pcnreg-label__text { font-size: 15px; max-width: 12em; }
  .pcnreg-popup a { color: #005eb8; }
  .pcnreg-popup p { margin: 4px 0; }
</style>"""


def _new_map(bounds) -> LocalMap:
    url = current_app.config.get("MAP_TILE_URL") or None
    m = LocalMap(location=None, tiles=None, control_scale=True, zoom_snap=0.25)
    if url:
        folium.TileLayer(url, attr=current_app.config.get("MAP_TILE_ATTRIBUTION") or "Basemap", name="Basemap",
                         overlay=False, control=False).add_to(m)
    m.get_root().header.add_child(Element(STYLE), name="pcnreg_style")
    _Attribution(ATTRIBUTION).add_to(m)
    if bounds:   # the subject fills the map: the legend starts collapsed
        m.fit_bounds(bounds, padding=(FIT_PADDING_PX, FIT_PADDING_PX))
    return m


def _tooltip(fields: list[str], aliases: list[str]) -> folium.GeoJsonTooltip:
    return folium.GeoJsonTooltip(fields=fields, aliases=aliases, sticky=True)


def _area_props(row: MapRow) -> dict:
    """Tooltip values, escaped here: folium's tooltips insert them as HTML."""
    return {"kind": "pcn_area", "key": row.key, "name": _text(row.name), "total": _thousands(row.total),
            "band": _text(row.band_text), "errors": row.errors, "warnings": row.warnings}


AREA_OPACITY = 0.8                  # the palette is light: the fill shows its colour, names stay readable


def _area_style(row: MapRow, fill_opacity: float = AREA_OPACITY) -> dict:
    if row.errors:
        return {"fillColor": row.colour, "fillOpacity": fill_opacity, "color": ERROR_OUTLINE, "weight": 3, "opacity": 1}
    return {"fillColor": row.colour, "fillOpacity": fill_opacity, "color": OUTLINE, "weight": 1, "opacity": 0.9}


def _add_areas(group, rows_geoms: list[tuple[MapRow, object]], fill_opacity: float = AREA_OPACITY):
    """The PCN areas as one GeoJson layer of ``group`` (returned; None when there is none)."""
    if not rows_geoms:
        return None
    styles = {row.key: _area_style(row, fill_opacity) for row, _ in rows_geoms}
    return folium.GeoJson(
        _collection([_feature(g, f"pcn-{row.key}", _area_props(row)) for row, g in rows_geoms]),
        style_function=lambda f: styles[f["properties"]["key"]],
        highlight_function=lambda f: {"weight": styles[f["properties"]["key"]]["weight"] + 2,
                                      "fillOpacity": min(1.0, fill_opacity + 0.2)},
        tooltip=_tooltip(["name", "total", "band", "errors", "warnings"],
                         ["PCN", "Registered patients", "Band", "Errors", "Warnings"]),
    ).add_to(group)


def _boundaries(rnd: RegistrationRound) -> tuple[list[tuple[str, str, object]], list[tuple[str, object]]]:
    """Local authorities with a boundary, of the round's system (by place or by its blocks), as
    (code, name, geometry); and the places as (name, union of their local authorities)."""
    block_las = select(Block.local_authority_id).where(Block.system_id == rnd.system_id,
                                                       Block.local_authority_id.is_not(None)).distinct()
    la_places = areas.la_place_ids(rnd.system_id)
    rows = db.session.execute(
        select(LocalAuthority.code, LocalAuthority.name, LocalAuthority.id, LocalAuthority.geometry)
        .where(LocalAuthority.geometry.is_not(None))
        .where(LocalAuthority.id.in_(block_las) | LocalAuthority.id.in_(list(la_places)))
        .order_by(LocalAuthority.name)).all()
    rows = [(code, name, la_places.get(la_id), wkb) for code, name, la_id, wkb in rows]
    las = [(code, name, areas.from_wkb(wkb)) for code, name, _, wkb in rows]
    place_names = dict(db.session.execute(select(Place.id, Place.name).where(Place.system_id == rnd.system_id)).all())
    grouped: dict[str, list] = {}
    for (_, _, place_id, _), (_, _, geom) in zip(rows, las):
        if place_id in place_names:
            grouped.setdefault(place_names[place_id], []).append(geom)
    places = [(name, shapely.union_all(geoms)) for name, geoms in sorted(grouped.items())]
    return las, places


def _add_boundaries(m, rnd: RegistrationRound) -> None:
    las, places = _boundaries(rnd)
    if las:
        group = folium.FeatureGroup(name="Local authority boundaries", show=True)
        geoms = display_geometries([g for _, _, g in las])
        folium.GeoJson(
            _collection([_feature(g, f"la-{code}", {"kind": "local_authority", "name": _text(name)})
                         for (code, name, _), g in zip(las, geoms)]),
            style_function=lambda f: {"fill": False, "color": LA_LINE, "weight": 1.5, "dashArray": "6 4", "opacity": 0.9},
            tooltip=_tooltip(["name"], ["Local authority"]),
        ).add_to(group)
        group.add_to(m)
    if places:
        group = folium.FeatureGroup(name="Place boundaries", show=True)
        geoms = display_geometries([g for _, g in places])
        folium.GeoJson(
            _collection([_feature(g, f"place-{i}", {"kind": "place", "name": _text(name)})
                         for i, ((name, _), g) in enumerate(zip(places, geoms))]),
            style_function=lambda f: {"fill": False, "color": PLACE_LINE, "weight": 3.5, "opacity": 0.8},
            tooltip=_tooltip(["name"], ["Place"]),
        ).add_to(group)
        group.add_to(m)


def practice_radius(list_size: int | None) -> float:
    """Marker radius in pixels, proportional to the square root of the list size (so the
    circle's area is proportional to the patients): 5 px for 10,000 patients; 2 px at least."""
    if not list_size:
        return 2.0
    return round(max(2.0, 0.05 * math.sqrt(list_size)), 1)


def _practice_points(data: rounds_svc.RoundData, codes) -> list[tuple[str, float, float]]:
    out = []
    codes = list(codes)
    data.practices.preload(codes)
    for code in codes:
        model = data.practices.get(code)
        if model is not None and model.latitude is not None and model.longitude is not None:
            out.append((code, round(model.latitude, DECIMALS), round(model.longitude, DECIMALS)))
    return out


def _add_practices(m, data: rounds_svc.RoundData, codes, palette: dict[str, str], name: str) -> int:
    pcn_of = {code: p for p in data.config.pcns for code in p.members}
    group = folium.FeatureGroup(name=name, show=True)
    points = _practice_points(data, codes)
    # Largest first, so small circles stay on top and can be pointed at.
    points.sort(key=lambda p: -(data.config.practices[p[0]].list_size or 0) if p[0] in data.config.practices else 0)
    for code, lat, lon in points:
        practice = data.config.practices.get(code)
        pcn = pcn_of.get(code)
        size = practice.list_size if practice else None
        tip = (f"<strong>{_text(code)} {_text(practice.name if practice else '')}</strong><br>"
               f"{_thousands(size)} registered patients<br>"
               f"PCN: {_text(pcn.name) if pcn else 'not in a PCN'}"
               + (f"<br>Status: {_text(practice.status)}" if practice and practice.status != 'open' else ""))
        folium.CircleMarker(
            location=(lat, lon), radius=practice_radius(size), color=LA_LINE, weight=1, opacity=1,
            fill=True, fill_color=palette.get(pcn.key, "#ffffff") if pcn else "#ffffff", fill_opacity=0.9,
            tooltip=folium.Tooltip(tip, sticky=True),
        ).add_to(group)
    group.add_to(m)
    return len(points)


def _legend(title: str, sections: list[tuple[str, list[str]]]) -> str:
    parts = [f'<details class="pcnreg-legend"><summary>{_text(title)}</summary>']
    for heading, items in sections:
        if heading:
            parts.append(f"<h2>{_text(heading)}</h2>")
        parts.append("<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>")
    parts.append("</details>")
    return "".join(parts)


def _swatch(fill: str, outline: str = OUTLINE, width: int = 1, opacity: float = 0.6) -> str:
    return (f'<span class="sw" style="background:{fill};opacity:{opacity};border:{width}px solid {outline}"'
            ' aria-hidden="true"></span>')


def _symbol_items(with_la: bool, with_place: bool) -> list[str]:
    items = [f'{_swatch("#ffffff", ERROR_OUTLINE, 3, 1)} Red outline: PCN with errors']
    if with_place:
        items.append(f'<span class="ln" style="border-top:3.5px solid {PLACE_LINE}" aria-hidden="true"></span> Place boundary')
    if with_la:
        items.append(f'<span class="ln" style="border-top:1.5px dashed {LA_LINE}" aria-hidden="true"></span> '
                     "Local authority boundary")
    items.append('<span class="dot" style="width:8px;height:8px" aria-hidden="true"></span>'
                 '<span class="dot" style="width:14px;height:14px" aria-hidden="true"></span> '
                 "Practice, area by registered patients (white: not in a PCN)")
    return items


# --- the two maps ------------------------------------------------------------------------------------

def _pcn_areas(rnd: RegistrationRound) -> dict[str, object]:
    return {str(pcn_id): areas.from_wkb(wkb) for pcn_id, wkb in db.session.execute(
        select(PcnArea.pcn_id, PcnArea.geometry).where(PcnArea.round_id == rnd.id))}


def build_configuration_map(rnd: RegistrationRound) -> str:
    """The configuration map of a round, as a complete HTML document (not cached)."""
    if not areas.has_geodata(rnd):
        raise MapUnavailable("No geodata is installed")
    data = rounds_svc.build_configuration(rnd)
    rows = map_rows(data)
    stored = _pcn_areas(rnd)
    drawn = [(r, stored[r.key]) for r in rows if r.key in stored and not stored[r.key].is_empty]
    geoms = display_geometries([g for _, g in drawn])
    rows_geoms = list(zip([r for r, _ in drawn], geoms))
    codes = sorted(data.config.practices)
    m = _new_map(_bounds(geoms) or _bounds(display_geometries([g for _, _, g in _boundaries(rnd)[0]])))
    group = folium.FeatureGroup(name="PCN areas", show=True)
    layer = _add_areas(group, rows_geoms)
    group.add_to(m)
    _add_boundaries(m, rnd)
    palette = {r.key: r.colour for r in rows}
    _add_practices(m, data, codes, palette, "Practices")
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    _Interact(_labels(rnd, drawn), [layer] if layer else [], _bounds(geoms)).add_to(m)
    pcn_items = [f'{_swatch(r.colour, ERROR_OUTLINE if r.errors else OUTLINE, 3 if r.errors else 1)} {_text(r.name)}'
                 + (" (no area)" if r.key not in stored else "") for r in rows]
    _Html(_legend(f"Legend: {rnd.name}", [("", _symbol_items(True, True)), ("PCNs", pcn_items)])).add_to(m)
    return m.get_root().render()


def build_pcn_map(rnd: RegistrationRound, key: str) -> str:
    """The map of one PCN: its area and blocks, its member practices and its neighbours."""
    if not areas.has_geodata(rnd):
        raise MapUnavailable("No geodata is installed")
    data = rounds_svc.build_configuration(rnd)
    rows = map_rows(data)
    facts = pcn_facts(data, key, rows)
    row = facts.row
    stored = _pcn_areas(rnd)
    area = stored.get(key)
    block_rows = facts.blocks
    block_geoms = dict(db.session.execute(select(Block.code, Block.geometry).where(
        Block.code.in_([b.code for b in block_rows]), Block.system_id == rnd.system_id)).all()) if block_rows else {}
    neighbours = [(n, stored[n.key]) for n in facts.neighbours if n.key in stored]

    own = display_geometries([area]) if area is not None and not area.is_empty else []
    neighbour_geoms = display_geometries([g for _, g in neighbours])
    blocks_drawn = [b for b in block_rows if b.code in block_geoms]
    block_display = display_geometries([areas.from_wkb(block_geoms[b.code]) for b in blocks_drawn])
    bounds = _bounds(own) or _bounds(display_geometries([g for _, _, g in _boundaries(rnd)[0]]))
    m = _new_map(bounds)

    layers = []
    if neighbour_geoms:
        group = folium.FeatureGroup(name="Neighbouring PCNs", show=True)
        layers.append(_add_areas(group, list(zip([n for n, _ in neighbours], neighbour_geoms)), fill_opacity=0.3))
        group.add_to(m)
    if own:
        group = folium.FeatureGroup(name=f"Area of {_text(row.name)}", show=True)   # the layer control shows names as HTML
        layers.append(_add_areas(group, [(row, own[0])], fill_opacity=0.6))
        group.add_to(m)
    if block_display:
        group = folium.FeatureGroup(name="Blocks of this PCN", show=True)
        folium.GeoJson(
            _collection([_feature(g, f"block-{b.code}", {
                "kind": "block", "code": _text(b.code), "name": _text(b.name),
                "population": _thousands(b.population), "la": _text(b.local_authority or "not known"),
                "method": "moved by hand" if b.method == "manual" else "nearest member practice"})
                for b, g in zip(blocks_drawn, block_display)]),
            style_function=lambda f: {"fill": True, "fillOpacity": 0.02, "fillColor": "#ffffff",
                                      "color": OUTLINE, "weight": 0.8, "opacity": 0.9},
            highlight_function=lambda f: {"weight": 2.5, "fillOpacity": 0.25},
            tooltip=_tooltip(["code", "name", "population", "la", "method"],
                             ["Block", "Name", "Population", "Local authority", "Assigned by"]),
        ).add_to(group)
        group.add_to(m)
    _add_boundaries(m, rnd)
    palette = {r.key: r.colour for r in rows}
    _add_practices(m, data, [mb.code for mb in facts.members], palette, "Member practices")
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    labelled = ([(row, area)] if own else []) + neighbours
    _Interact(_labels(rnd, labelled, main=key), [lay for lay in layers if lay is not None], bounds).add_to(m)
    items = [f'{_swatch(row.colour, ERROR_OUTLINE if row.errors else OUTLINE, 3 if row.errors else 1)} '
             f'{_text(row.name)}: {_thousands(row.total)} patients, {_text(row.band_text)}'
             + ("" if own else " (no area yet: no member practice with a location)"),
             f'{_swatch("#ffffff", OUTLINE, 1, 1)} Block (LSOA or ward) of this PCN']
    neighbour_items = [f'{_swatch(n.colour, ERROR_OUTLINE if n.errors else OUTLINE, 3 if n.errors else 1, 0.3)} '
                       f'{_text(n.name)}' for n, _ in neighbours]
    sections = [("", items + _symbol_items(True, True))]
    if neighbour_items:
        sections.append(("Neighbouring PCNs", neighbour_items))
    _Html(_legend(f"Legend: {row.name}", sections)).add_to(m)
    return m.get_root().render()


# --- cache ---------------------------------------------------------------------------------------------

def _digest(rows) -> str:
    return hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()


def _inputs(rnd: RegistrationRound) -> list:
    """What a map of the round is drawn from (see the module docstring), cheap to read."""
    area_rows = db.session.execute(select(PcnArea.pcn_id, PcnArea.source, PcnArea.fingerprint, PcnArea.built_at)
                                   .where(PcnArea.round_id == rnd.id).order_by(PcnArea.pcn_id)).all()
    built = max((r.built_at for r in area_rows), default=None)
    scope = select(Practice.id).join(Commissioner, Practice.commissioner_id == Commissioner.id).where(
        Commissioner.system_id == rnd.system_id)
    return [
        rnd.head_version_id, areas.geodata_key(),
        len(area_rows), built.isoformat() if built else None, _digest(area_rows),
        _digest(db.session.execute(select(SizeException.pcn_id, SizeException.recorded_at)
                                   .where(SizeException.round_id == rnd.id).order_by(SizeException.pcn_id))),
        tuple(db.session.execute(select(func.count(ListSize.id), func.max(ListSize.id))).one()),
        _digest(db.session.execute(select(Practice.code, Practice.name, Practice.status, Practice.latitude,
                                          Practice.longitude).where(Practice.id.in_(scope)).order_by(Practice.code))),
        _digest(db.session.execute(select(LocalAuthority.code, LocalAuthority.name,
                                          func.length(LocalAuthority.geometry)).order_by(LocalAuthority.code))),
        _digest(sorted(areas.la_place_ids(rnd.system_id).items())),
        _digest(db.session.execute(select(Place.id, Place.name).where(Place.system_id == rnd.system_id)
                                   .order_by(Place.id))),
        _digest(db.session.execute(select(AdjacentPair.block_a_id, AdjacentPair.block_b_id)
                                   .order_by(AdjacentPair.id))),      # neighbours decide the colours
        (rnd.name, rnd.band_min, rnd.band_max, rnd.reference_date.isoformat()),
    ]


def _cache_key(kind: str, rnd: RegistrationRound, pcn_key: str | None) -> str:
    parts = [MAP_FORMAT, PALETTE_VERSION, LABEL_VERSION, kind, rnd.id, pcn_key, *_inputs(rnd),
             current_app.config.get("MAP_TILE_URL") or None, current_app.config.get("MAP_TILE_ATTRIBUTION") or None]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def cache_dir() -> Path:
    return Path(current_app.instance_path) / "map-cache"


def _cached(kind: str, rnd: RegistrationRound, pcn_key: str | None, build: Callable[[], str | bytes],
            suffix: str = "html") -> tuple[str | bytes, str]:
    """The cached output of ``build`` for these inputs, building and storing it on a miss.
    Returns (content, cache key)."""
    key = _cache_key(kind, rnd, pcn_key)
    prefix = f"{kind}-r{rnd.id}" + (f"-p{pcn_key}" if pcn_key else "") + "-"
    folder = cache_dir()
    path = folder / f"{prefix}{key}.{suffix}"
    binary = suffix != "html"
    try:
        return (path.read_bytes() if binary else path.read_text(encoding="utf-8")), key
    except FileNotFoundError:
        pass
    content = build()
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix="." + suffix)
    with os.fdopen(fd, "wb") as fh:
        fh.write(content if binary else content.encode("utf-8"))
    os.replace(tmp, path)
    for old in folder.glob(f"{prefix}*.{suffix}"):     # superseded versions of the same map
        if old != path:
            old.unlink(missing_ok=True)
    return content, key


def configuration_map(rnd: RegistrationRound) -> str:
    """The configuration map's HTML (cached). Raises MapUnavailable without geodata."""
    return configuration_map_with_key(rnd)[0]


def configuration_map_with_key(rnd: RegistrationRound) -> tuple[str, str]:
    if not areas.has_geodata(rnd):
        raise MapUnavailable("No geodata is installed")
    return _cached("configuration", rnd, None, lambda: build_configuration_map(rnd))


def pcn_map(rnd: RegistrationRound, pcn_key: str) -> str:
    """A PCN's map HTML (cached). Raises MapUnavailable without geodata."""
    return pcn_map_with_key(rnd, pcn_key)[0]


def pcn_map_with_key(rnd: RegistrationRound, pcn_key: str) -> tuple[str, str]:
    if not areas.has_geodata(rnd):
        raise MapUnavailable("No geodata is installed")
    return _cached("pcn", rnd, str(pcn_key), lambda: build_pcn_map(rnd, str(pcn_key)))


def map_response_csp() -> str:
    """Content-Security-Policy of the map documents: this host only (plus the basemap's host
    for images when one is configured)."""
    img = "'self' data:"
    url = current_app.config.get("MAP_TILE_URL") or ""
    if "://" in url:
        scheme, rest = url.split("://", 1)
        host = rest.split("/", 1)[0].replace("{s}", "*")
        img += f" {scheme}://{host}"
    return (f"default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            f"img-src {img}; font-src 'none'; connect-src 'none'; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'self'")


# --- exports -----------------------------------------------------------------------------------------------

COLUMNS = ["pcn_key", "pcn_name", "pcn_code", "place", "lead_commissioner", "members", "total", "band_status",
           "errors", "warnings", "area_km2", "source"]


def areas_geodataframe(rnd: RegistrationRound, data: rounds_svc.RoundData | None = None) -> gpd.GeoDataFrame:
    """PCN areas of the round's head configuration with their facts, EPSG:27700, stored
    (unsimplified) geometry. PCNs without an area are left out; empty without geodata."""
    data = data or rounds_svc.build_configuration(rnd)
    stored = _pcn_areas(rnd)
    records, geoms = [], []
    for pcn in data.config.pcns:
        area = stored.get(pcn.key)
        if area is None or area.is_empty:
            continue
        r = pcn_row(data, pcn.key)
        records.append({
            "pcn_key": pcn.key, "pcn_name": pcn.name, "pcn_code": pcn.code, "place": pcn.place,
            "lead_commissioner": pcn.lead_commissioner, "members": r.members, "total": r.total,
            "band_status": r.band, "errors": r.errors, "warnings": r.warnings,
            "area_km2": round(area.area / 1e6, 3),
            "source": data.config.geography.pcn_area_source.get(pcn.key) if data.config.geography else None})
        geoms.append(area)
    frame = gpd.GeoDataFrame(records, columns=COLUMNS, geometry=gpd.GeoSeries(geoms, crs=BNG), crs=BNG)
    return frame.astype({"members": "int64", "total": "int64", "errors": "int64", "warnings": "int64",
                         "area_km2": "float64"})


def _require(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if frame.empty:
        raise MapUnavailable("No PCN has an area: install the geodata first")
    return frame


def _written(frame: gpd.GeoDataFrame, suffix: str, **options) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"pcn-areas.{suffix}"
        frame.to_file(path, **options)
        return path.read_bytes()


def export_geojson(rnd: RegistrationRound) -> bytes:
    """PCN areas as RFC 7946 GeoJSON (EPSG:4326 longitude/latitude, 6 decimal places, exterior
    rings counterclockwise, no "crs" member), one feature per PCN with its facts."""
    frame = _require(areas_geodataframe(rnd)).to_crs(WGS84)
    return _written(frame, "geojson", driver="GeoJSON", layer="pcn_areas", RFC7946="YES", COORDINATE_PRECISION=6,
                    WRITE_NAME="NO")


def export_gpkg(rnd: RegistrationRound) -> bytes:
    """PCN areas as a GeoPackage (layer ``pcn_areas``, EPSG:27700, stored geometry)."""
    return _written(_require(areas_geodataframe(rnd)), "gpkg", driver="GPKG", layer="pcn_areas")


def export_png(rnd: RegistrationRound, pcn_key: str | None = None) -> bytes:
    """A static map for committee papers, of the round or of one PCN (cached like the HTML maps)."""
    if not areas.has_geodata(rnd):
        raise MapUnavailable("No geodata is installed")
    kind = "png" if pcn_key is None else "pcnpng"
    return _cached(kind, rnd, pcn_key, lambda: render_png(rnd, pcn_key), suffix="png")[0]


def _nice_length(metres: float) -> float:
    """The largest 1, 2 or 5 x 10^n not above ``metres``."""
    if metres <= 0:
        return 0.0
    exp = 10 ** math.floor(math.log10(metres))
    return max(m * exp for m in (1, 2, 5) if m * exp <= metres)


def _scale_bar(ax) -> None:
    """A scale bar in the lower left of the axes (EPSG:27700: data units are metres)."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    length = _nice_length((x1 - x0) / 5)
    if not length:
        return
    x, y = x0 + 0.03 * (x1 - x0), y0 + 0.03 * (y1 - y0)
    tick = 0.008 * (y1 - y0)
    ax.plot([x, x + length], [y, y], color=LA_LINE, linewidth=2.5, solid_capstyle="butt", zorder=10)
    for xx in (x, x + length / 2, x + length):
        ax.plot([xx, xx], [y - tick, y + tick], color=LA_LINE, linewidth=1.2, zorder=10)
    text = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(x + length / 2, y + 2.2 * tick, text, ha="center", va="bottom", fontsize=8, color=LA_LINE, zorder=10,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 1})


def _png_labels(fig, ax, items: list[tuple[int, str, object, bool]]) -> None:
    """Names at each area's label point, largest areas first. Where the name would be wider
    than its area or overlap a name already placed, the PCN's number in the legend is shown
    instead (in a small white circle), so every PCN on the picture can be found in the legend."""
    import matplotlib.patheffects as pe

    renderer = fig.canvas.get_renderer()
    placed, numbers = [], []
    for number, name, geom, main in sorted(items, key=lambda i: (not i[3], -i[2].area)):
        pt = label_point(geom)
        if pt is None:
            continue
        t = ax.text(pt.x, pt.y, _wrap(name), ha="center", va="center", fontsize=10 if main else 7.5,
                    fontweight="bold", color="#212b32", zorder=8, linespacing=1.1,
                    path_effects=[pe.withStroke(linewidth=2.5, foreground="white")])
        box = t.get_window_extent(renderer).expanded(1.04, 1.1)
        gx0, _ = ax.transData.transform((geom.bounds[0], geom.bounds[1]))
        gx1, _ = ax.transData.transform((geom.bounds[2], geom.bounds[3]))
        fits = main or (gx1 - gx0) >= 0.8 * box.width
        if fits and not any(box.overlaps(p) for p in placed):
            placed.append(box)
            continue
        t.remove()
        numbers.append((number, pt))
    for number, pt in numbers:
        ax.text(pt.x, pt.y, str(number), ha="center", va="center", fontsize=6.5, fontweight="bold", color="#212b32",
                zorder=9, bbox={"boxstyle": "circle,pad=0.2", "facecolor": "white", "edgecolor": "#425563",
                                "linewidth": 0.6})


def _wrap(name: str, width: int = 18) -> str:
    """A name on at most three lines of about ``width`` characters."""
    lines, line = [], ""
    for word in name.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "\n".join(lines[:2] + ([" ".join(lines[2:])] if len(lines) > 2 else []))


def render_png(rnd: RegistrationRound, pcn_key: str | None = None) -> bytes:
    """PCN areas in their colours (errors outlined in red) with their names, local authority
    boundaries and member practices sized by list size; title with the round (and the PCN) and
    the configuration version's date; a legend of every PCN with its registered patients and of
    the symbols; a scale bar; the OGL attribution the geodata asks for. Of one PCN
    (``pcn_key``): fitted to that PCN, with its neighbours around it. 10 x 12 inches at 150
    dpi. Matplotlib's Agg canvas is used directly (no pyplot, no global backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from zoneinfo import ZoneInfo

    data = rounds_svc.build_configuration(rnd)
    frame = _require(areas_geodataframe(rnd, data))
    rows = {r.key: r for r in map_rows(data)}
    palette = {k: r.colour for k, r in rows.items()}
    frame["colour"] = frame["pcn_key"].map(palette)
    subject = None
    if pcn_key is not None:
        if pcn_key not in set(frame["pcn_key"]):
            raise MapUnavailable("This PCN has no area")
        subject = frame[frame["pcn_key"] == pcn_key].geometry.iloc[0]
        near = {n.key for n in pcn_facts(data, pcn_key, list(rows.values())).neighbours}
        frame = frame[frame["pcn_key"].isin(near | {pcn_key})]
    las, _ = _boundaries(rnd)

    fig = Figure(figsize=(10, 12), dpi=150)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.235, 0.96, 0.695))
    alphas = [0.85 if pcn_key is None or k == pcn_key else 0.35 for k in frame["pcn_key"]]
    frame.plot(ax=ax, color=frame["colour"], alpha=alphas, edgecolor=OUTLINE, linewidth=0.6)
    errors = frame[frame["errors"] > 0]
    if not errors.empty:
        errors.boundary.plot(ax=ax, color=ERROR_OUTLINE, linewidth=2.2)
    if subject is not None:
        gpd.GeoSeries([subject], crs=BNG).boundary.plot(ax=ax, color=LA_LINE, linewidth=2.2)
    if las:
        gpd.GeoSeries([g for _, _, g in las], crs=BNG).boundary.plot(ax=ax, color=LA_LINE, linewidth=0.9,
                                                                     linestyle=(0, (5, 3)))
    members = {code: p.key for p in data.config.pcns for code in p.members}
    pts = []
    for code, p in data.practices.items():
        if code in members and (pcn_key is None or members[code] == pcn_key) \
                and (pt := areas.practice_point(p)) is not None:
            size = data.config.practices[code].list_size if code in data.config.practices else None
            pts.append((pt, 6 * practice_radius(size) ** 2 / 4, palette[members[code]]))
    if pts:
        gpd.GeoSeries([p for p, _, _ in pts], crs=BNG).plot(
            ax=ax, markersize=[s for _, s, _ in pts], color=[c for _, _, c in pts], edgecolor=LA_LINE, linewidth=0.5,
            zorder=5)
    ax.set_axis_off()
    ax.set_aspect("equal")
    focus = subject if subject is not None else shapely.union_all(list(frame.geometry))
    minx, miny, maxx, maxy = focus.bounds
    pad = 0.04 * max(maxx - minx, maxy - miny)
    ax.set_xlim(minx - pad, maxx + pad)
    ax.set_ylim(miny - pad, maxy + pad)
    ax.apply_aspect()
    numbers = {k: i for i, k in enumerate(frame["pcn_key"], start=1)}
    view = shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad)      # neighbours: the part in view
    _png_labels(fig, ax, [(numbers[k], n, g.intersection(view), k == pcn_key)
                          for k, n, g in zip(frame["pcn_key"], frame["pcn_name"], frame.geometry)
                          if not g.intersection(view).is_empty])
    _scale_bar(ax)

    version = rnd.head_version
    when = version.created_at if version else dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    when = when.replace(tzinfo=dt.timezone.utc).astimezone(ZoneInfo("Europe/London"))
    title = rnd.name if pcn_key is None else f"{rows[pcn_key].name} – {rnd.name}"
    fig.suptitle(title, fontsize=16, fontweight="bold", y=0.985)
    fig.text(0.5, 0.945, f"PCN areas, configuration version {version.number if version else 0} of "
             f"{when.day} {when:%B %Y}", ha="center", fontsize=11)
    handles = [Patch(facecolor=palette[k], edgecolor=ERROR_OUTLINE if e else OUTLINE, linewidth=2 if e else 0.5,
                     alpha=0.85, label=f"{numbers[k]}  {n} ({t:,})")
               for k, n, t, e in zip(frame["pcn_key"], frame["pcn_name"], frame["total"], frame["errors"])]
    handles += [Patch(facecolor="white", edgecolor=ERROR_OUTLINE, linewidth=2, label="Outlined red: PCN with errors"),
                Line2D([], [], color=LA_LINE, linewidth=0.9, linestyle=(0, (5, 3)), label="Local authority boundary"),
                Line2D([], [], marker="o", color="white", markeredgecolor=LA_LINE, markerfacecolor="#cccccc",
                       markersize=7, label="Practice (area by registered patients)")]
    fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.05), ncol=2, fontsize=7.5,
               frameon=False, title="PCN (registered patients); a number on the map stands for the PCN's name",
               title_fontsize=8.5)
    fig.text(0.5, 0.008, PNG_ATTRIBUTION, ha="center", va="bottom", fontsize=7, color="#425563", linespacing=1.4)
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=150)
    return out.getvalue()


# --- the committee's map: PCN areas coloured by registration state ------------------------------------
# (New functions only: the maps above are unchanged.)

# Fill colours per registration state: ``domain.labels.MAP_FILLS`` (with the states' tag colours).
STATE_COLOURS = labels.MAP_FILLS
state_colour = labels.map_fill


def build_state_map(rnd: RegistrationRound, states: dict[str, str], highlighted: set[str] | frozenset = frozenset(),
                    title: str = "Registration state") -> str:
    """The round's PCN areas filled by each PCN's registration state (``states``: PCN key ->
    state), the ``highlighted`` PCNs (a meeting's agenda) outlined thickly, with boundaries and
    a legend listing the states. A complete HTML document (not cached)."""
    from ..domain.workflow import STATE_TITLES, STATES

    if not areas.has_geodata(rnd):
        raise MapUnavailable("No geodata is installed")
    data = rounds_svc.build_configuration(rnd)
    rows = map_rows(data)
    stored = _pcn_areas(rnd)
    drawn = [(r, stored[r.key]) for r in rows if r.key in stored and not stored[r.key].is_empty]
    geoms = display_geometries([g for _, g in drawn])
    m = _new_map(_bounds(geoms) or _bounds(display_geometries([g for _, _, g in _boundaries(rnd)[0]])))
    styles, features = {}, []
    for (row, _), geom in zip(drawn, geoms):
        state = states.get(row.key, "draft")
        on = row.key in highlighted
        styles[row.key] = {"fillColor": state_colour(state), "fillOpacity": 0.55, "color": LA_LINE if on else OUTLINE,
                           "weight": 3.5 if on else 1, "opacity": 1 if on else 0.9}
        features.append(_feature(geom, f"pcn-{row.key}", {
            "kind": "pcn_area", "key": row.key, "name": _text(row.name), "state": _text(STATE_TITLES.get(state, state)),
            "agenda": "yes" if on else "no", "total": _thousands(row.total), "band": _text(row.band_text)}))
    group = folium.FeatureGroup(name="PCN areas by registration state", show=True)
    if features:
        folium.GeoJson(
            _collection(features),
            style_function=lambda f: styles[f["properties"]["key"]],
            highlight_function=lambda f: {"weight": styles[f["properties"]["key"]]["weight"] + 2, "fillOpacity": 0.75},
            tooltip=_tooltip(["name", "state", "agenda", "total", "band"],
                             ["PCN", "State", "On this agenda", "Registered patients", "Band"]),
        ).add_to(group)
    group.add_to(m)
    _add_boundaries(m, rnd)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    counts: dict[str, int] = {}
    for row in rows:
        counts[states.get(row.key, "draft")] = counts.get(states.get(row.key, "draft"), 0) + 1
    state_items = [f'{_swatch(state_colour(s), OUTLINE, 1, 0.8)} {_text(STATE_TITLES[s])} ({counts.get(s, 0)})'
                   for s in STATES]
    symbols = [f'{_swatch("#ffffff", LA_LINE, 3, 1)} Thick outline: on this meeting\'s agenda']
    missing = [r for r in rows if r.key not in stored]
    sections = [("States (number of PCNs)", state_items), ("", symbols + _symbol_items(True, True)[1:3])]
    if missing:
        sections.append(("No area", [_text(r.name) for r in missing]))
    _Html(_legend(f"{title}: {rnd.name}", sections)).add_to(m)
    return m.get_root().render()


def state_map_with_key(rnd: RegistrationRound, name: str, states: dict[str, str],
                       highlighted: set[str] | frozenset = frozenset()) -> tuple[str, str]:
    """``build_state_map`` cached like the other maps; the states and the highlighted PCNs are
    part of the cache key (``name`` tells one such map from another, e.g. a meeting's)."""
    if not areas.has_geodata(rnd):
        raise MapUnavailable("No geodata is installed")
    extra = json.dumps([sorted(states.items()), sorted(highlighted)])
    key = hashlib.sha256((_cache_key("states", rnd, name) + extra).encode()).hexdigest()
    prefix = f"states-r{rnd.id}-{name}-"
    folder = cache_dir()
    path = folder / f"{prefix}{key}.html"
    try:
        return path.read_text(encoding="utf-8"), key
    except FileNotFoundError:
        pass
    content = build_state_map(rnd, states, set(highlighted))
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".html")
    with os.fdopen(fd, "wb") as fh:
        fh.write(content.encode("utf-8"))
    os.replace(tmp, path)
    for old in folder.glob(f"{prefix}*.html"):     # the same map with other states
        if old != path:
            old.unlink(missing_ok=True)
    return content, key
