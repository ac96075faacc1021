"""In-year membership changes through the pages (views/changes.py) and their service
(services/change_requests.py), on the demo round taken live on 1 July 2019: a practice's notice,
the commissioner's decision, applying due changes as a configuration version, the assignment of a
practice no PCN will accept; bad input answered on the form with nothing written."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from conftest import content_fixture
from sqlalchemy import func, select
from workflow_helpers import BEFORE_DEADLINE, submitted, uk

from pcnreg.extensions import db as _db
from pcnreg.models import (
    AuditEvent,
    Commissioner,
    ConfigVersion,
    Membership,
    MembershipChange,
    Practice,
)
from pcnreg.services import change_requests as req_svc
from pcnreg.services import registration as reg_svc
from pcnreg.services import rounds as rounds_svc
from pcnreg.services.demo import load_demo


def _approve(rnd, pcn):
    reg_svc.transition(rnd, pcn, "table")
    reg_svc.transition(rnd, pcn, "approve", on_agenda=True, rationale="Meets the requirements")
    _db.session.commit()


def _live_content() -> None:
    """The demo round, Newark and Sherwood approved and confirmed, live from 1 July 2019: written
    once per session, each test getting a copy of the database (``content_fixture``)."""
    from flask import current_app as app

    load_demo(None)
    app.config["PCNREG_NOW"] = BEFORE_DEADLINE
    rnd = rounds_svc.get_round(None)
    for name in ("Newark", "Sherwood"):
        _, pcn, _ = submitted(app, name)
        _approve(rnd, pcn)
    reg_svc.confirm_coverage(rnd, _db.session.scalar(select(Commissioner).where(Commissioner.code == "04H")))
    app.config["PCNREG_NOW"] = uk(2019, 7, 1, 9, 0)
    reg_svc.go_live(rnd)


content_fixture("live", "demo-live-2019", _live_content)


@pytest.fixture
def live(app, db):
    """``_live_content``'s round with the clock at 1 August 2019. Returns (round, newark,
    sherwood, a Newark member practice)."""
    app.config["PCNREG_NOW"] = uk(2019, 8, 1, 10, 0)
    rnd = rounds_svc.get_round(None)
    newark, sherwood = rounds_svc.get_pcn(rnd, "Newark"), rounds_svc.get_pcn(rnd, "Sherwood")
    member = _db.session.scalar(select(Practice.code).join(Membership, Membership.practice_id == Practice.id)
                                .where(Membership.round_id == rnd.id, Membership.pcn_id == newark.id)
                                .order_by(Practice.code))
    return rnd, newark, sherwood, member


def counts() -> tuple[int, int, int]:
    _db.session.expire_all()
    return tuple(_db.session.scalar(select(func.count()).select_from(m))
                 for m in (MembershipChange, AuditEvent, ConfigVersion))


def pcn_of(rnd, code: str) -> int | None:
    """The PCN a practice is in, read straight from the membership table."""
    _db.session.expire_all()
    return _db.session.scalar(select(Membership.pcn_id).join(Practice, Practice.id == Membership.practice_id)
                              .where(Membership.round_id == rnd.id, Practice.code == code))


def date_fields(name: str, day: dt.date) -> dict:
    return {f"{name}[day]": str(day.day), f"{name}[month]": str(day.month), f"{name}[year]": str(day.year)}


# --- the service ---------------------------------------------------------------------------------------

def test_a_notice_takes_the_rule_date_or_a_later_quarter(live):
    rnd, newark, sherwood, member = live
    change = req_svc.give_notice(rnd, member.lower(), str(sherwood.id), "Closer to Sherwood")
    # 1 August + 28 days = 29 August: the next quarter starts on 1 October
    assert (change.notice_given_on, change.effective_from, change.state) == \
        (dt.date(2019, 8, 1), dt.date(2019, 10, 1), "notified")
    assert change.from_pcn_id == newark.id and change.to_pcn_id == sherwood.id
    other = _db.session.scalar(select(Practice.code).join(Membership, Membership.practice_id == Practice.id)
                               .where(Membership.pcn_id == newark.id, Practice.code != member).order_by(Practice.code))
    later = req_svc.give_notice(rnd, other, str(sherwood.id), "Later", dt.date(2020, 1, 1))
    assert later.effective_from == dt.date(2020, 1, 1)
    events = list(_db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.object_id == other, AuditEvent.action.startswith("membership_change")).order_by(AuditEvent.seq)))
    assert events == ["membership_change.notice", "membership_change.later_date"]


@pytest.mark.parametrize("code, to, reason, date, field, message", [
    ("ZZ9999", "sherwood", "x", None, "practice", "ZZ9999 is not a practice of"),
    ("", "sherwood", "x", None, "practice", "Enter the practice's ODS code"),
    ("member", "newark", "x", None, "to_pcn", "is already in Newark"),
    ("member", "", "x", None, "to_pcn", "Choose the PCN"),
    ("member", "sherwood", "  ", None, "reason", "Enter the reason"),
    ("member", "sherwood", "x", dt.date(2019, 9, 1), "effective_from", "cannot take effect before 1 October 2019"),
    ("member", "sherwood", "x", dt.date(2019, 11, 1), "effective_from", "first day of a quarter"),
    ("member", "sherwood", "x", dt.date(2020, 4, 1), "effective_from", "outside the 2019/20 contract year"),
])
def test_bad_notices_are_refused_on_their_field_and_write_nothing(live, code, to, reason, date, field, message):
    rnd, newark, sherwood, member = live
    pcns = {"newark": str(newark.id), "sherwood": str(sherwood.id), "": ""}
    before = counts()
    with pytest.raises(req_svc.ChangeRequestError) as refused:
        req_svc.give_notice(rnd, member if code == "member" else code, pcns[to], reason, date)
    assert any(p.field == field and message in p.message for p in refused.value.problems), refused.value.problems
    assert counts() == before


def test_a_date_before_the_last_applied_change_is_refused(app, live):
    rnd, newark, sherwood, member = live
    first = req_svc.give_notice(rnd, member, str(sherwood.id), "Closer", dt.date(2020, 1, 1))
    req_svc.changes.decide(rnd, first.id, approve=True)
    app.config["PCNREG_NOW"] = uk(2020, 1, 2, 9, 0)
    assert [c.id for c in req_svc.changes.apply_due(rnd)] == [first.id]
    app.config["PCNREG_NOW"] = uk(2019, 8, 1, 10, 0)       # a clock set back: the rule date is before it
    before = counts()
    with pytest.raises(req_svc.ChangeRequestError, match="before the last change applied"):
        req_svc.give_notice(rnd, member, str(newark.id), "Back again")
    assert counts() == before


def test_a_practice_with_a_pending_notice_cannot_give_another(live):
    rnd, newark, sherwood, member = live
    req_svc.give_notice(rnd, member, str(sherwood.id), "Closer")
    with pytest.raises(req_svc.ChangeRequestError, match="already has a change waiting"):
        req_svc.give_notice(rnd, member, str(sherwood.id), "Again")


def test_notices_are_refused_before_go_live(app, db):
    load_demo(None)
    rnd = rounds_svc.get_round(None)
    sherwood = rounds_svc.get_pcn(rnd, "Sherwood")
    with pytest.raises(req_svc.ChangeRequestError, match="has not gone live"):
        req_svc.give_notice(rnd, "C84001", str(sherwood.id), "Too early")


# --- the pages ------------------------------------------------------------------------------------------

def test_an_in_year_change_through_the_pages(app, live, client_as):
    """Notice by the practice's representative → the commissioner approves → applied on its date
    from the commissioner's button → the practice is in Sherwood in the latest version."""
    rnd, newark, sherwood, member = live
    rep = client_as("practice_rep", f"practice:{member}")
    commissioner = client_as("commissioner", "system:E54000014")
    form = rep.get(f"/rounds/{rnd.id}/changes/notice?practice={member}")
    assert form.status_code == 200 and f'value="{member}"' in form.text and "1 October 2019" in form.text
    given = rep.post(f"/rounds/{rnd.id}/changes/notice",
                     data={"practice": member, "to_pcn": str(sherwood.id), "reason": "Patients live nearer Sherwood"})
    assert given.status_code == 302, given.text
    change = _db.session.scalar(select(MembershipChange).where(MembershipChange.practice_code == member))
    assert change.state == "notified" and change.effective_from == dt.date(2019, 10, 1)
    # the representative may not decide; the commissioner sees the notice and its decision form
    assert rep.post(f"/rounds/{rnd.id}/changes/decide", data={"change": str(change.id), "decision": "approve"}
                    ).status_code == 403
    page = commissioner.get(f"/rounds/{rnd.id}/changes")
    assert page.status_code == 200 and "Patients live nearer Sherwood" in page.text
    assert "waiting for a decision" in page.text and "Record the decision" in page.text
    assert commissioner.post(f"/rounds/{rnd.id}/changes/decide",
                             data={"change": str(change.id), "decision": "approve"}).status_code == 302
    _db.session.expire_all()
    assert _db.session.get(MembershipChange, change.id).state == "approved"
    # not due yet: the button applies nothing
    versions = counts()[2]
    commissioner.post(f"/rounds/{rnd.id}/changes/apply", data={})
    assert counts()[2] == versions and pcn_of(rnd, member) == newark.id
    app.config["PCNREG_NOW"] = uk(2019, 10, 1, 8, 0)
    assert rep.post(f"/rounds/{rnd.id}/changes/apply", data={}).status_code == 403
    applied = commissioner.post(f"/rounds/{rnd.id}/changes/apply", data={}, follow_redirects=True)
    assert applied.status_code == 200 and "1 change applied as configuration version" in applied.text
    assert counts()[2] == versions + 1
    assert pcn_of(rnd, member) == sherwood.id
    _db.session.expire_all()
    latest = _db.session.scalar(select(ConfigVersion).where(ConfigVersion.round_id == rnd.id)
                                .order_by(ConfigVersion.number.desc()))
    assert _db.session.get(MembershipChange, change.id).applied_version_id == latest.id
    assert member in rounds_svc.build_configuration(rnd).pcn_data(str(sherwood.id)).members


