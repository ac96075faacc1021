"""Geography benchmarks: each cost against a stated floor, as a ratio measured in one run.

Nottinghamshire round (the demo with ../shared/geodata):
- geodata install            vs floor: reading the same geometry files with pyogrio;
- PCN area build, cold        vs floor: decoding the stored block geometry (WKB);
- PCN area build, one block move (how many PCN areas are rebuilt: the target is 1 or 2);
- configuration map page server time, cold and warm, and its HTML size
                              vs floor: serialising the simplified PCN-area GeoJSON.
All-England local-authority layer (317 districts):
- reading and validating the layer (pcnreg's reader) vs floor: pyogrio's raw read;
- a map of it built the same way   vs floor: serialising its simplified GeoJSON.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from .timing import median_time


def signed_in_client(app):
    """A test client signed in, through the real sign-in form, as a benchmark administrator."""
    from pcnreg.services import accounts

    email, password = "benchmark@example.nhs.uk", "benchmark-password-2019"
    if accounts.find_user(email) is None:
        user = accounts.create_user(email, "Benchmark", [("system_admin", "all", None)], "benchmark")
        accounts.accept_invite(accounts.invite(user, "benchmark"), password)
    client = app.test_client()
    response = client.post("/sign-in", data={"email": email, "password": password})
    assert response.status_code == 302, response.status
    return client


def run(app, geodata: Path) -> list[tuple[str, float, float, str]]:
    """Rows of (measure, seconds, floor seconds, note)."""
    import geopandas as gpd
    import shapely
    from sqlalchemy import delete, select

    from pcnreg.extensions import db
    from pcnreg.importers.geodata import read_layer
    from pcnreg.models import Block, PcnArea
    from pcnreg.services import areas, maps, rounds
    from pcnreg.services.geodata import install, load_manifest, profile_sources

    rows: list[tuple[str, float, float, str]] = []
    with app.app_context():
        rnd = rounds.get_round()
        _, sources = profile_sources(load_manifest(), "nottinghamshire")
        geo_files = [geodata / s["file"] for s in sources if s["layer"] in
                     ("local_authorities", "commissioners", "blocks", "wards")]
        floor = median_time(lambda: [gpd.read_file(f, engine="pyogrio") for f in geo_files])
        start = time.perf_counter()
        install(geodata)
        rows.append(("Notts geodata install", time.perf_counter() - start, floor,
                     f"floor: pyogrio read of {len(geo_files)} geometry files"))

        wkbs = list(db.session.scalars(select(Block.geometry)))
        floor = median_time(lambda: shapely.from_wkb(wkbs), repeat=5)
        db.session.execute(delete(PcnArea).where(PcnArea.round_id == rnd.id))
        start = time.perf_counter()
        report = areas.refresh(rnd)
        db.session.commit()
        rows.append(("Notts PCN areas, cold build", time.perf_counter() - start, floor,
                     f"{len(report.rebuilt)} areas from {len(wkbs)} blocks; floor: WKB decode"))

        geo = rounds.build_configuration(rnd).config.geography
        source = rounds.get_pcn(rnd, "Newark")
        target = next(k for k in sorted(geo.pcn_blocks) if k != str(source.id)
                      and any(geo.block_neighbours[b] & geo.pcn_blocks[k] for b in geo.pcn_blocks[str(source.id)]))
        block = sorted(b for b in geo.pcn_blocks[str(source.id)] if geo.block_neighbours[b] & geo.pcn_blocks[target])[0]
        start = time.perf_counter()
        moved = areas.move_block(rnd, block, target)
        rows.append(("Notts PCN areas, one block move", time.perf_counter() - start, floor,
                     f"{len(moved.rebuilt)} of 22 areas rebuilt (target: 1 or 2)"))

        shutil.rmtree(maps.cache_dir(), ignore_errors=True)
        client = signed_in_client(app)
        url = f"/rounds/{rnd.id}/map.html"
        start = time.perf_counter()
        response = client.get(url)
        assert response.status_code == 200 and response.mimetype == "text/html", response.status
        html = response.data
        cold = time.perf_counter() - start
        warm = median_time(lambda: client.get(url), repeat=10)
        area_geoms = [shapely.from_wkb(a.geometry) for a in db.session.scalars(
            select(PcnArea).where(PcnArea.round_id == rnd.id))]
        floor = median_time(lambda: json.dumps({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(g)}
            for g in maps.display_geometries(area_geoms)]}), repeat=5)
        size = len(html)
        rows.append(("Notts configuration map, cold", cold, floor, f"HTML {size / 1e6:.2f} MB (target <= 1.5 MB); "
                     "floor: simplified GeoJSON serialisation"))
        rows.append(("Notts configuration map, warm", warm, floor,
                     f"target <= 150 ms: {'met' if warm <= 0.150 else 'NOT met'}"))

        lad = next(s for s in load_manifest()["sources"] if s["id"] == "lad19-england")
        floor = median_time(lambda: gpd.read_file(geodata / lad["file"], engine="pyogrio"))
        frame = None

        def read():
            nonlocal frame
            frame = read_layer.uncached(geodata / lad["file"], lad)   # the parse, not the kept copy
        rows.append(("England LA layer, read and validate", median_time(read), floor,
                     f"{len(frame)} districts; floor: pyogrio raw read"))
        geoms = list(frame.geometry.values)
        floor = median_time(lambda: json.dumps({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(g)}
            for g in maps.display_geometries(geoms)]}))
        with app.test_request_context():
            def england_map():
                import folium
                m = maps.LocalMap(location=None, tiles=None)
                folium.GeoJson({"type": "FeatureCollection", "features": [
                    {"type": "Feature", "properties": {"code": c}, "geometry": shapely.geometry.mapping(g)}
                    for c, g in zip(frame["code"], maps.display_geometries(geoms))]}).add_to(m)
                return m.get_root().render()
            start = time.perf_counter()
            england = england_map()
            rows.append(("England LA layer, map HTML", time.perf_counter() - start, floor,
                         f"HTML {len(england) / 1e6:.2f} MB; floor: simplified GeoJSON serialisation"))
    return rows
