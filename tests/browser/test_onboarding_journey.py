"""A system administrator sets up Leicester, Leicestershire and Rutland for 2019/20 in the
browser: the organisation lookup from the data folder, the system from its list, the files, the
job's progress page and its summary, then the new round among the rounds."""
from __future__ import annotations

import pytest
from conftest import GEODATA
from playwright.sync_api import expect

pytestmark = pytest.mark.skipif(not (GEODATA / "ePCN-2019-12.xlsx").is_file(), reason="needs ../shared/geodata")


def test_onboard_a_system_in_the_browser(app, page, screenshot):
    app.config["GEODATA_PATH"] = GEODATA
    page.goto("/onboard")
    page.get_by_label("Organisation lookup (commissioner to system), from the data folder").select_option(
        "ccg19-stp19-lookup-england.csv")
    screenshot(page, "step-1")
    page.get_by_role("button", name="Continue").click()

    expect(page.locator("h1")).to_have_text("Choose the systems and files")
    page.get_by_label("Systems").select_option("E54000015")
    page.get_by_label("Contract year").select_option("2019/20")
    page.get_by_label("Name of the round").fill("Leicester, Leicestershire and Rutland 2019/20")
    for legend, name in (("LSOA lookup", "lsoa11-ccg19-lad19-lookup-england.csv"),
                         ("Practices (ODS epraccur)", "epraccur-2019-12.csv"),
                         ("List sizes", "gp-reg-pat-prac-all-2021-06.csv"),
                         ("PCN configuration", "ePCN-2019-12.xlsx")):
        page.get_by_role("group", name=legend).get_by_label("From the data folder").select_option(name)
    screenshot(page, "step-2")
    page.get_by_role("button", name="Set up").click()

    expect(page.locator("h1")).to_have_text("Setting up from the national files")
    expect(page.get_by_role("status")).to_contain_text("Done")
    summary = page.locator(".pcnreg-job-summary")
    expect(summary).to_contain_text("Leicester, Leicestershire and Rutland (E54000015)")
    expect(summary).to_contain_text("25 PCNs")
    screenshot(page, "summary")
    page.get_by_role("link", name="Go to the rounds").click()
    expect(page.get_by_role("link", name="Leicester, Leicestershire and Rutland 2019/20")).to_be_visible()
