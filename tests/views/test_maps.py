"""Maps, their tables and the geographic exports, on the 2019 Nottinghamshire demo.

With geodata, the demo is joined to the LSOA and local authority boundaries and practice
locations of ../shared/geodata by a small loader here (not the geodata installer): it stores
the 679 LSOAs as blocks, the 8 district boundaries and the practice locations, then builds the
PCN areas with ``areas.refresh``. The database is built once per session and copied for each test
(conftest ``database_with``: a SQLite file copy, or on PostgreSQL the rows copied in from a
snapshot), so a test pays for the copy, not for building it.
"""
from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import struct
import time
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from conftest import GEODATA
from sqlalchemy import func, select

from pcnreg import create_app
from pcnreg.domain.geometry import ADJACENCY_BUFFER_METRES, snap
from pcnreg.extensions import db as _db
from pcnreg.models import (
    AdjacentPair,
    Block,
    BlockAssignment,
    ConfigVersion,
    LocalAuthority,
    Membership,
    Pcn,
    PcnArea,
    Place,
    Practice,
    RegistrationRound,
)
from pcnreg.services import areas, maps
from pcnreg.services import configuration as config_svc
from pcnreg.services.demo import load_demo

NO_GEODATA = "Maps are unavailable: no geodata is installed. Run pcnreg geodata install"
MAX_MAP_BYTES = 1_500_000


# --- fixtures ------------------------------------------------------------------------------------------

def register_maps(app) -> None:
    if "maps" not in app.blueprints:
        from pcnreg.views import maps as maps_views

        app.register_blueprint(maps_views.bp)


def load_demo_with_geodata(folder: Path) -> RegistrationRound:
    """The demo round, its blocks (LSOAs), district boundaries and practice locations, and the
    PCN areas built from them. Commits."""
    load_demo(None)
    rnd = _db.session.scalar(select(RegistrationRound))
    las = {la.code: la for la in _db.session.scalars(select(LocalAuthority))}
    with open(folder / "lsoa11-population-mid2018-england.csv", newline="", encoding="utf-8") as fh:
        population = {r["lsoa11cd"]: int(r["population_mid2018"]) for r in csv.DictReader(fh)}
    lsoas = gpd.read_file(folder / "lsoa11-nottinghamshire.geojson").to_crs(27700)
    for row in lsoas.itertuples():
        geom = snap(row.geometry)
        la = las.get(row.LAD19CD)
        _db.session.add(Block(code=row.LSOA11CD, name=row.LSOA11NM, kind="lsoa", system_id=rnd.system_id,
                              local_authority_id=la.id if la else None, population=population.get(row.LSOA11CD),
                              area_m2=geom.area, geometry=areas.to_wkb(geom)))
    districts = gpd.read_file(folder / "lad19-nottinghamshire.geojson").to_crs(27700)
    for row in districts.itertuples():
        las[row.LAD19CD].geometry = areas.to_wkb(snap(row.geometry))
    with open(folder / "nottinghamshire-practices.csv", newline="", encoding="utf-8") as fh:
        located = {r["practice_code"]: r for r in csv.DictReader(fh) if r["latitude"]}
    for practice in _db.session.scalars(select(Practice)):
        if practice.code in located:
            practice.latitude = float(located[practice.code]["latitude"])
            practice.longitude = float(located[practice.code]["longitude"])
    _db.session.flush()
    areas.refresh(rnd)
    _db.session.commit()
    return rnd


def _make_app(tmp_path: Path, url: str, monkeypatch=None):
    env = {"PCNREG_INSTANCE": str(tmp_path / "instance"), "PCNREG_SECRET_KEY": "test-secret-key"}
    for key, value in env.items():
        if monkeypatch is not None:
            monkeypatch.setenv(key, value)
        else:
            os.environ[key] = value
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False})
    register_maps(app)
    return app


@pytest.fixture
def geo_app(tmp_path, monkeypatch, database_with):
    """The demo with geodata (``load_demo_with_geodata``), loaded once per session and copied for
    each test (conftest ``database_with``: a SQLite template file, or PostgreSQL rows copied in
    from a snapshot), served by an app with the maps blueprint."""
    if not GEODATA.is_dir():
        pytest.skip("../shared/geodata is not beside this checkout")
    url = database_with("maps-demo-geodata", lambda: load_demo_with_geodata(GEODATA))
    app = _make_app(tmp_path, url, monkeypatch)
    with app.app_context():
        yield app
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def geo(geo_app) -> RegistrationRound:
    return _db.session.scalar(select(RegistrationRound))


@pytest.fixture
def gclient(geo_app):
    return geo_app.test_client()


@pytest.fixture
def plain(app, demo_round) -> RegistrationRound:
    """The demo without geodata (the conftest app), with the maps blueprint."""
    register_maps(app)
    return _db.session.scalar(select(RegistrationRound))


# --- helpers ---------------------------------------------------------------------------------------------

def visible(response) -> str:
    text_ = response.get_data(as_text=True)
    text_ = re.sub(r"<(script|style|svg)\b.*?</\1>", " ", text_, flags=re.S)
    text_ = re.sub(r'<span class="nhsuk-table__heading" aria-hidden="true">.*?</span>', " ", text_, flags=re.S)
    text_ = re.sub(r"<[^>]+>", " ", text_)
    return re.sub(r"\s+", " ", html.unescape(text_)).strip()


def embedded_features(document: str) -> list[dict]:
    """Every GeoJSON feature folium embedded in a map document."""
    out = []
    for blob in re.findall(r"geo_json_\w+_add\((\{.*\})\);", document):
        out += json.loads(blob)["features"]
    return out


def of_kind(document: str, kind: str) -> list[dict]:
    return [f for f in embedded_features(document) if f["properties"].get("kind") == kind]


def external_urls(document: str) -> set[str]:
    urls = set(re.findall(r"https?://[^\s\"'<>)`]+", document))
    return {u for u in urls if not u.startswith(("http://www.w3.org/", "https://www.w3.org/"))}


