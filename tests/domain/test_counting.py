"""The counting core of Clinical Director elections (pcnreg.domain.counting).

Expected tallies are worked out by hand in each test; hypothesis checks properties every count
must have.
"""
from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pcnreg.domain.counting import (
    Ballot,
    BallotError,
    DrawOfLots,
    SeededDraw,
    TieBreakNeeded,
    count,
)


def ballots(*groups: tuple[int, tuple[str, ...]] | tuple[int, tuple[str, ...], int]) -> list[Ballot]:
    """``(copies, preferences[, weight])`` groups expanded into ballots."""
    out = []
    for group in groups:
        copies, prefs, *weight = group
        out += [Ballot(prefs, *weight)] * copies
    return out


def tallies(result) -> list[dict]:
    return [r.tallies for r in result.rounds]


def sha(seed: str, round_no: int, name: str) -> str:
    """The documented seeded-draw key, written out again here."""
    return hashlib.sha256(f"{seed}:{round_no}:{name}".encode()).hexdigest()


LOTS_ABC = DrawOfLots(("A", "B", "C"), performed_by="R. Officer", witness="W. Itness")


# --- hand-worked counts -------------------------------------------------------------------

def test_plurality_counts_first_preferences_one_practice_one_vote():
    bs = [Ballot(("A", "B")), Ballot(("A",)), Ballot(("B", "A"), 100), Ballot(("C",)),
          Ballot(("A", "C")), Ballot(("B",))]
    result = count(bs, ["A", "B", "C", "D"], "plurality")
    # by hand: A 3 (ballots 1, 2, 5), B 2 (3 and 6; the weight 100 is not used), C 1, D 0
    assert tallies(result) == [{"A": 3, "B": 2, "C": 1, "D": 0}]
    assert result.winner == "A"
    assert result.rounds[0].eliminated is None and result.rounds[0].tie_break is None
    assert result.exhausted == 0


def test_weighted_counts_list_sizes():
    bs = [Ballot(("A",), 10_000), Ballot(("A", "B"), 20_500), Ballot(("A",), 5_200),
          Ballot(("B",), 30_000), Ballot(("B", "C"), 15_100), Ballot(("C",), 8_000)]
    result = count(bs, ["A", "B", "C"], "weighted")
    # by hand: A 10,000 + 20,500 + 5,200 = 35,700; B 30,000 + 15,100 = 45,100; C 8,000
    assert tallies(result) == [{"A": 35_700, "B": 45_100, "C": 8_000}]
    assert result.winner == "B"
    # one practice one vote the same ballots elect A (3 practices against 2)
    assert count(bs, ["A", "B", "C"], "plurality").winner == "A"


def test_irv_rounds_with_exhausted_ballots():
    bs = ballots((4, ("A",)), (3, ("B", "C")), (2, ("C", "B")), (2, ("D", "C")), (1, ("D",)))
    result = count(bs, ["A", "B", "C", "D"], "irv")
    # round 1: A 4, B 3, C 2, D 3 of 12; nobody above 6 -> C (fewest) eliminated
    # round 2: C's two ballots go to B: A 4, B 5, D 3 -> D eliminated
    # round 3: D's ballots name only C (gone) or nobody else: 3 exhausted; A 4, B 5 of 9
    #          continuing votes: B has more than half (4.5) and wins
    assert tallies(result) == [{"A": 4, "B": 3, "C": 2, "D": 3},
                               {"A": 4, "B": 5, "D": 3},
                               {"A": 4, "B": 5}]
    assert [r.eliminated for r in result.rounds] == ["C", "D", None]
    assert [r.exhausted for r in result.rounds] == [0, 0, 3]
    assert result.winner == "B" and result.exhausted == 3
    assert result.as_dict() == {
        "method": "irv",
        "rounds": [
            {"tallies": {"A": 4, "B": 3, "D": 3, "C": 2}, "eliminated": "C", "tie_break": None},
            {"tallies": {"B": 5, "A": 4, "D": 3}, "eliminated": "D", "tie_break": None},
            {"tallies": {"B": 5, "A": 4}, "eliminated": None, "tie_break": None},
        ],
        "winner": "B",
        "exhausted": 3,
    }


