"""The registration round in a real browser, on the 2019 Nottinghamshire demo (issue 4): a PCN lead
completes Newark's registration and submits it, a commissioner sets up the committee meeting of
23 May 2019 and puts Newark and Sherwood on its agenda, a committee member approves Newark and
defers Sherwood (the meeting's map changes colour), and the commissioner sees what blocks the
confirmation of coverage of NHS Newark and Sherwood CCG.

Each person signs in through the sign-in form in a browser context of their own and drives the
pages by their visible labels; every form posts a real CSRF token. The app's clock is injected
(``PCNREG_NOW``: 10 May 2019 at noon, UK time, before the deadline of 15 May). Sherwood's draft
is completed and submitted through the services (tests/workflow_helpers.py) to keep the journey
short. A second test submits Newark with JavaScript off. Screenshots:
test-artifacts/screenshots/test_registration_*.png.
"""
from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from playwright.sync_api import expect
from sqlalchemy import select
from workflow_helpers import submitted

from pcnreg.extensions import db as _db
from pcnreg.models import Committee, Membership, Pcn, Practice, RegistrationRound
from pcnreg.services import maps
from pcnreg.services import registration as reg_svc
from pcnreg.services import rounds as rounds_svc

from .harness import ensure_user, leaflet_features, map_frame, sign_in