def pcn_keys() -> list[str]:
    """The active PCNs' keys, by id: without an order PostgreSQL returns rows as they lie on disk,
    which changes once (auto)vacuum lets copied-in rows fill the space of deleted ones."""
    return [str(k) for k in _db.session.scalars(select(Pcn.id).where(Pcn.active.is_(True)).order_by(Pcn.id))]


def stored_area(key: str):
    return areas.from_wkb(_db.session.scalar(select(PcnArea.geometry).where(PcnArea.pcn_id == int(key))))


def block_pcn(code: str) -> int:
    return _db.session.scalar(select(BlockAssignment.pcn_id).join(Block, Block.id == BlockAssignment.block_id)
                              .where(Block.code == code))


def border_block(rnd) -> tuple[str, str, str, str]:
    """(block code, its PCN, a neighbouring PCN the block touches, a PCN far away): for moves."""
    area = {k: stored_area(k) for k in pcn_keys()}
    rows = _db.session.execute(select(Block.code, Block.geometry, BlockAssignment.pcn_id).join(
        BlockAssignment, BlockAssignment.block_id == Block.id).order_by(Block.code)).all()
    for code, wkb, pcn_id in rows:
        own = str(pcn_id)
        if len([c for c, _, p in rows if p == pcn_id]) < 3:
            continue
        geom = areas.from_wkb(wkb)
        for other, other_area in area.items():
            if other != own and geom.distance(other_area) <= ADJACENCY_BUFFER_METRES:
                far = next(k for k, a in area.items() if a.distance(area[own]) > 5000)
                return code, own, other, far
    raise AssertionError("no block on a border")


# --- assets --------------------------------------------------------------------------------------------

