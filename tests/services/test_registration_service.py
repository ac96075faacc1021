"""The registration service on the demo round: drafts, submission snapshots, deadlines with an
injected clock, refusals that write nothing, concurrent submits, confirmation and go-live."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading

import pytest
from sqlalchemy import func, select
from workflow_helpers import BEFORE_DEADLINE, PDF, complete_draft, submitted, uk

from pcnreg.extensions import db as _db
from pcnreg.models import AuditEvent, Commissioner, Registration, StoredFile, Submission
from pcnreg.services import registration as reg_svc
from pcnreg.services import rounds as rounds_svc


@pytest.fixture
def demo(app, db, demo_round):
    app.config["PCNREG_NOW"] = BEFORE_DEADLINE
    rnd = rounds_svc.get_round(None)
    return rnd, rounds_svc.get_pcn(rnd, "Newark")


def count(model) -> int:
    _db.session.expire_all()
    return _db.session.scalar(select(func.count()).select_from(model))


def state(pcn) -> str:
    _db.session.expire_all()
    return _db.session.scalar(select(Registration.state).where(Registration.pcn_id == pcn.id)) or "draft"


def test_an_incomplete_draft_is_refused_with_what_is_missing_and_nothing_written(demo):
    rnd, pcn = demo
    before = count(AuditEvent)
    with pytest.raises(reg_svc.RegistrationError) as refused:
        reg_svc.submit(rnd, pcn)
    text = " ".join(refused.value.messages)
    assert "has not confirmed its membership" in text and "No nominated payee" in text
    assert count(Submission) == 0 and count(AuditEvent) == before and state(pcn) == "draft"


def test_submission_freezes_a_snapshot_tied_to_the_version(app, demo):
    rnd, pcn, sub = submitted(app)
    snap = reg_svc.snapshot_of(sub)
    members = [m["code"] for m in snap["members"]]
    assert members == sorted(rounds_svc.build_configuration(rnd).pcn_data(str(pcn.id)).members)
    assert snap["list_size"] == sum(m["list_size"] for m in snap["members"])
    assert snap["config_version"]["number"] == rnd.head_version.number
    assert {a["practice"] for a in snap["agreement"]} == set(members)
    assert all(a["file_sha256"] == hashlib.sha256(PDF + a["practice"].encode()).hexdigest() for a in snap["agreement"])
    assert snap["payee"]["practice"] == members[0] and snap["clinical_director"]["process"] == "agreement"
    assert snap["submitted"]["late"] is False and sub.late is False
    assert sub.snapshot_sha256 == hashlib.sha256(sub.snapshot.encode()).hexdigest()
    assert state(pcn) == "submitted"


def test_a_snapshot_cannot_be_changed_and_later_edits_start_a_new_draft(app, demo):
    rnd, pcn, sub = submitted(app)
    frozen, digest = sub.snapshot, sub.snapshot_sha256
    sub.snapshot = frozen.replace("PCN finance lead", "Someone else")
    with pytest.raises(ValueError, match="immutable"):
        _db.session.flush()
    _db.session.rollback()
    # An edit after submitting: a new draft; the snapshot is as it was.
    members = rounds_svc.build_configuration(rnd).pcn_data(str(pcn.id)).members
    reg_svc.set_payee(rnd, pcn, members[1], "New payee")
    assert state(pcn) == "draft"
    first = _db.session.scalar(select(Submission).where(Submission.pcn_id == pcn.id, Submission.number == 1))
    assert first.snapshot == frozen and first.snapshot_sha256 == digest
    assert json.loads(first.snapshot)["payee"]["practice"] == members[0]
    second = reg_svc.submit(rnd, pcn)
    assert second.number == 2 and reg_svc.snapshot_of(second)["payee"]["practice"] == members[1]


def test_a_tampered_snapshot_is_detected(app, demo):
    rnd, pcn, sub = submitted(app)
    _db.session.execute(Submission.__table__.update().where(Submission.__table__.c.id == sub.id)
                        .values(snapshot=sub.snapshot.replace('"late":false', '"late":true')))
    _db.session.commit()
    _db.session.expire_all()
    with pytest.raises(reg_svc.RegistrationError, match="does not match its recorded hash"):
        reg_svc.snapshot_of(_db.session.get(Submission, sub.id))


@pytest.mark.parametrize("now, accepted", [
    (uk(2019, 5, 15, 23, 59, 59), True),        # one second before the deadline closes
    (uk(2019, 5, 16, 0, 0, 0), False),          # the deadline has closed
    (dt.datetime(2019, 5, 15, 22, 59, 59, tzinfo=dt.UTC), True),   # the same instant in UTC (BST)
    (dt.datetime(2019, 5, 15, 23, 0, 0, tzinfo=dt.UTC), False),
])
def test_deadline_boundaries(app, demo, now, accepted):
    rnd, pcn = demo
    complete_draft(rnd, pcn)
    app.config["PCNREG_NOW"] = now
    if accepted:
        assert reg_svc.submit(rnd, pcn).late is False
    else:
        with pytest.raises(reg_svc.RegistrationError, match="deadline has passed"):
            reg_svc.submit(rnd, pcn)
        assert count(Submission) == 0


def test_a_late_submission_needs_the_commissioners_override_and_is_marked_late(app, demo):
    rnd, pcn = demo
    complete_draft(rnd, pcn)
    app.config["PCNREG_NOW"] = uk(2019, 5, 17, 9, 0)
    with pytest.raises(reg_svc.RegistrationError):
        reg_svc.submit(rnd, pcn)
    with pytest.raises(reg_svc.RegistrationError, match="Enter why"):
        reg_svc.allow_late(rnd, pcn, "  ")
    reg_svc.allow_late(rnd, pcn, "Practice merger agreed with the CCG on 14 May")
    sub = reg_svc.submit(rnd, pcn)
    assert sub.late is True and reg_svc.snapshot_of(sub)["submitted"]["late_override"].startswith("Practice merger")
    data = rounds_svc.build_configuration(rnd)
    assert reg_svc.status(data, pcn).deadline.kind == "late"


def test_no_submission_or_draft_edit_after_go_live(app, demo):
    rnd, pcn = demo
    complete_draft(rnd, pcn)
    reg_svc.allow_late(rnd, pcn, "exceptional")
    app.config["PCNREG_NOW"] = uk(2019, 7, 1, 0, 0)
    with pytest.raises(reg_svc.RegistrationError, match="went live"):
        reg_svc.submit(rnd, pcn)
    with pytest.raises(reg_svc.RegistrationError, match="went live"):
        reg_svc.set_payee(rnd, pcn, rounds_svc.build_configuration(rnd).pcn_data(str(pcn.id)).members[0])
    assert count(Submission) == 0


def test_bad_draft_input_is_refused_and_changes_nothing(demo):
    rnd, pcn = demo
    members = rounds_svc.build_configuration(rnd).pcn_data(str(pcn.id)).members
    before = (count(StoredFile), count(AuditEvent), count(Registration))
    cases = [
        (lambda: reg_svc.set_payee(rnd, pcn, "C84001"), "not a member practice"),                 # outside the PCN
        (lambda: reg_svc.set_payee(rnd, pcn, members[0], "Sort code 12-34-56 account 12345678"), "bank details"),
        (lambda: reg_svc.sign_agreement(rnd, pcn, members[0], stage="core", signed_on=dt.date(2019, 5, 1),
                                        signatory="Dr X", file_name="a.pdf", content=b""), "Choose the signed"),
        (lambda: reg_svc.sign_agreement(rnd, pcn, members[0], stage="core", signed_on=dt.date(2019, 5, 1),
                                        signatory="Dr X", file_name="a.exe", content=b"MZ\x90"), "PDF, PNG or JPEG"),
        (lambda: reg_svc.sign_agreement(rnd, pcn, members[0], stage="core", signed_on=dt.date(2019, 6, 1),
                                        signatory="Dr X", file_name="a.pdf", content=PDF), "future"),
        (lambda: reg_svc.sign_agreement(rnd, pcn, "C84001", stage="core", signed_on=dt.date(2019, 5, 1),
                                        signatory="Dr X", file_name="a.pdf", content=PDF), "not a member"),
        (lambda: reg_svc.confirm_member(rnd, pcn, "C84001"), "not a member practice"),
        (lambda: reg_svc.set_clinical_director(rnd, pcn, name="Dr Y", practice_code=members[0], profession="GP",
                                               process="election"), "election"),
        (lambda: reg_svc.request_exception(rnd, pcn, "list_size_band|pcn:999", "reason"), "not one of this PCN"),
    ]
    for call, message in cases:
        with pytest.raises(reg_svc.RegistrationError) as refused:
            call()
        assert message in " ".join(refused.value.messages), message
    assert (count(StoredFile), count(AuditEvent), count(Registration)) == before


def test_concurrent_submits_of_one_pcn_exactly_one_succeeds(app, demo, monkeypatch):
    """Two submits that both read the draft before either writes: the second must fail whole."""
    rnd, pcn = demo
    complete_draft(rnd, pcn)
    rnd_id, pcn_id = rnd.id, pcn.id
    _db.session.remove()
    barrier = threading.Barrier(2, timeout=20)
    real_missing = reg_svc.reg.missing

    def missing_then_wait(*args, **kwargs):
        result = real_missing(*args, **kwargs)
        barrier.wait()                   # both have read the registration as a draft
        return result

    monkeypatch.setattr(reg_svc.reg, "missing", missing_then_wait)
    results: list[str] = []

    def attempt():
        with app.app_context():
            r = rounds_svc.get_round(rnd_id)
            p = rounds_svc.get_pcn(r, str(pcn_id))
            try:
                results.append(f"submitted {reg_svc.submit(r, p).number}")
            except reg_svc.RegistrationError as exc:
                results.append(f"refused: {exc.messages[0]}")
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == ["refused: " + reg_svc.CONCURRENT, "submitted 1"], results
    assert count(Submission) == 1 and state(pcn) == "submitted"


def _approve(rnd, pcn):
    reg_svc.transition(rnd, pcn, "table")
    reg_svc.transition(rnd, pcn, "approve", on_agenda=True, rationale="Meets the requirements")
    _db.session.commit()


def test_confirmation_lists_blockers_then_confirms_and_the_round_goes_live(app, demo):
    rnd, _ = demo
    ccg = _db.session.scalar(select(Commissioner).where(Commissioner.code == "04H"))
    view = {v.code: v for v in reg_svc.confirmation_view(rnd)}["04H"]
    assert view.blockers == ["Newark is draft, not approved", "Sherwood is draft, not approved"]
    with pytest.raises(reg_svc.RegistrationError, match="Confirmation is blocked"):
        reg_svc.confirm_coverage(rnd, ccg)
    for name in ("Newark", "Sherwood"):
        _, pcn, _ = submitted(app, name)
        _approve(rnd, pcn)
    assert {v.code: v for v in reg_svc.confirmation_view(rnd)}["04H"].blockers == []
    reg_svc.confirm_coverage(rnd, ccg)
    with pytest.raises(reg_svc.RegistrationError, match="already confirmed"):
        reg_svc.confirm_coverage(rnd, ccg)
    newark = rounds_svc.get_pcn(rnd, "Newark")
    assert state(newark) == "confirmed"
    app.config["PCNREG_NOW"] = uk(2019, 6, 30, 23, 59, 59)
    with pytest.raises(reg_svc.RegistrationError, match="not before"):
        reg_svc.go_live(rnd)
    app.config["PCNREG_NOW"] = uk(2019, 7, 1, 0, 0)
    result = reg_svc.go_live(rnd)
    assert result.live == ["Newark", "Sherwood"] and len(result.not_live) == 20
    assert state(newark) == "live"


def test_after_go_live_the_grouping_is_not_edited_directly(app, demo):
    from pcnreg.services import configuration as config_svc

    rnd, newark = demo
    ccg = _db.session.scalar(select(Commissioner).where(Commissioner.code == "04H"))
    for name in ("Newark", "Sherwood"):
        _, pcn, _ = submitted(app, name)
        _approve(rnd, pcn)
    reg_svc.confirm_coverage(rnd, ccg)
    member = rounds_svc.build_configuration(rnd).pcn_data(str(newark.id)).members[0]
    sherwood = rounds_svc.get_pcn(rnd, "Sherwood")
    # Before go-live a commissioner may still move a practice (here: and back again).
    config_svc.move_practices(rnd, [member], str(sherwood.id), author="CCG", reason="boundary tidy")
    config_svc.move_practices(rnd, [member], str(newark.id), author="CCG", reason="undo")
    app.config["PCNREG_NOW"] = uk(2019, 7, 1, 9, 0)
    reg_svc.go_live(rnd)
    with pytest.raises(config_svc.EditError, match="1 October 2019"):
        config_svc.move_practices(rnd, [member], str(sherwood.id), author="CCG", reason="after go-live")
    assert member in rounds_svc.build_configuration(rnd).pcn_data(str(newark.id)).members


def test_after_go_live_a_move_is_noticed_approved_and_applied_from_the_next_quarter(app, demo):
    from pcnreg.models import ConfigVersion, MembershipChange
    from pcnreg.services import changes

    rnd, newark = demo
    ccg = _db.session.scalar(select(Commissioner).where(Commissioner.code == "04H"))
    with pytest.raises(changes.ChangeError, match="not gone live"):
        changes.give_notice(rnd, "C84001", "Newark", "too early")
    for name in ("Newark", "Sherwood"):
        _, pcn, _ = submitted(app, name)
        _approve(rnd, pcn)
    reg_svc.confirm_coverage(rnd, ccg)
    app.config["PCNREG_NOW"] = uk(2019, 7, 1, 9, 0)
    reg_svc.go_live(rnd)
    member = rounds_svc.build_configuration(rnd).pcn_data(str(newark.id)).members[0]
    app.config["PCNREG_NOW"] = uk(2019, 8, 1, 10, 0)
    with pytest.raises(changes.ChangeError, match="already in Newark"):
        changes.give_notice(rnd, member, "Newark", "no move")
    change = changes.give_notice(rnd, member, "Sherwood", "Closer to the Sherwood practices")
    assert (change.notice_given_on, change.effective_from) == (dt.date(2019, 8, 1), dt.date(2019, 10, 1))
    versions = count(ConfigVersion)
    assert changes.apply_due(rnd) == []                          # not approved yet
    with pytest.raises(changes.ChangeError, match="why"):
        changes.decide(rnd, change.id, approve=False)
    changes.decide(rnd, change.id, approve=True)
    app.config["PCNREG_NOW"] = uk(2019, 9, 30, 23, 59)
    assert changes.apply_due(rnd) == [] and count(ConfigVersion) == versions   # the quarter has not begun
    app.config["PCNREG_NOW"] = uk(2019, 10, 1, 0, 0)
    assert [c.id for c in changes.apply_due(rnd)] == [change.id]
    assert count(ConfigVersion) == versions + 1
    sherwood = rounds_svc.get_pcn(rnd, "Sherwood")
    assert member in rounds_svc.build_configuration(rnd).pcn_data(str(sherwood.id)).members
    assert _db.session.get(MembershipChange, change.id).state == "applied"
