"""The audit trail's head is anchored outside the table: deleting the newest events is detected
(issue #12, item 2)."""
from __future__ import annotations

from sqlalchemy import text
from test_audit import rnd  # noqa: F401  (fixture)

from pcnreg.services import audit, configuration, rounds

WHO = dict(author="Test", reason="testing")


def _anchor(app):
    return app.config["AUDIT_ANCHOR"]


def test_each_commit_appends_the_head_to_the_anchor_file(app, rnd, db):  # noqa: F811
    lines = _anchor(app).read_text().splitlines()
    assert str(_anchor(app)).startswith(app.instance_path)
    head = audit.head()
    assert lines[-1].split()[:2] == [str(head.seq), head.hash]
    assert [int(line.split()[0]) for line in lines] == sorted(int(line.split()[0]) for line in lines)
    assert (_anchor(app).stat().st_mode & 0o777) == 0o600


def test_deleting_the_newest_events_is_detected(app, rnd, db, runner):  # noqa: F811
    assert audit.verify().ok
    db.session.execute(text("DELETE FROM audit_event WHERE seq >= 4"))
    db.session.commit()
    result = audit.verify(anchor=False)
    assert result.ok                           # the chain alone cannot tell
    result = audit.verify()
    assert not result.ok and "newest events are missing" in result.reason and "ends at event 3" in result.reason
    out = runner.invoke(args=["audit", "verify"])
    assert out.exit_code == 1 and "newest events are missing" in out.output


def test_expect_a_head_given_on_the_command_line(app, rnd, db, runner):  # noqa: F811
    printed = runner.invoke(args=["audit", "head"])
    assert printed.exit_code == 0
    head = printed.output.strip()
    assert head == audit.head().text()
    assert runner.invoke(args=["audit", "verify", "--expect", head]).exit_code == 0
    _anchor(app).unlink()                        # an attacker removed the anchor file too
    db.session.execute(text("DELETE FROM audit_event WHERE seq = 5"))
    db.session.commit()
    out = runner.invoke(args=["audit", "verify", "--no-anchor", "--expect", head])
    assert out.exit_code == 1 and "newest events are missing" in out.output
    missing = runner.invoke(args=["audit", "verify"])
    assert missing.exit_code == 1 and "anchor file" in missing.output and "missing" in missing.output
    bad = runner.invoke(args=["audit", "verify", "--expect", "12:nothex"])
    assert bad.exit_code == 2 and "SEQ:HASH" in bad.output


def test_a_rewritten_tail_does_not_match_the_anchor(app, rnd, db):  # noqa: F811
    """Delete the newest events and append forged ones with valid hashes: the anchor disagrees."""
    db.session.execute(text("DELETE FROM audit_event WHERE seq >= 4"))
    db.session.commit()
    saved = _anchor(app).read_bytes()
    r = rounds.get_round()
    rounds.record_exception(r, str(rounds.get_pcn(r, "Newark Town").id), "Forged", "nobody")
    configuration.rename_pcn(r, str(rounds.get_pcn(r, "Newark Town").id), "Forged Town", **WHO)
    _anchor(app).write_bytes(saved)           # the forger cannot append to the anchor (another host)
    result = audit.verify()
    assert not result.ok and result.first_broken == 4 and "anchor file" in result.reason


def test_the_head_is_on_the_audit_page_csv_and_committee_pack(app, rnd, client):  # noqa: F811
    head = audit.head().text()
    assert head in client.get(f"/rounds/{rnd.id}/audit").get_data(as_text=True)
    response = client.get(f"/rounds/{rnd.id}/audit.csv")
    last = response.get_data(as_text=True).splitlines()[-1]
    assert last.startswith("head,") and last.endswith(head) and response.headers["X-Audit-Head"] == head
    newark = rounds.get_pcn(rnd, "Newark Town").id
    assert client.get(f"/rounds/{rnd.id}/pcns/{newark}/audit.csv").get_data(as_text=True).splitlines()[-1].endswith(head)
    from test_committee import committee_objects

    meeting_id = committee_objects(app, rnd, rounds.get_pcn(rnd, "Newark Town"))["meeting_id"]
    pack = client.get(f"/rounds/{rnd.id}/meetings/{meeting_id}/pack")
    assert pack.status_code == 200 and audit.head().text() in pack.get_data(as_text=True)