def test_irv_with_a_majority_at_once_has_one_round_and_lists_zero_candidates():
    result = count(ballots((3, ("A",)), (1, ("B",))), ["A", "B", "C"], "irv")
    assert tallies(result) == [{"A": 3, "B": 1, "C": 0}]
    assert result.winner == "A" and len(result.rounds) == 1


def test_irv_counts_weights():
    # the weighted alternative vote: 3 practices for A against 2 larger ones for B
    bs = ballots((3, ("A", "B"), 1_000), (2, ("B", "A"), 4_000))
    result = count(bs, ["A", "B"], "irv")
    assert tallies(result) == [{"A": 3_000, "B": 8_000}]
    assert result.winner == "B"


# Published example: the Tennessee capital election of Wikipedia's "Instant-runoff voting"
# article (https://en.wikipedia.org/wiki/Instant-runoff_voting, "Examples"): voters live in
# four cities and prefer cities near them.
#   42% Memphis:     Memphis > Nashville > Chattanooga > Knoxville
#   26% Nashville:   Nashville > Chattanooga > Knoxville > Memphis
#   15% Chattanooga: Chattanooga > Knoxville > Nashville > Memphis
#   17% Knoxville:   Knoxville > Chattanooga > Nashville > Memphis
# Round 1: Memphis 42, Nashville 26, Knoxville 17, Chattanooga 15 -> Chattanooga eliminated,
# its voters' next preference Knoxville (32). Round 2: Memphis 42, Knoxville 32, Nashville 26
# -> Nashville eliminated; its voters' next preference Chattanooga is gone, then Knoxville
# (58). Round 3: Knoxville 58 of 100 wins. (Memphis wins under plurality, 42 being the most.)
TENNESSEE = [
    (42, ("Memphis", "Nashville", "Chattanooga", "Knoxville")),
    (26, ("Nashville", "Chattanooga", "Knoxville", "Memphis")),
    (15, ("Chattanooga", "Knoxville", "Nashville", "Memphis")),
    (17, ("Knoxville", "Chattanooga", "Nashville", "Memphis")),
]
CITIES = ["Memphis", "Nashville", "Chattanooga", "Knoxville"]


@pytest.mark.parametrize("as_weights", [False, True], ids=["100 ballots", "4 weighted ballots"])
def test_tennessee_capital_published_example(as_weights):
    if as_weights:
        bs = [Ballot(prefs, share) for share, prefs in TENNESSEE]
    else:
        bs = ballots(*[(share, prefs) for share, prefs in TENNESSEE])
    result = count(bs, CITIES, "irv")
    assert tallies(result) == [
        {"Memphis": 42, "Nashville": 26, "Chattanooga": 15, "Knoxville": 17},
        {"Memphis": 42, "Nashville": 26, "Knoxville": 32},
        {"Memphis": 42, "Knoxville": 58},
    ]
    assert [r.eliminated for r in result.rounds] == ["Chattanooga", "Nashville", None]
    assert result.winner == "Knoxville" and result.exhausted == 0
    plurality = count(bs, CITIES, "weighted" if as_weights else "plurality")
    assert plurality.winner == "Memphis"


# --- ties ---------------------------------------------------------------------------------

FIRST_PLACE_TIE = ballots((2, ("A",)), (2, ("B", "A")), (1, ("C",)))       # A 2, B 2, C 1


def test_plurality_tie_for_first_place_by_draw_of_lots():
    lots = DrawOfLots(("B", "C", "A"), performed_by="R. Officer", witness="W. Itness")
    result = count(FIRST_PLACE_TIE, ["A", "B", "C"], "plurality", lots)
    assert tallies(result) == [{"A": 2, "B": 2, "C": 1}]
    assert result.winner == "B"                       # drawn before A
    d = result.rounds[0].tie_break
    assert (d.round, d.tied, d.method, d.decides, d.outcome, d.ranking) == \
        (1, ("A", "B"), "draw_of_lots", "winner", "B", ("B", "A"))
    assert result.as_dict()["rounds"][0]["tie_break"] == {
        "round": 1, "tied": ["A", "B"], "method": "draw_of_lots", "decides": "winner",
        "outcome": "B", "ranking": ["B", "A"], "order": ["B", "C", "A"],
        "performed_by": "R. Officer", "witness": "W. Itness"}