def test_bad_input_on_the_notice_form_keeps_what_was_typed(live, client_as):
    rnd, newark, sherwood, member = live
    commissioner = client_as("commissioner", "system:E54000014")
    before = counts()
    response = commissioner.post(f"/rounds/{rnd.id}/changes/notice", data={
        "practice": member, "to_pcn": str(newark.id), "reason": "Typed reason kept",
        **date_fields("effective_from", dt.date(2019, 9, 1))})
    assert response.status_code == 400
    assert f"{member} is already in Newark" in response.text
    assert "cannot take effect before 1 October 2019" in response.text
    assert "Typed reason kept" in response.text and f'value="{member}"' in response.text
    assert 'value="2019"' in response.text
    unknown = commissioner.post(f"/rounds/{rnd.id}/changes/notice",
                                data={"practice": "QQ1234", "to_pcn": str(sherwood.id), "reason": "r"})
    assert unknown.status_code == 400 and "QQ1234 is not a practice of" in unknown.text
    bad_date = commissioner.post(f"/rounds/{rnd.id}/changes/notice", data={
        "practice": member, "to_pcn": str(sherwood.id), "reason": "r",
        "effective_from[day]": "31", "effective_from[month]": "2", "effective_from[year]": "2020"})
    assert bad_date.status_code == 400 and "must be a real date" in bad_date.text
    assert counts() == before


