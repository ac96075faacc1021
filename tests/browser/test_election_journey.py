"""Clinical Director elections in a real browser, on the 2019 Nottinghamshire demo (issue 5): the
LMC's returning officer runs a contested election for Nottingham City PCN 3 and an uncontested
one for Nottingham City PCN 4, from nominations to declaration, and the declared Clinical
Directors appear in the PCNs' registrations.

The returning officer (role ``returning_officer`` scoped to the demo's system) signs in through
the sign-in form and drives the pages by their visible labels and buttons; every form posts a
real CSRF token. The app's clock is injected (``PCNREG_NOW``) and moved along the 2019 timetable
of tests/views/test_election_pages.py: set up 20 March; nominations 22 March 09:00 to 12 April 17:00;
panel 15 to 18 April; voting 25 April 09:00 to 3 May 17:00 (UK time); count 4 May.

The practices vote with the one-time links of the letters page, each in a fresh browser context
that nobody is signed in to (one with JavaScript off), as a practice manager would from the
letter. Screenshots: test-artifacts/screenshots/test_*election*.png.
"""
from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from playwright.sync_api import expect
from sqlalchemy import func, select

from pcnreg.extensions import db as _db
from pcnreg.models import BallotPaper, Membership, Pcn, Practice, RegistrationRound

from .harness import ensure_user, sign_in

UK = ZoneInfo("Europe/London")
OFFICER = ("returning.officer@pcnreg.test", "Returning officer signs in 42")
PANEL = "Trust director; patient representative; CCG officer; LMC"
SEED = "published-2019-03-20"


def _at(app, *moment) -> None:
    """Move the app's clock to ``moment`` (UK local time)."""
    app.config["PCNREG_NOW"] = dt.datetime(*moment, tzinfo=UK)


def _ids(round_id: int, name: str) -> dict:
    """The demo's ids for PCN ``name``: its id, its members (code -> name, by code), the system."""
    rnd = _db.session.get(RegistrationRound, round_id)
    pcn = _db.session.scalar(select(Pcn.id).where(Pcn.round_id == round_id, Pcn.name == name))
    members = dict(_db.session.execute(
        select(Practice.code, Practice.name).join(Membership, Membership.practice_id == Practice.id)
        .where(Membership.round_id == round_id, Membership.pcn_id == pcn).order_by(Practice.code)).all())
    found = {"pcn": pcn, "members": members, "system": rnd.system_id}
    _db.session.remove()
    return found


def _officer(open_page, system_id: int):
    """A page signed in (through the sign-in form) as the LMC's returning officer for the system."""
    ensure_user(*OFFICER, [("returning_officer", "system", system_id)])
    page = open_page(signed_in=False)
    sign_in(page, *OFFICER)
    return page


def _flash(page):
    return page.locator(".pcnreg-flash")


def _path(page) -> str:
    return re.sub(r"^https?://[^/]+", "", page.url)


def _date(page, legend: str, day: int, month: int, year: int = 2019) -> None:
    """Type a date into the NHS.UK date input whose legend is ``legend``."""
    group = page.get_by_role("group", name=legend, exact=True)
    group.get_by_label("Day").fill(str(day))
    group.get_by_label("Month").fill(str(month))
    group.get_by_label("Year").fill(str(year))


def _step(page, button: str, state: str) -> None:
    """Press one of the election's "Next steps" buttons; the page says the election's new state."""
    page.get_by_role("button", name=button, exact=True).click()
    expect(_flash(page)).to_contain_text(f"Done: {button.lower()}. The election is now {state.lower()}.")


