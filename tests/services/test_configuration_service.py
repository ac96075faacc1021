"""Versions, edits, undo, compare and the configuration CSV, through the services and the DB."""
from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from pcnreg.importers.csvio import ImportFailed
from pcnreg.models import ConfigChange, ConfigVersion, Membership, Pcn
from pcnreg.services import configuration as svc
from pcnreg.services import rounds

WHO = dict(author="Test User", reason="testing")


@pytest.fixture
def rnd(app, db, demo_round):
    return rounds.get_round()


def pcn_key(name):
    data = rounds.build_configuration(rounds.get_round())
    return next(p.key for p in data.config.pcns if p.name == name)


def totals():
    data = rounds.build_configuration(rounds.get_round())
    return {p.name: data.config.pcn_total(p) for p in data.config.pcns}


def counts(db):
    return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in (ConfigVersion, ConfigChange,
                                                                                 Membership, Pcn))


def test_head_tables_match_the_replayed_history(rnd, db):
    svc.move_practices(rnd, ["C84067"], pcn_key("Newark"), **WHO)
    svc.merge_pcns(rnd, [pcn_key("Sherwood")], pcn_key("Newark"), name="Newark and Sherwood", **WHO)
    assert svc.state_of(rnd, rnd.head_version_id) == svc.head_state(rnd)
    assert [v.number for v in svc.versions(rnd)] == [3, 2, 1]
    assert svc.versions(rnd)[0].parent.number == 2


def test_move_changes_both_totals_and_keeps_system_total(rnd):
    before = totals()
    version = svc.move_practices(rnd, ["C84067"], pcn_key("Newark"), **WHO)   # Ashfield House, 5,982
    after = totals()
    assert version.kind == "move" and version.author == "Test User"
    assert after["Ashfield South"] == before["Ashfield South"] - 5982
    assert after["Newark"] == before["Newark"] + 5982
    assert sum(after.values()) == sum(before.values()) == 1_092_110


def test_undo_restores_an_earlier_state_as_a_new_version(rnd):
    original = totals()
    svc.move_practices(rnd, ["C84067"], None, **WHO)
    svc.rename_pcn(rnd, pcn_key("Newark"), "Newark Town", **WHO)
    version = svc.undo_to(rnd, 1, author="Test User", reason="back to the paper")
    assert version.number == 4 and version.kind == "undo"
    assert totals() == original
    comparison, _ = svc.compare_versions(rnd, 1, 4)
    assert comparison.empty


def test_compare_lists_moves_and_totals(rnd):
    svc.move_practices(rnd, ["C84067"], pcn_key("Newark"), **WHO)
    comparison, names = svc.compare_versions(rnd, 1, 2)
    [move] = comparison.moves
    assert move.practice_code == "C84067" and names["C84067"] == "Ashfield House"
    deltas = {d.name_after: d for d in comparison.pcns}
    assert deltas["Newark"].total_after - deltas["Newark"].total_before == 5982


def test_split_and_merge(rnd):
    key = pcn_key("Newark")
    members = rounds.build_configuration(rnd).pcn_data(key).members
    svc.split_pcn(rnd, key, list(members[:2]), "Newark East", **WHO)
    t = totals()
    assert t["Newark East"] + t["Newark"] == 75_817
    svc.merge_pcns(rnd, [pcn_key("Newark East")], key, name=None, **WHO)
    assert totals()["Newark"] == 75_817 and "Newark East" not in totals()


def test_a_refused_edit_writes_nothing(rnd, db):
    before = counts(db)
    with pytest.raises(svc.EditError):
        svc.split_pcn(rnd, pcn_key("Newark"), [], "X", **WHO)
    with pytest.raises(svc.EditError):
        svc.create_pcn(rnd, "newark", place_id=None, lead_commissioner_id=None, **WHO)   # duplicate name
    with pytest.raises(svc.EditError):
        svc.move_practices(rnd, ["C84067"], pcn_key("Newark"), author="", reason="x")
    with pytest.raises(svc.EditError):
        svc.move_practices(rnd, ["Z99999"], pcn_key("Newark"), **WHO)
    assert counts(db) == before


def test_database_refuses_a_second_membership(rnd, db):
    from sqlalchemy.exc import IntegrityError

    m = db.session.scalars(select(Membership)).first()
    db.session.add(Membership(round_id=m.round_id, practice_id=m.practice_id, pcn_id=m.pcn_id))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_export_then_import_is_a_no_op_and_edits_round_trip(rnd, db):
    text = svc.export_configuration(rnd)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 135 and set(svc.CONFIG_COLUMNS) == set(rows[0])
    summary = svc.import_configuration(round_name=None, data=text.encode(), author="T", reason="r")
    assert summary.version is None

    # Move a practice in the file and add a PCN: one new version with exactly that.
    for row in rows:
        if row["practice_code"] == "C84067":
            row["pcn_name"], row["place"] = "Kirkby", "Mid Nottinghamshire"
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    summary = svc.import_configuration(round_name=None, data=out.getvalue().encode(), author="T", reason="r")
    assert summary.version == 2 and summary.created == ["Kirkby"] and summary.moved == 1
    assert totals()["Kirkby"] == 5982


@pytest.mark.parametrize("content,message", [
    (b"practice_code,pcn_name\nC84067,X\n", "field place: required column is missing"),
    (b"practice_code,pcn_name,place\nC84067,X,Nowhere\n", "row 2, field place"),
    (b"practice_code,pcn_name,place\nC84067,X,Nottingham City\nC84067,Y,Nottingham City\n", "row 3, field practice_code"),
    (b"practice_code,pcn_name,place\nZZ1,X,Nottingham City\n", "not a valid practice ODS code"),
    (b"practice_code,pcn_name,place\nC84067,=cmd(),Nottingham City\n", "formula injection"),
    (b"practice_code,pcn_name,place\nC84067,X,Nottingham City\nC84074,X,Mid Nottinghamshire\n", "row 3, field place"),
    (b"practice_code,pcn_name,place,pcn_code\nC84067,X,Nottingham City,U1\n", "field pcn_code"),
    (b"practice_code,pcn_name,place\n", "no rows"),
])
def test_bad_configuration_files_change_nothing(rnd, db, content, message):
    before = counts(db)
    with pytest.raises(ImportFailed) as info:
        svc.import_configuration(round_name=None, data=content, author="T", reason="r")
    assert message in str(info.value)
    assert counts(db) == before


def test_band_exception_turns_the_error_into_info(rnd, db):
    first = rounds.build_configuration(rnd).pcn_data(pcn_key("Newark")).members[0]
    svc.split_pcn(rnd, pcn_key("Newark"), [first], "Tiny", **WHO)
    data = rounds.build_configuration(rnd)
    key = pcn_key("Tiny")
    [f] = [f for f in data.findings_for_pcn(key) if f.rule == "list_size_band"]
    assert f.severity == "error"
    rounds.record_exception(rnd, key, "Rural", "CCG board")
    [f] = [f for f in rounds.build_configuration(rnd).findings_for_pcn(key) if f.rule == "list_size_band"]
    assert f.severity == "info" and "CCG board" in f.message
