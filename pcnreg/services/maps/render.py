"""The interactive maps (folium/Leaflet) as complete HTML documents: the configuration map of a
round and the map of one PCN, with the elements they share (labels, legend, boundaries, practices).

No request to another host
    The maps load Leaflet 1.9.4 from pcnreg itself (``/assets/leaflet/``, npm package pinned in
    package.json) and nothing else: no jQuery, Bootstrap, icon fonts, web fonts or CDN. Only
    GeoJson, CircleMarker, FeatureGroup/LayerControl, plain-HTML tooltips and an HTML legend are
    used, because other folium elements pull scripts from CDNs. A basemap is optional and off by
    default: set the app config ``MAP_TILE_URL`` (a Leaflet tile URL template) and
    ``MAP_TILE_ATTRIBUTION`` to draw one. ``map_response_csp`` gives the Content-Security-Policy
    the map views send, so a browser refuses any other host as well.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import folium
import geopandas as gpd
import shapely
from branca.element import Element, MacroElement
from flask import current_app, url_for
from folium.template import Template
from sqlalchemy import select

from ...extensions import db
from ...models import Block, RegistrationRound
from .. import areas
from .. import rounds as rounds_svc
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
from .rows import MapRow, MapUnavailable, boundaries, map_rows, pcn_areas, pcn_facts

MAP_FORMAT = 2                      # bump when the map builders change: every cached map is rebuilt
LABEL_VERSION = 1                   # of the PCN name labels (maps and PNG); part of the cache key
LEAFLET_JS = "/assets/leaflet/leaflet.js"
LEAFLET_CSS = "/assets/leaflet/leaflet.css"
FIT_PADDING_PX = 12                 # around the subject when a map is fitted to it
ATTRIBUTION = "Boundaries: ONS, contains OS data &copy; Crown copyright and database right. OGL v3.0"


# --- folium elements ------------------------------------------------------------------------------------

class LocalMap(folium.Map):
    """A folium Map whose only scripts and styles are the Leaflet files pcnreg serves."""

    default_js = [("leaflet", LEAFLET_JS)]
    default_css = [("leaflet_css", LEAFLET_CSS)]


class Html(MacroElement):
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
    for i, (row, _) in enumerate(items):
        pt, box = wgs.iloc[i], wgs.iloc[len(items) + i]
        minx, miny, maxx, maxy = box.bounds
        out.append(Label(row.key, row.name, round(pt.y, DECIMALS), round(pt.x, DECIMALS),
                         [[round(miny, DECIMALS), round(minx, DECIMALS)], [round(maxy, DECIMALS), round(maxx, DECIMALS)]],
                         pcn_href(rnd, row.key), thousands(row.total), row.band_text, row.key == main))
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
              try { window.parent.postMessage({type: 'pcnreg:pcn', key: key}, window.location.origin); }
              catch (e) { /* no page around */ }
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
  .leaflet-container a.pcnreg-label__text:hover,
  .leaflet-container a.pcnreg-label__text:focus { text-decoration: underline; color: #003087; }
  .pcnreg-label--main .pcnreg-label__text { font-size: 15px; max-width: 12em; }
  .pcnreg-popup a { color: #005eb8; }
  .pcnreg-popup p { margin: 4px 0; }
</style>"""


def new_map(bounds) -> LocalMap:
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


def tooltip(fields: list[str], aliases: list[str]) -> folium.GeoJsonTooltip:
    return folium.GeoJsonTooltip(fields=fields, aliases=aliases, sticky=True)


def _area_props(row: MapRow) -> dict:
    """Tooltip values, escaped here: folium's tooltips insert them as HTML."""
    return {"kind": "pcn_area", "key": row.key, "name": text(row.name), "total": thousands(row.total),
            "band": text(row.band_text), "errors": row.errors, "warnings": row.warnings}


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
        collection([feature(g, f"pcn-{row.key}", _area_props(row)) for row, g in rows_geoms]),
        style_function=lambda f: styles[f["properties"]["key"]],
        highlight_function=lambda f: {"weight": styles[f["properties"]["key"]]["weight"] + 2,
                                      "fillOpacity": min(1.0, fill_opacity + 0.2)},
        tooltip=tooltip(["name", "total", "band", "errors", "warnings"],
                         ["PCN", "Registered patients", "Band", "Errors", "Warnings"]),
    ).add_to(group)


