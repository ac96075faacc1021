"""Clinical Director elections through the service: the 2019 Nottingham City timetable, the
secret ballot (single-use tokens, separate register and box), clock-driven voting, count and
declaration into the PCN's registration; refusals that write nothing; concurrency."""
from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from sqlalchemy import func, inspect, select
from workflow_helpers import uk

from pcnreg.domain import counting
from pcnreg.domain import elections as dom
from pcnreg.extensions import db as _db
from pcnreg.models import AuditEvent, BallotPaper, Elector, TokenIssue
from pcnreg.services import configuration as config_svc
from pcnreg.services import elections as el
from pcnreg.services import registration as reg_svc
from pcnreg.services import rounds as rounds_svc

# Nottingham City 2019: applications 22 March – 12 April; panel 15–18 April; voting 25 April – 3 May.
TT = dom.Timetable(uk(2019, 3, 22, 9, 0), uk(2019, 4, 12, 17, 0), uk(2019, 4, 25, 9, 0), uk(2019, 5, 3, 17, 0),
                   dt.date(2019, 4, 15), dt.date(2019, 4, 18), dt.date(2019, 5, 4), dt.date(2019, 5, 10))
ELIGIBLE = "A practising clinician at a member practice of the PCN"


@pytest.fixture
def city(app, db, demo_round):
    rnd = rounds_svc.get_round(None)
    return rnd, rounds_svc.get_pcn(rnd, "Nottingham City PCN 3")


def at(app, moment):
    app.config["PCNREG_NOW"] = moment


def count(model) -> int:
    _db.session.expire_all()
    return _db.session.scalar(select(func.count()).select_from(model))


def members(rnd, pcn) -> list[str]:
    return list(rounds_svc.build_configuration(rnd).pcn_data(str(pcn.id)).members)


def contested(app, rnd, pcn, *, method="plurality", tie_break="seed", names=("Dr Ada One", "Dr Bo Two", "Dr Cy Three")):
    """An election with three nominations, two shortlisted by the panel, voting open: tokens."""
    at(app, uk(2019, 3, 20, 12, 0))
    e = el.create(rnd, pcn, method=method, tie_break=tie_break, seed="published-2019-04-24", eligibility=ELIGIBLE,
                  tt=TT)
    at(app, uk(2019, 3, 22, 9, 0))
    el.step(e, "open_nominations")
    practices = members(rnd, pcn)
    candidates = [el.nominate(e, name=n, register="GMC", number=f"70000{i:02d}", practice_code=practices[i],
                              role="GP partner", statement="I will lead the network") for i, n in enumerate(names)]
    at(app, uk(2019, 4, 12, 17, 0))
    el.step(e, "close_nominations")
    el.step(e, "start_panel")
    at(app, uk(2019, 4, 16, 10, 0))
    panel = "Trust director; patient representative; CCG officer; LMC"
    for c in candidates[:2]:
        el.assess(e, c.id, shortlisted=True, reason="Meets the criteria", panel_members=panel)
    for c in candidates[2:]:
        el.assess(e, c.id, shortlisted=False, reason="Not practising in the network", panel_members=panel)
    at(app, uk(2019, 4, 25, 9, 0))
    tokens = {t.practice_code: t.token for t in el.open_voting(e)}
    return e, candidates, tokens


