"""Each demo role signs in through the form and lands on its task (issue #16); a screenshot of
every home is saved (test-artifacts/screenshots/test_role_signs_in_and_reaches_its_task[...].png)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from pcnreg.extensions import db as _db

from .harness import sign_in

PASSWORD = "correct horse battery staple 16"
# demo user -> (a task the home shows, the link or button it follows, the heading it reaches)
JOURNEYS = {
    "pcn.lead@demo.pcnreg.example": ("Newark: due in 21 days", "Open the registration", "Registration of Newark"),
    "practice.rep@demo.pcnreg.example": ("Ashfield House (C84067) has not confirmed its membership",
                                         "Confirm and sign for your practice", "Registration of Ashfield South"),
    "committee.member@demo.pcnreg.example": ("1 PCN on the agenda", "Open the agenda", "Meeting"),
    "returning.officer@demo.pcnreg.example": ("Mansfield North: Nominations close at", "Open the elections",
                                              "elections"),
    "commissioner.system@demo.pcnreg.example": ("17 PCNs not submitted yet", "Open the chase list", "Chase"),
    "viewer@demo.pcnreg.example": ("Rounds you can read", "See all rounds", "Rounds"),
}


@pytest.fixture
def live_demo(app, story):
    """The demo and its story (the conftest ``story``: a copy of a database loaded once per
    session, the clock at the story's day), the demo users, the journeys' users with PASSWORD."""
    from pcnreg.models import User
    from pcnreg.services import accounts
    from pcnreg.services.demo_users import create_demo_users

    app.config["PCNREG_NOW"] = "2026-12-10T12:00:00+00:00"
    create_demo_users("http://localhost")
    for user in _db.session.scalars(select(User).where(User.email.in_(list(JOURNEYS)))):
        user.password_hash = accounts.hash_password(PASSWORD)
    _db.session.commit()
    _db.session.remove()


@pytest.mark.parametrize("email", sorted(JOURNEYS))
def test_role_signs_in_and_reaches_its_task(open_page, live_demo, email, screenshot):
    task, follow, heading = JOURNEYS[email]
    page = open_page(signed_in=False)
    page.goto("/")
    expect(page.locator("h1")).to_have_text("Register primary care networks")
    expect(page.locator(".nhsuk-header__navigation-link")).to_have_count(0)     # no menu for visitors
    sign_in(page, email, PASSWORD, next_path="/")
    expect(page.locator("h1")).to_have_text("Your tasks")
    expect(page.locator("main")).to_contain_text(task)
    screenshot(page, "home")
    page.get_by_role("link", name=follow).first.click()
    expect(page.locator("h1")).to_contain_text(heading)
