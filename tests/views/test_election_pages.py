"""The election pages: the LMC's returning officer runs the 2019 Nottingham City PCN 3 election
through the pages (set-up, nominations, panel, voting, count, declaration) with the clock moved
along its timetable; the practices vote anonymously through their one-time links; the public
declaration shows the totals and receipts. Refusals write nothing."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select
from workflow_helpers import uk

from pcnreg.domain import elections as dom
from pcnreg.extensions import db as _db
from pcnreg.models import BallotPaper, Candidate, Election, Elector, RegistrationRound, System
from pcnreg.services import elections as el
from pcnreg.services import rounds as rounds_svc

ELIGIBLE = "A practising clinician at a member practice of the PCN"
TT = dom.Timetable(uk(2019, 3, 22, 9, 0), uk(2019, 4, 12, 17, 0), uk(2019, 4, 25, 9, 0), uk(2019, 5, 3, 17, 0),
                   dt.date(2019, 4, 15), dt.date(2019, 4, 18), dt.date(2019, 5, 4), dt.date(2019, 5, 10))
LINK = re.compile(r"(?:http://localhost)?/ballot#([A-Za-z0-9_-]{20,})")   # the token in the fragment (#12)


def election_objects(app, rnd) -> dict:
    """An election for Nottingham City PCN 3 taken to voting (two shortlisted candidates, a
    third not), with one vote cast; the clock is left as it was. Returns the URL parameters:
    election_id and ballot_token (an unused link)."""
    before = app.config.get("PCNREG_NOW")
    try:
        pcn = rounds_svc.get_pcn(rnd, "Nottingham City PCN 3")
        app.config["PCNREG_NOW"] = uk(2019, 3, 20, 12, 0)
        e = el.create(rnd, pcn, method="plurality", tie_break="seed", seed="published-2019", eligibility=ELIGIBLE,
                      tt=TT)
        app.config["PCNREG_NOW"] = uk(2019, 3, 22, 9, 0)
        el.step(e, "open_nominations")
        codes = el.members(e)
        made = [el.nominate(e, name=n, register="GMC", number=f"70000{i:02d}", practice_code=codes[i],
                            role="GP partner", statement="I will lead the network")
                for i, n in enumerate(("Dr Ada One", "Dr Bo Two", "Dr Cy Three"))]
        app.config["PCNREG_NOW"] = uk(2019, 4, 12, 17, 0)
        el.step(e, "close_nominations")
        el.step(e, "start_panel")
        for c, ok in zip(made, (True, True, False)):
            el.assess(e, c.id, shortlisted=ok, reason="Panel's reasons", panel_members="LMC; CCG; lay member")
        app.config["PCNREG_NOW"] = uk(2019, 4, 25, 9, 0)
        tokens = el.open_voting(e)
        el.cast(tokens[0].token, [str(made[0].id)])
        return {"election_id": e.id, "ballot_token": tokens[1].token}
    finally:
        if before is None:
            app.config.pop("PCNREG_NOW", None)
        else:
            app.config["PCNREG_NOW"] = before


# --- helpers ----------------------------------------------------------------------------------------------

@pytest.fixture
def demo(app, db, demo_round):
    rnd = db.session.scalar(select(RegistrationRound))
    system = db.session.get(System, rnd.system_id)
    return rnd, system


def at(app, *moment):
    app.config["PCNREG_NOW"] = uk(*moment)


def count(model) -> int:
    _db.session.expire_all()
    return _db.session.scalar(select(func.count()).select_from(model))


def pcn_id(rnd, name: str) -> int:
    return rounds_svc.get_pcn(rnd, name).id


def date(prefix: str, day: int, month: int, year: int = 2019) -> dict:
    return {f"{prefix}[day]": str(day), f"{prefix}[month]": str(month), f"{prefix}[year]": str(year)}


def setup_form(pcn: int, **more) -> dict:
    data = {"pcn": str(pcn), "method": "plurality", "tie_break": "seed", "seed": "published-2019-03-20",
            "eligibility": ELIGIBLE,
            **date("nominations_open_date", 22, 3), "nominations_open_time": "09:00",
            **date("nominations_close_date", 12, 4), "nominations_close_time": "17:00",
            **date("panel_from", 15, 4), **date("panel_to", 18, 4),
            **date("voting_open_date", 25, 4), "voting_open_time": "09:00",
            **date("voting_close_date", 3, 5), "voting_close_time": "17:00",
            **date("count_on", 4, 5), **date("declare_by", 10, 5)}
    data.update(more)
    return data


def text(response) -> str:
    return response.get_data(as_text=True)


def officer(client_as, system):
    return client_as("returning_officer", f"system:{system.code}")


def set_up(app, client, rnd, name: str, **more) -> Election:
    at(app, 2019, 3, 20, 12, 0)
    response = client.post(f"/rounds/{rnd.id}/elections", data=setup_form(pcn_id(rnd, name), **more))
    assert response.status_code == 302, text(response)
    _db.session.expire_all()
    return _db.session.scalar(select(Election).where(Election.pcn_id == pcn_id(rnd, name)))


def nominate(client, base: str, e: Election, name: str, i: int) -> None:
    code = el.members(e)[i]
    response = client.post(f"{base}/nominate", data={
        "name": name, "register": "GMC", "number": f"70000{i:02d}", "practice": code, "role": "GP partner",
        "statement": f"Statement of {name}", "conflicts": ""})
    assert response.status_code == 302, text(response)


def step(client, base: str, name: str, **more):
    return client.post(f"{base}/step", data={"step": name, **more})


def candidates(e: Election) -> dict[str, Candidate]:
    _db.session.expire_all()
    return {c.name: c for c in _db.session.scalars(select(Candidate).where(Candidate.election_id == e.id))}


# --- the contested election, through the pages -------------------------------------------------------------------

def test_the_returning_officer_runs_an_election_and_the_practices_vote(app, demo, client_as, anon_client):
    rnd, system = demo
    ro = officer(client_as, system)
    page = ro.get(f"/rounds/{rnd.id}/elections")
    assert page.status_code == 200 and "Set up an election" in text(page)
    e = set_up(app, ro, rnd, "Nottingham City PCN 3")
    assert e.state == "draft" and e.voting_close_at == dt.datetime(2019, 5, 3, 16, 0)   # 17:00 BST in UTC
    base = f"/rounds/{rnd.id}/elections/{e.id}"
    assert "Nottingham City PCN 3" in text(ro.get(f"/rounds/{rnd.id}/elections"))

    early = step(ro, base, "open_nominations")                   # two days early: refused, shown
    assert early.status_code == 400 and "Nominations open not before" in text(early)
    at(app, 2019, 3, 22, 9, 0)
    assert step(ro, base, "open_nominations").status_code == 302
    for i, name in enumerate(("Dr Ada One", "Dr Bo Two", "Dr Cy Three")):
        nominate(ro, base, e, name, i)
    bad = ro.post(f"{base}/nominate", data={"name": "Dr Bad", "register": "GMC", "number": "123", "practice":
                                             el.members(e)[0], "role": "GP", "statement": "S"})
    assert bad.status_code == 400 and "not a GMC registration number" in text(bad)
    assert len(candidates(e)) == 3

    at(app, 2019, 4, 12, 17, 0)
    assert step(ro, base, "close_nominations").status_code == 302
    assert step(ro, base, "start_panel").status_code == 302
    at(app, 2019, 4, 16, 10, 0)
    panel = "Trust director; patient representative; CCG officer; LMC"
    for name, verdict in (("Dr Ada One", "yes"), ("Dr Bo Two", "yes"), ("Dr Cy Three", "no")):
        response = ro.post(f"{base}/assess", data={"candidate": str(candidates(e)[name].id), "shortlisted": verdict,
                                                   "reason": "Panel's reasons", "panel_members": panel})
        assert response.status_code == 302, text(response)
    ada, bo = candidates(e)["Dr Ada One"], candidates(e)["Dr Bo Two"]

    at(app, 2019, 4, 25, 9, 0)
    opened = ro.post(f"{base}/open-voting")
    assert opened.status_code == 200 and "Print this page or send each link" in text(opened)
    assert opened.headers["Cache-Control"] == "no-store" and opened.headers["Referrer-Policy"] == "no-referrer"
    links = LINK.findall(text(opened))
    assert len(links) == 12 == len(set(links))
    assert "/ballot#" not in text(ro.get(base))                  # never shown again

    # the practices vote, anonymously
    ballot = anon_client.post("/ballot", data={"token": links[0]})
    assert ballot.status_code == 200 and "Statement of Dr Bo Two" in text(ballot)
    assert "Dr Cy Three" not in text(ballot)                      # not shortlisted
    assert ballot.headers["Referrer-Policy"] == "no-referrer" and ballot.headers["Cache-Control"] == "no-store"
    receipts = []
    for link, choice in zip(links[:5], (ada, ada, ada, bo, bo)):
        voted = anon_client.post("/ballot", data={"token": link, "cast": "1", "confirm": "1", "candidate": str(choice.id)})
        assert voted.status_code == 200 and "receipt code" in text(voted)
        receipts.append(re.search(r"<strong>([0-9A-F]{10})</strong>", text(voted)).group(1))
    again = anon_client.post("/ballot", data={"token": links[0], "cast": "1", "confirm": "1", "candidate": str(bo.id)})
    assert again.status_code == 400 and "cannot be used" in text(again)
    assert anon_client.post("/ballot", data={"token": links[0]}).status_code == 400
    assert anon_client.post("/ballot", data={"token": "forged-token-123"}).status_code == 400
    assert count(BallotPaper) == 5

    # turnout, never how; no result before the count
    page = text(ro.get(base))
    assert "5 of 12 practices have voted" in page
    public = anon_client.get(f"/elections/{e.id}/result")
    assert public.status_code == 200 and "No result yet" in text(public)
    assert "Votes" not in text(public) and ada.name not in text(public)
    assert ro.get(f"{base}/ballots.csv").status_code == 404
    assert anon_client.get(f"/elections/{e.id}/ballots.csv").status_code == 404
    assert ro.post(f"{base}/count").status_code == 400           # voting still open
    assert el.get(e.id).result is None

    # a lost link is re-issued: the old one stops working
    code = el.members(e)[-1]
    reissued = ro.post(f"{base}/reissue", data={"practice": code, "channel": "email", "address": "p@nhs.example"})
    assert reissued.status_code == 200 and reissued.headers["Cache-Control"] == "no-store"
    (new_link,) = LINK.findall(text(reissued))
    assert anon_client.post("/ballot", data={"token": new_link, "cast": "1", "confirm": "1", "candidate": str(ada.id)}).status_code == 200

    # one second after the close: refused
    at(app, 2019, 5, 3, 17, 0, 1)
    late = anon_client.post("/ballot", data={"token": links[6], "cast": "1", "confirm": "1", "candidate": str(ada.id)})
    assert late.status_code == 400 and "Voting closed" in text(late)
    assert count(BallotPaper) == 6

    # the count, the declaration
    at(app, 2019, 5, 4, 10, 0)
    counted = ro.post(f"{base}/count")
    assert counted.status_code == 302, text(counted)
    assert ro.post(f"{base}/declare").status_code == 302
    public = text(anon_client.get(f"/elections/{e.id}/result"))
    assert "Dr Ada One is elected" in public, public[public.find("<main"):][:3000]
    assert re.search(r"</span>Dr Ada One\s*</td>\s*<td[^>]*>\s*<span[^>]*>Votes </span>4\s*</td>", public)
    assert re.search(r"</span>Dr Bo Two\s*</td>\s*<td[^>]*>\s*<span[^>]*>Votes </span>2\s*</td>", public)
    assert "6 of 12 member practices voted" in public
    for r in receipts:
        assert r in public
    csv = anon_client.get(f"/elections/{e.id}/ballots.csv")
    assert csv.status_code == 200 and csv.get_data(as_text=True).count("Dr Ada One") == 4
    assert ro.get(f"{base}/ballots.csv").status_code == 200
    registration = text(ro.get(f"/rounds/{rnd.id}/pcns/{e.pcn_id}/registration"))
    assert "Dr Ada One" in registration and "Elected by the member practices" in registration


def test_the_result_page_shows_the_totals_per_candidate(app, demo, client_as, anon_client):
    rnd, system = demo
    params = election_objects(app, rnd)
    e = el.get(params["election_id"])
    at(app, 2019, 5, 4, 10, 0)
    before = text(anon_client.get(f"/elections/{e.id}/result"))
    assert "No result yet" in before and "Dr Ada One" not in before
    assert officer(client_as, system).post(f"/rounds/{rnd.id}/elections/{e.id}/count").status_code == 302
    page = text(anon_client.get(f"/elections/{e.id}/result"))
    assert "Totals" in page and "Dr Ada One" in page and "Dr Bo Two" in page
    assert "1 of 12 member practices voted" in page
    assert "not declared the result yet" in page


# --- refusals ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["viewer", "pcn_lead", "commissioner"])
def test_others_cannot_set_up_or_run_an_election(app, demo, client_as, role):
    rnd, system = demo
    scope = f"pcn:{pcn_id(rnd, 'Nottingham City PCN 3')}" if role == "pcn_lead" else f"system:{system.code}"
    who = client_as(role, scope)
    at(app, 2019, 3, 20, 12, 0)
    assert who.get(f"/rounds/{rnd.id}/elections").status_code == 200
    assert "Set up an election" not in text(who.get(f"/rounds/{rnd.id}/elections"))
    response = who.post(f"/rounds/{rnd.id}/elections", data=setup_form(pcn_id(rnd, "Nottingham City PCN 3")))
    assert response.status_code == 403 and count(Election) == 0
    params = election_objects(app, rnd)
    at(app, 2019, 4, 26, 9, 0)
    base = f"/rounds/{rnd.id}/elections/{params['election_id']}"
    assert who.get(base).status_code == 200
    ballots = count(Elector)
    for path, data in ((f"{base}/step", {"step": "cancel", "reason": "No"}),
                       (f"{base}/reissue", {"practice": el.members(el.get(params["election_id"]))[1],
                                            "channel": "letter"}),
                       (f"{base}/open-voting", {}), (f"{base}/count", {}), (f"{base}/declare", {})):
        assert who.post(path, data=data).status_code == 403, path
    assert el.get(params["election_id"]).state == "voting_open" and count(Elector) == ballots


def test_invalid_set_up_is_shown_with_the_fields_named(app, demo, client_as):
    rnd, system = demo
    ro = officer(client_as, system)
    at(app, 2019, 3, 20, 12, 0)
    response = ro.post(f"/rounds/{rnd.id}/elections", data=setup_form(
        pcn_id(rnd, "Nottingham City PCN 3"), seed="", voting_close_time="25:00",
        **date("voting_open_date", 1, 1, 2019)))
    page = text(response)
    assert response.status_code == 400 and "There is a problem" in page
    assert "Enter the seed of the draw" in page and "must be a time like 09:00" in page
    assert count(Election) == 0
    wrong_order = ro.post(f"/rounds/{rnd.id}/elections", data=setup_form(
        pcn_id(rnd, "Nottingham City PCN 3"), **date("voting_open_date", 1, 4, 2019)))
    assert wrong_order.status_code == 400 and "Voting must open after nominations close" in text(wrong_order)
    assert count(Election) == 0


def test_av_ballots_with_duplicate_or_skipped_preferences_are_refused(app, demo, client_as, anon_client):
    rnd, system = demo
    ro = officer(client_as, system)
    e = set_up(app, ro, rnd, "Nottingham City PCN 3", method="irv", tie_break="lots", seed="")
    base = f"/rounds/{rnd.id}/elections/{e.id}"
    at(app, 2019, 3, 22, 9, 0)
    step(ro, base, "open_nominations")
    for i, name in enumerate(("Dr Ada One", "Dr Bo Two", "Dr Cy Three")):
        nominate(ro, base, e, name, i)
    at(app, 2019, 4, 12, 17, 0)
    step(ro, base, "close_nominations")
    step(ro, base, "start_panel")
    for c in candidates(e).values():
        ro.post(f"{base}/assess", data={"candidate": str(c.id), "shortlisted": "yes", "reason": "Meets the criteria",
                                        "panel_members": "Panel"})
    at(app, 2019, 4, 25, 9, 0)
    links = LINK.findall(text(ro.post(f"{base}/open-voting")))
    a, b, c = (candidates(e)[n] for n in ("Dr Ada One", "Dr Bo Two", "Dr Cy Three"))
    page = anon_client.post("/ballot", data={"token": links[0]})
    assert f'name="pref_{a.id}"' in text(page)
    for prefs, message in (({a.id: "1", b.id: "1"}, "more than one candidate"),
                           ({a.id: "1", c.id: "3"}, "without gaps"),
                           ({}, "Choose a candidate"),
                           ({a.id: "9"}, "from 1 to 3")):
        response = anon_client.post("/ballot", data={"token": links[0], "cast": "1", "confirm": "1", **{f"pref_{k}": v for k, v in prefs.items()}})
        assert response.status_code == 400 and message in text(response), (prefs, text(response)[-2000:])
    assert count(BallotPaper) == 0
    ok = anon_client.post("/ballot", data={"token": links[0], "cast": "1", "confirm": "1", f"pref_{b.id}": "1", f"pref_{a.id}": "2"})
    assert ok.status_code == 200
    assert count(BallotPaper) == 1
    # the count needs the drawing of lots, with a witness other than who drew
    at(app, 2019, 5, 4, 10, 0)
    lots = {"lot_1": str(c.id), "lot_2": str(a.id), "lot_3": str(b.id)}
    same = ro.post(f"{base}/count", data={**lots, "performed_by": "Jo RO", "witness": "jo ro"})
    assert same.status_code == 400 and "someone other" in text(same)
    missing = ro.post(f"{base}/count", data={"lot_1": str(c.id), "performed_by": "Jo RO", "witness": "Sam W"})
    assert missing.status_code == 400 and el.get(e.id).result is None
    done = ro.post(f"{base}/count", data={**lots, "performed_by": "Jo RO", "witness": "Sam W"})
    assert done.status_code == 302
    public = text(anon_client.get(f"/elections/{e.id}/result"))
    assert "Dr Bo Two" in public and "drawn by Jo RO, witnessed by Sam W" in public


def test_an_uncontested_election_is_declared_unopposed(app, demo, client_as, anon_client):
    rnd, system = demo
    ro = officer(client_as, system)
    e = set_up(app, ro, rnd, "Nottingham City PCN 4")
    base = f"/rounds/{rnd.id}/elections/{e.id}"
    at(app, 2019, 3, 25, 9, 0)
    step(ro, base, "open_nominations")
    nominate(ro, base, e, "Dr Solo", 0)
    at(app, 2019, 4, 13, 9, 0)
    step(ro, base, "close_nominations")
    step(ro, base, "start_panel")
    early = ro.post(f"{base}/declare-unopposed")
    assert early.status_code == 400 and "has not assessed" in text(early)
    solo = candidates(e)["Dr Solo"]
    ro.post(f"{base}/assess", data={"candidate": str(solo.id), "shortlisted": "yes", "reason": "Meets the criteria",
                                    "panel_members": "Panel"})
    refused = ro.post(f"{base}/open-voting")                     # one candidate: no ballot
    assert refused.status_code == 400 and "at least two eligible candidates" in text(refused)
    assert count(Elector) == 0
    assert ro.post(f"{base}/declare-unopposed").status_code == 302
    assert el.get(e.id).state == "declared"
    public = text(anon_client.get(f"/elections/{e.id}/result"))
    assert "Dr Solo is elected unopposed" in public
    assert "Dr Solo" in text(ro.get(f"/rounds/{rnd.id}/pcns/{e.pcn_id}/registration"))


def test_unknown_elections_are_404(app, demo, client_as, anon_client):
    rnd, system = demo
    ro = officer(client_as, system)
    assert ro.get(f"/rounds/{rnd.id}/elections/99999").status_code == 404
    assert ro.get(f"/rounds/{rnd.id}/elections/99999999999999999999").status_code == 404
    assert anon_client.get("/elections/99999/result").status_code == 404
    assert ro.post(f"/rounds/{rnd.id}/elections/99999/step", data={"step": "cancel"}).status_code == 404


def test_the_ballot_form_carries_its_csrf_token(csrf_app):
    rnd = _db.session.scalar(select(RegistrationRound))
    params = election_objects(csrf_app, rnd)
    at(csrf_app, 2019, 4, 26, 12, 0)
    e = el.get(params["election_id"])
    ada = next(c for c in e.candidates if c.name == "Dr Ada One")
    voter = csrf_app.test_client(anonymous=True)
    path = "/ballot"
    code = params["ballot_token"]
    page = text(voter.get(path))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or \
        re.search(r'name="csrf_token" value="([^"]+)"', page) or re.search(r'value="([^"]+)"[^>]*name="csrf_token"', page)
    assert token, page
    forged = voter.post(path, data={"token": code, "cast": "1", "confirm": "1", "candidate": str(ada.id)})
    assert forged.status_code == 400 and count(BallotPaper) == 1
    cast = voter.post(path, data={"token": code, "cast": "1", "confirm": "1", "candidate": str(ada.id), "csrf_token": token.group(1)})
    assert cast.status_code == 200 and "receipt code" in text(cast)
    assert count(BallotPaper) == 2


def test_a_reissued_link_is_emailed_when_smtp_is_configured(app, demo, client_as, anon_client):
    from smtp_sink import SmtpSink

    rnd, system = demo
    params = election_objects(app, rnd)
    at(app, 2019, 4, 26, 10, 0)
    e = el.get(params["election_id"])
    code = el.members(e)[-1]
    ro = officer(client_as, system)
    with SmtpSink() as sink:
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=sink.port)
        sent = ro.post(f"/rounds/{rnd.id}/elections/{e.id}/reissue",
                       data={"practice": code, "channel": "email", "address": "pm@nhs.example"})
    assert sent.status_code == 302
    assert len(sink.messages) == 1 and sink.messages[0]["to"] == ["pm@nhs.example"]
    link = re.search(r"/ballot#(\S+)", sink.messages[0]["message"].get_content()).group(1)
    assert "pm@nhs.example" in text(ro.get(sent.headers["Location"]))
    assert anon_client.post("/ballot", data={"token": link}).status_code == 200
