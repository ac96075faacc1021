"""Edits and versioning of the domain core."""
from __future__ import annotations

import pytest

from pcnreg.domain import edits
from pcnreg.domain.versioning import Change, ConfigState, InconsistentChange, apply, changes_between

STATE = ConfigState({"1": "North", "2": "South"},
                    {"A00001": "1", "A00002": "1", "A00003": "2", "A00004": "2"})


def test_move_and_unassign():
    moved = edits.move(STATE, ["A00001"], "2")
    assert moved.members("2") == ["A00001", "A00003", "A00004"]
    out = edits.move(STATE, ["A00001"], None)
    assert "A00001" not in out.assignments
    with pytest.raises(edits.EditError, match="already there"):
        edits.move(STATE, ["A00003"], "2")
    with pytest.raises(edits.EditError, match="does not exist"):
        edits.move(STATE, ["A00001"], "9")


def test_merge_retires_the_others():
    merged = edits.merge(STATE, ["1", "2"], "1", "Whole")
    assert merged.pcns == {"1": "Whole"} and set(merged.assignments.values()) == {"1"}
    with pytest.raises(edits.EditError, match="at least two"):
        edits.merge(STATE, ["1"], "1")


def test_split_keeps_a_member_on_each_side():
    split = edits.split(STATE, "1", ["A00002"], "3", "North East")
    assert split.members("1") == ["A00001"] and split.members("3") == ["A00002"]
    with pytest.raises(edits.EditError, match="Leave at least one"):
        edits.split(STATE, "1", ["A00001", "A00002"], "3", "X")
    with pytest.raises(edits.EditError, match="Only members"):
        edits.split(STATE, "1", ["A00003"], "3", "X")


@pytest.mark.parametrize("name,message", [
    ("", "Enter a name"), ("   ", "Enter a name"), ("south", "already exists"), ("=HYPERLINK()", "must not start"),
    ("x" * 201, "200 characters"),
])
def test_pcn_names_are_checked(name, message):
    with pytest.raises(edits.EditError, match=message):
        edits.create(STATE, "3", name)


def test_rename_to_same_name_is_refused_but_case_change_allowed():
    with pytest.raises(edits.EditError, match="same as the current"):
        edits.rename(STATE, "1", "North")
    assert edits.rename(STATE, "1", "NORTH").pcns["1"] == "NORTH"


def test_changes_order_applies_cleanly_for_merge_and_split():
    merged = edits.merge(STATE, ["1", "2"], "2")
    changes = changes_between(STATE, merged)
    assert [c.kind for c in changes] == ["assign", "assign", "pcn_retire"]
    assert apply(STATE, changes) == merged
    back = changes_between(merged, STATE)
    assert back[0].kind == "pcn_create" and apply(merged, back) == STATE


def test_replay_detects_a_corrupted_history():
    with pytest.raises(InconsistentChange):
        apply(STATE, [Change("assign", practice_code="A00001", from_pcn="2", to_pcn="1")])
    with pytest.raises(InconsistentChange):
        apply(STATE, [Change("pcn_retire", pcn="1")])   # still has members
