"""Each role's home (issue #16): after signing in, the demo's users land on their task in the
current round; a visitor sees sign-in and the public results, and no menu."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from pcnreg.models import User
from pcnreg.services.demo_users import create_demo_users

NOW = "2026-12-10T12:00:00+00:00"


@pytest.fixture
def demo(app, db, story):
    assert app.config["PCNREG_NOW"] == NOW
    create_demo_users("http://localhost")

    def as_(email):
        return app.test_client(user=db.session.scalar(select(User).where(User.email == email)))

    return as_


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


# role's demo user -> what their home must say (literal expectations, not read from the code)
HOMES = {
    "pcn.lead@demo.pcnreg.example": ["Registration of Newark", "Newark: due in 21 days", "Draft",
                                     # 2026/27 allows the PCN's own account: the home says so
                                     "No nominated payee practice and no own account", "No named accountable Clinical Director",
                                     "Open the registration"],
    "practice.rep@demo.pcnreg.example": ["Ashfield House (C84067)", "Ashfield South: due in 21 days",
                                         "Ashfield House (C84067) has not confirmed its membership",
                                         "Ashfield House (C84067) has not signed the Network Agreement (core parts)",
                                         "Confirm and sign for your practice"],
    "committee.member@demo.pcnreg.example": ["Next meeting: 7 January 2027", "1 PCN on the agenda", "Sherwood",
                                             "Under review", "Open the agenda"],
    "returning.officer@demo.pcnreg.example": ["Clinical Director elections", "Mansfield North: Nominations close at",
                                              "Nominations open", "Open the elections"],
    "commissioner.system@demo.pcnreg.example": ["Chase and confirm", "17 PCNs not submitted yet",
                                                "4 submitted PCNs waiting for a committee agenda",
                                                "block confirmation of coverage", "Open the chase list"],
    "commissioner.04k@demo.pcnreg.example": ["Chase and confirm", "(04K)", "7 PCNs not submitted yet",
                                             "1 submitted PCN waiting for a committee agenda"],
    "admin@demo.pcnreg.example": ["Rounds you can read", "Run the service", "Users: 8 active",
                                  "Set up systems from the national files", "Manage users"],
    "viewer@demo.pcnreg.example": ["Rounds you can read", "2 rounds", "Nottingham and Nottinghamshire 2026/27",
                                   "Nottingham and Nottinghamshire 2019/20", "See all rounds"],
}


@pytest.mark.parametrize("email", sorted(HOMES))
def test_each_role_lands_on_its_task(demo, email):
    page = demo(email).get("/")
    assert page.status_code == 200
    words = text(page)
    assert "Your tasks" in words
    for expected in HOMES[email]:
        assert expected in words, (email, expected)


def test_a_visitor_sees_sign_in_and_public_results_and_no_menu(demo, app):
    page = app.test_client(anonymous=True).get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Sign in" in html and "Clinical Director election results" in html
    assert "nhsuk-header__navigation-link" not in html      # no menu links that bounce to sign-in
    assert 'href="/rounds"' not in html and 'href="/import"' not in html
    # the service's name once in the window title, not twice
    assert "<title>Register primary care networks – NHS</title>" in " ".join(html.split())


def test_menu_offers_import_only_to_who_may_import(demo):
    assert 'href="/import"' in demo("commissioner.04k@demo.pcnreg.example").get("/").get_data(as_text=True)
    for email in ("viewer@demo.pcnreg.example", "pcn.lead@demo.pcnreg.example",
                  "committee.member@demo.pcnreg.example"):
        assert 'href="/import"' not in demo(email).get("/").get_data(as_text=True), email


def test_a_practice_that_signed_the_core_parts_is_told_schedule_1_is_still_due(demo, app, story):
    from pcnreg.models import Pcn, RegistrationRound
    from pcnreg.services import demo_story, registration
    from pcnreg.services.demo_story import STAND_IN_PDF

    _, current = story
    pcn = app.extensions["sqlalchemy"].session.scalar(
        select(Pcn).where(Pcn.round_id == current.id, Pcn.name == demo_story.REP_PCN))
    rnd = app.extensions["sqlalchemy"].session.get(RegistrationRound, current.id)
    registration.confirm_member(rnd, pcn, demo_story.REP_PRACTICE)
    sign = dict(signatory="Dr A Partner", file_name="agreement.pdf", content=STAND_IN_PDF)
    registration.sign_agreement(rnd, pcn, demo_story.REP_PRACTICE, stage="core", signed_on=dt.date(2026, 12, 9), **sign)
    home = text(demo("practice.rep@demo.pcnreg.example").get("/"))
    assert "Schedule 1" in home and "(due by" in home, home
    assert "nothing more is needed" not in home
    registration.sign_agreement(rnd, pcn, demo_story.REP_PRACTICE, stage="schedule1", signed_on=dt.date(2026, 12, 9), **sign)
    home = text(demo("practice.rep@demo.pcnreg.example").get("/"))
    assert "Ashfield House has confirmed and signed: nothing more is needed from your practice" in home
    assert "View the registration" in home and "Confirm and sign for your practice" not in home