def test_a_contested_election_from_nominations_to_declaration(app, city):
    rnd, pcn = city
    e, (ada, bo, cy), tokens = contested(app, rnd, pcn)
    assert sorted(tokens) == members(rnd, pcn) and len(tokens) == 12
    assert el.turnout(e) == el.Turnout(0, 12)
    votes = [ada.id] * 7 + [bo.id] * 4           # 11 of 12 practices vote
    receipts = [el.cast(tokens[code], [str(v)]) for code, v in zip(sorted(tokens), votes)]
    assert el.turnout(e) == el.Turnout(11, 12)
    assert el.result(e) is None                  # nobody sees a tally before the count
    with pytest.raises(el.ElectionError, match="not before"):
        el.step(e, "close_voting")
    at(app, uk(2019, 5, 3, 17, 0))               # the clock closes voting by itself
    assert el.state(e) == "voting_closed"
    with pytest.raises(el.ElectionError, match="Voting closed"):
        el.cast(tokens[sorted(tokens)[-1]], [str(ada.id)])
    at(app, uk(2019, 5, 4, 10, 0))
    stored = el.count(e)
    assert stored["winner"] == str(ada.id) and stored["rounds"][0]["tallies"] == {str(ada.id): 7, str(bo.id): 4}
    assert stored["turnout"] == {"voted": 11, "electorate": 12}
    assert el.receipts(e) == sorted(receipts)
    recount = counting.count([counting.Ballot((r[1],), int(r[0])) for r in
                              (line.split(",") for line in el.ballot_export(e).splitlines()[1:])],
                             [ada.name, bo.name], "plurality", counting.SeededDraw("x"))
    assert recount.winner == ada.name            # the published ballots give the same result
    el.declare(e)
    row = reg_svc.registration(rnd, pcn)
    assert (row.cd_name, row.cd_process, row.cd_practice_code) == ("Dr Ada One", "election", ada.practice_code)
    assert "Elected by the member practices" in row.cd_process_details


def test_the_ballot_is_secret_and_tokens_are_single_use(app, city):
    rnd, pcn = city
    e, (ada, bo, _), tokens = contested(app, rnd, pcn)
    first, second = sorted(tokens)[:2]
    el.cast(tokens[first], [str(bo.id)])
    for bad in (tokens[first], "forged-token", ""):
        with pytest.raises(el.ElectionError, match="cannot be used"):
            el.cast(bad, [str(ada.id)])
    new = el.reissue(e, second, channel="email", address="practice@nhs.example")
    with pytest.raises(el.ElectionError, match="cannot be used"):
        el.cast(tokens[second], [str(ada.id)])   # the re-issue voided the first link
    el.cast(new.token, [str(ada.id)])
    assert count(BallotPaper) == 2
    issues = _db.session.scalars(select(TokenIssue).join(Elector, Elector.id == TokenIssue.elector_id)
                                 .where(Elector.practice_code == second)).all()
    assert [i.voided_at is not None for i in issues] == [True, False]
    # Nothing re-links a practice to its ballot: no time or practice in the box, no time in the register.
    assert {c["name"] for c in inspect(_db.engine).get_columns("ballot")} == {
        "id", "election_id", "preferences", "weight", "receipt"}
    assert {c["name"] for c in inspect(_db.engine).get_columns("elector")} == {
        "id", "election_id", "practice_code", "weight", "token_hash", "voted"}
    votes = _db.session.scalars(select(AuditEvent).where(AuditEvent.action == "election.vote")).all()
    assert votes == []              # no audit event per vote: its time would order the ballots (issue #12)


@pytest.mark.parametrize("moment, accepted", [
    (uk(2019, 4, 25, 8, 59, 59), False), (uk(2019, 4, 25, 9, 0, 0), True),
    (uk(2019, 5, 3, 16, 59, 59), True), (uk(2019, 5, 3, 17, 0, 0), False),
])
def test_votes_one_second_either_side_of_the_voting_window(app, city, moment, accepted):
    rnd, pcn = city
    e, (ada, _, _), tokens = contested(app, rnd, pcn)
    at(app, moment)
    token = next(iter(tokens.values()))
    if accepted:
        assert el.cast(token, [str(ada.id)])
    else:
        with pytest.raises(el.ElectionError, match="Voting (opens|closed)"):
            el.cast(token, [str(ada.id)])
        assert count(BallotPaper) == 0 and el.turnout(e).voted == 0