def add_boundaries(m, rnd: RegistrationRound) -> None:
    las, places = boundaries(rnd)
    if las:
        group = folium.FeatureGroup(name="Local authority boundaries", show=True)
        geoms = display_geometries([g for _, _, g in las])
        folium.GeoJson(
            collection([feature(g, f"la-{code}", {"kind": "local_authority", "name": text(name)})
                         for (code, name, _), g in zip(las, geoms)]),
            style_function=lambda f: {"fill": False, "color": LA_LINE, "weight": 1.5, "dashArray": "6 4", "opacity": 0.9},
            tooltip=tooltip(["name"], ["Local authority"]),
        ).add_to(group)
        group.add_to(m)
    if places:
        group = folium.FeatureGroup(name="Place boundaries", show=True)
        geoms = display_geometries([g for _, g in places])
        folium.GeoJson(
            collection([feature(g, f"place-{i}", {"kind": "place", "name": text(name)})
                         for i, ((name, _), g) in enumerate(zip(places, geoms))]),
            style_function=lambda f: {"fill": False, "color": PLACE_LINE, "weight": 3.5, "opacity": 0.8},
            tooltip=tooltip(["name"], ["Place"]),
        ).add_to(group)
        group.add_to(m)


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
        tip = (f"<strong>{text(code)} {text(practice.name if practice else '')}</strong><br>"
               f"{thousands(size)} registered patients<br>"
               f"PCN: {text(pcn.name) if pcn else 'not in a PCN'}"
               + (f"<br>Status: {text(practice.status)}" if practice and practice.status != 'open' else ""))
        folium.CircleMarker(
            location=(lat, lon), radius=practice_radius(size), color=LA_LINE, weight=1, opacity=1,
            fill=True, fill_color=palette.get(pcn.key, "#ffffff") if pcn else "#ffffff", fill_opacity=0.9,
            tooltip=folium.Tooltip(tip, sticky=True),
        ).add_to(group)
    group.add_to(m)
    return len(points)


def legend(title: str, sections: list[tuple[str, list[str]]]) -> str:
    parts = [f'<details class="pcnreg-legend"><summary>{text(title)}</summary>']
    for heading, items in sections:
        if heading:
            parts.append(f"<h2>{text(heading)}</h2>")
        parts.append("<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>")
    parts.append("</details>")
    return "".join(parts)


def swatch(fill: str, outline: str = OUTLINE, width: int = 1, opacity: float = 0.6) -> str:
    return (f'<span class="sw" style="background:{fill};opacity:{opacity};border:{width}px solid {outline}"'
            ' aria-hidden="true"></span>')


def symbol_items(with_la: bool, with_place: bool) -> list[str]:
    items = [f'{swatch("#ffffff", ERROR_OUTLINE, 3, 1)} Red outline: PCN with errors']
    if with_place:
        items.append(f'<span class="ln" style="border-top:3.5px solid {PLACE_LINE}" aria-hidden="true"></span> Place boundary')
    if with_la:
        items.append(f'<span class="ln" style="border-top:1.5px dashed {LA_LINE}" aria-hidden="true"></span> '
                     "Local authority boundary")
    items.append('<span class="dot" style="width:8px;height:8px" aria-hidden="true"></span>'
                 '<span class="dot" style="width:14px;height:14px" aria-hidden="true"></span> '
                 "Practice, area by registered patients (white: not in a PCN)")
    return items


def build_configuration_map(rnd: RegistrationRound) -> str:
    """The configuration map of a round, as a complete HTML document (not cached)."""
    if not areas.has_geodata(rnd):
        raise MapUnavailable("No geodata is installed")
    data = rounds_svc.build_configuration(rnd)
    rows = map_rows(data)
    stored = pcn_areas(rnd)
    drawn = [(r, stored[r.key]) for r in rows if r.key in stored and not stored[r.key].is_empty]
    geoms = display_geometries([g for _, g in drawn])
    rows_geoms = list(zip([r for r, _ in drawn], geoms))
    codes = sorted(data.config.practices)
    m = new_map(latlng_bounds(geoms) or latlng_bounds(display_geometries([g for _, _, g in boundaries(rnd)[0]])))
    group = folium.FeatureGroup(name="PCN areas", show=True)
    layer = _add_areas(group, rows_geoms)
    group.add_to(m)
    add_boundaries(m, rnd)
    palette = {r.key: r.colour for r in rows}
    _add_practices(m, data, codes, palette, "Practices")
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    _Interact(_labels(rnd, drawn), [layer] if layer else [], latlng_bounds(geoms)).add_to(m)
    pcn_items = [f'{swatch(r.colour, ERROR_OUTLINE if r.errors else OUTLINE, 3 if r.errors else 1)} {text(r.name)}'
                 + (" (no area)" if r.key not in stored else "") for r in rows]
    Html(legend(f"Legend: {rnd.name}", [("", symbol_items(True, True)), ("PCNs", pcn_items)])).add_to(m)
    return m.get_root().render()