def test_leaflet_is_served_by_the_app(plain, client):
    def get(path):
        response = client.get(path)
        response.get_data()
        response.close()            # send_file responses hold the file open until closed
        return response

    js = get("/assets/leaflet/leaflet.js")
    assert js.status_code == 200 and b"Leaflet 1.9.4" in js.data[:300]
    css = get("/assets/leaflet/leaflet.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert get("/assets/leaflet/images/layers.png").data[:8] == b"\x89PNG\r\n\x1a\n"
    for path in ("leaflet-src.js", "leaflet.js.map", "images/../leaflet.js", "../package.json", "images/nope.png"):
        assert get(f"/assets/leaflet/{path}").status_code == 404, path


def test_package_json_pins_leaflet():
    root = Path(__file__).resolve().parents[2]      # the repository (tests/views/ is two below)
    assert json.loads((root / "package.json").read_text())["dependencies"]["leaflet"] == "1.9.4"
    lock = json.loads((root / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/leaflet"]["version"] == "1.9.4"


# --- the configuration map ----------------------------------------------------------------------------

def test_configuration_map_document(geo, gclient, capsys):
    started = time.perf_counter()
    response = gclient.get(f"/rounds/{geo.id}/map.html")
    cold = time.perf_counter() - started
    started = time.perf_counter()
    again = gclient.get(f"/rounds/{geo.id}/map.html")
    warm = time.perf_counter() - started
    assert response.status_code == again.status_code == 200
    assert response.mimetype == "text/html"
    document = response.get_data(as_text=True)
    size = len(response.data)
    with capsys.disabled():
        print(f"\nconfiguration map: {size:,} bytes; map.html cold {cold * 1000:.0f} ms, warm {warm * 1000:.0f} ms")
    assert size <= MAX_MAP_BYTES

    pcn_areas = of_kind(document, "pcn_area")
    assert len(pcn_areas) == 22
    assert document.count("L.circleMarker(") == 135
    assert len(of_kind(document, "local_authority")) == 8
    places = {name for name in _db.session.scalars(select(Place.name).join(Place.local_authorities).where(
        LocalAuthority.geometry.is_not(None)))}
    assert places and {f["properties"]["name"] for f in of_kind(document, "place")} == places
    # Tooltips: total with a thousands separator, band status, error and warning counts.
    props = pcn_areas[0]["properties"]
    assert re.fullmatch(r"\d{1,3}(,\d{3})+", props["total"])
    assert props["band"] in {"in band", "below band", "above band"}
    assert {"errors", "warnings"} <= set(props)
    # PCNs with errors are outlined in red; the others are not.
    assert any(f["properties"]["errors"] for f in pcn_areas)
    assert '"color": "#d5281b"' in document and '"weight": 3' in document
    # Layers that can be switched on and off, and a legend.
    for name in ("PCN areas", "Local authority boundaries", "Place boundaries", "Practices"):
        assert json.dumps(name) in document
    assert "L.control.layers(" in document
    assert 'class="pcnreg-legend"' in document
    # Coordinates are rounded to 5 decimal places.
    ring = pcn_areas[0]["geometry"]["coordinates"][0]
    point = ring[0] if isinstance(ring[0][0], float) else ring[0][0]
    assert all(len(repr(c).split(".")[1]) <= 5 for c in point)


def test_map_documents_load_nothing_from_another_host(geo, gclient):
    document = gclient.get(f"/rounds/{geo.id}/map.html").get_data(as_text=True)
    assert external_urls(document) == set()
    assert '<script src="/assets/leaflet/leaflet.js"></script>' in document
    assert 'href="/assets/leaflet/leaflet.css"' in document
    for library in ("jquery", "bootstrap", "awesome", "fontawesome", "cdn.", "googleapis"):
        assert library not in document.lower()
    key = str(next(iter(pcn_keys())))
    pcn_document = gclient.get(f"/rounds/{geo.id}/pcns/{key}/map.html")
    assert external_urls(pcn_document.get_data(as_text=True)) == set()
    policy = pcn_document.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "http" not in policy


def test_a_basemap_is_optional_and_configured(geo, geo_app, gclient):
    assert "L.tileLayer(" not in gclient.get(f"/rounds/{geo.id}/map.html").get_data(as_text=True)
    geo_app.config["MAP_TILE_URL"] = "https://tiles.example.org/{z}/{x}/{y}.png"
    geo_app.config["MAP_TILE_ATTRIBUTION"] = "Example tiles"
    response = gclient.get(f"/rounds/{geo.id}/map.html")
    document = response.get_data(as_text=True)
    assert "L.tileLayer(" in document and "Example tiles" in document
    assert external_urls(document) == {"https://tiles.example.org/{z}/{x}/{y}.png"}
    assert "img-src 'self' data: https://tiles.example.org" in response.headers["Content-Security-Policy"]


def test_map_page_shows_the_map_and_a_table_of_every_pcn(geo, gclient):
    response = gclient.get(f"/rounds/{geo.id}/map")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f'src="/rounds/{geo.id}/map.html"' in page
    assert re.search(r'<iframe[^>]+title="Map of PCN areas in [^"]+"', page)
    shown = visible(response)
    names = list(_db.session.scalars(select(Pcn.name).where(Pcn.active.is_(True))))
    assert len(names) == 22
    for name in names:
        assert name in shown
    assert "Area (km²)" in shown and "Local authorities (share of area)" in shown
    assert re.search(r"Ashfield \(\d+\.\d%\)", shown)
    for path in ("areas.geojson", "areas.gpkg", "map.png"):
        assert f'href="/rounds/{geo.id}/{path}"' in page
    assert "Maps are unavailable" not in shown


def test_table_and_map_give_the_same_facts(geo, gclient):
    document = gclient.get(f"/rounds/{geo.id}/map.html").get_data(as_text=True)
    from pcnreg.services import rounds as rounds_svc

    rows = {r.key: r for r in maps.map_rows(rounds_svc.build_configuration(geo))}
    for feature in of_kind(document, "pcn_area"):
        p = feature["properties"]
        row = rows[p["key"]]
        assert (html.unescape(p["name"]), p["total"], p["band"], p["errors"], p["warnings"]) == (
            row.name, f"{row.total:,}", row.band_text, row.errors, row.warnings)


# --- a PCN's map ------------------------------------------------------------------------------------------

def test_pcn_map_has_its_blocks_members_and_neighbours(geo, gclient):
    code, key, neighbour, far = border_block(geo)
    document = gclient.get(f"/rounds/{geo.id}/pcns/{key}/map.html").get_data(as_text=True)
    blocks = {f["properties"]["code"] for f in of_kind(document, "block")}
    assigned = set(_db.session.scalars(select(Block.code).join(BlockAssignment, BlockAssignment.block_id == Block.id)
                                       .where(BlockAssignment.pcn_id == int(key))))
    assert blocks == assigned and code in blocks
    members = _db.session.scalar(select(func.count()).select_from(Membership).where(Membership.pcn_id == int(key)))
    assert document.count("L.circleMarker(") == members > 0
    areas_drawn = {f["properties"]["key"] for f in of_kind(document, "pcn_area")}
    assert key in areas_drawn and neighbour in areas_drawn and far not in areas_drawn
    assert external_urls(document) == set()


def test_pcn_map_page(geo, gclient):
    code, key, neighbour, _ = border_block(geo)
    response = gclient.get(f"/rounds/{geo.id}/pcns/{key}/map")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f'src="/rounds/{geo.id}/pcns/{key}/map.html"' in page
    shown = visible(response)
    name = _db.session.get(Pcn, int(key)).name
    assert f"Map of {name}" in shown
    assert code in shown and "Neighbouring PCNs" in shown and "Member practices" in shown
    assert _db.session.get(Pcn, int(neighbour)).name in shown
    assert f'<option value="{code}"' in page and f'<option value="{neighbour}"' in page


# --- without geodata -------------------------------------------------------------------------------------

def test_without_geodata_the_pages_say_maps_are_unavailable(plain, client):
    response = client.get(f"/rounds/{plain.id}/map")
    assert response.status_code == 200
    shown = visible(response)
    assert NO_GEODATA in shown
    assert "<iframe" not in response.get_data(as_text=True)
    for name in _db.session.scalars(select(Pcn.name).where(Pcn.active.is_(True))):
        assert name in shown
    assert "Area (km²)" not in shown
    key = pcn_keys()[0]
    page = client.get(f"/rounds/{plain.id}/pcns/{key}/map")
    assert page.status_code == 200 and NO_GEODATA in visible(page) and "Member practices" in visible(page)
    for path in ("map.html", f"pcns/{key}/map.html", "areas.geojson", "areas.gpkg", "map.png"):
        missing = client.get(f"/rounds/{plain.id}/{path}")
        assert missing.status_code == 404, path
        assert "no geodata is installed" in visible(missing)


# --- exports ------------------------------------------------------------------------------------------------

def test_geojson_export(geo, gclient):
    response = gclient.get(f"/rounds/{geo.id}/areas.geojson")
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.headers["Content-Disposition"].endswith('.geojson"')
    raw = json.loads(response.data)
    assert "crs" not in raw                                  # RFC 7946: WGS84 longitude/latitude only
    frame = gpd.read_file(io.BytesIO(response.data))
    assert len(frame) == 22
    assert set(maps.COLUMNS) <= set(frame.columns)
    assert frame.crs.to_epsg() == 4326
    minx, miny, maxx, maxy = frame.total_bounds
    assert -1.5 < minx < maxx < -0.5 and 52.7 < miny < maxy < 53.6
    assert (frame["total"] > 0).all() and (frame["area_km2"] > 0).all()
    assert set(frame["band_status"]) <= {"in_band", "below", "above"}


def test_gpkg_export(geo, gclient, tmp_path):
    response = gclient.get(f"/rounds/{geo.id}/areas.gpkg")
    assert response.status_code == 200
    assert response.mimetype == "application/geopackage+sqlite3"
    assert response.headers["Content-Disposition"].endswith('.gpkg"')
    path = tmp_path / "areas.gpkg"
    path.write_bytes(response.data)
    frame = gpd.read_file(path)
    assert len(frame) == 22 and set(maps.COLUMNS) <= set(frame.columns)
    assert frame.crs.to_epsg() == 27700
    stored = {k: stored_area(k).area for k in pcn_keys()}
    for row in frame.itertuples():
        assert row.geometry.area == pytest.approx(stored[row.pcn_key], rel=1e-9)
        assert row.area_km2 == pytest.approx(stored[row.pcn_key] / 1e6, abs=1e-3)


def test_png_export(geo, gclient):
    response = gclient.get(f"/rounds/{geo.id}/map.png")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.headers["Content-Disposition"].endswith('.png"')
    assert response.data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", response.data[16:24])
    assert (width, height) == (1500, 1800)                    # 10 x 12 inches at 150 dpi


# --- cache ------------------------------------------------------------------------------------------------

def test_maps_are_cached_and_rebuilt_only_when_their_inputs_change(geo, geo_app, monkeypatch):
    calls = []
    build = maps.build_configuration_map

    def counting(rnd):
        calls.append(rnd.id)
        return build(rnd)

    monkeypatch.setattr(maps.render, "build_configuration_map", counting)
    first = maps.configuration_map(geo)
    assert maps.configuration_map(geo) == first and len(calls) == 1
    files = list(maps.cache_dir().glob("configuration-*.html"))
    assert len(files) == 1 and files[0].read_text(encoding="utf-8") == first

    # A saved configuration version (moving a practice) rebuilds it.
    code, key, neighbour, _ = border_block(geo)
    practice = _db.session.scalar(select(Practice.code).join(Membership, Membership.practice_id == Practice.id)
                                  .where(Membership.pcn_id == int(key)).order_by(Practice.code).limit(1))
    config_svc.move_practices(geo, [practice], neighbour, author="Test", reason="test")
    maps.configuration_map(geo)
    assert len(calls) == 2
    maps.configuration_map(geo)
    assert len(calls) == 2

    # A block move (no new version) rebuilds it too.
    code, key, neighbour, _ = border_block(geo)
    areas.move_block(geo, code, neighbour)
    maps.configuration_map(geo)
    assert len(calls) == 3
    assert len(list(maps.cache_dir().glob("configuration-*.html"))) == 1   # the old files are removed

    # So does a change of basemap.
    geo_app.config["MAP_TILE_URL"] = "https://tiles.example.org/{z}/{x}/{y}.png"
    maps.configuration_map(geo)
    assert len(calls) == 4


def test_pcn_maps_are_cached_per_pcn(geo, monkeypatch):
    calls = []
    build = maps.build_pcn_map
    monkeypatch.setattr(maps.render, "build_pcn_map", lambda rnd, key: calls.append(key) or build(rnd, key))
    a, b = pcn_keys()[:2]
    maps.pcn_map(geo, a), maps.pcn_map(geo, b), maps.pcn_map(geo, a)
    assert calls == [a, b]


def test_map_documents_answer_conditional_requests(geo, gclient):
    first = gclient.get(f"/rounds/{geo.id}/map.html")
    assert first.headers["ETag"] and first.headers["Cache-Control"] == "no-cache"
    again = gclient.get(f"/rounds/{geo.id}/map.html", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


# --- moving a block ------------------------------------------------------------------------------------------

def test_moving_a_block_to_a_neighbour_changes_the_areas(geo, gclient):
    code, key, neighbour, _ = border_block(geo)
    point = areas.from_wkb(_db.session.scalar(select(Block.geometry).where(Block.code == code))).representative_point()
    assert stored_area(key).contains(point) and not stored_area(neighbour).contains(point)
    before = gclient.get(f"/rounds/{geo.id}/map.html").get_data(as_text=True)
    versions = _db.session.scalar(select(func.count()).select_from(ConfigVersion))

    response = gclient.post(f"/rounds/{geo.id}/pcns/{key}/blocks/move", data={"block": code, "to": neighbour})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/rounds/{geo.id}/pcns/{key}/map")
    _db.session.expire_all()
    assert block_pcn(code) == int(neighbour)
    assert _db.session.scalar(select(BlockAssignment.method).join(Block).where(Block.code == code)) == "manual"
    assert stored_area(neighbour).contains(point) and not stored_area(key).contains(point)
    assert _db.session.scalar(select(func.count()).select_from(ConfigVersion)) == versions   # practices stay
    assert f"Moved block {code}" in visible(gclient.get(response.headers["Location"]))
    after = gclient.get(f"/rounds/{geo.id}/map.html").get_data(as_text=True)
    assert after != before


def test_a_block_cannot_move_to_a_pcn_that_is_not_a_neighbour(geo, gclient):
    code, key, _, far = border_block(geo)
    response = gclient.post(f"/rounds/{geo.id}/pcns/{key}/blocks/move", data={"block": code, "to": far})
    assert response.status_code == 400
    assert "Choose a neighbouring PCN from the list" in visible(response)
    _db.session.expire_all()
    assert block_pcn(code) == int(key)


def test_a_block_must_touch_the_pcn_it_moves_to(geo, gclient):
    """The neighbour touches the PCN but not this block: the service refuses (AreaError)."""
    code, key, neighbour, _ = border_block(geo)
    target = stored_area(neighbour)
    inner = next(c for c, w in _db.session.execute(
        select(Block.code, Block.geometry).join(BlockAssignment, BlockAssignment.block_id == Block.id)
        .where(BlockAssignment.pcn_id == int(key)).order_by(Block.code))
        if areas.from_wkb(w).distance(target) > 100)
    response = gclient.post(f"/rounds/{geo.id}/pcns/{key}/blocks/move", data={"block": inner, "to": neighbour})
    assert response.status_code == 400
    assert "does not touch" in visible(response)
    assert response.get_data(as_text=True).count('class="nhsuk-error-summary"') == 1
    _db.session.expire_all()
    assert block_pcn(inner) == int(key)


def test_block_move_needs_a_choice_and_a_csrf_token(geo, geo_app, gclient):
    code, key, neighbour, _ = border_block(geo)
    response = gclient.post(f"/rounds/{geo.id}/pcns/{key}/blocks/move", data={})
    assert response.status_code == 400
    assert "Choose a block to move" in visible(response)
    geo_app.config["WTF_CSRF_ENABLED"] = True
    response = gclient.post(f"/rounds/{geo.id}/pcns/{key}/blocks/move", data={"block": code, "to": neighbour})
    assert response.status_code == 400
    _db.session.expire_all()
    assert block_pcn(code) == int(key)
    page = gclient.get(f"/rounds/{geo.id}/pcns/{key}/map").get_data(as_text=True)
    assert 'name="csrf_token"' in page


# --- an uploaded area --------------------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def area_row(key: str) -> tuple[str, bytes]:
    _db.session.expire_all()
    row = _db.session.scalar(select(PcnArea).where(PcnArea.pcn_id == int(key)))
    return row.source, bytes(row.geometry)


def polygon_file(geom, fmt: str = "geojson", tmp_path: Path | None = None) -> bytes:
    """An EPSG:27700 geometry as an upload: GeoJSON (EPSG:4326), GeoPackage or zipped shapefile."""
    frame = gpd.GeoDataFrame({"name": ["drawn in a GIS"]}, geometry=[geom], crs=27700)
    if fmt == "geojson":
        return frame.to_crs(4326).to_json().encode()
    folder = tmp_path / fmt
    folder.mkdir()
    if fmt == "gpkg":
        frame.to_file(folder / "area.gpkg", driver="GPKG", layer="area")
        return (folder / "area.gpkg").read_bytes()
    frame.to_file(folder / "area.shp")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for part in sorted(folder.iterdir()):
            zf.write(part, part.name)
    return out.getvalue()


def upload(client, rnd, key: str, content: bytes, filename: str = "area.geojson"):
    return client.post(f"/rounds/{rnd.id}/pcns/{key}/area", data={"area_file": (io.BytesIO(content), filename)},
                       content_type="multipart/form-data")


def test_uploading_an_area_replaces_it_and_the_findings_show_the_overlap(geo, gclient):
    _, key, neighbour, _ = border_block(geo)
    name, other = _db.session.get(Pcn, int(key)).name, _db.session.get(Pcn, int(neighbour)).name
    page = gclient.get(f"/rounds/{geo.id}/pcns/{key}/map")
    assert "Replace this PCN's area with an uploaded polygon" in visible(page)
    assert "Go back to the area made of its blocks" not in visible(page)
    assert f'action="/rounds/{geo.id}/pcns/{key}/area"' in page.get_data(as_text=True)
    before_map = gclient.get(f"/rounds/{geo.id}/map.html").get_data(as_text=True)
    drawn = stored_area(key).buffer(400)             # overlaps its neighbours by a 400 m strip

    response = upload(gclient, geo, key, polygon_file(drawn))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/rounds/{geo.id}/pcns/{key}/map")
    assert area_row(key)[0] == "upload"
    assert stored_area(key).area == pytest.approx(drawn.area, rel=1e-4)
    assert shapely.hausdorff_distance(stored_area(key), drawn) < 2      # snapped to the metre

    shown = visible(gclient.get(response.headers["Location"]))
    assert f"The area of {name} is now the polygon in area.geojson" in shown
    assert f"The area of {name} is an uploaded polygon" in shown
    assert "Go back to the area made of its blocks" in shown
    assert f"{drawn.area / 1e6:,.1f} km²" in shown
    findings = gclient.get(f"/rounds/{geo.id}/findings", query_string={"rule": "area_overlaps"})
    assert findings.status_code == 200
    a, b = re.escape(name), re.escape(other)
    assert re.search(rf"Overlapping PCN areas .*?({a}'s area overlaps {b}'s|{b}'s area overlaps {a}'s) by "
                     rf"\d+\.\d\d km²", visible(findings))
    assert gclient.get(f"/rounds/{geo.id}/map.html").get_data(as_text=True) != before_map


@pytest.mark.parametrize("fmt", ["gpkg", "shp-zip"])
def test_geopackages_and_zipped_shapefiles_are_recognised_by_content(geo, gclient, tmp_path, fmt):
    key = pcn_keys()[0]
    drawn = stored_area(key).buffer(-200)
    response = upload(gclient, geo, key, polygon_file(drawn, fmt, tmp_path), filename="area.dat")
    assert response.status_code == 302, visible(response)
    assert area_row(key)[0] == "upload"
    assert stored_area(key).area == pytest.approx(drawn.area, rel=1e-4)


def test_going_back_to_the_area_made_of_blocks(geo, gclient):
    key = pcn_keys()[0]
    name = _db.session.get(Pcn, int(key)).name
    original = area_row(key)
    assert original[0] == "blocks"
    assert upload(gclient, geo, key, polygon_file(stored_area(key).buffer(250))).status_code == 302
    assert area_row(key)[0] == "upload"
    assert f'action="/rounds/{geo.id}/pcns/{key}/area/revert"' in gclient.get(
        f"/rounds/{geo.id}/pcns/{key}/map").get_data(as_text=True)

    response = gclient.post(f"/rounds/{geo.id}/pcns/{key}/area/revert")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/rounds/{geo.id}/pcns/{key}/map")
    assert area_row(key)[0] == "blocks"
    assert areas.from_wkb(area_row(key)[1]).equals_exact(areas.from_wkb(original[1]), 1e-6)
    shown = visible(gclient.get(response.headers["Location"]))
    assert f"The area of {name} is made of its blocks again" in shown
    assert "Go back to the area made of its blocks" not in shown

    again = gclient.post(f"/rounds/{geo.id}/pcns/{key}/area/revert")
    assert again.status_code == 400
    assert f"The area of {name} is already made of its blocks" in visible(again)
    assert area_row(key)[0] == "blocks"


@pytest.mark.parametrize("content, filename, message", [
    (PNG, "area.png", "area.png: the file is not a GeoJSON, GeoPackage or zipped shapefile"),
    (b"", "empty.geojson", "empty.geojson: the file is empty"),
    (b"{not json at all", "broken.geojson", "broken.geojson:"),
    (json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
                 "geometry": {"type": "Point", "coordinates": [-1.1, 53.0]}}]}).encode(),
     "point.geojson", "the file holds no polygon"),
    (json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
                 "geometry": {"type": "Polygon", "coordinates": [[[450000, 350000], [451000, 350000],
                                                                  [451000, 351000], [450000, 350000]]]}}]}).encode(),
     "metres.geojson", "the area lies outside Great Britain"),
    (b"PK\x03\x04 not really a zip", "area.zip", "area.zip:"),
])
def test_bad_files_are_refused_and_nothing_changes(geo, gclient, content, filename, message):
    key = pcn_keys()[0]
    before = area_row(key)
    response = upload(gclient, geo, key, content, filename)
    assert response.status_code == 400
    shown = visible(response)
    assert "There is a problem" in shown and message in shown
    assert shown.startswith("Error: Map of")
    assert 'href="#area_file"' in response.get_data(as_text=True)
    assert area_row(key) == before