def test_bad_ballots_are_refused_and_nothing_is_written(app, city):
    rnd, pcn = city
    e, (ada, bo, cy), tokens = contested(app, rnd, pcn, method="irv")
    token = next(iter(tokens.values()))
    cases = [([str(cy.id)], "not standing"),                        # not shortlisted
             (["99999"], "not standing"),                            # unknown
             ([str(ada.id), str(ada.id)], "only one preference"),    # duplicate preference
             ([str(ada.id), "", str(bo.id)], "without gaps"),        # skipped preference
             (["", ""], "Choose a candidate")]
    for prefs, message in cases:
        with pytest.raises(el.ElectionError) as refused:
            el.cast(token, prefs)
        assert message in " ".join(refused.value.messages)
    assert count(BallotPaper) == 0 and el.turnout(e).voted == 0
    assert el.cast(token, [str(bo.id), str(ada.id)])             # the same token still works once


def test_nominations_and_setup_are_checked(app, city):
    rnd, pcn = city
    at(app, uk(2019, 3, 20, 12, 0))
    with pytest.raises(el.ElectionError) as refused:
        el.create(rnd, pcn, method="dictator", tie_break="seed", seed="", eligibility="",
                  tt=dom.Timetable(TT.voting_close, TT.nominations_open, TT.voting_open, TT.voting_open))
    assert len(refused.value.messages) >= 4
    e = el.create(rnd, pcn, method="plurality", tie_break="seed", seed="s", eligibility=ELIGIBLE, tt=TT)
    with pytest.raises(el.ElectionError, match="already has an election"):
        el.create(rnd, pcn, method="plurality", tie_break="seed", seed="s", eligibility=ELIGIBLE, tt=TT)
    with pytest.raises(el.ElectionError, match="not before"):
        el.step(e, "open_nominations")                           # two days early
    at(app, uk(2019, 3, 22, 9, 0))
    el.step(e, "open_nominations")
    code = members(rnd, pcn)[0]
    good = dict(name="Dr Di Four", register="GMC", number="7000011", practice_code=code, role="GP",
                statement="Statement")
    for change, message in [({"number": "12345"}, "not a GMC registration number"),
                            ({"register": "NMC", "number": "1234567"}, "not a NMC registration number"),
                            ({"practice_code": "C84001"}, "not a member practice"),
                            ({"statement": " "}, "statement")]:
        with pytest.raises(el.ElectionError, match=message):
            el.nominate(e, **{**good, **change})
    el.nominate(e, **{**good, "register": "NMC", "number": "12a3456e"})
    at(app, uk(2019, 4, 12, 17, 0))
    with pytest.raises(el.ElectionError, match="Nominations are taken"):
        el.nominate(e, **{**good, "name": "Dr Late"})


def test_unopposed_agreement_interim_and_withdrawal_paths(app, city):
    rnd = city[0]
    at(app, uk(2019, 3, 20, 12, 0))
    # elected unopposed: one eligible candidate after the panel (another withdrew)
    pcn4 = rounds_svc.get_pcn(rnd, "Nottingham City PCN 4")
    e = el.create(rnd, pcn4, method="plurality", tie_break="seed", seed="s", eligibility=ELIGIBLE, tt=TT)
    at(app, uk(2019, 3, 25, 9, 0))
    el.step(e, "open_nominations")
    code = members(rnd, pcn4)[0]
    only = el.nominate(e, name="Dr Solo", register="GMC", number="7123456", practice_code=code, role="GP",
                       statement="s")
    other = el.nominate(e, name="Dr Other", register="GMC", number="7123457", practice_code=code, role="GP",
                        statement="s")
    el.withdraw(e, other.id, "Moved away")
    at(app, uk(2019, 4, 13, 9, 0))
    el.step(e, "close_nominations")
    el.step(e, "start_panel")
    with pytest.raises(el.ElectionError, match="has not assessed"):
        el.declare_unopposed(e)
    el.assess(e, only.id, shortlisted=True, reason="Meets the criteria", panel_members="Panel")
    el.declare_unopposed(e)
    assert reg_svc.registration(rnd, pcn4).cd_name == "Dr Solo"
    # appointed by agreement at a PCN meeting (Mid Nottinghamshire)
    newark = rounds_svc.get_pcn(rnd, "Newark")
    e2 = el.create(rnd, newark, method="plurality", tie_break="seed", seed="s", eligibility=ELIGIBLE, tt=TT)
    with pytest.raises(el.ElectionError, match="meeting date"):
        el.record_agreement(e2, held_on=None, practices_present="", outcome="")
    el.record_agreement(e2, held_on=dt.date(2019, 3, 29), practices_present="All seven", outcome="Dr X appointed")
    assert e2.state == "appointed"
    # no candidates: an interim lead
    pcn8 = rounds_svc.get_pcn(rnd, "Nottingham City PCN 8")
    at(app, uk(2019, 3, 20, 12, 0))
    e3 = el.create(rnd, pcn8, method="plurality", tie_break="seed", seed="s", eligibility=ELIGIBLE, tt=TT)
    at(app, uk(2019, 3, 22, 9, 0))
    el.step(e3, "open_nominations")
    at(app, uk(2019, 4, 12, 17, 0))
    el.step(e3, "close_nominations")
    el.record_interim(e3, "Dr Interim")
    assert e3.state == "interim"


