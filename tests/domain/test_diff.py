"""PCN-level changes between two configurations (pcnreg.domain.diff), on small hand-made states."""
from __future__ import annotations

from pcnreg.domain.diff import classify
from pcnreg.domain.versioning import ConfigState, Move


def state(pcns: dict[str, str], groups: dict[str, str]) -> ConfigState:
    """``groups``: PCN key -> practice letters, e.g. {"1": "abc"} puts practices a, b, c in PCN 1."""
    return ConfigState(pcns, {code: key for key, codes in groups.items() for code in codes})


def kinds(diff) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    return [(c.kind, c.before_names, c.after_names) for c in diff.changes]


def test_identical_states_are_unchanged():
    s = state({"1": "North", "2": "South"}, {"1": "abc", "2": "de"})
    diff = classify(s, s)
    assert kinds(diff) == [("unchanged", ("North",), ("North",)), ("unchanged", ("South",), ("South",))]
    assert diff.moved == [] and diff.empty


def test_rename_under_the_same_key_and_under_a_new_key():
    before = state({"1": "North", "2": "South"}, {"1": "abc", "2": "de"})
    after = state({"1": "NORTH PCN", "9": "SOUTH PCN"}, {"1": "abc", "9": "de"})   # South carries on as key 9
    diff = classify(before, after)
    assert kinds(diff) == [("renamed", ("North",), ("NORTH PCN",)), ("renamed", ("South",), ("SOUTH PCN",))]
    assert diff.moved == [] and not diff.empty


def test_merge_of_two_pcns_into_a_new_one():
    before = state({"1": "East", "2": "West", "3": "South"}, {"1": "abc", "2": "de", "3": "fg"})
    after = state({"7": "Central", "3": "South"}, {"7": "abcde", "3": "fg"})
    diff = classify(before, after)
    assert kinds(diff) == [("merged", ("East", "West"), ("Central",)), ("unchanged", ("South",), ("South",))]
    assert diff.moved == []
    assert diff.counts()["merged"] == 1


def test_merge_that_keeps_one_key_and_leaves_a_straggler():
    """West goes mostly (2 of 3) into East's key; its third practice goes South: merged, plus one move."""
    before = state({"1": "East", "2": "West", "3": "South"}, {"1": "abc", "2": "def", "3": "gh"})
    after = state({"1": "East", "3": "South"}, {"1": "abcde", "3": "fgh"})
    diff = classify(before, after)
    assert kinds(diff) == [("merged", ("East", "West"), ("East",)), ("continued", ("South",), ("South",))]
    assert diff.moved == [Move("f", "2", "3")]


def test_split_into_two():
    before = state({"1": "Town", "2": "Rural"}, {"1": "abcd", "2": "ef"})
    after = state({"1": "Town North", "5": "Town South", "2": "Rural"}, {"1": "ab", "5": "cd", "2": "ef"})
    diff = classify(before, after)
    assert kinds(diff) == [("split", ("Town",), ("Town North", "Town South")),
                           ("unchanged", ("Rural",), ("Rural",))]
    assert diff.moved == []


def test_new_and_dissolved():
    """A PCN of formerly unassigned practices is new; a PCN whose practices scatter is dissolved."""
    before = state({"1": "A", "2": "B", "3": "Scattered"}, {"1": "abc", "2": "def", "3": "gh"})
    after = state({"1": "A", "2": "B", "8": "Fresh"}, {"1": "abcg", "2": "defh", "8": "xy"})
    diff = classify(before, after)
    assert kinds(diff) == [("continued", ("A",), ("A",)), ("continued", ("B",), ("B",)),
                           ("new", (), ("Fresh",)), ("dissolved", ("Scattered",), ())]
    assert diff.moved == [Move("g", "3", "1"), Move("h", "3", "2"), Move("x", None, "8"), Move("y", None, "8")]


def test_a_single_practice_moving_is_not_a_split():
    before = state({"1": "A", "2": "B"}, {"1": "abcd", "2": "efg"})
    after = state({"1": "A", "2": "B"}, {"1": "abc", "2": "defg"})
    diff = classify(before, after)
    assert kinds(diff) == [("continued", ("A",), ("A",)), ("continued", ("B",), ("B",))]
    assert diff.moved == [Move("d", "1", "2")]


def test_a_practice_left_unassigned_is_moved():
    before = state({"1": "A"}, {"1": "abc"})
    after = state({"1": "A"}, {"1": "ab"})
    diff = classify(before, after)
    assert kinds(diff) == [("continued", ("A",), ("A",))]
    assert diff.moved == [Move("c", "1", None)]


def test_an_empty_pcn_is_followed_by_its_key():
    before = state({"1": "A", "2": "Empty"}, {"1": "ab"})
    after = state({"1": "A", "2": "Still empty"}, {"1": "ab"})
    assert kinds(classify(before, after)) == [("renamed", ("Empty",), ("Still empty",)),
                                              ("unchanged", ("A",), ("A",))]


def test_merge_and_split_at_once():
    """Two PCNs merge while a third splits, and the counts say so."""
    before = state({"1": "P", "2": "Q", "3": "R"}, {"1": "ab", "2": "cd", "3": "efgh"})
    after = state({"4": "PQ", "5": "R1", "6": "R2"}, {"4": "abcd", "5": "ef", "6": "gh"})
    diff = classify(before, after)
    assert kinds(diff) == [("merged", ("P", "Q"), ("PQ",)), ("split", ("R",), ("R1", "R2"))]
    assert diff.counts() == {"merged": 1, "split": 1, "renamed": 0, "continued": 0, "new": 0, "dissolved": 0,
                             "unchanged": 0}
