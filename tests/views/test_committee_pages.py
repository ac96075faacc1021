"""The committee pages: meetings, the agenda, the review of a PCN with its decision forms, the
exception and condition forms, who may decide, the map document and the printable pack."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from conftest import content_fixture
from sqlalchemy import func, select
from test_committee import BELOW_BAND, committee_objects, submit
from workflow_helpers import BEFORE_DEADLINE, uk

from pcnreg.extensions import db as _db
from pcnreg.models import AgendaItem, Committee, Decision, DecisionCondition, Meeting, Registration
from pcnreg.services import committee as committee_svc
from pcnreg.services import maps
from pcnreg.services import registration as reg_svc
from pcnreg.services import rounds as rounds_svc

NO_GEODATA = "Maps are unavailable: no geodata is installed"


def count(model) -> int:
    _db.session.expire_all()
    return _db.session.scalar(select(func.count()).select_from(model))


def rows() -> tuple[int, ...]:
    return tuple(count(m) for m in (Meeting, AgendaItem, Decision, DecisionCondition, Registration))


def state(rnd, name: str) -> str:
    _db.session.expire_all()
    return reg_svc.registration(rnd, rounds_svc.get_pcn(rnd, name)).state


def text(response) -> str:
    """The page's text, tags removed and spaces tidied."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)).split())


def make_demo(app, geodata=None) -> dict:
    """The demo round (loaded by the caller's ``demo_round``; with the geodata installed, if given)
    with a meeting: Newark under review, PCN 8 (below the band) approved with a condition and its
    exception request undecided."""
    if geodata is not None:
        from pcnreg.services.geodata import install

        install(geodata)
    rnd = rounds_svc.get_round(None)
    newark = rounds_svc.get_pcn(rnd, "Newark")
    ids = committee_objects(app, rnd, newark)
    app.config["PCNREG_NOW"] = uk(2019, 5, 23, 14, 0)
    meeting = _db.session.get(Meeting, ids["meeting_id"])
    low = rounds_svc.get_pcn(rnd, BELOW_BAND)
    base = f"/rounds/{rnd.id}/meetings/{meeting.id}"
    return {"rnd": rnd, "meeting": meeting, "newark": newark, "low": low, "base": base, **ids}


def _meeting_demo_content() -> None:
    """The demo and ``committee_objects``' meeting, written once per session (see ``meeting_demo``)."""
    from flask import current_app

    from pcnreg.services.demo import load_demo

    load_demo(None)
    rnd = rounds_svc.get_round(None)
    committee_objects(current_app, rnd, rounds_svc.get_pcn(rnd, "Newark"))


content_fixture("meeting_demo", "committee-meeting", _meeting_demo_content)


@pytest.fixture
def meeting_demo(app, db):
    """What ``make_demo(app)`` returns, on a copy of a database where it was made once per
    session (``content_fixture``): the one meeting, its request and its condition read back."""
    rnd = rounds_svc.get_round(None)
    meeting = _db.session.scalar(select(Meeting))
    low = rounds_svc.get_pcn(rnd, BELOW_BAND)
    app.config["PCNREG_NOW"] = uk(2019, 5, 23, 14, 0)
    return {"rnd": rnd, "meeting": meeting, "newark": rounds_svc.get_pcn(rnd, "Newark"), "low": low,
            "base": f"/rounds/{rnd.id}/meetings/{meeting.id}", "meeting_id": meeting.id,
            "request_id": committee_svc.meeting_view(rnd, meeting).row(low.id).requests[0].id,
            "condition_id": _db.session.scalar(select(DecisionCondition.id))}


def date(prefix: str, day: dt.date | None) -> dict:
    if day is None:
        return {}
    return {f"{prefix}[day]": str(day.day), f"{prefix}[month]": str(day.month), f"{prefix}[year]": str(day.year)}


# --- meetings ----------------------------------------------------------------------------------------