def test_plurality_tie_for_first_place_by_seeded_draw():
    seed = "LMC 2019"
    result = count(FIRST_PLACE_TIE, ["A", "B", "C"], "plurality", SeededDraw(seed))
    # sha256("LMC 2019:1:A") = 3456f899… < sha256("LMC 2019:1:B") = abb8d962…: A ranks first
    assert sha(seed, 1, "A").startswith("3456f899") and sha(seed, 1, "B").startswith("abb8d962")
    assert result.winner == "A"
    d = result.rounds[0].tie_break
    assert (d.round, d.tied, d.method, d.decides, d.outcome, d.ranking) == \
        (1, ("A", "B"), "seeded_draw", "winner", "A", ("A", "B"))
    assert d.detail == {"seed": seed, "keys": {"A": sha(seed, 1, "A"), "B": sha(seed, 1, "B")}}
    # the weighted count of the same ballots, all weights 1, ties and decides the same way
    assert count(FIRST_PLACE_TIE, ["A", "B", "C"], "weighted", SeededDraw(seed)).winner == "A"


# A 3, B 2, C 2: B and C tie for last place. B's voters go on to A, C's to B, so the draw decides
# the election: eliminating C gives B 4 of 7 (B wins), eliminating B gives A 5 of 7 (A wins).
ELIMINATION_TIE = ballots((3, ("A",)), (2, ("B", "A")), (2, ("C", "B")))


def test_irv_tie_at_elimination_by_draw_of_lots():
    result = count(ELIMINATION_TIE, ["A", "B", "C"], "irv", LOTS_ABC)     # C drawn last
    assert tallies(result) == [{"A": 3, "B": 2, "C": 2}, {"A": 3, "B": 4}]
    assert [r.eliminated for r in result.rounds] == ["C", None]
    d = result.rounds[0].tie_break
    assert (d.round, d.tied, d.method, d.decides, d.outcome, d.ranking) == \
        (1, ("B", "C"), "draw_of_lots", "elimination", "C", ("B", "C"))
    assert result.rounds[1].tie_break is None
    assert result.winner == "B"

    other = DrawOfLots(("A", "C", "B"), performed_by="R. Officer", witness="W. Itness")
    result = count(ELIMINATION_TIE, ["A", "B", "C"], "irv", other)        # B drawn last
    assert tallies(result) == [{"A": 3, "B": 2, "C": 2}, {"A": 5, "C": 2}]
    assert result.rounds[0].tie_break.outcome == "B" and result.winner == "A"


def test_irv_tie_at_elimination_by_seeded_draw():
    seed = "LMC 2019"
    # round 1 keys: C 83ad320c… < B abb8d962…: B ranks last and is eliminated; A then has 5 of 7
    assert sha(seed, 1, "C") < sha(seed, 1, "B")
    result = count(ELIMINATION_TIE, ["A", "B", "C"], "irv", SeededDraw(seed))
    assert tallies(result) == [{"A": 3, "B": 2, "C": 2}, {"A": 5, "C": 2}]
    d = result.rounds[0].tie_break
    assert (d.round, d.tied, d.method, d.decides, d.outcome, d.ranking) == \
        (1, ("B", "C"), "seeded_draw", "elimination", "B", ("C", "B"))
    assert result.winner == "A"


