"""Issue #16 item 8, the election pages as people use them: "declare elected unopposed" only with
exactly one eligible candidate; the drawing of lots asked for only when the count meets a tie; a
check-your-answers step before a vote is cast; the ballot letters printable again while voting is
open; the declaration names the Clinical Director on the registration (the live demo, end to end)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from test_elections import ELIGIBLE, TT, at, city, contested, count, members  # noqa: F401  (fixtures)
from workflow_helpers import uk

from pcnreg.extensions import db as _db
from pcnreg.models import AuditEvent, BallotPaper, Election, RegistrationRound
from pcnreg.services import elections as el

LINK = re.compile(r"/ballot#([A-Za-z0-9_-]{20,})")


def text(response) -> str:
    return response.get_data(as_text=True)


def officer(client_as, rnd):
    from pcnreg.models import System

    return client_as("returning_officer", f"system:{_db.session.get(System, rnd.system_id).code}")


def in_panel(app, rnd, pcn, names, shortlisted):
    """An election in its panel assessment with ``names`` nominated, the first ``shortlisted`` of
    them shortlisted and the rest not."""
    at(app, uk(2019, 3, 20, 12, 0))
    e = el.create(rnd, pcn, method="plurality", tie_break="seed", seed="s-2019", eligibility=ELIGIBLE, tt=TT)
    at(app, uk(2019, 3, 22, 9, 0))
    el.step(e, "open_nominations")
    codes = members(rnd, pcn)
    made = [el.nominate(e, name=n, register="GMC", number=f"70000{i:02d}", practice_code=codes[i],
                        role="GP partner", statement="I will lead") for i, n in enumerate(names)]
    at(app, uk(2019, 4, 12, 17, 0))
    el.step(e, "close_nominations")
    el.step(e, "start_panel")
    for i, c in enumerate(made):
        el.assess(e, c.id, shortlisted=i < shortlisted, reason="Panel's reasons", panel_members="Panel")
    return e


# --- elected unopposed ---------------------------------------------------------------------------------------

def test_unopposed_is_offered_and_accepted_only_with_exactly_one_eligible(app, city, client_as):  # noqa: F811
    rnd, pcn = city
    e = in_panel(app, rnd, pcn, ("Dr Ada One", "Dr Bo Two"), shortlisted=2)
    ro = officer(client_as, rnd)
    base = f"/rounds/{rnd.id}/elections/{e.id}"
    page = text(ro.get(base))
    assert "elected unopposed" not in page and "Open voting and issue the ballot links" in page
    refused = ro.post(f"{base}/declare-unopposed")
    assert refused.status_code == 400 and "exactly one eligible candidate" in text(refused)
    with pytest.raises(el.ElectionError):
        el.declare_unopposed(e)
    _db.session.expire_all()
    assert el.get(e.id).state == "panel" and el.get(e.id).elected_candidate_id is None


def test_one_eligible_of_two_nominated_is_declared_unopposed(app, city, client_as):  # noqa: F811
    rnd, pcn = city
    e = in_panel(app, rnd, pcn, ("Dr Ada One", "Dr Bo Two"), shortlisted=1)
    ro = officer(client_as, rnd)
    base = f"/rounds/{rnd.id}/elections/{e.id}"
    page = text(ro.get(base))
    assert "Declare Dr Ada One elected unopposed" in page
    assert "Open voting and issue the ballot links" not in page          # one eligible: no ballot
    assert ro.post(f"{base}/declare-unopposed").status_code == 302
    assert el.get(e.id).state == "declared"


# --- lots only when the count meets a tie ----------------------------------------------------------------------

def test_lots_are_asked_for_only_when_the_count_meets_a_tie(app, city, client_as):  # noqa: F811
    rnd, pcn = city
    e, (ada, bo, _), tokens = contested(app, rnd, pcn, tie_break="lots")
    codes = sorted(tokens)
    el.cast(tokens[codes[0]], [str(ada.id)])
    el.cast(tokens[codes[1]], [str(bo.id)])                 # one vote each: a tie
    ro = officer(client_as, rnd)
    base = f"/rounds/{rnd.id}/elections/{e.id}"
    at(app, uk(2019, 5, 4, 10, 0))
    before = text(ro.get(base))
    assert 'name="lot_1"' not in before and "you will be asked to record the draw" in before
    tie = ro.post(f"{base}/count")
    page = text(tie)
    assert tie.status_code == 400 and "met a tie between" in page and 'name="lot_1"' in page
    assert "Dr Ada One" in page and el.get(e.id).result is None
    done = ro.post(f"{base}/count", data={"lot_1": str(bo.id), "lot_2": str(ada.id), "performed_by": "Jo RO",
                                          "witness": "Sam W"})
    assert done.status_code == 302, text(done)
    assert el.result(el.get(e.id))["winner"] == str(bo.id)


def test_a_count_without_a_tie_needs_no_lots(app, city, client_as):  # noqa: F811
    rnd, pcn = city
    e, (ada, bo, _), tokens = contested(app, rnd, pcn, tie_break="lots")
    codes = sorted(tokens)
    for code, choice in zip(codes, (ada, ada, bo)):
        el.cast(tokens[code], [str(choice.id)])
    at(app, uk(2019, 5, 4, 10, 0))
    ro = officer(client_as, rnd)
    assert ro.post(f"/rounds/{rnd.id}/elections/{e.id}/count").status_code == 302
    stored = el.result(el.get(e.id))
    assert stored["winner"] == str(ada.id) and stored["tie_break_rule"]["lots"] is None


# --- check your answers -------------------------------------------------------------------------------------

def test_a_vote_is_checked_before_it_is_cast_and_can_be_changed(app, city, anon_client):  # noqa: F811
    rnd, pcn = city
    _e, (ada, bo, _), tokens = contested(app, rnd, pcn)
    token = tokens[min(tokens)]
    at(app, uk(2019, 4, 26, 10, 0))
    check = anon_client.post("/ballot", data={"token": token, "cast": "1", "candidate": str(bo.id)})
    page = text(check)
    assert check.status_code == 200 and "Check your vote before you cast it" in page
    assert "Dr Bo Two" in page and count(BallotPaper) == 0
    assert f'name="candidate" value="{bo.id}"' in page and 'name="confirm" value="1"' in page
    change = text(anon_client.post("/ballot", data={"token": token, "change": "1", "candidate": str(bo.id)}))
    assert re.search(rf'id="candidate-{bo.id}"[^>]*value="{bo.id}" checked', change), change
    assert count(BallotPaper) == 0
    cast = anon_client.post("/ballot", data={"token": token, "cast": "1", "confirm": "1", "candidate": str(ada.id)})
    assert cast.status_code == 200 and "receipt code" in text(cast) and count(BallotPaper) == 1
    refused = anon_client.post("/ballot", data={"token": token, "cast": "1", "candidate": str(ada.id)})
    assert refused.status_code == 400                        # the link is used: no check page either


def test_an_alternative_vote_is_checked_in_preference_order(app, city, anon_client):  # noqa: F811
    rnd, pcn = city
    _e, (ada, bo, _), tokens = contested(app, rnd, pcn, method="irv")
    token = tokens[min(tokens)]
    at(app, uk(2019, 4, 26, 10, 0))
    page = text(anon_client.post("/ballot", data={"token": token, "cast": "1", f"pref_{bo.id}": "1",
                                                  f"pref_{ada.id}": "2"}))
    assert re.search(r"Preference 1</dt>\s*<dd[^>]*>Dr Bo Two", page)
    assert re.search(r"Preference 2</dt>\s*<dd[^>]*>Dr Ada One", page)
    assert count(BallotPaper) == 0


# --- ballot letters printed again -----------------------------------------------------------------------------

def test_the_letters_are_printed_again_for_practices_that_have_not_voted(app, city, client_as, anon_client):  # noqa: F811
    rnd, pcn = city
    e, (ada, _bo, _), tokens = contested(app, rnd, pcn)
    codes = sorted(tokens)
    el.cast(tokens[codes[0]], [str(ada.id)])
    ro = officer(client_as, rnd)
    url = f"/rounds/{rnd.id}/elections/{e.id}/letters"
    at(app, uk(2019, 4, 26, 10, 0))
    assert f'href="{url}"' in text(ro.get(f"/rounds/{rnd.id}/elections/{e.id}"))
    printed = ro.get(url)
    assert printed.status_code == 200 and printed.headers["Cache-Control"] == "no-store"
    links = LINK.findall(text(printed))
    assert sorted(links) == sorted(tokens[c] for c in codes[1:])           # the same links, not the used one
    assert tokens[codes[0]] not in text(printed)
    new = el.reissue(e, codes[1])                                           # a re-issue replaces the letter
    again = LINK.findall(text(ro.get(url)))
    assert new.token in again and tokens[codes[1]] not in again and len(again) == 11
    assert anon_client.post("/ballot", data={"token": again[0], "cast": "1", "confirm": "1",
                                             "candidate": str(ada.id)}).status_code == 200
    assert len(LINK.findall(text(ro.get(url)))) == 10
    _db.session.expire_all()
    events = _db.session.scalars(select(AuditEvent).where(AuditEvent.action == "election.letters_printed")).all()
    assert len(events) == 3 and all(tok not in (ev.after or "") for ev in events for tok in links)
    at(app, uk(2019, 5, 3, 17, 0))                                          # voting closed: no letters
    assert ro.get(url).status_code == 404


def test_only_the_returning_officer_prints_the_letters(app, city, client_as, anon_client):  # noqa: F811
    rnd, pcn = city
    e, _, _ = contested(app, rnd, pcn)
    url = f"/rounds/{rnd.id}/elections/{e.id}/letters"
    at(app, uk(2019, 4, 26, 10, 0))
    from pcnreg.models import System

    code = _db.session.get(System, rnd.system_id).code
    for who in (client_as("viewer", f"system:{code}"), client_as("commissioner", f"system:{code}")):
        assert who.get(url).status_code == 403
    assert anon_client.get(url).status_code in (302, 401, 403)


# --- the declaration names the CD on the registration: the live demo, end to end --------------------------------

def test_the_live_demo_election_declared_names_the_cd_on_the_registration(app, db, client_as):
    from pcnreg.models import Pcn, System
    from pcnreg.services import demo_story
    from pcnreg.services.demo import load_demo

    app.config["PCNREG_NOW"] = "2026-12-10T12:00:00+00:00"
    load_demo(None)
    demo_story.load()
    rnd = db.session.scalar(select(RegistrationRound).where(RegistrationRound.name == demo_story.CURRENT_ROUND))
    e = db.session.scalar(select(Election).where(Election.round_id == rnd.id))
    pcn = db.session.get(Pcn, e.pcn_id)
    assert pcn.name == demo_story.ELECTION_PCN
    ro = client_as("returning_officer", f"system:{db.session.get(System, rnd.system_id).code}")
    lead = client_as("pcn_lead", f"pcn:{pcn.id}")
    registration = f"/rounds/{rnd.id}/pcns/{pcn.id}/registration"
    assert "No Clinical Director is recorded yet" in text(lead.get(registration))
    base = f"/rounds/{rnd.id}/elections/{e.id}"
    # before nominations close, the page says when they can be closed instead of offering the button
    early = text(ro.get(base))
    assert re.search(r"Close nominations: Nominations close not before 17:00 on 15 December 2026", early), early
    assert 'value="close_nominations"' not in early and 'value="cancel"' in early
    app.config["PCNREG_NOW"] = "2026-12-15T17:00:00+00:00"             # nominations close (5 days on, 17:00)
    assert 'value="close_nominations"' in text(ro.get(base))
    for name in ("close_nominations", "start_panel"):
        assert ro.post(f"{base}/step", data={"step": name}).status_code == 302, name
    (candidate,) = el.get(e.id).candidates
    assert ro.post(f"{base}/assess", data={"candidate": str(candidate.id), "shortlisted": "yes",
                                           "reason": "Meets the criteria", "panel_members": "LMC panel"}
                   ).status_code == 302
    assert f"Declare {candidate.name} elected unopposed" in text(ro.get(base))
    assert ro.post(f"{base}/declare-unopposed").status_code == 302
    page = text(lead.get(registration))
    assert "No Clinical Director is recorded yet" not in page
    assert candidate.name in page and "Elected unopposed" in page