def _set_up(page, round_id: int, pcn: str, method: str, screenshot=None) -> str:
    """Set up the election for ``pcn`` on the round's elections page (clock: 20 March 2019) with
    the 2019 timetable and a published seed; the election page's path."""
    page.goto(f"/rounds/{round_id}")
    page.get_by_role("navigation", name="Menu").get_by_role("link", name="Elections").click()
    expect(page.locator("h1")).to_have_text("Clinical Director elections")
    expect(page).to_have_url(re.compile(rf"/rounds/{round_id}/elections$"))
    page.get_by_label("PCN", exact=True).select_option(label=pcn)
    page.get_by_role("group", name="Voting method").get_by_label(method, exact=True).check()
    page.get_by_role("group", name="How a tie is broken").get_by_label(
        "Seeded draw, the seed published before the count").check()
    page.get_by_label("Seed of the draw").fill(SEED)
    expect(page.get_by_label("Who is eligible to stand")).to_have_value(
        "A practising clinician at a member practice of the PCN")
    _date(page, "Date nominations open", 22, 3)
    page.get_by_label("Time nominations open").fill("09:00")
    _date(page, "Date nominations close", 12, 4)
    page.get_by_label("Time nominations close").fill("17:00")
    _date(page, "Panel assessment from", 15, 4)
    _date(page, "Panel assessment to", 18, 4)
    _date(page, "Date voting opens", 25, 4)
    page.get_by_label("Time voting opens").fill("09:00")
    _date(page, "Date voting closes", 3, 5)
    page.get_by_label("Time voting closes").fill("17:00")
    _date(page, "Date of the count", 4, 5)
    _date(page, "Date of the declaration", 10, 5)
    if screenshot:
        screenshot(page, "set-up-form")
    page.get_by_role("button", name="Set up the election").click()
    expect(_flash(page)).to_contain_text(f"The election for {pcn} was set up.")
    expect(page.locator("h1")).to_have_text(f"Election of the Clinical Director of {pcn}")
    expect(page.locator("main")).to_contain_text(f"Seeded draw, the seed published before the count, seed {SEED}")
    path = _path(page)
    assert re.fullmatch(rf"/rounds/{round_id}/elections/\d+", path), path
    return path


def _nominate(page, name: str, number: str, practice: str) -> None:
    """Record a nomination in the "Record a nomination" form."""
    page.get_by_label("Candidate's name").fill(name)
    page.get_by_label("Professional register").select_option(label="GMC")
    page.get_by_label("Registration number").fill(number)
    page.get_by_label("Member practice", exact=True).select_option(label=practice)
    page.get_by_label("Role", exact=True).fill("GP partner")
    page.get_by_label("Statement", exact=True).fill(f"Statement of {name}: I will lead the network")
    page.get_by_role("button", name="Record the nomination").click()
    expect(_flash(page)).to_contain_text(f"{name} is nominated.")


def _assess(page, name: str, shortlisted: bool, reason: str) -> None:
    """Record the panel's assessment of candidate ``name`` in the form on their card."""
    group = page.get_by_role("group", name=f"The panel's assessment of {name}")
    form = page.locator("form").filter(has=group)
    group.get_by_label("Shortlisted" if shortlisted else "Not shortlisted", exact=True).check()
    form.get_by_label("The panel's reasons").fill(reason)
    form.get_by_label("Members of the panel").fill(PANEL)
    form.get_by_role("button", name=f"Record the assessment of {name}").click()
    outcome = "shortlisted" if shortlisted else "not shortlisted"
    expect(_flash(page)).to_contain_text(f"The panel's assessment of {name} is recorded: {outcome}.")


def _card(page, name: str):
    """The candidate's card on the election page."""
    return page.locator(".nhsuk-card").filter(has=page.get_by_role("heading", name=name))


def _registration_cd(page, round_id: int, pcn_id: int, pcn: str):
    """The Clinical Director section of the PCN's registration page (its summary list)."""
    page.goto(f"/rounds/{round_id}/pcns/{pcn_id}/registration")
    expect(page.locator("h1")).to_have_text(f"Registration of {pcn}")
    return page.locator("#clinical-director + dl")


def _row(dl, key: str):
    return dl.locator(".nhsuk-summary-list__row").filter(
        has=dl.page.locator("dt", has_text=re.compile(rf"^\s*{re.escape(key)}\s*$"))).locator("dd")


def _vote(open_page, link: str, preferences: dict[str, str], **context_options) -> tuple[object, str]:
    """A practice votes with its link in a fresh browser context nobody is signed in to: numbers
    the candidates (alternative vote) and casts the vote; its page and the receipt code."""
    voter = open_page(signed_in=False, **context_options)
    response = voter.goto(link)            # the token is in the fragment: the page's script posts it
    assert response.status == 200, response.status
    expect(voter.locator("h1")).to_have_text("Vote for the Clinical Director of Nottingham City PCN 3")
    assert "#" not in voter.url and link.split("#")[1] not in voter.url
    expect(voter.get_by_role("link", name="Sign in")).to_have_count(0)   # the public header
    for name, number in preferences.items():
        voter.get_by_label(f"Your preference for {name}").select_option(number)
    voter.get_by_role("button", name="Continue").click()
    expect(voter.locator("h1")).to_have_text("Check your vote before you cast it")     # check your answers
    voter.get_by_role("button", name="Cast your vote").click()
    expect(voter.locator("h1")).to_have_text("Your vote has been recorded")
    receipt = voter.locator(".nhsuk-panel strong").inner_text()
    assert re.fullmatch(r"[0-9A-F]{10}", receipt), receipt
    return voter, receipt