def test_seeded_draw_key_includes_the_round():
    seed = "LMC 2019"
    # round 1: B 5, A 3, C 2, D 1 -> D eliminated, its ballot goes to C
    # round 2: B 5, A 3, C 3 -> A and C tie for last. Round-2 keys: C 2bbb7325… < A 9ceed347…,
    #          so A is eliminated (with round-1 keys, A 3456… < C 83ad…, it would have been C)
    # round 3: A's ballots exhausted: B 5, C 3 of 8 continuing -> B wins
    assert sha(seed, 2, "C") < sha(seed, 2, "A") and sha(seed, 1, "A") < sha(seed, 1, "C")
    bs = ballots((5, ("B",)), (3, ("A",)), (2, ("C",)), (1, ("D", "C")))
    result = count(bs, ["A", "B", "C", "D"], "irv", SeededDraw(seed))
    assert tallies(result) == [{"A": 3, "B": 5, "C": 2, "D": 1}, {"A": 3, "B": 5, "C": 3},
                               {"B": 5, "C": 3}]
    assert [r.eliminated for r in result.rounds] == ["D", "A", None]
    assert [r.exhausted for r in result.rounds] == [0, 0, 3]
    d = result.rounds[1].tie_break
    assert (d.round, d.tied, d.outcome, d.ranking) == (2, ("A", "C"), "A", ("C", "A"))
    assert result.rounds[0].tie_break is None and result.winner == "B"


def test_two_candidates_level_in_irv_go_to_the_tie_break():
    bs = [Ballot(("A",)), Ballot(("B",))]
    result = count(bs, ["A", "B"], "irv", DrawOfLots(("B", "A"), "R. Officer", "W. Itness"))
    # round 1: A 1, B 1 of 2: nobody above half; A (drawn last) eliminated; round 2: B 1 of 1
    assert tallies(result) == [{"A": 1, "B": 1}, {"B": 1}]
    assert [r.exhausted for r in result.rounds] == [0, 1]
    assert result.rounds[0].tie_break.outcome == "A" and result.winner == "B"


def test_zero_vote_candidates_are_eliminated_one_by_one_with_recorded_draws():
    result = count([Ballot(("A", "B")), Ballot(("B",)), Ballot(("A",))], ["A", "B", "C", "D"],
                   "irv", DrawOfLots(("D", "C", "B", "A"), "R. Officer", "W. Itness"))
    # round 1: A 2 of 3 is more than half: A wins at once, C and D at 0 are listed
    assert tallies(result) == [{"A": 2, "B": 1, "C": 0, "D": 0}] and result.winner == "A"
    result = count([Ballot(("A",)), Ballot(("B",))], ["A", "B", "C", "D"], "irv",
                   DrawOfLots(("D", "C", "B", "A"), "R. Officer", "W. Itness"))
    # round 1: C, D tie at 0: C (drawn after D) out; round 2: D out; round 3: A, B tie at 1: A out
    assert [r.eliminated for r in result.rounds] == ["C", "D", "A", None]
    assert [r.tie_break.tied if r.tie_break else None for r in result.rounds] == \
        [("C", "D"), None, ("A", "B"), None]
    assert result.winner == "B"


@pytest.mark.parametrize("method,bs", [("plurality", FIRST_PLACE_TIE), ("weighted", FIRST_PLACE_TIE),
                                       ("irv", ELIMINATION_TIE)])
def test_a_tie_without_a_rule_is_refused(method, bs):
    with pytest.raises(TieBreakNeeded) as err:
        count(bs, ["A", "B", "C"], method)
    assert err.value.round == 1
    assert err.value.tied == (("A", "B") if method != "irv" else ("B", "C"))
    assert "fixed before the count" in str(err.value)


def test_no_rule_is_needed_without_a_tie():
    assert count(ballots((2, ("A",)), (1, ("B",))), ["A", "B"], "plurality").winner == "A"


def test_draw_of_lots_must_be_complete_and_witnessed():
    with pytest.raises(ValueError, match="missing C"):
        count(FIRST_PLACE_TIE, ["A", "B", "C"], "plurality",
              DrawOfLots(("A", "B"), "R. Officer", "W. Itness"))
    with pytest.raises(ValueError, match="not candidates: Z"):
        count(FIRST_PLACE_TIE, ["A", "B", "C"], "plurality",
              DrawOfLots(("A", "B", "C", "Z"), "R. Officer", "W. Itness"))
    with pytest.raises(ValueError, match="witness"):
        DrawOfLots(("A", "B"), "R. Officer", "r. officer")
    with pytest.raises(ValueError, match="witness"):
        DrawOfLots(("A", "B"), "R. Officer", " ")
    with pytest.raises(ValueError, match="twice"):
        DrawOfLots(("A", "A"), "R. Officer", "W. Itness")
    with pytest.raises(ValueError, match="seed"):
        SeededDraw("  ")


