"""A system administrator on the demo: the rounds (both contract years of Nottinghamshire), the
system page with its commissioners and places, a new place; screenshots to look at."""
from __future__ import annotations

from playwright.sync_api import expect

from pcnreg.services import demo_story


def test_rounds_system_and_places(app, page, demo_round, screenshot):
    demo_story.load()
    page.goto("/rounds")
    expect(page.locator("h1")).to_have_text("Rounds")
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(2)
    expect(page.get_by_role("link", name="Nottingham and Nottinghamshire 2019/20")).to_be_visible()
    expect(rows.filter(has_text="2019/20")).to_contain_text("Year ended")     # its contract year is over
    expect(rows.filter(has_text="2026/27")).to_contain_text("Open for submissions")
    screenshot(page, "rounds")
    page.get_by_role("link", name="Nottingham and Nottinghamshire Health and Care").first.click()
    expect(page.locator("h1")).to_have_text("Nottingham and Nottinghamshire Health and Care")
    screenshot(page, "system")
    page.get_by_role("link", name="Places and committees").click()
    page.get_by_label("Name of the place").fill("Bassetlaw and the north")
    page.get_by_label("NHS Nottingham North and East CCG (04L)").check()
    page.get_by_role("button", name="Add the place").click()
    expect(page.locator(".pcnreg-flash")).to_contain_text("Place Bassetlaw and the north added")
    expect(page.locator("table")).to_contain_text("Bassetlaw and the north")
    screenshot(page, "places")