def test_the_dashboard_links_to_the_meetings_and_they_are_listed(client, meeting_demo):
    rnd = meeting_demo["rnd"]
    assert f'href="/rounds/{rnd.id}/meetings"' in client.get(f"/rounds/{rnd.id}").get_data(as_text=True)
    page = client.get(f"/rounds/{rnd.id}/meetings")
    assert page.status_code == 200
    assert "23 May 2019" in text(page) and "Set up a meeting" in text(page)


def test_a_meeting_is_set_up(client, meeting_demo):
    rnd = meeting_demo["rnd"]
    committee = committee_svc.committees(rnd)[0]
    before = count(Meeting)
    response = client.post(f"/rounds/{rnd.id}/meetings", data={
        "committee": str(committee.id), **date("held_on", dt.date(2019, 6, 20)), "members_present": "Dr A\nDr B"})
    assert response.status_code == 302
    assert count(Meeting) == before + 1
    made = _db.session.scalar(select(Meeting).order_by(Meeting.id.desc()))
    assert response.headers["Location"] == f"/rounds/{rnd.id}/meetings/{made.id}"
    assert made.held_on == dt.date(2019, 6, 20) and made.members_present == "Dr A\nDr B"


@pytest.mark.parametrize("data,message", [
    ({"held_on[day]": "20", "held_on[month]": "6", "held_on[year]": "2019", "members_present": "Dr A"},
     "Choose a committee"),
    ({"members_present": "Dr A"}, "Enter the date of the meeting"),
    ({"held_on[day]": "31", "held_on[month]": "6", "held_on[year]": "2019", "members_present": "Dr A"},
     "Date of the meeting must be a real date"),
    ({"held_on[day]": "20", "held_on[year]": "2019", "members_present": "Dr A"},
     "Date of the meeting must include a month"),
    ({"held_on[day]": "20", "held_on[month]": "6", "held_on[year]": "19", "members_present": "Dr A"},
     "4-digit year"),
    ({"held_on[day]": "20", "held_on[month]": "6", "held_on[year]": "2019", "members_present": " "},
     "Enter the members present"),
])
def test_meeting_form_errors(client, meeting_demo, data, message):
    rnd = meeting_demo["rnd"]
    committee = committee_svc.committees(rnd)[0]
    if message != "Choose a committee":
        data = {"committee": str(committee.id), **data}
    before = rows()
    response = client.post(f"/rounds/{rnd.id}/meetings", data=data)
    assert response.status_code == 400
    assert "There is a problem" in text(response) and message in text(response)
    assert rows() == before


# --- the meeting and its agenda ----------------------------------------------------------------------------

def test_the_meeting_page_shows_the_agenda_and_the_notice_without_geodata(client, meeting_demo):
    page = client.get(meeting_demo["base"])
    assert page.status_code == 200
    body = text(page)
    assert "Newark" in body and BELOW_BAND in body
    assert "Under review" in body and "Approved with conditions" in body
    assert NO_GEODATA in body and "<iframe" not in page.get_data(as_text=True)
    assert "nhsuk-inset-text" in page.get_data(as_text=True)
    assert f"{meeting_demo['base']}/pack" in page.get_data(as_text=True)


def test_a_draft_pcn_cannot_be_added_to_the_agenda(client, meeting_demo):
    rnd = meeting_demo["rnd"]
    sherwood = rounds_svc.get_pcn(rnd, "Sherwood")
    before = rows()
    response = client.post(f"{meeting_demo['base']}/agenda", data={"pcn": str(sherwood.id)})
    assert response.status_code == 400 and "Choose a submitted PCN from the list" in text(response)
    assert rows() == before and state(rnd, "Sherwood") == "draft"


