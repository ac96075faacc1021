"""Exports of a round's PCN areas: GeoJSON, GeoPackage and a static PNG for committee papers."""

from __future__ import annotations

import datetime as dt
import io
import math
import tempfile
from pathlib import Path

import geopandas as gpd
import shapely

from ...models import RegistrationRound
from .. import areas
from .. import rounds as rounds_svc
from ..pages import pcn_row
from .cache import cached
from .display import BNG, ERROR_OUTLINE, LA_LINE, OUTLINE, WGS84, practice_radius
from .render import label_point
from .rows import MapUnavailable, boundaries, map_rows, pcn_areas, pcn_facts

PNG_ATTRIBUTION = ("Boundaries: Source: Office for National Statistics licensed under the Open Government Licence "
                   "v.3.0. Contains OS data © Crown copyright and database right 2021.\nPractice locations: OS "
                   "Code-Point Open (contains OS data © Crown copyright and database right); practices and list "
                   "sizes: NHS Digital.\nContains public sector information licensed under the Open Government "
                   "Licence v3.0.")


COLUMNS = ["pcn_key", "pcn_name", "pcn_code", "place", "lead_commissioner", "members", "total", "band_status",
           "errors", "warnings", "area_km2", "source"]


def areas_geodataframe(rnd: RegistrationRound, data: rounds_svc.RoundData | None = None) -> gpd.GeoDataFrame:
    """PCN areas of the round's head configuration with their facts, EPSG:27700, stored
    (unsimplified) geometry. PCNs without an area are left out; empty without geodata."""
    data = data or rounds_svc.build_configuration(rnd)
    stored = pcn_areas(rnd)
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
    return cached(kind, rnd, pcn_key, lambda: render_png(rnd, pcn_key), suffix="png")[0]


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
    from zoneinfo import ZoneInfo

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

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
    las, _ = boundaries(rnd)

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
    when = version.created_at if version else dt.datetime.now(dt.UTC).replace(tzinfo=None)
    when = when.replace(tzinfo=dt.UTC).astimezone(ZoneInfo("Europe/London"))
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