def test_an_upload_needs_a_file(geo, gclient):
    key = pcn_keys()[0]
    before = area_row(key)
    response = gclient.post(f"/rounds/{geo.id}/pcns/{key}/area", data={}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "Choose a file with the PCN's area" in visible(response)
    assert area_row(key) == before


def test_an_uploaded_area_shows_escaped_names(geo, gclient):
    key = pcn_keys()[0]
    config_svc.rename_pcn(geo, key, "<img src=x onerror=alert(1)>", author="Test", reason="escaping")
    assert upload(gclient, geo, key, polygon_file(stored_area(key).buffer(100)), "<b>x</b>.geojson").status_code == 302
    page = gclient.get(f"/rounds/{geo.id}/pcns/{key}/map").get_data(as_text=True)
    assert "<img src=x" not in page and "<b>x</b>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt; is an uploaded polygon" in page


# --- blocks treated as adjacent --------------------------------------------------------------------------------

def own_and_far_blocks(key: str) -> tuple[str, str]:
    """A block of the PCN and a block of another PCN more than 5 km from it."""
    rows = _db.session.execute(select(Block.code, Block.geometry, BlockAssignment.pcn_id).join(
        BlockAssignment, BlockAssignment.block_id == Block.id).order_by(Block.code)).all()
    own = next((c, areas.from_wkb(w)) for c, w, p in rows if p == int(key))
    far = next(c for c, w, p in rows if p != int(key) and areas.from_wkb(w).distance(own[1]) > 5000)
    return own[0], far


def pairs() -> int:
    return _db.session.scalar(select(func.count()).select_from(AdjacentPair))


def test_recording_two_blocks_as_adjacent_lists_them(geo, gclient):
    key = pcn_keys()[0]
    own, far = own_and_far_blocks(key)
    page = gclient.get(f"/rounds/{geo.id}/pcns/{key}/map")
    assert "No block of" in visible(page) and "Treat two blocks as adjacent" in visible(page)

    response = gclient.post(f"/rounds/{geo.id}/pcns/{key}/adjacent", data={
        "block_a": f" {far.lower()} ", "block_b": own, "reason": "The ferry across the Trent",
        "recorded_by": "Jo Bloggs, Place committee"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/rounds/{geo.id}/pcns/{key}/map")
    assert pairs() == 1
    pair = _db.session.scalar(select(AdjacentPair))
    assert {pair.block_a.code, pair.block_b.code} == {own, far}
    assert (pair.reason, pair.recorded_by) == ("The ferry across the Trent", "Jo Bloggs, Place committee")

    shown = visible(gclient.get(response.headers["Location"]))
    assert f"Blocks {far} and {own} are now treated as adjacent" in shown
    today = pair.recorded_at
    row = re.search(rf"{own} [^|]*? {far} .*?The ferry across the Trent Jo Bloggs, Place committee "
                    rf"{today.day} {today:%B %Y}", shown)
    assert row, shown
    # The other block's PCN lists the pair too, with its own block first.
    other = str(block_pcn(far))
    assert re.search(rf"{far} [^|]*? {own} .*?The ferry across the Trent",
                     visible(gclient.get(f"/rounds/{geo.id}/pcns/{other}/map")))


@pytest.mark.parametrize("data, message", [
    ({"block_a": "E01999999"}, "There is no block E01999999 in"),
    ({"block_b": "NOT-A-BLOCK"}, "There is no block NOT-A-BLOCK in"),
    ({"block_b": "{own}"}, "Enter two different blocks"),
    ({"block_a": ""}, "Enter the code of the first block"),
    ({"reason": "  "}, "Enter why the blocks are treated as adjacent"),
    ({"recorded_by": ""}, "Enter who agreed that the blocks are treated as adjacent"),
])
def test_adjacent_blocks_are_checked_and_nothing_is_written(geo, gclient, data, message):
    key = pcn_keys()[0]
    own, far = own_and_far_blocks(key)
    form = {"block_a": own, "block_b": far, "reason": "Island", "recorded_by": "Jo"}
    form.update({k: v.format(own=own) for k, v in data.items()})
    response = gclient.post(f"/rounds/{geo.id}/pcns/{key}/adjacent", data=form)
    assert response.status_code == 400
    shown = visible(response)
    assert "There is a problem" in shown and message in shown
    assert response.get_data(as_text=True).count('class="nhsuk-error-summary"') == 1
    assert pairs() == 0


def test_a_pair_is_recorded_once(geo, gclient):
    key = pcn_keys()[0]
    own, far = own_and_far_blocks(key)
    form = {"block_a": own, "block_b": far, "reason": "Island", "recorded_by": "Jo"}
    assert gclient.post(f"/rounds/{geo.id}/pcns/{key}/adjacent", data=form).status_code == 302
    response = gclient.post(f"/rounds/{geo.id}/pcns/{key}/adjacent", data={**form, "block_a": far, "block_b": own})
    assert response.status_code == 400
    assert "are already treated as adjacent" in visible(response)
    assert pairs() == 1


# --- the area and adjacency forms: tokens, unknown ids, no geodata ------------------------------------------

def test_area_and_adjacency_posts_need_a_csrf_token(geo, geo_app, gclient):
    key = pcn_keys()[0]
    own, far = own_and_far_blocks(key)
    assert upload(gclient, geo, key, polygon_file(stored_area(key).buffer(100))).status_code == 302
    before = area_row(key)
    geo_app.config["WTF_CSRF_ENABLED"] = True
    adjacent = {"block_a": own, "block_b": far, "reason": "Island", "recorded_by": "Jo"}
    for response in (upload(gclient, geo, key, polygon_file(stored_area(key).buffer(300))),
                     gclient.post(f"/rounds/{geo.id}/pcns/{key}/area/revert"),
                     gclient.post(f"/rounds/{geo.id}/pcns/{key}/adjacent", data=adjacent),
                     gclient.post(f"/rounds/{geo.id}/pcns/{key}/adjacent", data={**adjacent, "csrf_token": "forged"})):
        assert response.status_code == 400
        assert "security token" in visible(response) and "Nothing was changed" in visible(response)
    assert area_row(key) == before and pairs() == 0

    page = gclient.get(f"/rounds/{geo.id}/pcns/{key}/map").get_data(as_text=True)
    tokens = re.findall(r'<input name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert len(tokens) == 3                          # the revert, upload and adjacency forms (no repeated id)
    assert page.count('id="csrf_token"') <= 1
    response = gclient.post(f"/rounds/{geo.id}/pcns/{key}/adjacent", data={**adjacent, "csrf_token": tokens[-1]})
    assert response.status_code == 302 and pairs() == 1
    response = gclient.post(f"/rounds/{geo.id}/pcns/{key}/area/revert", data={"csrf_token": tokens[0]})
    assert response.status_code == 302 and area_row(key)[0] == "blocks"


def test_unknown_ids_give_404_for_the_area_and_adjacency_forms(geo, gclient):
    key = pcn_keys()[0]
    for path in ("area", "area/revert", "adjacent"):
        assert gclient.post(f"/rounds/999/pcns/{key}/{path}", data={}).status_code == 404, path
        assert gclient.post(f"/rounds/{geo.id}/pcns/99999/{path}", data={}).status_code == 404, path
        assert gclient.get(f"/rounds/{geo.id}/pcns/{key}/{path}").status_code == 405, path


def test_without_geodata_the_area_and_adjacency_forms_are_absent(plain, client):
    key = pcn_keys()[0]
    page = visible(client.get(f"/rounds/{plain.id}/pcns/{key}/map"))
    assert "uploaded polygon" not in page and "Treat two blocks as adjacent" not in page
    for path in ("area", "area/revert", "adjacent"):
        response = client.post(f"/rounds/{plain.id}/pcns/{key}/{path}", data={})
        assert response.status_code == 404, path
        assert "no geodata is installed" in visible(response)


# --- safety and errors ----------------------------------------------------------------------------------------

def test_names_are_escaped_in_maps_and_legends(geo, gclient):
    key = pcn_keys()[0]
    nasty = "<img src=x onerror=alert(1)> `${document.cookie}`"
    config_svc.rename_pcn(geo, key, nasty, author="Test", reason="escaping")
    document = gclient.get(f"/rounds/{geo.id}/map.html").get_data(as_text=True)
    assert "<img src=x" not in document and "${document" not in document
    assert "&lt;img src=x onerror=alert(1)&gt;" in document
    pcn_document = gclient.get(f"/rounds/{geo.id}/pcns/{key}/map.html").get_data(as_text=True)
    assert "<img src=x" not in pcn_document and "${document" not in pcn_document
    page = gclient.get(f"/rounds/{geo.id}/map").get_data(as_text=True)
    assert "<img src=x" not in page


@pytest.mark.parametrize("path", [
    "/rounds/999/map", "/rounds/999/map.html", "/rounds/999/areas.geojson", "/rounds/999/areas.gpkg",
    "/rounds/999/map.png", "/rounds/{rid}/pcns/99999/map", "/rounds/{rid}/pcns/99999/map.html",
])
def test_unknown_ids_give_404(plain, client, path):
    response = client.get(path.format(rid=plain.id))
    assert response.status_code == 404
    assert "Page not found" in visible(response)


def test_unknown_ids_give_404_when_moving_blocks(geo, gclient):
    key = pcn_keys()[0]
    assert gclient.post("/rounds/999/pcns/1/blocks/move", data={}).status_code == 404
    assert gclient.post(f"/rounds/{geo.id}/pcns/99999/blocks/move", data={}).status_code == 404
    assert gclient.get(f"/rounds/{geo.id}/pcns/{key}/blocks/move").status_code == 405


def test_simplification_tolerance_is_the_documented_one(geo):
    from pcnreg.domain.geometry import MAP_SIMPLIFY_METRES

    assert MAP_SIMPLIFY_METRES == 25.0
    area = stored_area(pcn_keys()[0])
    drawn = maps.display_geometries([area])[0]
    back = gpd.GeoSeries([drawn], crs=4326).to_crs(27700).iloc[0]
    # Within the tolerance plus the rounding of coordinates (5 decimal places: under 1.2 m).
    assert shapely.hausdorff_distance(area, back) <= MAP_SIMPLIFY_METRES + 1.5
    assert shapely.get_num_coordinates(drawn) < shapely.get_num_coordinates(area)


# --- readable maps: colours, labels, clicks, pictures ----------------------------------------------------

def test_no_two_adjacent_nottinghamshire_pcns_share_a_colour(geo):
    """The real 2019 Nottinghamshire PCN areas, with the adjacency the geographic rules use (the
    blocks' neighbours, with 'treat as adjacent' pairs, as ``pcn_contiguous`` reads them)."""
    from pcnreg.domain.palette import pcn_adjacency
    from pcnreg.services import rounds as rounds_svc

    data = rounds_svc.build_configuration(geo)
    geography = data.config.geography
    adj = pcn_adjacency(geography.pcn_blocks, geography.block_neighbours)
    assert len(adj) == 22 and sum(len(v) for v in adj.values()) >= 2 * 40
    colour = {r.key: r.colour for r in maps.map_rows(data)}
    pairs = [(a, b) for a, ns in adj.items() for b in ns]
    assert pairs and all(colour[a] != colour[b] for a, b in pairs)
    assert len(set(colour.values())) >= 8            # spread over the palette, so the legend tells them apart


def test_maps_label_every_pcn_and_link_to_its_page(geo, gclient):
    document = gclient.get(f"/rounds/{geo.id}/map.html").get_data(as_text=True)
    labels = json.loads(re.search(r"var labels = (\[.*?\]);\n", document).group(1))
    names = {p.name for p in _db.session.scalars(select(Pcn).where(Pcn.active.is_(True)))}
    assert {lb["name"] for lb in labels} == names
    for lb in labels:
        assert lb["href"] == f"/rounds/{geo.id}/pcns/{lb['key']}"
        assert 52.7 < lb["lat"] < 53.6 and -1.4 < lb["lng"] < -0.6
    assert "pcnreg-label" in document and "target = '_top'" in document
    assert "pcnreg:pcn" in document                    # a click tells the page which row to highlight
    key = pcn_keys()[0]
    pcn_document = gclient.get(f"/rounds/{geo.id}/pcns/{key}/map.html").get_data(as_text=True)
    pcn_labels = json.loads(re.search(r"var labels = (\[.*?\]);\n", pcn_document).group(1))
    assert pcn_labels[0]["key"] == key and pcn_labels[0]["main"] is True
    assert all(not lb["main"] for lb in pcn_labels[1:])
    # The PCN map is fitted to that PCN (not to the round).
    fit = json.loads(re.search(r"var fit = (\[\[.*?\]\]);", pcn_document).group(1))
    round_fit = json.loads(re.search(r"var fit = (\[\[.*?\]\]);", document).group(1))
    assert (fit[1][0] - fit[0][0]) < (round_fit[1][0] - round_fit[0][0])


def test_map_pages_have_a_picture_without_javascript_and_rows_to_highlight(geo, gclient):
    page = gclient.get(f"/rounds/{geo.id}/map").get_data(as_text=True)
    noscript = re.search(r"<noscript>(.*?)</noscript>", page, re.S).group(1)
    assert f'src="/rounds/{geo.id}/map.png?inline=1"' in noscript and 'href="#pcn-table"' in noscript
    assert all(f'id="pcn-row-{k}"' in page for k in pcn_keys())
    assert "Key to the map" in page
    key = pcn_keys()[0]
    pcn_page = gclient.get(f"/rounds/{geo.id}/pcns/{key}/map").get_data(as_text=True)
    assert f"/rounds/{geo.id}/map.png?pcn={key}&amp;inline=1" in pcn_page
    image = gclient.get(f"/rounds/{geo.id}/map.png?inline=1")
    assert image.status_code == 200 and image.headers["Content-Disposition"].startswith("inline")
    pcn_image = gclient.get(f"/rounds/{geo.id}/map.png?pcn={key}")
    assert pcn_image.status_code == 200 and pcn_image.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert pcn_image.data != image.data
    for bad in ("x", "-1", "99999", "9" * 40, ""):
        assert gclient.get(f"/rounds/{geo.id}/map.png?pcn={bad}").status_code == 404


def test_the_cache_key_carries_the_palette_and_label_versions(geo, monkeypatch):
    from pcnreg.domain import palette

    before = maps.cache_key("configuration", geo, None)
    monkeypatch.setattr(maps.cache, "PALETTE_VERSION", palette.PALETTE_VERSION + 1)
    new_palette = maps.cache_key("configuration", geo, None)
    assert new_palette != before
    monkeypatch.setattr(maps.render, "LABEL_VERSION", maps.LABEL_VERSION + 1)
    assert maps.cache_key("configuration", geo, None) not in (before, new_palette)


def test_png_scale_bar_lengths():
    assert maps.export._nice_length(7300) == 5000 and maps.export._nice_length(1999) == 1000 and maps.export._nice_length(0) == 0
    assert maps.export._wrap("Nottingham City PCN U") == "Nottingham City\nPCN U"


def test_pcn_map_page_shows_its_forms_only_to_who_may_change_the_areas(geo, geo_app, gclient):
    """Issue #16 item 3: the block move, the area upload and the adjacency forms are shown to who
    may change the PCN's configuration (the administrator here), not to a viewer or the PCN's lead."""
    from conftest import make_user

    from pcnreg.models import System

    _, key, _, _ = border_block(geo)
    system = _db.session.get(System, geo.system_id).code
    url = f"/rounds/{geo.id}/pcns/{key}/map"
    admin = gclient.get(url).get_data(as_text=True)
    for text_ in ("Move the block", "Upload the area", "Treat the blocks as adjacent"):
        assert text_ in admin
    sys_id = _db.session.get(System, geo.system_id).id
    for n, grant in enumerate((("viewer", "system", sys_id), ("pcn_lead", "pcn", int(key)))):
        user = make_user(f"map.{n}@pcnreg.test", [grant])
        page = geo_app.test_client(user=user).get(url)
        assert page.status_code == 200, (grant, system)
        html = page.get_data(as_text=True)
        assert '<form method="post"' not in html, grant
        assert "Upload the area" not in html and "Move the block" not in html, grant
