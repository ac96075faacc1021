"""The committee's map: the round's PCN areas filled by each PCN's registration state."""

from __future__ import annotations

import folium

from ...domain import labels
from ...domain.workflow import STATE_TITLES, STATES
from ...models import RegistrationRound
from .. import areas
from .. import rounds as rounds_svc
from .display import (
    LA_LINE,
    OUTLINE,
    PLACE_LINE,
    collection,
    display_geometries,
    feature,
    latlng_bounds,
    text,
    thousands,
)
from .render import Html, add_boundaries, legend, new_map, swatch, symbol_items, tooltip
from .rows import MapUnavailable, boundaries, map_rows, pcn_areas

# Fill colours per registration state: ``domain.labels.MAP_FILLS`` (with the states' tag colours).
STATE_COLOURS = labels.MAP_FILLS
state_colour = labels.map_fill


def build_state_map(rnd: RegistrationRound, states: dict[str, str], highlighted: set[str] | frozenset = frozenset(),
                    title: str = "Registration state", alignment: dict[str, str] | None = None,
                    neighbourhoods: dict[str, object] | None = None) -> str:
    """The round's PCN areas filled by each PCN's registration state (``states``: PCN key ->
    state), the ``highlighted`` PCNs (a meeting's agenda) outlined thickly, with boundaries and
    a legend listing the states. ``alignment`` (PCN key -> text) adds each PCN's neighbourhood
    alignment to its tooltip; ``neighbourhoods`` (name -> geometry, EPSG:27700) adds their
    outlines as a layer. A complete HTML document (not cached)."""
    if not areas.has_geodata(rnd):
        raise MapUnavailable("No geodata is installed")
    data = rounds_svc.build_configuration(rnd)
    rows = map_rows(data)
    stored = pcn_areas(rnd)
    drawn = [(r, stored[r.key]) for r in rows if r.key in stored and not stored[r.key].is_empty]
    geoms = display_geometries([g for _, g in drawn])
    m = new_map(latlng_bounds(geoms) or latlng_bounds(display_geometries([g for _, _, g in boundaries(rnd)[0]])))
    styles, features = {}, []
    for (row, _), geom in zip(drawn, geoms):
        state = states.get(row.key, "draft")
        on = row.key in highlighted
        styles[row.key] = {"fillColor": state_colour(state), "fillOpacity": 0.55, "color": LA_LINE if on else OUTLINE,
                           "weight": 3.5 if on else 1, "opacity": 1 if on else 0.9}
        features.append(feature(geom, f"pcn-{row.key}", {
            "kind": "pcn_area", "key": row.key, "name": text(row.name), "state": text(STATE_TITLES.get(state, state)),
            "agenda": "yes" if on else "no", "total": thousands(row.total), "band": text(row.band_text),
            "alignment": text((alignment or {}).get(row.key, "–"))}))
    group = folium.FeatureGroup(name="PCN areas by registration state", show=True)
    if features:
        folium.GeoJson(
            collection(features),
            style_function=lambda f: styles[f["properties"]["key"]],
            highlight_function=lambda f: {"weight": styles[f["properties"]["key"]]["weight"] + 2, "fillOpacity": 0.75},
            tooltip=tooltip(["name", "state", "agenda", "total", "band"] + (["alignment"] if alignment is not None else []),
                             ["PCN", "State", "On this agenda", "Registered patients", "Band"]
                             + (["Neighbourhood alignment"] if alignment is not None else [])),
        ).add_to(group)
    group.add_to(m)
    if neighbourhoods:
        names = sorted(neighbourhoods)
        shown = display_geometries([neighbourhoods[n] for n in names])
        nb_group = folium.FeatureGroup(name="Neighbourhoods", show=True)
        folium.GeoJson(collection([feature(g, f"nb-{i}", {"name": text(n)}) for i, (n, g) in enumerate(zip(names, shown))]),
                       style_function=lambda f: {"fill": False, "color": PLACE_LINE, "weight": 4, "opacity": 0.9,
                                                 "dashArray": "8 4"},
                       tooltip=tooltip(["name"], ["Neighbourhood"])).add_to(nb_group)
        nb_group.add_to(m)
    add_boundaries(m, rnd)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    counts: dict[str, int] = {}
    for row in rows:
        counts[states.get(row.key, "draft")] = counts.get(states.get(row.key, "draft"), 0) + 1
    state_items = [f'{swatch(state_colour(s), OUTLINE, 1, 0.8)} {text(STATE_TITLES[s])} ({counts.get(s, 0)})'
                   for s in STATES]
    symbols = [f'{swatch("#ffffff", LA_LINE, 3, 1)} Thick outline: on this meeting\'s agenda']
    if neighbourhoods:
        symbols.append(f'{swatch("#ffffff", PLACE_LINE, 4, 1)} Dashed blue line: neighbourhoods')
    missing = [r for r in rows if r.key not in stored]
    sections = [("States (number of PCNs)", state_items), ("", symbols + symbol_items(True, True)[1:3])]
    if missing:
        sections.append(("No area", [text(r.name) for r in missing]))
    Html(legend(f"{title}: {rnd.name}", sections)).add_to(m)
    return m.get_root().render()