# --- validation ---------------------------------------------------------------------------

@pytest.mark.parametrize("bad,message", [
    (Ballot(("A", "Z")), "preference 2 names 'Z', not a candidate"),
    (Ballot(("D",)), "preference 1 names 'D', not a candidate"),          # withdrawn
    (Ballot(("A", "B", "A")), "preference 3 repeats 'A' (already preference 1)"),
    (Ballot(()), "an empty ballot (no first preference)"),
    (Ballot(("A", "")), "preference 2 is blank"),
    (Ballot(("A", 7)), "preference 2 is not a candidate's name (text): 7"),
    (Ballot(("A",), 0), "the weight must be positive, not 0"),
    (Ballot(("A",), -5), "the weight must be positive, not -5"),
    (Ballot(("A",), Decimal("-0.5")), "the weight must be positive"),
    (Ballot(("A",), 1.5), "the weight must be a whole number or a Decimal"),
    (Ballot(("A",), True), "the weight must be a whole number or a Decimal"),
    (Ballot(("A",), Decimal("NaN")), "not a finite number"),
])
@pytest.mark.parametrize("method", ["plurality", "weighted", "irv"])
def test_a_bad_ballot_is_refused_with_its_index(bad, message, method):
    bs = [Ballot(("A", "B")), Ballot(("C",)), bad, Ballot(("B",))]
    with pytest.raises(BallotError) as err:
        count(bs, ["A", "B", "C"], method, SeededDraw("x"))
    assert err.value.index == 2
    assert message in err.value.message
    assert str(err.value).startswith("ballot 3: ")


def test_no_ballots_bad_method_bad_candidates():
    with pytest.raises(BallotError, match="no ballots") as err:
        count([], ["A"], "irv")
    assert err.value.index is None
    with pytest.raises(ValueError, match="unknown counting method"):
        count([Ballot(("A",))], ["A"], "stv")
    with pytest.raises(ValueError, match="named twice"):
        count([Ballot(("A",))], ["A", "A"], "irv")
    with pytest.raises(ValueError, match="at least one candidate"):
        count([Ballot(("A",))], [], "irv")


def test_ballot_preferences_become_a_tuple():
    assert Ballot(["A", "B"]).preferences == ("A", "B")
    assert hash(Ballot(["A", "B"])) == hash(Ballot(("A", "B")))


def test_decimal_weights_and_as_dict_numbers():
    bs = [Ballot(("A",), Decimal("2.5")), Ballot(("B",), Decimal("2")), Ballot(("B",), 1)]
    result = count(bs, ["A", "B"], "weighted")
    assert tallies(result) == [{"A": Decimal("2.5"), "B": Decimal("3")}]
    d = result.as_dict()
    assert d["rounds"][0]["tallies"] == {"B": 3, "A": 2.5}
    assert type(d["rounds"][0]["tallies"]["B"]) is int
    assert d["winner"] == "B"


def test_as_dict_shape():
    d = count(ELIMINATION_TIE, ["A", "B", "C"], "irv", LOTS_ABC).as_dict()
    assert set(d) == {"method", "rounds", "winner", "exhausted"}
    assert all(set(r) == {"tallies", "eliminated", "tie_break"} for r in d["rounds"])
    assert list(d["rounds"][0]["tallies"]) == ["A", "B", "C"]          # most votes first


# --- properties ---------------------------------------------------------------------------

NAMES = ("Adams", "Baker", "Clarke", "Dhillon", "Evans")


@st.composite
def elections(draw, min_candidates=2, max_candidates=5, weighted=True):
    n = draw(st.integers(min_candidates, max_candidates))
    candidates = list(NAMES[:n])

    @st.composite
    def ballot(draw_b):
        order = draw_b(st.permutations(candidates))
        length = draw_b(st.integers(1, n))
        weight = draw_b(st.integers(1, 60_000)) if weighted else 1
        return Ballot(tuple(order[:length]), weight)

    return candidates, draw(st.lists(ballot(), min_size=1, max_size=25))


