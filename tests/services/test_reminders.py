"""Reminders from the chase list (issue #16 item 10): a commissioner e-mails the practices the
chase list names through the configured SMTP server (the loopback sink here); each send is
recorded; the chase list names practices by name."""
from __future__ import annotations

import pytest
from smtp_sink import SmtpSink
from sqlalchemy import func, select

from pcnreg.models import (
    AuditEvent,
    Commissioner,
    Pcn,
    Practice,
    RegistrationRound,
    User,
)
from pcnreg.services import demo_story, reminders
from pcnreg.services.demo_users import create_demo_users


@pytest.fixture
def current(app, db, story):
    """The demo story's current round (the conftest ``story``: a copy of a database loaded once
    per session, the clock at the story's day) with the demo users; (round, Ashfield's lead
    commissioner)."""
    app.config["PCNREG_NOW"] = "2026-12-10T12:00:00+00:00"
    create_demo_users("http://localhost")
    rnd = db.session.scalar(select(RegistrationRound).where(RegistrationRound.name == demo_story.CURRENT_ROUND))
    ashfield = db.session.scalar(select(Pcn).where(Pcn.round_id == rnd.id, Pcn.name == demo_story.REP_PCN))
    commissioner = db.session.get(Commissioner, ashfield.lead_commissioner_id)
    return rnd, commissioner


def user(db, email):
    return db.session.scalar(select(User).where(User.email == email))


def sent_events(db) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "reminder.sent")))


def test_due_names_the_practices_with_what_they_miss(app, db, current):
    rnd, commissioner = current
    due = reminders.due(rnd, commissioner)
    rep = next(r for r in due if r.code == demo_story.REP_PRACTICE)       # has neither confirmed nor signed
    name = db.session.scalar(select(Practice.name).where(Practice.code == demo_story.REP_PRACTICE))
    assert rep.name == name and rep.pcn_name == demo_story.REP_PCN
    assert any("has not confirmed its membership" in i for i in rep.items)
    assert rep.addresses == ["practice.rep@demo.pcnreg.example"]
    assert all(r.addresses == [] for r in due if r.code != demo_story.REP_PRACTICE)


def test_refused_without_smtp(app, db, current):
    rnd, commissioner = current
    with pytest.raises(reminders.ReminderError, match="no e-mail server set up"):
        reminders.send(rnd, commissioner)
    assert sent_events(db) == []


def test_the_commissioner_emails_the_reminders_from_the_chase_page(app, db, current):
    rnd, commissioner = current
    client = app.test_client(user=user(db, "commissioner.system@demo.pcnreg.example"))
    with SmtpSink() as sink:
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=sink.port, SMTP_FROM="chase@nhs.example")
        page = client.get(f"/rounds/{rnd.id}/chase").get_data(as_text=True)
        action = f"/rounds/{rnd.id}/chase/{commissioner.id}/remind"
        assert f'action="{action}"' in page and "E-mail reminders to the practices of" in page
        response = client.post(action)
        assert response.status_code == 302
        after = client.get(f"/rounds/{rnd.id}/chase").get_data(as_text=True)
    practice = db.session.scalar(select(Practice.name).where(Practice.code == demo_story.REP_PRACTICE))
    assert len(sink.messages) == 1                          # one practice has a representative's address
    sent = sink.messages[0]
    assert sent["to"] == ["practice.rep@demo.pcnreg.example"] and sent["from"] == "chase@nhs.example"
    assert demo_story.REP_PCN in sent["message"]["Subject"]
    body = sent["message"].get_content()
    assert practice in body and "has not confirmed its membership" in body
    events = sent_events(db)
    assert [e.object_id for e in events] == [demo_story.REP_PRACTICE]
    assert "Reminders e-mailed to 1 practice(s)" in after and "No representative&#39;s e-mail address" in after
    assert "(reminded " in after


@pytest.mark.parametrize("email", ["viewer@demo.pcnreg.example", "pcn.lead@demo.pcnreg.example",
                                   "practice.rep@demo.pcnreg.example"])
def test_others_see_no_button_and_are_refused(app, db, current, email):
    rnd, commissioner = current
    client = app.test_client(user=user(db, email))
    with SmtpSink() as sink:
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=sink.port)
        page = client.get(f"/rounds/{rnd.id}/chase").get_data(as_text=True)
        assert "/remind" not in page
        assert client.post(f"/rounds/{rnd.id}/chase/{commissioner.id}/remind").status_code == 403
    assert sink.messages == [] and sent_events(db) == []


def test_a_commissioner_of_another_ccg_cannot_remind_this_one(app, db, current):
    rnd, commissioner = current
    other = db.session.scalar(select(Commissioner).where(Commissioner.system_id == rnd.system_id,
                                                         Commissioner.code == "04K"))
    assert commissioner.code != "04K", "the test needs a reminded practice outside the 04K commissioner's area"
    client = app.test_client(user=user(db, "commissioner.04k@demo.pcnreg.example"))
    assert client.post(f"/rounds/{rnd.id}/chase/{commissioner.id}/remind").status_code == 403
    assert client.post(f"/rounds/{rnd.id}/chase/999999/remind").status_code in (403, 404)
    assert other is not None and db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "reminder.sent")) == 0