def test_who_may_give_notice(live, client_as):
    rnd, newark, sherwood, member = live
    other = _db.session.scalar(select(Practice.code).join(Membership, Membership.practice_id == Practice.id)
                               .where(Membership.pcn_id == sherwood.id).order_by(Practice.code))
    data = {"practice": member, "to_pcn": str(sherwood.id), "reason": "r"}
    assert client_as("practice_rep", f"practice:{other}").post(
        f"/rounds/{rnd.id}/changes/notice", data=data).status_code == 403
    assert client_as("pcn_lead", f"pcn:{sherwood.id}").post(
        f"/rounds/{rnd.id}/changes/notice", data=data).status_code == 403
    assert client_as("viewer", "system:E54000014").post(
        f"/rounds/{rnd.id}/changes/notice", data=data).status_code == 403
    assert counts()[0] == 0
    assert client_as("pcn_lead", f"pcn:{newark.id}").post(
        f"/rounds/{rnd.id}/changes/notice", data=data).status_code == 302        # on the practice's behalf
    assert counts()[0] == 1


def test_a_refusal_needs_its_reason(live, client_as):
    rnd, newark, sherwood, member = live
    change = req_svc.give_notice(rnd, member, str(sherwood.id), "Closer")
    commissioner = client_as("commissioner", "system:E54000014")
    before = counts()
    response = commissioner.post(f"/rounds/{rnd.id}/changes/decide", data={"change": str(change.id),
                                                                           "decision": "refuse"})
    assert response.status_code == 400 and "Enter why the change is refused" in response.text
    assert counts() == before
    missing = commissioner.post(f"/rounds/{rnd.id}/changes/decide", data={"change": "99999", "decision": "approve"})
    assert missing.status_code == 400 and "There is no membership change 99999" in missing.text
    refused = commissioner.post(f"/rounds/{rnd.id}/changes/decide", data={
        "change": str(change.id), "decision": "refuse", "note": "Sherwood is over its size band"},
        follow_redirects=True)
    assert refused.status_code == 200 and "Sherwood is over its size band" in refused.text
    _db.session.expire_all()
    assert _db.session.get(MembershipChange, change.id).state == "refused"