def test_a_submitted_pcn_is_added_to_the_agenda(app, client, meeting_demo):
    rnd = meeting_demo["rnd"]
    app.config["PCNREG_NOW"] = BEFORE_DEADLINE
    sherwood = submit(rnd, "Sherwood")
    assert f'value="{sherwood.id}"' in client.get(meeting_demo["base"]).get_data(as_text=True)
    response = client.post(f"{meeting_demo['base']}/agenda", data={"pcn": str(sherwood.id)})
    assert response.status_code == 302
    assert state(rnd, "Sherwood") == "under_review"
    assert "Sherwood" in text(client.get(meeting_demo["base"]))


# --- reviewing and deciding -----------------------------------------------------------------------------------

def test_the_review_page_shows_the_snapshot(client, meeting_demo):
    page = client.get(f"{meeting_demo['base']}/pcns/{meeting_demo['newark'].id}")
    assert page.status_code == 200
    body = text(page)
    assert "75,817" in body and "above band" in body and "Record the decision" in body
    assert "Dr Alex Example" in body and "agreement-" in body and "SHA-256" in body
    low = client.get(f"{meeting_demo['base']}/pcns/{meeting_demo['low'].id}")
    assert "below the minimum" in text(low) and "Rural area: agreed with the CCG" in text(low)
    assert "Record the decision on this exception" in text(low)
    assert "Merge plan by September" in text(low) and "30 September 2019" in text(low)


def test_a_pcn_not_on_the_agenda_is_404_and_nothing_written(client, meeting_demo):
    sherwood = rounds_svc.get_pcn(meeting_demo["rnd"], "Sherwood")
    before = rows()
    assert client.get(f"{meeting_demo['base']}/pcns/{sherwood.id}").status_code == 404
    response = client.post(f"{meeting_demo['base']}/pcns/{sherwood.id}", data={"outcome": "approved", "rationale": "Fine"})
    assert response.status_code == 404 and "on the agenda of this meeting" in text(response)
    assert rows() == before and state(meeting_demo["rnd"], "Sherwood") == "draft"


def test_a_committee_member_of_the_committee_approves(client_as, meeting_demo):
    member = client_as("committee_member", f"committee:{meeting_demo['meeting'].committee_id}")
    response = member.post(f"{meeting_demo['base']}/pcns/{meeting_demo['newark'].id}",
                           data={"outcome": "approved", "rationale": "Meets the requirements"})
    assert response.status_code == 302
    assert state(meeting_demo["rnd"], "Newark") == "approved"
    decision = _db.session.scalar(select(Decision).where(Decision.subject_key == f"registration:{meeting_demo['newark'].id}"))
    assert decision.rationale == "Meets the requirements" and decision.decided_by == member.user.email
    assert "Meets the requirements" in text(member.get(f"{meeting_demo['base']}/pack"))


@pytest.mark.parametrize("role,scope", [("viewer", "all"), ("pcn_lead", "newark"),
                                        ("commissioner", "system:E54000014"), ("committee_member", "another")])
def test_others_may_not_decide(client_as, db, meeting_demo, role, scope):
    if scope == "newark":
        scope = f"pcn:{meeting_demo['newark'].id}"
    elif scope == "another":                   # a member of another committee of the same system
        other = Committee(system_id=meeting_demo["rnd"].system_id, name="Another committee")
        db.session.add(other)
        db.session.commit()
        scope = f"committee:{other.id}"
    who = client_as(role, scope)
    before = rows()
    response = who.post(f"{meeting_demo['base']}/pcns/{meeting_demo['newark'].id}", data={"outcome": "approved", "rationale": "Fine"})
    assert response.status_code == 403
    request_id = meeting_demo["request_id"]
    assert who.post(f"{meeting_demo['base']}/exceptions/{request_id}",
                    data={f"exception-{request_id}-outcome": "agreed",
                          f"exception-{request_id}-rationale": "Fine"}).status_code == 403
    assert rows() == before and state(meeting_demo["rnd"], "Newark") == "under_review"
    page = who.get(f"{meeting_demo['base']}/pcns/{meeting_demo['newark'].id}")
    assert page.status_code == 200 and "Record the decision" not in text(page)    # they read the round