def test_the_returning_officer_runs_a_contested_election_and_the_practices_vote(
        app, open_page, live_server, demo_round, screenshot):
    ids = _ids(demo_round, "Nottingham City PCN 3")
    codes = list(ids["members"])
    label = {code: f"{name} ({code})" for code, name in ids["members"].items()}
    officer = _officer(open_page, ids["system"])

    # 1. Set-up on 20 March 2019: alternative vote, seeded tie-break with a published seed.
    _at(app, 2019, 3, 20, 12, 0)
    base = _set_up(officer, demo_round, "Nottingham City PCN 3", "Alternative vote (instant run-off)", screenshot)
    expect(officer.locator("main")).to_contain_text("Alternative vote (instant run-off)")
    officer.get_by_role("link", name="Back to the elections").click()
    listed = officer.locator("table").filter(has=officer.locator("caption", has_text="Elections in"))
    expect(listed.locator("tbody tr")).to_have_count(1)
    expect(listed.locator("tbody tr")).to_contain_text("Draft")
    listed.get_by_role("link", name="Nottingham City PCN 3").click()
    expect(officer).to_have_url(re.compile(re.escape(base) + "$"))
    screenshot(officer, "set-up")

    # 2. Nominations, 22 March 09:00 to 12 April 17:00: two days early the page says when they can open
    #    instead of offering the button.
    expect(officer.locator("main")).to_contain_text(
        "Open nominations: Nominations open not before 09:00 on 22 March 2019 (UK time)")
    expect(officer.get_by_role("button", name="Open nominations", exact=True)).to_have_count(0)
    expect(officer.locator("main")).to_contain_text("Draft")
    _at(app, 2019, 3, 22, 9, 0)
    officer.goto(base)
    _step(officer, "Open nominations", "Nominations open")
    candidates = ("Dr Ada One", "Dr Bo Two", "Dr Cy Three")
    for i, name in enumerate(candidates):
        _nominate(officer, name, f"70000{i:02d}", label[codes[i]])
    # A number that is not a GMC number is refused, with the field named.
    officer.get_by_label("Candidate's name").fill("Dr Bad Number")
    officer.get_by_label("Professional register").select_option(label="GMC")
    officer.get_by_label("Registration number").fill("123")
    officer.get_by_label("Member practice", exact=True).select_option(label=label[codes[3]])
    officer.get_by_label("Role", exact=True).fill("GP partner")
    officer.get_by_label("Statement", exact=True).fill("A statement")
    officer.get_by_role("button", name="Record the nomination").click()
    expect(officer.locator(".nhsuk-error-summary")).to_contain_text("not a GMC registration number")
    expect(officer).to_have_title(re.compile("^Error: "))
    expect(officer.locator("#candidates ~ .nhsuk-card")).to_have_count(3)
    expect(_card(officer, "Dr Ada One")).to_contain_text("GMC 7000000")

    _at(app, 2019, 4, 12, 17, 0)
    officer.goto(base)
    _step(officer, "Close nominations", "Nominations closed")
    _step(officer, "Start the panel assessment", "Panel assessment")

    # 3. The panel, 15 to 18 April: two shortlisted, the third not, each with reasons.
    _at(app, 2019, 4, 16, 10, 0)
    officer.goto(base)
    _assess(officer, "Dr Ada One", True, "Meets the criteria: practising GP partner at a member practice")
    _assess(officer, "Dr Bo Two", True, "Meets the criteria: practising GP partner at a member practice")
    _assess(officer, "Dr Cy Three", False, "Not practising at a member practice on the closing date")
    expect(_card(officer, "Dr Ada One").locator(".nhsuk-tag")).to_have_text("Shortlisted")
    expect(_card(officer, "Dr Cy Three").locator(".nhsuk-tag")).to_have_text("Not shortlisted")
    expect(_card(officer, "Dr Cy Three")).to_contain_text("Not practising at a member practice")

    # 4. Voting opens on 25 April at 09:00: the letters page shows each practice's link, once.
    _at(app, 2019, 4, 25, 9, 0)
    officer.goto(base)
    officer.get_by_role("button", name="Open voting and issue the ballot links").click()
    expect(officer.locator("h1")).to_have_text("Voting is open: the ballot links for Nottingham City PCN 3")
    letters = officer.locator(".pcnreg-letter")
    expect(letters).to_have_count(len(codes))
    expect(letters.first).to_contain_text("Candidates: Dr Ada One, Dr Bo Two.")
    links = letters.locator("code.pcnreg-ballot-link").all_inner_texts()
    assert len(set(links)) == len(codes), links
    assert all(re.fullmatch(re.escape(live_server) + r"/ballot#[A-Za-z0-9_-]{20,}", u) for u in links), links
    screenshot(officer, "letters")
    officer.get_by_role("link", name="Back to the election").click()
    expect(officer.locator("main")).not_to_contain_text("/ballot#")          # never shown again

    # 5. The practices vote, anonymously, each from its letter.
    first, receipt_1 = _vote(open_page, links[0], {"Dr Ada One": "1", "Dr Bo Two": "2"})
    expect(first.locator("main")).not_to_contain_text("Dr Cy Three")       # not shortlisted
    receipts = [receipt_1]
    for link, prefs in zip(links[1:5], ({"Dr Ada One": "1"}, {"Dr Ada One": "1", "Dr Bo Two": "2"},
                                        {"Dr Bo Two": "1", "Dr Ada One": "2"}, {"Dr Bo Two": "1"})):
        receipts.append(_vote(open_page, link, prefs)[1])

    # With JavaScript off: a ballot with no number is refused in the error summary, then cast.
    no_js = open_page(java_script_enabled=False, signed_in=False)
    no_js.goto(links[5])                   # without a script the voter types the code from the letter
    expect(no_js.locator("h1")).to_have_text("Your ballot")
    no_js.get_by_label("Ballot code").fill(links[5].split("#", 1)[1])
    no_js.get_by_role("button", name="Open the ballot").click()
    expect(no_js.locator("body")).not_to_have_class(re.compile(r"\bnhsuk-frontend-supported\b"))
    screenshot(no_js, "ballot")
    no_js.get_by_role("button", name="Continue").click()
    expect(no_js.locator(".nhsuk-error-summary")).to_contain_text(
        "Choose a candidate: give your first choice the number 1")
    expect(no_js).to_have_title(re.compile("^Error: "))
    no_js.get_by_label("Your preference for Dr Ada One").select_option("1")
    no_js.get_by_role("button", name="Continue").click()
    expect(no_js.locator("h1")).to_have_text("Check your vote before you cast it")
    # "Change your vote" goes back with the choice kept, then on to the check again
    no_js.get_by_role("button", name="Change your vote").click()
    expect(no_js.get_by_label("Your preference for Dr Ada One")).to_have_value("1")
    no_js.get_by_role("button", name="Continue").click()
    screenshot(no_js, "check-your-vote")
    no_js.get_by_role("button", name="Cast your vote").click()
    expect(no_js.locator("h1")).to_have_text("Your vote has been recorded")
    receipts.append(no_js.locator(".nhsuk-panel strong").inner_text())

    # A used link is refused.
    again = open_page(signed_in=False)     # (from /ballot, the same link would be a jump within the page)
    again.goto(links[0])
    expect(again.locator("h1")).to_have_text("This ballot link cannot be used")
    expect(again.get_by_role("button", name="Cast your vote")).to_have_count(0)

    # 6. The officer sees the turnout, never a tally; the public page has no result yet.
    _at(app, 2019, 5, 1, 12, 0)
    officer.reload()
    expect(officer.locator("#turnout + p")).to_have_text(f"6 of {len(codes)} practices have voted.")
    expect(officer.locator("#result")).to_have_count(0)
    expect(officer.locator("table")).to_have_count(0)
    expect(officer.get_by_role("button", name="Count the votes")).to_have_count(0)
    result_page = open_page(signed_in=False)
    result_path = re.sub(r"^/rounds/\d+", "", base) + "/result"
    result_page.goto(result_path)
    expect(result_page.locator("main")).to_contain_text("No result yet")
    expect(result_page.locator("main")).not_to_contain_text("Dr Ada One")

    # 7. A practice opens its ballot a minute before the close and submits on the stroke of 17:00.
    _at(app, 2019, 5, 3, 16, 59, 0)
    late = open_page(signed_in=False)
    late.goto(links[6])
    late.get_by_label("Your preference for Dr Bo Two").select_option("1")
    _at(app, 2019, 5, 3, 17, 0, 0)
    late.get_by_role("button", name="Continue").click()
    expect(late.locator("h1")).to_have_text("This ballot link cannot be used")
    expect(late.locator("main")).to_contain_text("Voting closed at 17:00 on 3 May 2019 (UK time)")
    assert _db.session.scalar(select(func.count()).select_from(BallotPaper)) == 6
    _db.session.remove()

    # 8. The count on 4 May and the declaration.
    _at(app, 2019, 5, 4, 10, 0)
    officer.reload()
    expect(officer.locator("main")).to_contain_text(f"the published seed {SEED}")
    officer.get_by_role("button", name="Count the votes").click()
    expect(_flash(officer)).to_contain_text("The votes are counted. Check the result, then declare it.")
    count = officer.locator("table").filter(has=officer.locator("caption", has_text="Round 1"))
    expect(count.locator("tbody tr").filter(has_text="Dr Ada One").locator("td").last).to_have_text(
        re.compile(r"^\s*(Votes\s*)?4\s*$"))
    officer.get_by_role("button", name="Declare the result").click()
    expect(_flash(officer)).to_contain_text("Dr Ada One is declared elected as the PCN's Clinical Director.")
    expect(officer.locator("main")).to_contain_text("Declared")

    # 9. The public declaration: the winner, the totals per candidate, the turnout, the receipts.
    result_page.goto(result_path)
    expect(result_page.locator("h1")).to_have_text("Election of the Clinical Director of Nottingham City PCN 3")
    expect(result_page.locator(".nhsuk-panel h2")).to_have_text("Dr Ada One is elected")
    totals = result_page.locator("table").filter(has=result_page.locator("caption", has_text="Totals"))
    rows = totals.locator("tbody tr")
    expect(rows).to_have_count(2)
    for name, votes in (("Dr Ada One", 4), ("Dr Bo Two", 2)):
        row = rows.filter(has_text=name)
        expect(row.locator("td").first).to_contain_text(name)
        expect(row.locator("td").last).to_have_text(re.compile(rf"^\s*(Votes\s*)?{votes}\s*$"))
    expect(result_page.locator("main")).to_contain_text(f"6 of {len(codes)} member practices voted")
    listed = result_page.locator("#receipts ~ ul li code")
    expect(listed).to_have_count(6)
    assert sorted(listed.all_inner_texts()) == sorted(receipts)
    expect(result_page.get_by_role("link", name="Download the anonymised ballots (CSV)")).to_be_visible()
    screenshot(result_page, "result")

    # 10. The declared Clinical Director is in Nottingham City PCN 3's registration.
    cd = _registration_cd(officer, demo_round, ids["pcn"], "Nottingham City PCN 3")
    expect(_row(cd, "Name")).to_have_text("Dr Ada One")
    expect(_row(cd, "Practises at")).to_have_text(codes[0])
    expect(_row(cd, "Chosen by")).to_have_text("Elected by member practices")
    expect(_row(cd, "Details")).to_contain_text("Elected by the member practices")
    screenshot(officer, "registration")


