"""The yearly cycle in the browser (demo story, 2026/27 round, clock in May 2026): the commissioner
sets the annual return deadline no source gives, Newark's lead notifies a new Clinical Director
and makes the return, the commissioner accepts it, and the ODS change instruction lists it."""
from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from pcnreg.extensions import db as _db

from .harness import AXE_JS, axe_violations, ensure_user, sign_in

NOW = "2026-05-10T10:00:00+01:00"
LEAD = ("cycle-lead@pcnreg.test", "Cycle journey lead 42")


@pytest.fixture
def cycle_demo(app):
    from pcnreg.models import Pcn, RegistrationRound
    from pcnreg.services import demo_story
    from pcnreg.services.demo import load_demo

    app.config["PCNREG_NOW"] = NOW
    load_demo(None)
    demo_story.load()
    _db.session.commit()
    rnd = _db.session.scalar(select(RegistrationRound).where(RegistrationRound.name == demo_story.CURRENT_ROUND))
    newark = _db.session.scalar(select(Pcn).where(Pcn.round_id == rnd.id, Pcn.name == "Newark"))
    ids = rnd.id, newark.id
    ensure_user(LEAD[0], LEAD[1], [("pcn_lead", "pcn", newark.id)])
    return ids


def test_an_annual_return_from_the_lead_to_the_change_instruction(page, open_page, cycle_demo, screenshot):
    round_id, newark_id = cycle_demo
    # the commissioner (the signed-in administrator) sets the deadline
    page.goto(f"/rounds/{round_id}/cycle")
    expect(page.locator("h1")).to_contain_text("2026/27 yearly cycle")
    expect(page.locator("main")).to_contain_text("not set")
    page.fill("input[name='return_deadline[day]']", "30")
    page.fill("input[name='return_deadline[month]']", "6")
    page.fill("input[name='return_deadline[year]']", "2026")
    page.get_by_role("button", name="Save the dates").click()
    expect(page.locator("main")).to_contain_text("The cycle's dates were saved")
    expect(page.locator("main")).to_contain_text("30 June 2026")
    problems: dict[str, list[str]] = {}
    if AXE_JS.is_file():
        problems["cycle"] = axe_violations(page)

    # Newark's lead adds a new Clinical Director and makes the return
    lead = open_page(signed_in=False)
    sign_in(lead, *LEAD, next_path=f"/rounds/{round_id}/pcns/{newark_id}/annual-return")
    expect(lead.locator("h1")).to_contain_text("Newark: annual return")
    lead.select_option("select[name=kind]", "clinical_director")
    lead.fill("textarea[name=details]", "Dr Grace Hopper")
    lead.fill("input[name='effective[day]']", "1")
    lead.fill("input[name='effective[month]']", "6")
    lead.fill("input[name='effective[year]']", "2026")
    lead.get_by_role("button", name="Add the change").click()
    expect(lead.locator("main")).to_contain_text("Dr Grace Hopper")
    lead.get_by_label("The changes listed above").check()
    lead.get_by_role("button", name="Make the annual return").click()
    expect(lead.locator("main")).to_contain_text("Made, waiting for review")
    screenshot(lead, "made")
    if AXE_JS.is_file():
        problems["annual return"] = axe_violations(lead)

    # the commissioner accepts it; the change instruction lists it
    page.goto(f"/rounds/{round_id}/pcns/{newark_id}/annual-return")
    page.get_by_label("Accept the return").check()
    page.get_by_role("button", name="Record the review").click()
    expect(page.locator("main")).to_contain_text("Accepted")
    if AXE_JS.is_file():
        page.goto(f"/rounds/{round_id}/year-end")
        problems["year-end"] = axe_violations(page)
    assert not any(problems.values()), problems                        # serious accessibility problems
    response = page.request.get(f"/rounds/{round_id}/changes/ods-change-instruction.csv")
    assert response.ok
    rows = [r for r in csv.DictReader(io.StringIO(response.text())) if r["Change"] == "Clinical Director"]
    assert [(r["PCN Name"], r["Details"], r["Effective Date"]) for r in rows] == [
        ("Newark", "Dr Grace Hopper", "20260601")]