BEFORE_DEADLINE = dt.datetime(2019, 5, 10, 12, tzinfo=ZoneInfo("Europe/London"))
PDF = {"name": "agreement.pdf", "mimeType": "application/pdf",
       "buffer": b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"}

LEAD = ("newark.lead@pcnreg.test", "Newark lead signs in 42")
MEMBER = ("committee.member@pcnreg.test", "Committee member signs in 42")
COMMISSIONER = ("commissioner@pcnreg.test", "Commissioner signs in 42")


def _ids(round_id: int) -> dict:
    """The demo's ids the journey needs: PCNs, Newark's members (code -> name), committee, system."""
    rnd = _db.session.get(RegistrationRound, round_id)
    pcns = dict(_db.session.execute(select(Pcn.name, Pcn.id).where(
        Pcn.round_id == round_id, Pcn.name.in_(["Newark", "Sherwood"]))).all())
    members = dict(_db.session.execute(
        select(Practice.code, Practice.name).join(Membership, Membership.practice_id == Practice.id)
        .where(Membership.round_id == round_id, Membership.pcn_id == pcns["Newark"])
        .order_by(Practice.code)).all())
    committee = _db.session.scalar(select(Committee.id).where(Committee.system_id == rnd.system_id))
    found = {"newark": pcns["Newark"], "sherwood": pcns["Sherwood"], "members": members,
             "committee": committee, "system": rnd.system_id}
    _db.session.remove()
    return found


def _person(open_page, user: tuple[str, str], grants, **context_options):
    """A page of a browser context of its own, signed in as ``user`` (made with ``grants``)."""
    ensure_user(*user, grants)
    page = open_page(signed_in=False, **context_options)
    sign_in(page, *user)
    return page


def _flash(page):
    return page.locator(".pcnreg-flash")


def _table(page, caption):
    return page.locator("table").filter(has=page.locator("caption", has_text=caption))


def _date(page, legend: str, day: int, month: int, year: int) -> None:
    """Type a date into the NHS.UK date input whose legend is ``legend``."""
    group = page.get_by_role("group", name=legend)
    group.get_by_label("Day").fill(str(day))
    group.get_by_label("Month").fill(str(month))
    group.get_by_label("Year").fill(str(year))


def _lead_submits_newark(page, round_id: int, ids: dict, screenshot) -> None:
    """The PCN lead's part on Newark's registration page: submitting too early is refused; confirm
    and sign for every member, payee, Clinical Director, submit; then open the frozen submission."""
    path = f"/rounds/{round_id}/pcns/{ids['newark']}/registration"
    page.goto(path)
    expect(page.locator("h1")).to_have_text("Registration of Newark")
    expect(page.locator("main")).to_contain_text("due in 5 days")
    expect(page.locator("main")).to_contain_text("There are no blocking errors for this PCN or its practices.")
    expect(page.locator("#missing ~ ul").first.locator("li").first).to_contain_text("has not confirmed")
    # While items are missing the page offers no submit (the refusal of an early submit is tested
    # in tests/views/test_registration_pages.py).
    expect(page.get_by_role("button", name="Submit the registration")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("Nothing has been submitted yet.")

    for code, name in ids["members"].items():
        page.get_by_role("button", name=f"Confirm membership of {name}").click()
        expect(_flash(page)).to_contain_text(f"({code}) confirmed its membership.")
        page.get_by_label("Practice", exact=True).select_option(label=f"{name} ({code})")
        page.get_by_role("group", name="Which part was signed").get_by_label("Network Agreement (core parts)").check()
        _date(page, "Date signed", 2, 5, 2019)
        page.get_by_label("Signed by").fill(f"Dr Partner of {code}")
        # With JavaScript the NHS.UK file upload is a button that opens the file chooser.
        with page.expect_file_chooser() as chooser:
            page.get_by_label("Signed agreement (PDF, PNG or JPEG)").click()
        chooser.value.set_files({**PDF, "name": f"agreement-{code}.pdf"})
        page.get_by_role("button", name="Record the signature").click()
        expect(_flash(page)).to_contain_text(f"({code}) (Network Agreement (core parts)) was recorded.")
    members = _table(page, "Members of Newark").locator("tbody tr")
    expect(members).to_have_count(len(ids["members"]))
    expect(members.filter(has_text="not confirmed")).to_have_count(0)
    expect(members.filter(has_text="not signed")).to_have_count(len(ids["members"]))   # Schedule 1: later
    files = members.get_by_role("link", name=re.compile(r"^agreement-[A-Z]\d+\.pdf$"))
    expect(files).to_have_count(len(ids["members"]))
    screenshot(page, "lead-signed")

    payee_code, payee_name = next(iter(ids["members"].items()))
    page.get_by_label("Nominated payee").select_option(label=f"{payee_name} ({payee_code})")
    page.get_by_label("Payment reference (optional)").fill("Newark PCN finance lead")
    page.get_by_role("button", name="Save the payee").click()
    expect(_flash(page)).to_contain_text(f"({payee_code}) is the nominated payee.")

    page.get_by_label("Clinical Director's name").fill("Dr Jane Director")
    page.get_by_label("Profession").fill("GP")
    page.get_by_label("Member practice where they practise").select_option(label=f"{payee_name} ({payee_code})")
    page.get_by_role("group", name="How the Clinical Director was chosen").get_by_label(
        "Appointed by agreement of the members").check()
    page.get_by_label("Details of the appointment").fill("Agreed by all seven practices on 1 May 2019")
    page.get_by_role("button", name="Save the Clinical Director").click()
    expect(_flash(page)).to_contain_text("Dr Jane Director is recorded as the Clinical Director.")

    # Nothing is missing and Newark has no blocking error: no exception to request.
    expect(page.locator("main")).to_contain_text("Nothing is missing: the registration can be submitted.")
    expect(page.get_by_role("button", name="Request an exception")).to_have_count(0)
    page.get_by_role("button", name="Submit the registration").click()

    expect(_flash(page)).to_contain_text("The registration was submitted.")
    state = page.locator(".nhsuk-summary-list__row").filter(
        has=page.locator("dt", has_text=re.compile(r"^\s*State\s*$")))
    expect(state.locator("dd")).to_have_text("Submitted")
    expect(page.locator("main")).to_contain_text("submitted in time")
    expect(page.get_by_role("button", name="Submit the registration")).to_have_count(0)
    expect(page.get_by_role("button", name="Withdraw the submission")).to_be_visible()
    submissions = _table(page, "Submissions of Newark").locator("tbody tr")
    expect(submissions).to_have_count(1)
    expect(submissions).to_contain_text("10 May 2019 at 12:00")
    screenshot(page, "lead-submitted")

    page.get_by_role("link", name="Submission 1", exact=True).click()
    expect(page.locator("h1")).to_have_text("Submission 1 of Newark")
    expect(page.locator("main")).to_contain_text("It is frozen and cannot be changed")
    expect(_table(page, "Members as submitted").locator("tbody tr")).to_have_count(len(ids["members"]))
    signatures = _table(page, "Signatures as submitted").locator("tbody tr")
    expect(signatures).to_have_count(len(ids["members"]))
    expect(signatures.first).to_contain_text("Network Agreement (core parts)")
    screenshot(page, "lead-snapshot")


def _pcn_fills(page, round_id: int, meeting_path: str, ids: dict) -> dict[str, tuple[str, str]]:
    """(fill colour, state) of Newark's and Sherwood's areas on the meeting's map."""
    frame = map_frame(page, f"{meeting_path}/map")
    drawn = leaflet_features(frame, "pcn_area")
    assert len(drawn) == 22, sorted(drawn)
    return {name: (drawn[f"pcn-{ids[name]}"]["fill"], drawn[f"pcn-{ids[name]}"]["properties"]["state"])
            for name in ("newark", "sherwood")}


def _decide(page, name: str, outcome: str, rationale: str) -> None:
    """On the meeting page: open ``name``'s review from the agenda and record the decision."""
    _table(page, "on the agenda").get_by_role("link", name=name, exact=True).click()
    expect(page.locator("h1")).to_have_text(name)
    page.get_by_role("group", name="Decision").get_by_label(outcome, exact=True).check()
    page.get_by_label("Rationale").fill(rationale)
    page.get_by_role("button", name="Record the decision").click()
    expect(_flash(page)).to_contain_text(f"Decision recorded for {name}: {outcome.lower()}.")
    expect(page.locator("#decision ~ dl").first).to_contain_text(rationale)
    page.get_by_role("link", name="Back to the meeting").click()


def test_registration_journey_submit_review_decide_and_what_blocks_confirmation(
        app, open_page, live_server, demo_geo_round, screenshot):
    app.config["PCNREG_NOW"] = BEFORE_DEADLINE
    ids = _ids(demo_geo_round)
    # Sherwood is completed and submitted through the services (as its lead would through the pages).
    submitted(app, "Sherwood", BEFORE_DEADLINE)
    _db.session.remove()

    # 1. Newark's PCN lead completes the registration and submits it.
    lead = _person(open_page, LEAD, [("pcn_lead", "pcn", ids["newark"])])
    _lead_submits_newark(lead, demo_geo_round, ids, screenshot)

    # 2. The commissioner sets up the meeting of 23 May 2019 and puts both PCNs on its agenda.
    commissioner = _person(open_page, COMMISSIONER, [("commissioner", "system", ids["system"])])
    commissioner.goto(f"/rounds/{demo_geo_round}/meetings")
    expect(commissioner.locator("h1")).to_have_text("Committee meetings")
    expect(commissioner.get_by_label("Committee", exact=True)).to_have_value(str(ids["committee"]))  # the only one
    _date(commissioner, "Date of the meeting", 23, 5, 2019)
    commissioner.get_by_label("Members present").fill("Dr Jane Smith, Chair\nMr Sam Jones, Lay member")
    commissioner.get_by_role("button", name="Set up the meeting").click()
    expect(commissioner.locator("h1")).to_have_text("Meeting of 23 May 2019")
    expect(_flash(commissioner)).to_contain_text("The meeting of 23 May 2019 was created.")
    meeting_path = re.sub(r"^https?://[^/]+", "", commissioner.url)
    assert re.fullmatch(rf"/rounds/{demo_geo_round}/meetings/\d+", meeting_path), meeting_path
    for name in ("Newark", "Sherwood"):
        commissioner.get_by_label("PCN to add to the agenda").select_option(label=name)
        commissioner.get_by_role("button", name="Add to the agenda").click()
        expect(_flash(commissioner)).to_contain_text(f"{name} was added to the agenda")
    agenda = _table(commissioner, "2 PCNs on the agenda").locator("tbody tr")
    expect(agenda).to_have_count(2)
    expect(agenda.filter(has_text="Under review")).to_have_count(2)
    expect(commissioner.locator("main")).to_contain_text("No other PCN has a submitted registration waiting")

    # 3. A committee member reviews on the meeting page: the map colours both agenda PCNs "under review".
    member = _person(open_page, MEMBER, [("committee_member", "committee", ids["committee"])])
    member.goto(meeting_path)
    expect(member.locator("h1")).to_have_text("Meeting of 23 May 2019")
    expect(member.get_by_role("button", name="Add to the agenda")).to_have_count(0)   # not theirs to manage
    under_review = maps.STATE_COLOURS["under_review"]
    assert _pcn_fills(member, demo_geo_round, meeting_path, ids) == {
        "newark": (under_review, "Under review"), "sherwood": (under_review, "Under review")}
    screenshot(member.locator("iframe"), "map-before")

    _decide(member, "Newark", "Approved", "Meets the criteria: 7 practices, 75,817 patients, all signed")
    _decide(member, "Sherwood", "Deferred", "The Clinical Director's appointment needs confirming")
    decisions = _table(member, "Decisions taken at this meeting").locator("tbody tr")
    expect(decisions).to_have_count(2)
    expect(decisions.filter(has_text="Newark")).to_contain_text("Approved")
    expect(decisions.filter(has_text="Newark")).to_contain_text("Meets the criteria")
    expect(decisions.filter(has_text="Sherwood")).to_contain_text("Deferred")
    expect(decisions.filter(has_text="Sherwood")).to_contain_text("appointment needs confirming")
    # The map now fills Newark as approved and Sherwood as deferred; its legend counts them.
    assert _pcn_fills(member, demo_geo_round, meeting_path, ids) == {
        "newark": (maps.STATE_COLOURS["approved"], "Approved"),
        "sherwood": (maps.STATE_COLOURS["deferred"], "Deferred")}
    legend = map_frame(member, f"{meeting_path}/map").locator("body")
    expect(legend).to_contain_text("Approved (1)")
    expect(legend).to_contain_text("Deferred (1)")
    screenshot(member.locator("iframe"), "map-after")

    # The pack: both PCNs, then the minutes with the members present and both decisions.
    member.get_by_role("link", name="Committee pack and minutes (printable)").click()
    expect(member.locator("h1")).to_have_text("Committee pack: meeting of 23 May 2019")
    expect(member.locator("section.pcnreg-pack-pcn h2")).to_have_text(["1. Newark", "2. Sherwood"])
    minutes = member.locator("#minutes")
    expect(minutes).to_contain_text("Dr Jane Smith, Chair")
    expect(minutes.locator("ol > li")).to_have_count(2)
    expect(minutes.locator("ol > li").filter(has_text="Newark")).to_contain_text("Approved")
    expect(minutes.locator("ol > li").filter(has_text="Sherwood")).to_contain_text("Deferred")
    expect(minutes).not_to_contain_text("Not decided at this meeting")
    screenshot(member, "pack")

    # 4. The commissioner sees exactly what blocks the confirmation of NHS Newark and Sherwood CCG.
    commissioner.goto(f"/rounds/{demo_geo_round}/confirmation")
    expect(commissioner.locator("h1")).to_have_text("Confirmation of coverage")
    heading = commissioner.get_by_role("heading", name="NHS Newark and Sherwood CCG (04H)")
    expect(heading.locator("xpath=following-sibling::p[1]")).to_contain_text("Confirmation is blocked by:")
    expect(heading.locator("xpath=following-sibling::ul[1]/li")).to_have_text(["Sherwood is deferred, not approved"])
    expect(heading.locator("xpath=following-sibling::p[2]")).to_have_text(
        re.compile(r"PCNs it leads:\s*Newark \(approved\),\s*Sherwood \(deferred\)"))
    expect(commissioner.get_by_role("button", name=re.compile("Newark and Sherwood CCG"))).to_have_count(0)
    screenshot(commissioner, "confirmation")

    _db.session.expire_all()
    rnd = _db.session.get(RegistrationRound, demo_geo_round)
    states = {r.name: r.state for r in reg_svc.round_status(rnd)}
    assert (states["Newark"], states["Sherwood"]) == ("approved", "deferred")
    assert sorted(set(states.values())) == ["approved", "deferred", "draft"]
    _db.session.remove()


def test_a_pcn_lead_submits_with_javascript_off(app, open_page, live_server, demo_round, screenshot):
    app.config["PCNREG_NOW"] = BEFORE_DEADLINE
    ids = _ids(demo_round)
    lead = _person(open_page, LEAD, [("pcn_lead", "pcn", ids["newark"])], java_script_enabled=False)
    lead.goto("/about")
    expect(lead.locator("body")).not_to_have_class(re.compile(r"\bnhsuk-frontend-supported\b"))
    _lead_submits_newark(lead, demo_round, ids, screenshot)

    rnd = _db.session.get(RegistrationRound, demo_round)
    newark = rounds_svc.get_pcn(rnd, "Newark")
    subs = reg_svc.submissions(rnd, newark)
    assert [(s.number, s.late, s.submitted_by) for s in subs] == [(1, False, LEAD[0])]
    assert reg_svc.registration(rnd, newark).state == "submitted"
    _db.session.remove()
