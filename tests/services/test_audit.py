"""The hash-chained audit trail: written with each change, and tampering is detected."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, text

from pcnreg.models import AuditEvent
from pcnreg.services import audit, configuration, rounds

WHO = dict(author="Test", reason="testing")


@pytest.fixture
def rnd(app, db, demo_round):
    r = rounds.get_round()
    newark = str(rounds.get_pcn(r, "Newark").id)
    configuration.move_practices(r, ["C84067"], newark, **WHO)
    rounds.record_exception(r, newark, "Rural", "CCG board")
    configuration.rename_pcn(r, newark, "Newark Town", **WHO)
    return r


def count(db):
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


def test_changes_are_recorded_with_before_and_after(rnd, db):
    events = audit.events(round_id=rnd.id)
    actions = [e.action for e in reversed(events)]
    assert actions == ["demo.load", "configuration.import", "configuration.move", "size_exception.record",
                       "configuration.rename"]
    move = next(e for e in events if e.action == "configuration.move")
    after = json.loads(move.after)
    assert after["changes"] == [{"kind": "assign", "practice_code": "C84067",
                                 "from_pcn": str(rounds.get_pcn(rnd, "Ashfield South").id),
                                 "to_pcn": str(rounds.get_pcn(rnd, "Newark Town").id)}]
    assert move.actor.startswith("cli:") or move.actor == "anonymous"
    rename = next(e for e in events if e.action == "configuration.rename")
    assert rename.pcn_id == rounds.get_pcn(rnd, "Newark Town").id
    assert audit.verify().ok


def test_verify_cli_passes_then_fails_on_a_changed_field(rnd, db, runner):
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0 and "intact: 5 events" in ok.output
    db.session.execute(text("UPDATE audit_event SET after = :a WHERE seq = 3"), {"a": '{"changes":[]}'})
    db.session.commit()
    bad = runner.invoke(args=["audit", "verify"])
    assert bad.exit_code == 1 and "BROKEN at event 3" in bad.output and "changed" in bad.output


def test_a_deleted_event_is_detected(rnd, db):
    db.session.execute(text("DELETE FROM audit_event WHERE seq = 2"))
    db.session.commit()
    result = audit.verify()
    assert not result.ok and result.first_broken == 3 and "missing" in result.reason


def test_reordered_events_are_detected(rnd, db):
    # swap the contents of events 2 and 3 (keeping seq): their links no longer match
    rows = {r.seq: r for r in db.session.scalars(select(AuditEvent).where(AuditEvent.seq.in_([2, 3])))}
    fields = ("action", "object_type", "object_id", "before", "after", "prev_hash", "hash", "at", "pcn_id")
    a, b = ({f: getattr(rows[s], f) for f in fields} for s in (2, 3))
    for f in fields:
        setattr(rows[2], f, b[f])
        setattr(rows[3], f, a[f])
    rows[2].hash, rows[3].hash = "x" * 64, "y" * 64     # avoid the unique constraint during the swap
    db.session.flush()
    rows[2].hash, rows[3].hash = b["hash"], a["hash"]
    db.session.commit()
    result = audit.verify()
    assert not result.ok and result.first_broken == 2


def test_a_rehashed_forgery_still_breaks_the_next_link(rnd, db):
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.seq == 2))
    event.after = '{"forged":true}'
    event.hash = audit.event_hash(event.prev_hash, event)
    db.session.commit()
    result = audit.verify()
    assert not result.ok and result.first_broken == 3 and "link" in result.reason


def test_a_failed_transaction_leaves_no_audit_event(rnd, db):
    before = count(db)
    with pytest.raises(configuration.EditError):
        configuration.move_practices(rnd, ["C84074"], "999999", **WHO)
    with pytest.raises(configuration.EditError):
        configuration.rename_pcn(rnd, str(rounds.get_pcn(rnd, "Sherwood").id), "newark town", **WHO)
    assert count(db) == before and audit.verify().ok


def test_an_error_after_the_event_is_written_rolls_it_back(rnd, db, monkeypatch):
    """The event is flushed inside the change's transaction: a later failure removes both."""
    from pcnreg.services import areas

    def boom(_rnd):
        raise RuntimeError("disk full")

    monkeypatch.setattr(areas, "refresh", boom)
    before = count(db)
    with pytest.raises(RuntimeError):
        configuration.move_practices(rnd, ["C84074"], str(rounds.get_pcn(rnd, "Sherwood").id), **WHO)
    assert count(db) == before and audit.verify().ok


def test_audit_pages_and_csv(rnd, client):
    page = client.get(f"/rounds/{rnd.id}/audit")
    assert page.status_code == 200 and b"configuration.move" in page.data and b"chain intact" in page.data
    newark = rounds.get_pcn(rnd, "Newark Town").id
    pcn_page = client.get(f"/rounds/{rnd.id}/pcns/{newark}/audit")
    assert b"size_exception.record" in pcn_page.data and b"demo.load" not in pcn_page.data
    csv_text = client.get(f"/rounds/{rnd.id}/audit.csv").get_data(as_text=True)
    lines = csv_text.splitlines()
    assert lines[0].startswith("seq,at,actor") and len(lines) == 7 and lines[-1].startswith("head,")
    assert client.get("/rounds/999/audit").status_code == 404