def test_a_weighted_count_uses_list_sizes_frozen_at_voting_open(app, city):
    rnd, pcn = city
    e, (ada, bo, _), tokens = contested(app, rnd, pcn, method="weighted")
    weights = dict(_db.session.execute(select(Elector.practice_code, Elector.weight)
                                       .where(Elector.election_id == e.id)).all())
    sizes = {c: rounds_svc.build_configuration(rnd).config.practices[c].list_size for c in weights}
    assert weights == sizes
    biggest = max(weights, key=weights.get)
    el.cast(tokens[biggest], [str(bo.id)])
    for code in sorted(set(tokens) - {biggest})[:2]:
        el.cast(tokens[code], [str(ada.id)])
    at(app, uk(2019, 5, 4, 10, 0))
    tallies = el.count(e)["rounds"][0]["tallies"]
    assert tallies[str(bo.id)] == weights[biggest]
    assert tallies[str(ada.id)] == sum(weights[c] for c in sorted(set(tokens) - {biggest})[:2])


def test_all_ballots_of_a_20_practice_pcn_cast_in_parallel_and_one_token_twice(app, city):
    rnd, pcn = city
    pcn1 = rounds_svc.get_pcn(rnd, "Nottingham City PCN 1")
    config_svc.merge_pcns(rnd, [str(pcn1.id)], str(pcn.id), name=None, author="CCG", reason="20-practice test")
    e, (ada, bo, _), tokens = contested(app, rnd, pcn)
    assert len(tokens) == 20
    e_id, ada_id, bo_id = e.id, ada.id, bo.id
    _db.session.remove()
    jobs = [(tokens[code], str(ada_id if i % 3 else bo_id)) for i, code in enumerate(sorted(tokens))]
    jobs.append(jobs[0])                          # the same token from a second browser at the same moment
    barrier = threading.Barrier(len(jobs), timeout=30)
    outcomes: list[str] = []

    def vote(token, choice):
        with app.app_context():
            barrier.wait()
            try:
                el.cast(token, [choice])
                outcomes.append("ok")
            except el.ElectionError:
                outcomes.append("refused")
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=vote, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(outcomes) == ["ok"] * 20 + ["refused"]
    assert count(BallotPaper) == 20
    at(app, uk(2019, 5, 4, 10, 0))
    e = el.get(e_id)
    tallies = el.count(e)["rounds"][0]["tallies"]
    assert sum(tallies.values()) == 20 == el.turnout(e).voted
    assert json.loads(e.result)["turnout"] == {"voted": 20, "electorate": 20}


