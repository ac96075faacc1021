"""Committee review (services.committee): meetings, agendas, decisions on registrations and on
exception requests, conditions, the review data and the pack.

The demo round has no blocking error, so ``below_band`` moves a practice out of Nottingham City
PCN 8 to put it below the band: its submission then carries an exception request.
``committee_objects`` makes everything the committee's URLs need (used by the role matrix too).
"""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from workflow_helpers import BEFORE_DEADLINE, complete_draft, uk

from pcnreg.extensions import db as _db
from pcnreg.models import AgendaItem, AuditEvent, Committee, Decision, DecisionCondition, Meeting, Registration
from pcnreg.services import committee as committee_svc
from pcnreg.services import configuration as config_svc
from pcnreg.services import registration as reg_svc
from pcnreg.services import rounds as rounds_svc
from pcnreg.services.registration import RegistrationError

MEETING_DAY = dt.date(2019, 5, 23)
PRESENT = "Dr Jane Smith, Chair\nAmanda Sullivan, Accountable Officer"
BELOW_BAND = "Nottingham City PCN 8"


# --- helpers (the role matrix and the page tests use them too) ---------------------------------------

def submit(rnd, name: str):
    """The demo PCN ``name`` completed (exception requests for its blocking errors) and submitted;
    a PCN already submitted is left as it is."""
    pcn = rounds_svc.get_pcn(rnd, name)
    if reg_svc.registration(rnd, pcn).state == "draft":
        complete_draft(rnd, pcn)
        reg_svc.submit(rnd, pcn)
    return pcn


def below_band(rnd):
    """Nottingham City PCN 8 below the band (its largest practice moved to PCN 7): a blocking error."""
    data = rounds_svc.build_configuration(rnd)
    pcn = rounds_svc.get_pcn(rnd, BELOW_BAND)
    members = data.pcn_data(str(pcn.id)).members
    largest = max(members, key=lambda c: data.config.practices[c].list_size or 0)
    to = rounds_svc.get_pcn(rnd, "Nottingham City PCN 7")
    config_svc.move_practices(rnd, [largest], str(to.id), author="Test", reason="To make a PCN below the band")
    assert reg_svc.blocking_findings(rounds_svc.build_configuration(rnd), str(pcn.id))
    return pcn


def committee_of(rnd) -> Committee:
    return committee_svc.committees(rnd)[0]


def new_meeting(rnd, day: dt.date = MEETING_DAY) -> Meeting:
    return committee_svc.create_meeting(rnd, committee_of(rnd).id, day, PRESENT)


def committee_objects(app, rnd, pcn) -> dict:
    """A meeting with ``pcn`` (submitted here if it is a draft) and the below-band PCN on its
    agenda, the latter approved with one condition; its exception request left undecided.
    Returns the URL parameters: meeting_id, request_id, condition_id."""
    before = app.config.get("PCNREG_NOW")
    app.config["PCNREG_NOW"] = BEFORE_DEADLINE
    try:
        low = below_band(rnd)
        submit(rnd, pcn.name)
        submit(rnd, low.name)
        meeting = new_meeting(rnd)
        committee_svc.add_to_agenda(rnd, meeting, pcn)
        committee_svc.add_to_agenda(rnd, meeting, low)
        decision = committee_svc.decide(rnd, meeting, low, "approved_with_conditions", "Rural practices",
                                        [("Merge plan by September", dt.date(2019, 9, 30))])
        request_id = committee_svc.meeting_view(rnd, meeting).row(low.id).requests[0].id
        return {"meeting_id": meeting.id, "request_id": request_id, "condition_id": decision.conditions[0].id}
    finally:
        if before is None:
            app.config.pop("PCNREG_NOW", None)
        else:
            app.config["PCNREG_NOW"] = before


def count(model) -> int:
    _db.session.expire_all()
    return _db.session.scalar(select(func.count()).select_from(model))


def counts() -> tuple[int, ...]:
    return tuple(count(m) for m in (Meeting, AgendaItem, Decision, DecisionCondition, AuditEvent, Registration))


def state(rnd, pcn) -> str:
    _db.session.expire_all()
    return reg_svc.registration(rnd, pcn).state


@pytest.fixture
def rnd(app, db, demo_round):
    app.config["PCNREG_NOW"] = BEFORE_DEADLINE
    return rounds_svc.get_round(None)


@pytest.fixture
def tabled(rnd):
    """(meeting, Newark): Newark submitted and on the agenda of a new meeting."""
    newark = submit(rnd, "Newark")
    meeting = new_meeting(rnd)
    committee_svc.add_to_agenda(rnd, meeting, newark)
    return meeting, newark


# --- meetings ---------------------------------------------------------------------------------------