def test_approve_with_conditions_through_the_page(client, meeting_demo):
    response = client.post(f"{meeting_demo['base']}/pcns/{meeting_demo['newark'].id}", data={
        "outcome": "approved_with_conditions", "rationale": "Above the band",
        "condition_1": "Work as two neighbourhood teams", **date("due_1", dt.date(2019, 9, 30)),
        "condition_2": "Report to the committee", **date("due_2", dt.date(2019, 12, 31))})
    assert response.status_code == 302
    decision = _db.session.scalar(select(Decision).where(Decision.subject_key == f"registration:{meeting_demo['newark'].id}"))
    assert [(c.text, c.due_on) for c in decision.conditions] == [
        ("Work as two neighbourhood teams", dt.date(2019, 9, 30)), ("Report to the committee", dt.date(2019, 12, 31))]


@pytest.mark.parametrize("data,message", [
    ({"outcome": "approved_with_conditions", "rationale": "Why", "condition_1": "Work as two teams"},
     "Enter the due date of condition 1"),
    ({"outcome": "approved_with_conditions", "rationale": "Why"}, "Enter at least one condition"),
    ({"outcome": "approved_with_conditions", "rationale": "Why", **date("due_2", dt.date(2019, 9, 30))},
     "Enter condition 2, or clear its due date"),
    ({"outcome": "approved", "rationale": ""}, "Enter the rationale for the decision"),
    ({"rationale": "Why"}, "Choose the decision"),
    ({"outcome": "approved", "rationale": "Why", "condition_1": "A condition", **date("due_1", dt.date(2019, 9, 30))},
     "Conditions go with an approval with conditions"),
    ({"outcome": "approved_with_conditions", "rationale": "Why", "condition_1": "Early",
      **date("due_1", dt.date(2019, 5, 1))}, "cannot be due before the meeting"),
])
def test_decision_form_errors_write_nothing(client, meeting_demo, data, message):
    before = rows()
    response = client.post(f"{meeting_demo['base']}/pcns/{meeting_demo['newark'].id}", data=data)
    assert response.status_code == 400
    assert "There is a problem" in text(response) and message in text(response)
    assert rows() == before and state(meeting_demo["rnd"], "Newark") == "under_review"


def test_defer_and_reject_through_the_page(app, client, meeting_demo):
    response = client.post(f"{meeting_demo['base']}/pcns/{meeting_demo['newark'].id}",
                           data={"outcome": "deferred", "rationale": "Waiting for the election"})
    assert response.status_code == 302 and state(meeting_demo["rnd"], "Newark") == "deferred"
    page = client.get(f"{meeting_demo['base']}/pcns/{meeting_demo['newark'].id}")
    assert "may start a new draft" in text(page) and "Record the decision" not in text(page)
    again = client.post(f"{meeting_demo['base']}/pcns/{meeting_demo['newark'].id}", data={"outcome": "rejected", "rationale": "No"})
    assert again.status_code == 400 and "deferred cannot be taken through" in text(again)


def test_an_exception_decision_through_the_page(client_as, meeting_demo):
    member = client_as("committee_member", f"committee:{meeting_demo['meeting'].committee_id}")
    request_id = meeting_demo["request_id"]
    url = f"{meeting_demo['base']}/exceptions/{request_id}"
    before = rows()
    bad = member.post(url, data={f"exception-{request_id}-outcome": "agreed"})
    assert bad.status_code == 400 and "Enter the rationale for the decision" in text(bad)
    assert rows() == before
    assert member.post(f"{meeting_demo['base']}/exceptions/{request_id + 1000}",
                       data={f"exception-{request_id}-outcome": "agreed"}).status_code == 404
    good = member.post(url, data={f"exception-{request_id}-outcome": "agreed",
                                  f"exception-{request_id}-rationale": "Rural area"})
    assert good.status_code == 302
    decision = _db.session.scalar(select(Decision).where(Decision.subject_key == f"exception:{request_id}"))
    assert decision.outcome == "agreed" and decision.exception_request_id == request_id
    assert "Rural area" in text(member.get(f"{meeting_demo['base']}/pcns/{meeting_demo['low'].id}"))