def test_the_returning_officer_declares_an_uncontested_election(
        app, open_page, live_server, demo_round, screenshot):
    ids = _ids(demo_round, "Nottingham City PCN 4")
    codes = list(ids["members"])
    officer = _officer(open_page, ids["system"])

    _at(app, 2019, 3, 20, 12, 0)
    base = _set_up(officer, demo_round, "Nottingham City PCN 4", "One practice, one vote")
    screenshot(officer, "set-up")

    _at(app, 2019, 3, 25, 9, 0)
    officer.goto(base)
    _step(officer, "Open nominations", "Nominations open")
    _nominate(officer, "Dr Solo", "7000100", f"{ids['members'][codes[0]]} ({codes[0]})")

    _at(app, 2019, 4, 13, 9, 0)
    officer.goto(base)
    _step(officer, "Close nominations", "Nominations closed")
    _step(officer, "Start the panel assessment", "Panel assessment")
    # Before the panel has assessed the candidate, "elected unopposed" is not offered.
    expect(officer.get_by_role("button", name=re.compile("elected unopposed"))).to_have_count(0)
    _assess(officer, "Dr Solo", True, "Meets the criteria")
    # One eligible candidate: there is no ballot, and "elected unopposed" is offered.
    expect(officer.get_by_role("button", name="Open voting and issue the ballot links")).to_have_count(0)
    screenshot(officer, "unopposed-offered")
    officer.get_by_role("button", name="Declare Dr Solo elected unopposed").click()
    expect(_flash(officer)).to_contain_text("Dr Solo is declared elected unopposed as the PCN's Clinical Director.")
    expect(officer.locator("main")).to_contain_text("Declared")

    public = open_page(signed_in=False)
    public.goto(re.sub(r"^/rounds/\d+", "", base) + "/result")
    expect(public.locator(".nhsuk-panel h2")).to_have_text("Dr Solo is elected unopposed")
    expect(public.locator("table")).to_have_count(0)                         # no count
    screenshot(public, "result")

    cd = _registration_cd(officer, demo_round, ids["pcn"], "Nottingham City PCN 4")
    expect(_row(cd, "Name")).to_have_text("Dr Solo")
    expect(_row(cd, "Chosen by")).to_have_text("Elected by member practices")
    expect(_row(cd, "Details")).to_contain_text("Elected unopposed")
    screenshot(officer, "registration")