def test_a_meeting_is_created_with_its_members_and_audited(rnd):
    meeting = committee_svc.create_meeting(rnd, committee_of(rnd).id, MEETING_DAY, "  Dr Jane  Smith \n\n Jo Bloggs ")
    assert meeting.held_on == MEETING_DAY and meeting.round_id == rnd.id
    assert committee_svc.members_present(meeting) == ["Dr Jane Smith", "Jo Bloggs"]
    assert committee_svc.meetings(rnd) == [meeting]
    assert _db.session.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc())).action == "committee.meeting"


@pytest.mark.parametrize("committee,day,present,message,field", [
    (None, MEETING_DAY, PRESENT, "Choose a committee of", "committee"),
    (999999, MEETING_DAY, PRESENT, "Choose a committee of", "committee"),
    ("own", None, PRESENT, "Enter the date of the meeting", "held_on"),
    ("own", MEETING_DAY, " \n ", "Enter the members present", "members_present"),
])
def test_meeting_creation_errors_write_nothing(rnd, committee, day, present, message, field):
    before = counts()
    committee_id = committee_of(rnd).id if committee == "own" else committee
    with pytest.raises(RegistrationError, match=message) as caught:
        committee_svc.create_meeting(rnd, committee_id, day, present)
    assert caught.value.field == field
    assert counts() == before


def test_a_committee_of_another_system_is_refused(rnd, db):
    from pcnreg.models import System

    other = System(code="E54000099", name="Elsewhere")
    db.session.add(other)
    db.session.flush()
    stranger = Committee(system_id=other.id, name="Elsewhere committee")
    db.session.add(stranger)
    db.session.commit()
    before = counts()
    with pytest.raises(RegistrationError, match="Choose a committee of"):
        committee_svc.create_meeting(rnd, stranger.id, MEETING_DAY, PRESENT)
    assert counts() == before


# --- the agenda ------------------------------------------------------------------------------------------

def test_adding_a_submitted_pcn_puts_it_under_review(rnd, tabled):
    meeting, newark = tabled
    assert state(rnd, newark) == "under_review"
    item = reg_svc.on_agenda(meeting, newark)
    assert item is not None and item.submission_id == reg_svc.latest_submission(rnd, newark.id).id
    assert committee_svc.submitted_pcns(rnd) == []


def test_a_draft_pcn_is_refused_and_nothing_written(rnd):
    meeting = new_meeting(rnd)
    sherwood = rounds_svc.get_pcn(rnd, "Sherwood")
    before = counts()
    with pytest.raises(RegistrationError, match="Sherwood is draft: only a submitted registration"):
        committee_svc.add_to_agenda(rnd, meeting, sherwood)
    assert counts() == before and state(rnd, sherwood) == "draft"


def test_a_pcn_already_on_the_agenda_is_refused(rnd, tabled):
    meeting, newark = tabled
    before = counts()
    with pytest.raises(RegistrationError, match="already on the agenda"):
        committee_svc.add_to_agenda(rnd, meeting, newark)
    assert counts() == before


def test_a_meeting_of_another_round_is_refused(rnd, tabled):
    from pcnreg.models import RegistrationRound

    meeting, newark = tabled
    other = RegistrationRound(name="Another round", system_id=rnd.system_id, reference_date=rnd.reference_date)
    _db.session.add(other)
    _db.session.flush()
    meeting.round_id = other.id                 # as if it were the other round's (not committed)
    with pytest.raises(RegistrationError, match="another round"):
        committee_svc.add_to_agenda(rnd, meeting, rounds_svc.get_pcn(rnd, "Sherwood"))
    _db.session.rollback()


# --- decisions on registrations --------------------------------------------------------------------------

def test_approve(rnd, tabled):
    meeting, newark = tabled
    decision = committee_svc.decide(rnd, meeting, newark, "approved", "Meets every requirement")
    assert state(rnd, newark) == "approved"
    assert decision.subject_key == f"registration:{newark.id}" and decision.exception_request_id is None
    assert decision.submission_id == reg_svc.on_agenda(meeting, newark).submission_id
    assert decision.rationale == "Meets every requirement" and decision.conditions == []
    assert _db.session.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc())).action == "committee.decision"


def test_approve_with_conditions_stores_the_conditions_and_due_dates(rnd, tabled):
    meeting, newark = tabled
    committee_svc.decide(rnd, meeting, newark, "approved_with_conditions", "Above the band",
                         [("Work as two neighbourhood teams", dt.date(2019, 9, 30)),
                          ("Report progress to the committee", dt.date(2019, 12, 31)), ("", None)])
    assert state(rnd, newark) == "approved_with_conditions"
    rows = list(_db.session.scalars(select(DecisionCondition).order_by(DecisionCondition.id)))
    assert [(c.text, c.due_on, c.met_on) for c in rows] == [
        ("Work as two neighbourhood teams", dt.date(2019, 9, 30), None),
        ("Report progress to the committee", dt.date(2019, 12, 31), None)]


