"""The election core's transition table, clock-bound voting and ballot checks (plain data)."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from pcnreg.domain import elections as dom

UK = ZoneInfo("Europe/London")
TT = dom.Timetable(dt.datetime(2019, 3, 22, 9, tzinfo=UK), dt.datetime(2019, 4, 12, 17, tzinfo=UK),
                   dt.datetime(2019, 4, 25, 9, tzinfo=UK), dt.datetime(2019, 5, 3, 17, tzinfo=UK))
DURING = {   # a moment at which each step's timetable check holds
    "open_nominations": dt.datetime(2019, 3, 22, 9, tzinfo=UK), "close_nominations": dt.datetime(2019, 4, 12, 17, tzinfo=UK),
    "open_voting": dt.datetime(2019, 4, 25, 9, tzinfo=UK), "close_voting": dt.datetime(2019, 5, 3, 17, tzinfo=UK),
    "count": dt.datetime(2019, 5, 4, 10, tzinfo=UK), "declare": dt.datetime(2019, 5, 5, 10, tzinfo=UK),
}
EXPECTED = {
    ("draft", "open_nominations"): "nominations_open", ("nominations_open", "close_nominations"): "nominations_closed",
    ("nominations_closed", "start_panel"): "panel", ("panel", "open_voting"): "voting_open",
    ("voting_open", "close_voting"): "voting_closed", ("voting_closed", "count"): "counted",
    ("counted", "declare"): "declared", ("panel", "declare_unopposed"): "declared",
    ("nominations_closed", "reopen_nominations"): "nominations_open", ("panel", "reopen_nominations"): "nominations_open",
    ("nominations_closed", "record_interim"): "interim", ("panel", "record_interim"): "interim",
    ("voting_closed", "record_interim"): "interim",
    ("draft", "record_agreement"): "appointed", ("nominations_open", "record_agreement"): "appointed",
    ("nominations_closed", "record_agreement"): "appointed",
    ("draft", "cancel"): "cancelled", ("nominations_open", "cancel"): "cancelled",
    ("nominations_closed", "cancel"): "cancelled", ("panel", "cancel"): "cancelled",
}


def facts(state: str, name: str) -> dom.Facts:
    """Facts under which ``name``'s own checks hold."""
    now = DURING.get(name, dt.datetime(2019, 4, 16, 10, tzinfo=UK))
    if state in ("voting_closed", "counted", "declared") and name not in DURING:
        now = dt.datetime(2019, 5, 4, 10, tzinfo=UK)
    empty = name in ("reopen_nominations", "record_interim")
    return dom.Facts(state=state, now=now, timetable=TT, candidates=0 if empty else 2,
                     shortlisted=0 if empty else (1 if name == "declare_unopposed" else 2), electorate=12,
                     reason="Agreed", minutes_complete=True, interim_named=True)


def test_the_table_is_the_issue_state_diagram():
    table = {(s, t.name): t.target for t in dom.TRANSITIONS for s in t.sources}
    assert table == EXPECTED


@pytest.mark.parametrize("state", dom.STATES)
@pytest.mark.parametrize("name", list(dom.BY_NAME))
def test_every_step_from_every_state(state, name):
    f = facts(state, name)
    effective = dom.effective_state(state, TT, f.now)
    expected = EXPECTED.get((state, name), EXPECTED.get((effective, name)))
    if expected is not None:
        assert dom.refusals(name, f) == [], (state, name)
        assert dom.perform(name, f) == expected
    else:
        with pytest.raises(dom.Refused, match="cannot be taken through"):
            dom.perform(name, f)


def test_voting_closes_itself_to_the_second_and_is_never_reopened():
    close = TT.voting_close
    assert dom.effective_state("voting_open", TT, close - dt.timedelta(seconds=1)) == "voting_open"
    assert dom.effective_state("voting_open", TT, close) == "voting_closed"
    assert dom.may_vote("voting_open", TT, close - dt.timedelta(seconds=1)) is None
    assert "closed" in dom.may_vote("voting_open", TT, close)
    assert "opens" in dom.may_vote("voting_open", TT, TT.voting_open - dt.timedelta(seconds=1))
    assert not any("voting_open" == t.target and {"voting_closed", "counted"} & t.sources for t in dom.TRANSITIONS)


def test_checks_name_what_is_missing():
    panel = dom.Facts(state="panel", now=DURING["open_voting"], timetable=TT, candidates=3, shortlisted=1,
                      undecided=1, electorate=12)
    reasons = dom.refusals("open_voting", panel)
    assert "The panel has not assessed 1 candidate(s)" in reasons and any("two eligible" in r for r in reasons)
    early = dom.Facts(state="draft", now=TT.nominations_open - dt.timedelta(seconds=1), timetable=TT)
    assert "not before" in dom.refusals("open_nominations", early)[0]
    voted = dom.Facts(state="voting_open", now=DURING["count"], timetable=TT, ballots=3, interim_named=True)
    assert dom.refusals("record_interim", voted) == ["Ballots were cast: count them"]


@pytest.mark.parametrize("body, number, ok", [
    ("GMC", "1234567", True), ("GMC", "123456", False), ("NMC", "12a3456e", True), ("NMC", "1234567", False),
    ("HCPC", "PH123456", True), ("GPhC", "2012345", True), ("XYZ", "1", False),
])
def test_registration_number_formats(body, number, ok):
    assert (dom.registration_problem(body, number) is None) == ok


@pytest.mark.parametrize("prefs, method, problem", [
    (["1"], "plurality", None), (["1", "2"], "plurality", "one candidate only"),
    (["1", "2"], "irv", None), (["1", "", "2"], "irv", "without gaps"), (["1", "1"], "irv", "only one preference"),
    (["9"], "irv", "not standing"), (["", ""], "irv", "Choose a candidate"), (["2", ""], "irv", None),
])
def test_ballot_checks(prefs, method, problem):
    found = dom.check_preferences(prefs, {"1", "2"}, method)
    assert (found == []) if problem is None else any(problem in p for p in found)


def test_times_in_messages_are_uk_local_time():
    # 17:00 BST on 3 May 2019 is 16:00 UTC: people read the local time.
    utc_tt = dom.Timetable(*(m.astimezone(dt.UTC) for m in (TT.nominations_open, TT.nominations_close,
                                                                     TT.voting_open, TT.voting_close)))
    assert dom.may_vote("voting_open", utc_tt, utc_tt.voting_close) == \
        "Voting closed at 17:00 on 3 May 2019 (UK time): no vote is taken after it"
    assert "09:00 on 22 March 2019 (UK time)" in dom.may_nominate("nominations_open", utc_tt,
                                                                   dt.datetime(2019, 3, 1, tzinfo=UK))
