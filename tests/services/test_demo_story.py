"""The live demo (issue #16): the 2019/20 round as the history it is, and a current 2026/27 round
rolled forward from it with its PCNs in a spread of states relative to the day it is loaded."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from pcnreg.models import (
    AuditEvent,
    CoverageConfirmation,
    Decision,
    Election,
    Meeting,
    Pcn,
    Registration,
    RegistrationRound,
    Submission,
)
from pcnreg.services import demo_story
from pcnreg.services import registration as reg_svc

TODAY = dt.date(2026, 12, 10)
NOW = "2026-12-10T12:00:00+00:00"


@pytest.fixture
def story(story, app):
    """The conftest's demo story, written (and read) with the clock at NOW."""
    assert app.config["PCNREG_NOW"] == NOW
    return story


def _states(rnd):
    return {r.name: r for r in reg_svc.round_status(rnd)}


def test_history_2019_is_submitted_decided_confirmed_and_live(story, db):
    history, _ = story
    rows = _states(history)
    assert len(rows) == 22 and {r.state for r in rows.values()} == {"live"}
    assert {r.deadline.text for r in rows.values()} == {"submitted in time"}
    subs = list(db.session.scalars(select(Submission).where(Submission.round_id == history.id)))
    assert len(subs) == 22 and max(s.submitted_at for s in subs) < dt.datetime(2019, 5, 15, 23)
    meeting = db.session.scalar(select(Meeting).where(Meeting.round_id == history.id))
    assert meeting.held_on == dt.date(2019, 5, 23)
    decisions = list(db.session.scalars(select(Decision).where(Decision.meeting_id == meeting.id)))
    assert len(decisions) == 22 and {d.outcome for d in decisions} == {"approved"}
    confirmations = list(db.session.scalars(select(CoverageConfirmation)
                                            .where(CoverageConfirmation.round_id == history.id)))
    assert len(confirmations) == 6 and {c.confirmed_at.date() for c in confirmations} == {dt.date(2019, 5, 31)}
    # who did it: the demo's history, not the operator who loaded it
    actors = set(db.session.scalars(select(AuditEvent.actor).where(AuditEvent.round_id == history.id,
                                                                   AuditEvent.action.like("registration.%"))))
    assert actors == {"pcnreg demo (history of the 2019/20 round)"}


def test_history_clinical_directors_as_the_paper_records_them(story, db):
    history, _ = story
    pcns = {p.name: p for p in db.session.scalars(select(Pcn).where(Pcn.round_id == history.id))}

    def row(name):
        return db.session.scalar(select(Registration).where(Registration.pcn_id == pcns[name].id))

    newark = row("Newark")
    assert newark.cd_name == "Dr James Cusack" and newark.cd_process == "agreement"
    assert "Confirmed at PCN meeting" in newark.cd_process_details
    assert row("Ashfield South").deputy_cd_name == "Dr Deepa Balakrishnan"
    nne2 = row("NNE PCN 2")          # "Panel review underway and voting opened 30/4/19"
    assert nne2.cd_process == "election" and "process still running" in nne2.cd_process_details
    assert "voting open" in nne2.cd_process_details and nne2.cd_name.startswith("Not named")
    assert "panel review" in row("Rushcliffe North").cd_process_details


def test_current_round_dates_are_relative_to_the_day_it_is_loaded(story):
    _, current = story
    assert current.contract_year == "2026/27" and current.rolled_from_version_id is not None
    assert current.opens == TODAY - dt.timedelta(days=21)
    assert current.submission_deadline == TODAY + dt.timedelta(days=21)
    assert TODAY < current.submission_deadline < current.committee_date < current.go_live


def test_current_round_has_pcns_in_every_promised_state(story, db):
    _, current = story
    rows = _states(current)
    assert len(rows) == 22
    newark = rows["Newark"]                                          # the demo PCN lead's
    assert newark.state == "draft" and newark.deadline.days_left == 21 and newark.deadline.text == "due in 21 days"
    assert {"payee", "clinical_director", "confirmation"} <= {m.item for m in newark.missing}
    rep = rows["Ashfield South"]                                     # holds the practice representative's
    assert rep.state == "draft" and any(m.item == "confirmation" and m.practice == "C84067" for m in rep.missing)
    submitted = sorted(n for n, r in rows.items() if r.state == "submitted")
    assert submitted == sorted(demo_story.SUBMITTED_PCNS)
    assert rows["Sherwood"].state == "under_review"
    meeting = db.session.scalar(select(Meeting).where(Meeting.round_id == current.id))
    assert meeting.held_on == current.committee_date
    assert [db.session.get(Pcn, i.pcn_id).name for i in meeting.items] == ["Sherwood"]
    election = db.session.scalar(select(Election).where(Election.round_id == current.id))
    assert election.pcn.name == "Mansfield North" and election.state == "nominations_open"
    assert len(election.candidates) == 1
    drafts = [r for r in rows.values() if r.state == "draft"]
    assert len(drafts) == 17 and all(r.missing for r in drafts)


def test_demo_story_is_idempotent(story, db):
    def counts():
        return [db.session.scalar(select(func.count()).select_from(m))
                for m in (RegistrationRound, Registration, Submission, Decision, Election, AuditEvent)]

    before = counts()
    report = demo_story.load()
    assert not report.history and not report.current
    assert counts() == before


def test_pcnreg_demo_prints_both_parts(app, runner, monkeypatch):
    app.config["PCNREG_NOW"] = NOW
    app.config["GEODATA_PATH"] = None
    result = runner.invoke(args=["demo", "--no-upgrade"])
    assert result.exit_code == 0, result.output
    assert "Wrote the 2019/20 round's history" in result.output
    assert "submissions due 31 December 2026" in result.output
    assert "PCN Newark (Nottingham and Nottinghamshire 2026/27)" in result.output
    again = runner.invoke(args=["demo", "--no-upgrade"])
    assert "history is already there; nothing changed" in again.output