@pytest.mark.parametrize("conditions,message", [
    ([("Work as two teams", None)], "Every condition needs its text and a due date"),
    ([], "Enter at least one condition with its due date"),
    ([("", dt.date(2019, 9, 30))], "Every condition needs its text and a due date"),
    ([("Too early", dt.date(2019, 5, 1))], "cannot be due before the meeting"),
])
def test_conditions_without_due_dates_are_refused(rnd, tabled, conditions, message):
    meeting, newark = tabled
    before = counts()
    with pytest.raises(RegistrationError, match=message):
        committee_svc.decide(rnd, meeting, newark, "approved_with_conditions", "Above the band", conditions)
    assert counts() == before and state(rnd, newark) == "under_review"


def test_defer_then_the_pcn_may_start_again(rnd, tabled):
    meeting, newark = tabled
    committee_svc.decide(rnd, meeting, newark, "deferred", "Waiting for the Clinical Director's election")
    assert state(rnd, newark) == "deferred"
    assert reg_svc.reopen(rnd, newark) == "draft"


def test_reject(rnd, tabled):
    meeting, newark = tabled
    committee_svc.decide(rnd, meeting, newark, "rejected", "Does not cover a natural community")
    assert state(rnd, newark) == "rejected"


@pytest.mark.parametrize("outcome,rationale,conditions,message", [
    ("approved", "   ", [], "Enter the rationale"),
    ("maybe", "Why", [], "Choose the decision"),
    ("approved", "Why", [("Condition", dt.date(2019, 9, 30))], "Conditions go with an approval with conditions"),
])
def test_bad_decisions_are_refused_and_nothing_written(rnd, tabled, outcome, rationale, conditions, message):
    meeting, newark = tabled
    before = counts()
    with pytest.raises(RegistrationError, match=message):
        committee_svc.decide(rnd, meeting, newark, outcome, rationale, conditions)
    assert counts() == before and state(rnd, newark) == "under_review"


def test_a_decision_for_a_pcn_not_on_the_agenda_is_refused_and_nothing_written(rnd, tabled):
    meeting, newark = tabled
    sherwood = submit(rnd, "Sherwood")
    other = new_meeting(rnd, dt.date(2019, 6, 20))
    committee_svc.add_to_agenda(rnd, other, sherwood)          # under review, but at another meeting
    before = counts()
    with pytest.raises(RegistrationError, match="not on the agenda of this meeting"):
        committee_svc.decide(rnd, meeting, sherwood, "approved", "Fine")
    with pytest.raises(RegistrationError):                     # a draft PCN, on no agenda
        committee_svc.decide(rnd, meeting, rounds_svc.get_pcn(rnd, "Ashfield North"), "approved", "Fine")
    assert counts() == before and state(rnd, sherwood) == "under_review"


def test_a_pcn_is_decided_once(rnd, tabled):
    meeting, newark = tabled
    committee_svc.decide(rnd, meeting, newark, "approved", "Fine")
    before = counts()
    with pytest.raises(RegistrationError, match="approved cannot be taken through"):
        committee_svc.decide(rnd, meeting, newark, "rejected", "Changed our minds")
    assert counts() == before and state(rnd, newark) == "approved"


# --- exception requests and conditions met ---------------------------------------------------------------

@pytest.fixture
def with_request(rnd):
    """(meeting, PCN below the band, its exception request id), on the agenda."""
    low = below_band(rnd)
    submit(rnd, low.name)
    meeting = new_meeting(rnd)
    committee_svc.add_to_agenda(rnd, meeting, low)
    requests = committee_svc.meeting_view(rnd, meeting).row(low.id).requests
    assert len(requests) == 1 and "below the minimum" in requests[0].message
    return meeting, low, requests[0].id


def test_an_exception_request_is_agreed(rnd, with_request):
    meeting, low, request_id = with_request
    decision = committee_svc.decide_exception(rnd, meeting, request_id, "agreed", "Rural area, no neighbour")
    assert decision.subject_key == f"exception:{request_id}" and decision.exception_request_id == request_id
    assert decision.pcn_id == low.id
    row = committee_svc.meeting_view(rnd, meeting).row(low.id)
    assert row.requests[0].decision.outcome == "agreed"
    assert row.decision is None and state(rnd, low) == "under_review"      # the registration is decided apart


