"""The maps in a real browser, on the 2019 Nottinghamshire demo with ../shared/geodata installed.

Each map page embeds its map document (folium/Leaflet) in an iframe; the tests wait for Leaflet
to draw, then count what it drew (harness.leaflet_layers) against the database. Leaflet comes
from the app's own /assets/leaflet/, and no request leaves 127.0.0.1 (checked by the fixtures).
Screenshots: test-artifacts/screenshots/test_*_map*.png.
"""
from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from pcnreg.extensions import db as _db
from pcnreg.models import Block, BlockAssignment, Membership, Pcn, PcnArea, Practice

from .harness import leaflet_layers, map_frame

DEMO_PCNS, DEMO_PRACTICES = 22, 135


def _leaflet_is_local(frame, live_server: str) -> None:
    scripts = frame.evaluate("() => [...document.scripts].map(s => s.src).filter(Boolean)")
    assert scripts == [f"{live_server}/assets/leaflet/leaflet.js"]
    sheets = frame.evaluate("() => [...document.styleSheets].map(s => s.href).filter(Boolean)")
    assert sheets == [f"{live_server}/assets/leaflet/leaflet.css"]


def test_configuration_map_draws_every_pcn_area_and_practice(page, live_server, demo_geo_round, screenshot):
    area_ids = {f"pcn-{i}" for i in _db.session.scalars(select(PcnArea.pcn_id).where(PcnArea.round_id == demo_geo_round))}
    located = _db.session.scalar(select(Practice.id).where(Practice.latitude.is_(None)).limit(1)) is None
    _db.session.remove()
    assert len(area_ids) == DEMO_PCNS and located

    page.goto(f"/rounds/{demo_geo_round}/map")
    expect(page.locator("h1")).to_have_text("Map of PCN areas")
    frame = map_frame(page, f"/rounds/{demo_geo_round}/map.html")
    drawn = leaflet_layers(frame)

    assert drawn["maps"] == 1 and drawn["leaflet"] == "1.9.4"
    assert len(drawn["features"]["pcn_area"]) == DEMO_PCNS
    assert set(drawn["features"]["pcn_area"]) == area_ids
    assert drawn["markers"] == DEMO_PRACTICES
    assert drawn["features"].get("local_authority") and drawn["features"].get("place")
    assert drawn["undrawn"] == 0
    _leaflet_is_local(frame, live_server)
    # The same facts in the table after the map.
    table = page.locator("table").filter(has=page.locator("caption", has_text=f"{DEMO_PCNS} PCNs of"))
    expect(table.locator("tbody tr")).to_have_count(DEMO_PCNS)
    screenshot(page.locator("iframe"), "map")


def test_pcn_map_draws_the_pcn_its_blocks_and_its_member_practices(page, live_server, demo_geo_round, screenshot):
    pcn_id = _db.session.scalar(select(Pcn.id).where(Pcn.round_id == demo_geo_round, Pcn.name == "Newark"))
    blocks = {f"block-{code}" for code in _db.session.scalars(
        select(Block.code).join(BlockAssignment, BlockAssignment.block_id == Block.id)
        .where(BlockAssignment.round_id == demo_geo_round, BlockAssignment.pcn_id == pcn_id))}
    members = _db.session.scalars(
        select(Practice.code).join(Membership, Membership.practice_id == Practice.id)
        .where(Membership.round_id == demo_geo_round, Membership.pcn_id == pcn_id,
               Practice.latitude.is_not(None))).all()
    areas = {f"pcn-{i}" for i in _db.session.scalars(select(PcnArea.pcn_id).where(PcnArea.round_id == demo_geo_round))}
    _db.session.remove()
    assert blocks and len(members) == 7

    page.goto(f"/rounds/{demo_geo_round}/pcns/{pcn_id}/map")
    expect(page.locator("h1")).to_contain_text("Newark")
    frame = map_frame(page, f"/rounds/{demo_geo_round}/pcns/{pcn_id}/map.html")
    drawn = leaflet_layers(frame)

    assert drawn["maps"] == 1
    assert sorted(drawn["features"]["block"]) == sorted(blocks)
    assert drawn["markers"] == len(members)
    pcn_areas = drawn["features"]["pcn_area"]
    assert f"pcn-{pcn_id}" in pcn_areas                       # its own area ...
    assert len(pcn_areas) > 1 and set(pcn_areas) <= areas     # ... and its neighbours'
    assert len(pcn_areas) == len(set(pcn_areas))
    assert drawn["undrawn"] == 0
    _leaflet_is_local(frame, live_server)
    screenshot(page.locator("iframe"), "map")
