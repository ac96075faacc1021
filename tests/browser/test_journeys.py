"""Journeys in a real browser on the 2019 Nottinghamshire demo (no geodata).

The dashboard is styled by the NHS.UK assets the app serves itself, and a practice can be
moved (practice list -> preview -> save) with JavaScript on and off. The fixtures check that no
request leaves 127.0.0.1 and save a screenshot of every page (test-artifacts/screenshots).
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from pcnreg.extensions import db as _db
from pcnreg.models import ConfigVersion, Pcn

NHS_BLUE = "rgb(0, 94, 184)"  # #005eb8, the header of every NHS.UK page


def table(page, caption: str):
    """The table whose caption is ``caption``."""
    return page.locator("table").filter(has=page.locator("caption", has_text=caption))


def row_cells(page, caption: str, first: str) -> list[str]:
    """The visible text of the cells of the row starting with ``first`` in the table ``caption``.

    innerText, so the responsive tables' per-cell headings (hidden on a wide screen) are left out --
    once the stylesheet hiding them has applied: after a click the new page's DOM can be there before
    its CSS (a PostgreSQL CI run read "Practice code C84693"), so wait for the load event first.
    """
    page.wait_for_load_state("load")
    rows = table(page, caption).locator("tbody tr")
    expect(rows.first).to_be_visible()
    found = [cells for cells in ([c.strip() for c in text.split("\t")] for text in rows.all_inner_texts())
             if cells[0] == first]
    assert len(found) == 1, f"{len(found)} rows starting with {first!r} in the table {caption!r}"
    return found[0]


def test_dashboard_is_styled_by_the_local_nhs_assets_and_lists_22_pcns(page, live_server, demo_round):
    page.goto("/")                          # issue #16: the home is "Your tasks", linking the round
    expect(page.locator("h1")).to_have_text("Your tasks")
    page.locator(f"a[href='/rounds/{demo_round}']").first.click()
    expect(page).to_have_url(f"{live_server}/rounds/{demo_round}")
    expect(page.locator("h1")).to_have_text(re.compile("Nottingham"))

    # The NHS.UK stylesheet came from this app's /assets and is applied.
    sheets = page.evaluate("() => [...document.styleSheets].map(s => [s.href, s.cssRules.length])")
    assert [f"{live_server}/assets/nhsuk-frontend.min.css", True] in [[h, n > 100] for h, n in sheets], sheets
    header = page.locator("header.nhsuk-header")
    assert header.evaluate("e => getComputedStyle(e).backgroundColor") == NHS_BLUE
    # ... and the NHS.UK JavaScript (imported by /static/pcnreg.js from /assets) ran.
    expect(page.locator("body")).to_have_class(re.compile(r"\bnhsuk-frontend-supported\b"))

    expect(page.locator("main")).to_contain_text("135 of 135 open practices")
    pcn_rows = page.locator("table").filter(
        has=page.locator("caption", has_text=re.compile(r"^\s*PCNs in"))).locator("tbody tr")
    expect(pcn_rows).to_have_count(22)
    links = pcn_rows.locator("td:first-child a")
    expect(links).to_have_count(22)
    assert "Newark" in links.all_inner_texts()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_move_a_practice_preview_then_save(open_page, live_server, demo_round, javascript, screenshot):
    page = open_page(java_script_enabled=javascript)
    newark = _db.session.scalar(select(Pcn.id).where(Pcn.name == "Newark"))
    _db.session.remove()

    # The practice list: tick Bakersfield Medical Centre, choose Newark, preview.
    page.goto(f"/rounds/{demo_round}/practices")
    supported = re.compile(r"\bnhsuk-frontend-supported\b")
    if javascript:
        expect(page.locator("body")).to_have_class(supported)
    else:  # the NHS.UK script that adds the class never ran
        expect(page.locator("body")).not_to_have_class(supported)
    expect(page.get_by_role("status").first).to_contain_text("Showing 1 to 50 of 135 practices")
    page.get_by_label("Name, ODS code, postcode or town").fill("Bakersfield")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("status").first).to_contain_text("Showing 1 of 135 practices matching the search")
    page.get_by_label("Choose Bakersfield Medical Centre").check()
    page.get_by_label("Move the chosen practices to").select_option(label="Newark")
    page.get_by_role("button", name="Preview the move").click()

    # The preview: both PCNs before and after; nothing saved yet.
    expect(page).to_have_url(re.compile(rf"/rounds/{demo_round}/move\?.*codes=C84693"))
    expect(page.locator("h1")).to_have_text("Check the move before saving it")
    assert row_cells(page, "Practices to move", "C84693") == [
        "C84693", "Bakersfield Medical Centre", "5,553", "Nottingham City PCN 6", "Newark"]
    assert row_cells(page, "Nottingham City PCN 6 before and after", "Registered patients") == [
        "Registered patients", "66,474", "60,921"]
    assert row_cells(page, "Newark before and after", "Registered patients") == [
        "Registered patients", "75,817", "81,370"]
    assert row_cells(page, "Newark before and after", "Member practices") == ["Member practices", "7", "8"]
    assert _db.session.scalar(select(func.count()).select_from(ConfigVersion)) == 1
    _db.session.remove()
    screenshot(page, "preview")

    # Save it with a name and a reason (the form carries a real CSRF token).
    page.get_by_label("Reason for the change").fill("Agreed at the committee of 23 May 2019")
    page.get_by_role("button", name="Save the move").click()

    # Redirected to Newark's page: the flash and the new totals.
    expect(page).to_have_url(f"{live_server}/rounds/{demo_round}/pcns/{newark}")
    flash = page.locator(".pcnreg-flash")
    expect(flash).to_contain_text("Saved as version 2")
    expect(flash).to_contain_text("Moved 1 practice into Newark")
    expect(page.locator("main")).to_contain_text("81,370 registered patients in 8 practices")
    members = table(page, "Members of Newark").locator("tbody tr")
    expect(members).to_have_count(8)
    expect(members.filter(has_text="C84693")).to_have_count(1)
    assert _db.session.scalar(select(func.count()).select_from(ConfigVersion)) == 2
    screenshot(page, "saved")

    # The dashboard agrees.
    page.get_by_role("link", name="Back to the dashboard").click()
    expect(page).to_have_url(f"{live_server}/rounds/{demo_round}")   # not the PCN page still on screen
    assert row_cells(page, "PCNs in", "Newark")[:3] == ["Newark", "8", "81,370"]
    assert row_cells(page, "PCNs in", "Nottingham City PCN 6")[:3] == ["Nottingham City PCN 6", "7", "60,921"]