@pytest.mark.parametrize("outcome,rationale,message", [
    ("approved", "Why", "Choose whether the exception is agreed or refused"),
    ("refused", "", "Enter the rationale"),
])
def test_bad_exception_decisions_are_refused(rnd, with_request, outcome, rationale, message):
    meeting, _, request_id = with_request
    before = counts()
    with pytest.raises(RegistrationError, match=message):
        committee_svc.decide_exception(rnd, meeting, request_id, outcome, rationale)
    assert counts() == before


def test_an_exception_request_not_on_the_agenda_is_refused(rnd, with_request):
    meeting, _, request_id = with_request
    other = new_meeting(rnd, dt.date(2019, 6, 20))
    before = counts()
    with pytest.raises(RegistrationError, match="not part of a submission on the agenda"):
        committee_svc.decide_exception(rnd, other, request_id, "agreed", "Fine")
    with pytest.raises(RegistrationError, match="not part of a submission on the agenda"):
        committee_svc.decide_exception(rnd, meeting, request_id + 1000, "agreed", "Fine")
    committee_svc.decide_exception(rnd, meeting, request_id, "refused", "Not rural")
    with pytest.raises(RegistrationError, match="already decided"):
        committee_svc.decide_exception(rnd, meeting, request_id, "agreed", "Fine")
    assert count(Decision) == before[2] + 1


def test_a_condition_is_recorded_as_met(app, rnd, with_request):
    meeting, low, _ = with_request
    decision = committee_svc.decide(rnd, meeting, low, "approved_with_conditions", "Rural",
                                    [("Merge plan", dt.date(2019, 9, 30))])
    condition_id = decision.conditions[0].id
    app.config["PCNREG_NOW"] = uk(2019, 8, 1, 10, 0)
    before = counts()
    for met_on, message in [(None, "Enter the date"), (dt.date(2019, 8, 2), "cannot be in the future"),
                            (dt.date(2019, 5, 1), "cannot be before the meeting")]:
        with pytest.raises(RegistrationError, match=message):
            committee_svc.condition_met(rnd, condition_id, met_on)
    assert counts() == before
    committee_svc.condition_met(rnd, condition_id, dt.date(2019, 7, 31))
    _db.session.expire_all()
    assert _db.session.get(DecisionCondition, condition_id).met_on == dt.date(2019, 7, 31)
    with pytest.raises(RegistrationError, match="already recorded as met"):
        committee_svc.condition_met(rnd, condition_id, dt.date(2019, 7, 31))
    with pytest.raises(RegistrationError, match="no condition"):
        committee_svc.condition_met(rnd, condition_id + 1000, dt.date(2019, 7, 31))


# --- the review data and the pack --------------------------------------------------------------------------

def test_the_review_shows_the_snapshot_and_a_later_change_of_members(rnd, tabled):
    meeting, newark = tabled
    row = committee_svc.meeting_view(rnd, meeting).row(newark.id)
    assert row.name == "Newark" and row.total == 75817 and row.band == "above" and not row.changed
    assert len(row.members) == 7 and row.state == "under_review" and row.decision is None
    moved = row.members[0]["code"]
    sherwood = rounds_svc.get_pcn(rnd, "Sherwood")
    config_svc.move_practices(rnd, [moved], str(sherwood.id), author="Test", reason="After the submission")
    row = committee_svc.meeting_view(rnd, meeting).row(newark.id)
    assert row.changed and row.removed == [moved] and row.added == []
    assert row.total == 75817                                 # the snapshot, not the configuration now


def test_the_pack_has_every_agenda_pcn_and_no_map_without_geodata(rnd, tabled):
    meeting, newark = tabled
    sherwood = submit(rnd, "Sherwood")
    committee_svc.add_to_agenda(rnd, meeting, sherwood)
    view, rows = committee_svc.pack(rnd, meeting)
    assert [r.row.name for r in rows] == ["Newark", "Sherwood"]
    assert all(r.map_uri is None for r in rows)


def test_the_pack_map_is_a_png_drawn_from_the_submitted_area():
    ring = [[-1.2, 53.0], [-1.1, 53.0], [-1.1, 53.1], [-1.2, 53.1], [-1.2, 53.0]]
    square = {"type": "Polygon", "coordinates": [ring]}
    png = committee_svc.area_png({"area": {"geometry": square}})
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert committee_svc.data_uri(png).startswith("data:image/png;base64,iVBOR")
    assert committee_svc.area_png({"area": None}) is None


def test_the_map_states_follow_the_decisions(rnd, tabled):
    meeting, newark = tabled
    committee_svc.decide(rnd, meeting, newark, "rejected", "No")
    states = committee_svc.states(rnd)
    assert states[str(newark.id)] == "rejected" and len(states) == 22
    assert sum(1 for s in states.values() if s == "draft") == 21