def test_a_condition_is_recorded_as_met_through_the_page(app, client, client_as, meeting_demo):
    app.config["PCNREG_NOW"] = uk(2019, 8, 1, 9, 0)
    rnd, condition_id = meeting_demo["rnd"], meeting_demo["condition_id"]
    url = f"/rounds/{rnd.id}/conditions/{condition_id}/met"
    prefix = f"condition-{condition_id}-met_on"
    assert client_as("committee_member", f"committee:{meeting_demo['meeting'].committee_id}").post(
        url, data=date(prefix, dt.date(2019, 7, 31))).status_code == 403
    for data, message in [({}, "Enter the date the condition was met"),
                          (date(prefix, dt.date(2019, 8, 2)), "cannot be in the future")]:
        response = client.post(url, data=data)
        assert response.status_code == 400 and message in text(response)
    assert _db.session.get(DecisionCondition, condition_id).met_on is None
    assert client.post(f"/rounds/{rnd.id}/conditions/{condition_id + 1000}/met",
                       data=date(prefix, dt.date(2019, 7, 31))).status_code == 404
    response = client.post(url, data=date(prefix, dt.date(2019, 7, 31)))
    assert response.status_code == 302
    _db.session.expire_all()
    assert _db.session.get(DecisionCondition, condition_id).met_on == dt.date(2019, 7, 31)


# --- the pack and the map ----------------------------------------------------------------------------------------

def test_the_pack_lists_every_agenda_pcn_then_the_minutes(client, meeting_demo):
    client.post(f"{meeting_demo['base']}/pcns/{meeting_demo['newark'].id}", data={"outcome": "rejected", "rationale": "Too large"})
    page = client.get(f"{meeting_demo['base']}/pack")
    assert page.status_code == 200
    html, body = page.get_data(as_text=True), text(page)
    minutes = body.index(f"Minutes {meeting_demo['meeting'].committee.name}, meeting of 23 May 2019")
    assert body.index("1. Newark") < body.index(f"2. {BELOW_BAND}") < minutes < body.index("Dr Jane Smith, Chair")
    assert html.count('class="pcnreg-pack-pcn"') == 2
    assert "No map: geodata not installed" in body
    assert "Dr Jane Smith, Chair" in body                                  # members present
    assert "Too large" in body and "Rural practices" in body               # the rationales
    assert "Merge plan by September" in body and "30 September 2019" in body
    assert "Exception request" in body and "Rural area: agreed with the CCG" in body
    assert '/committee/pack.css' in html
    # organisations by name with their code, and when the pack was produced
    assert "Lead commissioner NHS Newark and Sherwood CCG (04H)" in body
    assert re.search(r"Nominated payee [A-Z][a-z][^()]* \(C\d{5}\)", body)
    assert "Meeting on 23 May 2019. This pack was produced on" in body
    css = client.get("/committee/pack.css")
    assert css.status_code == 200 and css.mimetype == "text/css" and "break-before: page" in css.get_data(as_text=True)


def test_the_map_document_is_404_without_geodata(client, meeting_demo):
    response = client.get(f"{meeting_demo['base']}/map")
    assert response.status_code == 404 and NO_GEODATA in text(response)


@pytest.fixture
def with_geodata(app, db, geodata, demo_round):
    return make_demo(app, geodata)