def test_a_drawing_of_lots_is_recorded_before_the_count(app, city):
    rnd, pcn = city
    e, (ada, bo, _), tokens = contested(app, rnd, pcn, tie_break="lots")
    codes = sorted(tokens)
    el.cast(tokens[codes[0]], [str(ada.id)])
    el.cast(tokens[codes[1]], [str(bo.id)])          # a tie: one vote each
    at(app, uk(2019, 5, 4, 10, 0))
    for kwargs in ({}, {"lots_order": [ada.id, bo.id], "performed_by": "RO", "witness": "RO"}):
        with pytest.raises(el.ElectionError):
            el.count(e, **kwargs)
    assert el.result(e) is None
    stored = el.count(e, lots_order=[bo.id, ada.id], performed_by="LMC returning officer", witness="LMC chair")
    assert stored["winner"] == str(bo.id)              # first in the order drawn wins a tie for first place
    assert set(stored["rounds"][0]["tie_break"]["tied"]) == {str(ada.id), str(bo.id)}
    assert stored["tie_break_rule"]["lots"]["witness"] == "LMC chair"


def test_ballot_links_are_emailed_through_the_configured_smtp_server(app, city):
    import re
    import socket

    from smtp_sink import SmtpSink

    rnd, pcn = city
    e, (ada, _, _), tokens = contested(app, rnd, pcn)
    code = sorted(tokens)[0]
    with SmtpSink() as sink:
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=sink.port, SMTP_FROM="lmc@nhs.example")
        el.email_ballot(e, code, "practice.manager@nhs.example", lambda t: f"https://pcnreg.example/ballot/{t}")
    assert len(sink.messages) == 1
    sent = sink.messages[0]
    assert sent["to"] == ["practice.manager@nhs.example"] and sent["from"] == "lmc@nhs.example"
    body = sent["message"].get_content()
    assert "Nottingham City PCN 3" in sent["message"]["Subject"] and "17:00 on 3 May 2019" in body
    token = re.search(r"/ballot/(\S+)", body).group(1)
    with pytest.raises(el.ElectionError, match="cannot be used"):
        el.cast(tokens[code], [str(ada.id)])          # the letter's link was voided by the e-mailed one
    assert el.cast(token, [str(ada.id)])
    issue = _db.session.scalars(select(TokenIssue).order_by(TokenIssue.id.desc())).first()
    assert (issue.channel, issue.address) == ("email", "practice.manager@nhs.example")

    # A server that cannot be reached: nothing is issued and the earlier link still works.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    app.config.update(SMTP_PORT=closed_port)
    other = sorted(tokens)[1]
    before = count(TokenIssue)
    with pytest.raises(el.ElectionError, match="could not be sent.*earlier link still works"):
        el.email_ballot(e, other, "someone@nhs.example", lambda t: f"https://pcnreg.example/ballot/{t}")
    assert count(TokenIssue) == before
    assert el.cast(tokens[other], [str(ada.id)])


def test_voting_can_be_extended_with_a_reason_while_open_never_reopened(app, city):
    rnd, pcn = city
    e, (ada, _, _), tokens = contested(app, rnd, pcn)
    later = uk(2019, 5, 7, 17, 0)
    with pytest.raises(el.ElectionError, match="reason"):
        el.extend_voting(e, later, " ")
    with pytest.raises(el.ElectionError, match="later than"):
        el.extend_voting(e, uk(2019, 5, 2, 17, 0), "Bank holiday")
    el.extend_voting(e, later, "Bank holiday on 6 May")
    at(app, uk(2019, 5, 6, 12, 0))                  # after the original close, before the new one
    assert el.cast(next(iter(tokens.values())), [str(ada.id)])
    at(app, later)
    with pytest.raises(el.ElectionError, match="only while it is open"):
        el.extend_voting(e, uk(2019, 5, 9, 17, 0), "Too late")
    events = _db.session.scalars(select(AuditEvent).where(AuditEvent.action == "election.extend_voting")).all()
    assert len(events) == 1 and "Bank holiday on 6 May" in events[0].after


def test_an_election_nobody_voted_in_is_not_counted_and_gets_an_interim_lead(app, city):
    rnd, pcn = city
    e, _, _ = contested(app, rnd, pcn)
    at(app, uk(2019, 5, 4, 10, 0))
    with pytest.raises(el.ElectionError, match="No practice voted"):
        el.count(e)
    el.record_interim(e, "Dr Interim Lead")
    assert e.state == "interim" and e.interim_lead == "Dr Interim Lead"