def build_pcn_map(rnd: RegistrationRound, key: str) -> str:
    """The map of one PCN: its area and blocks, its member practices and its neighbours."""
    if not areas.has_geodata(rnd):
        raise MapUnavailable("No geodata is installed")
    data = rounds_svc.build_configuration(rnd)
    rows = map_rows(data)
    facts = pcn_facts(data, key, rows)
    row = facts.row
    stored = pcn_areas(rnd)
    area = stored.get(key)
    block_rows = facts.blocks
    block_geoms = dict(db.session.execute(select(Block.code, Block.geometry).where(
        Block.code.in_([b.code for b in block_rows]), Block.system_id == rnd.system_id)).all()) if block_rows else {}
    neighbours = [(n, stored[n.key]) for n in facts.neighbours if n.key in stored]

    own = display_geometries([area]) if area is not None and not area.is_empty else []
    neighbour_geoms = display_geometries([g for _, g in neighbours])
    blocks_drawn = [b for b in block_rows if b.code in block_geoms]
    block_display = display_geometries([areas.from_wkb(block_geoms[b.code]) for b in blocks_drawn])
    fit = latlng_bounds(own) or latlng_bounds(display_geometries([g for _, _, g in boundaries(rnd)[0]]))
    m = new_map(fit)

    layers = []
    if neighbour_geoms:
        group = folium.FeatureGroup(name="Neighbouring PCNs", show=True)
        layers.append(_add_areas(group, list(zip([n for n, _ in neighbours], neighbour_geoms)), fill_opacity=0.3))
        group.add_to(m)
    if own:
        group = folium.FeatureGroup(name=f"Area of {text(row.name)}", show=True)   # the layer control shows names as HTML
        layers.append(_add_areas(group, [(row, own[0])], fill_opacity=0.6))
        group.add_to(m)
    if block_display:
        group = folium.FeatureGroup(name="Blocks of this PCN", show=True)
        folium.GeoJson(
            collection([feature(g, f"block-{b.code}", {
                "kind": "block", "code": text(b.code), "name": text(b.name),
                "population": thousands(b.population), "la": text(b.local_authority or "not known"),
                "method": "moved by hand" if b.method == "manual" else "nearest member practice"})
                for b, g in zip(blocks_drawn, block_display)]),
            style_function=lambda f: {"fill": True, "fillOpacity": 0.02, "fillColor": "#ffffff",
                                      "color": OUTLINE, "weight": 0.8, "opacity": 0.9},
            highlight_function=lambda f: {"weight": 2.5, "fillOpacity": 0.25},
            tooltip=tooltip(["code", "name", "population", "la", "method"],
                             ["Block", "Name", "Population", "Local authority", "Assigned by"]),
        ).add_to(group)
        group.add_to(m)
    add_boundaries(m, rnd)
    palette = {r.key: r.colour for r in rows}
    _add_practices(m, data, [mb.code for mb in facts.members], palette, "Member practices")
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    labelled = ([(row, area)] if own else []) + neighbours
    _Interact(_labels(rnd, labelled, main=key), [lay for lay in layers if lay is not None], fit).add_to(m)
    items = [f'{swatch(row.colour, ERROR_OUTLINE if row.errors else OUTLINE, 3 if row.errors else 1)} '
             f'{text(row.name)}: {thousands(row.total)} patients, {text(row.band_text)}'
             + ("" if own else " (no area yet: no member practice with a location)"),
             f'{swatch("#ffffff", OUTLINE, 1, 1)} Block (LSOA or ward) of this PCN']
    neighbour_items = [f'{swatch(n.colour, ERROR_OUTLINE if n.errors else OUTLINE, 3 if n.errors else 1, 0.3)} '
                       f'{text(n.name)}' for n, _ in neighbours]
    sections = [("", items + symbol_items(True, True))]
    if neighbour_items:
        sections.append(("Neighbouring PCNs", neighbour_items))
    Html(legend(f"Legend: {row.name}", sections)).add_to(m)
    return m.get_root().render()


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