def test_the_map_document_colours_the_areas_by_state(client, with_geodata):
    meeting_demo = with_geodata
    page = client.get(meeting_demo["base"])
    assert page.status_code == 200 and "<iframe" in page.get_data(as_text=True)
    response = client.get(f"{meeting_demo['base']}/map")
    assert response.status_code == 200
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    html = response.get_data(as_text=True)
    def fill(state):
        return f'"fillColor": "{maps.STATE_COLOURS[state]}"'

    for state in ("draft", "under_review", "approved_with_conditions"):      # the areas' styles
        assert fill(state) in html, state
    assert fill("rejected") not in html
    assert "Under review (1)" in html and "Approved with conditions (1)" in html     # the legend
    client.post(f"{meeting_demo['base']}/pcns/{meeting_demo['newark'].id}", data={"outcome": "rejected", "rationale": "No"})
    again = client.get(f"{meeting_demo['base']}/map").get_data(as_text=True)
    assert fill("rejected") in again and fill("under_review") not in again and "Rejected (1)" in again
    pack = client.get(f"{meeting_demo['base']}/pack")
    assert pack.get_data(as_text=True).count('src="data:image/png;base64,') == 2


HUGE = "99999999999999999999"


@pytest.mark.parametrize("path", ["/meetings/{huge}", "/meetings/{m}/pcns/{huge}", "/meetings/{huge}/pack",
                                  "/meetings/{huge}/map"])
def test_unknown_ids_are_404(client, meeting_demo, path):
    rnd = meeting_demo["rnd"]
    url = f"/rounds/{rnd.id}" + path.format(huge=HUGE, m=meeting_demo["meeting"].id)
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("value", ["²", "٣", HUGE, "\x00", "-1", " 1 ", "1e3", "x" * 5000])
def test_hostile_values_are_refused_and_write_nothing(client, meeting_demo, value):
    rnd, base, request_id, condition_id = meeting_demo["rnd"], meeting_demo["base"], meeting_demo["request_id"], meeting_demo["condition_id"]
    posts = [
        (f"/rounds/{rnd.id}/meetings", {"committee": value, "held_on[day]": value, "held_on[month]": "5",
                                        "held_on[year]": "2019", "members_present": "Dr A"}),
        (f"{base}/agenda", {"pcn": value}),
        (f"{base}/pcns/{meeting_demo['newark'].id}", {"outcome": value, "rationale": "Why", "condition_1": value,
                                              "due_1[day]": value, "due_1[month]": value, "due_1[year]": value}),
        (f"{base}/exceptions/{request_id}", {f"exception-{request_id}-outcome": value,
                                             f"exception-{request_id}-rationale": value}),
        (f"/rounds/{rnd.id}/conditions/{condition_id}/met", {f"condition-{condition_id}-met_on[day]": value,
                                                             f"condition-{condition_id}-met_on[month]": "7",
                                                             f"condition-{condition_id}-met_on[year]": "2019"}),
        (f"/rounds/{rnd.id}/conditions/{HUGE}/met", {}),
        (f"{base}/exceptions/{HUGE}", {}),
        (f"/rounds/{rnd.id}/meetings/{HUGE}/pcns/{HUGE}", {"outcome": "approved", "rationale": "Why"}),
    ]
    before = rows()
    for url, data in posts:
        response = client.post(url, data=data)
        assert response.status_code in (400, 404), (url, data, response.status_code)
    assert rows() == before


def test_a_tampered_snapshot_gives_a_409_page_not_a_500(app, db, client, demo_round):
    from test_committee import committee_objects

    from pcnreg.models import Submission
    from pcnreg.services import rounds as rounds_svc

    rnd = rounds_svc.get_round(None)
    ids = committee_objects(app, rnd, rounds_svc.get_pcn(rnd, "Newark"))
    sub = db.session.scalar(select(Submission).order_by(Submission.id).limit(1))
    db.session.execute(Submission.__table__.update().where(Submission.__table__.c.id == sub.id)
                       .values(snapshot=sub.snapshot.replace('"late":false', '"late":true')))
    db.session.commit()
    response = client.get(f"/rounds/{rnd.id}/meetings/{ids['meeting_id']}")
    assert response.status_code == 409
    assert "does not match its recorded hash" in response.get_data(as_text=True)