def test_assigning_a_practice_needs_the_lmc_engagement(app, live, client_as):
    rnd, newark, sherwood, member = live
    commissioner = client_as("commissioner", "system:E54000014")
    page = commissioner.get(f"/rounds/{rnd.id}/changes/assign")
    assert page.status_code == 200 and "Summary of the LMC" in page.text
    before = counts()
    data = {"practice": member, "to_pcn": str(sherwood.id), **date_fields("effective_from", dt.date(2019, 9, 1))}
    response = commissioner.post(f"/rounds/{rnd.id}/changes/assign", data=data)
    assert response.status_code == 400 and "Enter the date the LMC was engaged" in response.text
    assert counts() == before
    future = commissioner.post(f"/rounds/{rnd.id}/changes/assign", data={
        **data, **date_fields("lmc_on", dt.date(2019, 8, 20)), "lmc_summary": "Met the LMC secretary"})
    assert future.status_code == 400 and "cannot be in the future" in future.text and "Met the LMC secretary" in future.text
    assert counts() == before
    assert client_as("practice_rep", f"practice:{member}").post(
        f"/rounds/{rnd.id}/changes/assign", data={**data, **date_fields("lmc_on", dt.date(2019, 7, 20)),
                                                  "lmc_summary": "x"}).status_code == 403
    done = commissioner.post(f"/rounds/{rnd.id}/changes/assign", data={
        **data, **date_fields("lmc_on", dt.date(2019, 7, 20)), "lmc_summary": "Met the LMC secretary on 20 July"})
    assert done.status_code == 302, done.text
    change = _db.session.scalar(select(MembershipChange).where(MembershipChange.practice_code == member))
    assert (change.kind, change.state, change.lmc_engaged_on) == ("assignment", "approved", dt.date(2019, 7, 20))
    app.config["PCNREG_NOW"] = uk(2019, 9, 1, 9, 0)
    commissioner.post(f"/rounds/{rnd.id}/changes/apply", data={})
    assert pcn_of(rnd, member) == sherwood.id


def test_the_pages_link_to_the_changes(live, client_as):
    rnd, newark, sherwood, member = live
    commissioner = client_as("commissioner", "system:E54000014")
    dashboard = commissioner.get(f"/rounds/{rnd.id}")
    assert f"/rounds/{rnd.id}/changes" in dashboard.text
    pcn_page = commissioner.get(f"/rounds/{rnd.id}/pcns/{newark.id}")
    assert re.search(rf"/rounds/{rnd.id}/changes/notice\?practice=", pcn_page.text)