tie_breaks = st.one_of(
    st.text(min_size=1, max_size=20).filter(str.strip).map(SeededDraw),
    st.permutations(NAMES),
)


def _rule(draw_value, candidates):
    if isinstance(draw_value, SeededDraw):
        return draw_value
    return DrawOfLots(tuple(c for c in draw_value if c in candidates), "R. Officer", "W. Itness")


@settings(max_examples=200, deadline=None)
@given(elections(2, 2, weighted=False))
def test_two_candidates_irv_winner_is_the_plurality_winner(election):
    candidates, bs = election
    plurality = count(bs, candidates, "plurality", SeededDraw("s"))
    if plurality.rounds[0].tie_break is None:
        assert count(bs, candidates, "irv").winner == plurality.winner


@settings(max_examples=200, deadline=None)
@given(elections(2, 2))
def test_two_candidates_weighted_irv_winner_is_the_weighted_winner(election):
    candidates, bs = election
    weighted = count(bs, candidates, "weighted", SeededDraw("s"))
    if weighted.rounds[0].tie_break is None:
        assert count(bs, candidates, "irv").winner == weighted.winner


@settings(max_examples=150, deadline=None)
@given(elections(), st.sampled_from(["plurality", "weighted", "irv"]), tie_breaks, st.data())
def test_permuting_the_ballots_never_changes_the_result(election, method, rule, data):
    candidates, bs = election
    rule = _rule(rule, candidates)
    shuffled = data.draw(st.permutations(bs))
    assert count(shuffled, candidates, method, rule).as_dict() == \
        count(bs, candidates, method, rule).as_dict()


@settings(max_examples=200, deadline=None)
@given(elections(), tie_breaks, st.data())
def test_one_more_ballot_for_the_plurality_winner_never_makes_them_lose(election, rule, data):
    candidates, bs = election
    rule = _rule(rule, candidates)
    winner = count(bs, candidates, "plurality", rule).winner
    rest = data.draw(st.permutations([c for c in candidates if c != winner]))
    extra = Ballot((winner, *rest[:data.draw(st.integers(0, len(rest)))]),
                   data.draw(st.integers(1, 60_000)))
    position = data.draw(st.integers(0, len(bs)))
    assert count(bs[:position] + [extra] + bs[position:], candidates, "plurality", rule).winner == winner


@settings(max_examples=200, deadline=None)
@given(elections(weighted=False), tie_breaks)
def test_weighted_with_all_weights_one_is_plurality(election, rule):
    candidates, bs = election
    rule = _rule(rule, candidates)
    weighted = count(bs, candidates, "weighted", rule).as_dict()
    plurality = count(bs, candidates, "plurality", rule).as_dict()
    assert weighted.pop("method") == "weighted" and plurality.pop("method") == "plurality"
    assert weighted == plurality


@settings(max_examples=200, deadline=None)
@given(elections(1, 5), tie_breaks)
def test_irv_rounds_account_for_every_vote_and_end_with_a_majority(election, rule):
    candidates, bs = election
    result = count(bs, candidates, "irv", _rule(rule, candidates))
    total = sum(b.weight for b in bs)
    continuing = list(candidates)
    for rnd in result.rounds:
        assert list(rnd.tallies) == continuing                    # every continuing candidate
        assert sum(rnd.tallies.values()) + rnd.exhausted == total
        if rnd.eliminated is not None:
            assert rnd.tallies[rnd.eliminated] == min(rnd.tallies.values())
            continuing.remove(rnd.eliminated)
    last = result.rounds[-1]
    assert last.eliminated is None and 2 * last.tallies[result.winner] > sum(last.tallies.values())
    assert len(result.rounds) <= len(candidates)
    exhausted = [r.exhausted for r in result.rounds]
    assert exhausted == sorted(exhausted)                          # once exhausted, always
