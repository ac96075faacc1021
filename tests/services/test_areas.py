"""PCN areas on the real Nottinghamshire geodata: default assignment, incremental rebuilds,
block moves, 'treat as adjacent' pairs, uploaded areas."""
from __future__ import annotations

import json

import pytest
import shapely
from conftest import GEODATA, content_fixture
from shapely.geometry import mapping
from sqlalchemy import func, select

from pcnreg.domain import geometry
from pcnreg.importers.csvio import ImportFailed
from pcnreg.models import AdjacentPair, Block, BlockAssignment, PcnArea
from pcnreg.services import areas, configuration, rounds

WHO = dict(author="Test", reason="testing")


def _demo_with_areas() -> None:
    """The demo (no geodata joined) with ../shared/geodata installed and its areas built: once per
    session, each test getting a copy of the database (``content_fixture``)."""
    from pcnreg.services.demo import load_demo
    from pcnreg.services.geodata import install

    load_demo(None)
    install(GEODATA)


content_fixture("demo_with_areas", "demo-with-areas", _demo_with_areas)


@pytest.fixture
def demo_with_areas(geodata, app):
    return rounds.get_round()


@pytest.fixture
def rnd(demo_with_areas, db):
    return demo_with_areas


def key(rnd, name):
    return str(rounds.get_pcn(rnd, name).id)


def area_rows(db, rnd):
    return {str(a.pcn_id): (a.fingerprint, bytes(a.geometry)) for a in
            db.session.scalars(select(PcnArea).where(PcnArea.round_id == rnd.id))}


def test_every_block_is_in_exactly_one_pcn_and_every_pcn_has_an_area(rnd, db):
    blocks = db.session.scalar(select(func.count()).select_from(Block))
    assigned = db.session.scalar(select(func.count()).select_from(BlockAssignment))
    assert blocks == assigned == 679 - 70   # Bassetlaw's 70 LSOAs are outside this ICS
    assert len(area_rows(db, rnd)) == 22
    data = rounds.build_configuration(rnd)
    assert data.config.geography is not None and not data.config.geography.unassigned_blocks


def test_moving_a_practice_rebuilds_only_the_two_pcns_involved(rnd, db):
    before = area_rows(db, rnd)
    configuration.move_practices(rnd, ["C84067"], key(rnd, "Ashfield North"), **WHO)
    after = area_rows(db, rnd)
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed and changed <= {key(rnd, "Ashfield North"), key(rnd, "Ashfield South")}


def test_block_move_to_a_neighbour_and_refusal_of_a_far_pcn(rnd, db):
    geo = rounds.build_configuration(rnd).config.geography
    south, north = key(rnd, "Ashfield South"), key(rnd, "Ashfield North")
    border = sorted(b for b in geo.pcn_blocks[south] if geo.block_neighbours[b] & geo.pcn_blocks[north])[0]
    before = area_rows(db, rnd)
    report = areas.move_block(rnd, border, north)
    assert set(report.rebuilt) == {south, north}
    after = area_rows(db, rnd)
    assert {k for k in after if after[k] != before[k]} == {south, north}
    assert border in rounds.build_configuration(rnd).config.geography.pcn_blocks[north]
    # a manual assignment survives a later refresh
    configuration.rename_pcn(rnd, north, "Ashfield North and Sutton", **WHO)
    assert border in rounds.build_configuration(rnd).config.geography.pcn_blocks[north]

    far = key(rnd, "Nottingham City PCN 1")
    with pytest.raises(areas.AreaError, match="does not touch"):
        areas.move_block(rnd, border, far)
    assert area_rows(db, rnd) == after


def test_treat_as_adjacent_pair_joins_a_detached_block(rnd, db):
    geo = rounds.build_configuration(rnd).config.geography
    pcn = key(rnd, "Newark")
    mine = sorted(geo.pcn_blocks[pcn])
    far = next(b for b in sorted(geo.block_neighbours) if b not in geo.pcn_blocks[pcn]
               and not geo.block_neighbours[b] & geo.pcn_blocks[pcn])
    areas.record_adjacent(mine[0], far, reason="ferry", recorded_by="CCG")
    assert db.session.scalar(select(func.count()).select_from(AdjacentPair)) == 1
    areas.move_block(rnd, far, pcn)          # allowed now: the pair links it to Newark
    findings = [f for f in rounds.build_configuration(rnd).findings
                if f.rule == "pcn_contiguous" and f.subject.key == pcn]
    assert findings == []
    with pytest.raises(areas.AreaError, match="already"):
        areas.record_adjacent(far, mine[0], reason="again", recorded_by="CCG")


def test_uploaded_area_replaces_blocks_and_overlaps_are_reported(rnd, db, tmp_path):
    pcn = key(rnd, "Newark")
    other = shapely.from_wkb(db.session.scalar(select(PcnArea.geometry).where(
        PcnArea.pcn_id == int(key(rnd, "Sherwood")))))
    mine = shapely.from_wkb(db.session.scalar(select(PcnArea.geometry).where(PcnArea.pcn_id == int(pcn))))
    grown = mine.union(other.buffer(-200))   # takes most of Sherwood
    from pcnreg.services.areas import TO_WGS84
    wgs = shapely.ops.transform(TO_WGS84.transform, grown)
    doc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": mapping(wgs)}]}
    areas.upload_area(rnd, pcn, json.dumps(doc).encode(), "newark.geojson", 10_000_000)
    assert db.session.scalar(select(PcnArea.source).where(PcnArea.pcn_id == int(pcn))) == "upload"
    overlaps = [f for f in rounds.build_configuration(rnd).findings if f.rule == "area_overlaps"]
    assert overlaps and overlaps[0].figures["overlap_km2"] > 10

    with pytest.raises(ImportFailed):
        areas.upload_area(rnd, pcn, b"\x89PNG\r\n\x1a\n not a map", "x.geojson", 10_000_000)
    areas.revert_area(rnd, pcn)
    assert db.session.scalar(select(PcnArea.source).where(PcnArea.pcn_id == int(pcn))) == "blocks"
    assert not [f for f in rounds.build_configuration(rnd).findings if f.rule == "area_overlaps"]


def test_validate_includes_geographic_findings(rnd, runner):
    result = runner.invoke(args=["validate", "--json"])
    rules_found = {f["rule"] for f in json.loads(result.output)["findings"]}
    assert {"pcn_local_authorities", "practice_place"} <= rules_found


def test_areas_cli(rnd, runner):
    bad = runner.invoke(args=["areas", "move-block", "E01999999", "Newark"])
    assert bad.exit_code == 1 and "Unknown" not in bad.output and "no block E01999999" in bad.output
    assert runner.invoke(args=["areas", "adjacent", "E01999999", "E01999998", "--reason", "x",
                               "--by", "y"]).exit_code == 1


def test_snap_grid_is_what_the_blocks_are_stored_on(rnd, db):
    wkb = db.session.scalar(select(Block.geometry).limit(1))
    geom = shapely.from_wkb(wkb)
    assert geometry.snap(geom).equals(geom)