def test_the_commissioners_home_counts_the_waiting_changes(app, live, client_as):
    rnd, newark, sherwood, member = live
    commissioner = client_as("commissioner", "system:E54000014")
    assert "membership change notice" not in commissioner.get("/").text
    change = req_svc.give_notice(rnd, member, str(sherwood.id), "Closer")
    home = commissioner.get("/")
    assert "1 membership change notice waiting for a decision, 0 approved changes due to apply" in home.text
    req_svc.changes.decide(rnd, change.id, approve=True)
    app.config["PCNREG_NOW"] = uk(2019, 10, 1, 9, 0)
    assert "0 membership change notices waiting for a decision, 1 approved change due to apply" in \
        commissioner.get("/").text


def test_a_practice_of_another_system_cannot_be_moved_in(live, client_as):
    """A practice known nationally but not in the round (another system's) is refused, even to a
    system-wide commissioner, on the form; nothing is written."""
    from pcnreg.models import System

    rnd, newark, sherwood, member = live
    other = System(code="E54000015", name="Leicester, Leicestershire and Rutland", kind="stp")
    _db.session.add(other)
    _db.session.flush()
    ccg = Commissioner(code="03W", name="NHS East Leicestershire and Rutland CCG", system_id=other.id)
    _db.session.add(ccg)
    _db.session.flush()
    _db.session.add(Practice(code="C82001", name="Far Away Surgery", commissioner_id=ccg.id))
    _db.session.commit()
    before = counts()
    with pytest.raises(req_svc.ChangeRequestError, match="C82001 is not a practice of"):
        req_svc.assign(rnd, "C82001", str(sherwood.id), dt.date(2019, 9, 1), dt.date(2019, 7, 1), "LMC agreed")
    response = client_as("commissioner", "system:E54000014").post(
        f"/rounds/{rnd.id}/changes/notice", data={"practice": "C82001", "to_pcn": str(sherwood.id), "reason": "r"})
    assert response.status_code in (400, 403)
    assert counts() == before


def test_a_round_whose_contract_year_is_over_offers_no_notice(app, live, client_as):
    rnd, newark, sherwood, member = live
    app.config["PCNREG_NOW"] = uk(2026, 12, 4, 10, 0)          # the 2019/20 round, seven years on
    rep = client_as("practice_rep", f"practice:{member}")
    commissioner = client_as("commissioner", "system:E54000014")
    for client in (rep, commissioner):
        page = client.get(f"/rounds/{rnd.id}/changes").get_data(as_text=True)
        assert "The contract year ended on 31 March 2020" in page
        assert f'href="/rounds/{rnd.id}/changes/notice"' not in page
        form = client.get(f"/rounds/{rnd.id}/changes/notice").get_data(as_text=True)
        assert "The contract year ended on 31 March 2020" in form and 'value="Give notice"' not in form \
            and ">Give notice<" not in " ".join(form.split()).replace("> ", ">").replace(" <", "<")
    # while the year runs, the page offers the notice
    app.config["PCNREG_NOW"] = uk(2019, 8, 1, 10, 0)
    assert f'href="/rounds/{rnd.id}/changes/notice"' in rep.get(f"/rounds/{rnd.id}/changes").get_data(as_text=True)


def test_the_notice_form_offers_every_pcn_but_the_practices_own(live, client_as):
    rnd, newark, sherwood, member = live
    rep = client_as("practice_rep", f"practice:{member}")
    form = rep.get(f"/rounds/{rnd.id}/changes/notice?practice={member}").get_data(as_text=True)
    offered = set(re.findall(r'<option value="(\d+)"', form))
    assert str(sherwood.id) in offered and str(newark.id) not in offered      # member is in Newark
    # without a practice named, every PCN is offered
    assert str(newark.id) in set(re.findall(r'<option value="(\d+)"', rep.get(f"/rounds/{rnd.id}/changes/notice").get_data(as_text=True)))
