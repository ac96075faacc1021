"""The domain's one state-machine engine (pcnreg.domain.machine) on a toy table, and the three
workflows that run on it (registrations, elections, membership changes)."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from pcnreg.domain import elections, labels, machine, membership_changes, workflow
from pcnreg.domain.machine import Machine, Refused, Transition


@dataclass(frozen=True)
class Door:
    state: str
    key: bool = False
    late: bool = False


def needs_key(f: Door) -> str | None:
    return None if f.key else "You need the key"


def not_late(f: Door) -> str | None:
    return "It is too late" if f.late else None


DOOR = Machine("door", ("closed", "open", "locked"), {"closed": "Closed", "open": "Open", "locked": "Locked"}, (
    Transition("open", "Open the door", frozenset({"closed"}), "open"),
    Transition("close", "Close the door", frozenset({"open"}), "closed"),
    Transition("lock", "Lock the door", frozenset({"closed"}), "locked", "lock", (needs_key, not_late)),
    Transition("unlock", "Unlock the door", frozenset({"locked"}), "closed", "lock", (needs_key,)),
))


def test_perform_returns_the_target_when_every_check_holds():
    assert DOOR.perform("open", Door("closed")) == "open"
    assert DOOR.perform("lock", Door("closed", key=True)) == "locked"
    assert DOOR.refusals("unlock", Door("locked", key=True)) == []


def test_every_failing_check_is_a_reason_in_table_order():
    assert DOOR.refusals("lock", Door("closed", key=False, late=True)) == ["You need the key", "It is too late"]
    with pytest.raises(Refused) as refused:
        DOOR.perform("lock", Door("closed", key=True, late=True))
    assert refused.value.reasons == ["It is too late"]
    assert str(refused.value) == "It is too late"


def test_a_transition_from_the_wrong_state_names_the_state_and_where_it_starts():
    reasons = DOOR.refusals("lock", Door("open", key=True))
    assert reasons == ["A door that is open cannot be taken through “lock the door” (only from closed)"]
    # the state check comes first: checks are not run from a wrong state
    assert DOOR.refusals("unlock", Door("closed")) == [
        "A door that is closed cannot be taken through “unlock the door” (only from locked)"]


def test_an_unknown_step_is_refused_not_an_error():
    assert DOOR.refusals("kick", Door("closed")) == ["There is no step called 'kick'"]
    with pytest.raises(Refused):
        DOOR.perform("kick", Door("closed"))
    with pytest.raises(Refused):
        DOOR.transition("kick")


def test_available_and_targets():
    assert [t.name for t in DOOR.available("closed")] == ["open", "lock"]
    assert DOOR.available("nowhere") == []
    assert DOOR.targets({"closed"}) == {"open", "locked"}
    assert DOOR.targets({"open", "locked"}) == {"closed"}


def test_a_machine_may_read_more_than_one_current_state():
    clocked = Machine("door", DOOR.states, DOOR.titles, DOOR.transitions,
                      current=lambda f: ("open" if f.late else f.state, f.state))
    # recorded closed, but the clock has opened it: "close" starts from the clock's state
    assert clocked.perform("close", Door("closed", late=True)) == "closed"
    # and a step from the recorded state is still possible
    assert clocked.refusals("open", Door("closed", late=True)) == []
    # the message names the first (the clock's) state
    assert "that is open" in clocked.refusals("unlock", Door("closed", late=True))[0]


@pytest.mark.parametrize("bad", [
    dict(transitions=(Transition("x", "X", frozenset({"closed"}), "ajar"),)),         # unknown target
    dict(transitions=(Transition("x", "X", frozenset({"ajar"}), "open"),)),           # unknown source
    dict(transitions=(Transition("x", "X", frozenset({"closed"}), "open"),) * 2),     # a name twice
    dict(titles={"closed": "Closed"}),                                                 # states without titles
])
def test_a_malformed_table_is_refused_when_it_is_built(bad):
    args = dict(noun="door", states=DOOR.states, titles=DOOR.titles, transitions=DOOR.transitions) | bad
    with pytest.raises(ValueError):
        Machine(**args)


def test_the_three_workflows_run_on_the_one_engine():
    for module in (workflow, elections, membership_changes):
        assert isinstance(module.MACHINE, Machine)
        assert module.Refused is machine.Refused
        assert module.MACHINE.states == module.STATES
        assert all(isinstance(t, machine.Transition) for t in module.TRANSITIONS)


def test_models_take_their_state_lists_from_the_domain():
    from pcnreg import models

    assert models.REGISTRATION_STATES is workflow.STATES
    assert models.ELECTION_STATES is elections.STATES
    assert models.MEMBERSHIP_CHANGE_STATES is membership_changes.STATES


# --- one home for titles and tag colours --------------------------------------------------------------

# The colours of the NHS.UK frontend's tag component (nhsuk-tag--<colour>), written from its docs.
NHSUK_TAG_COLOURS = {"white", "grey", "green", "aqua-green", "blue", "purple", "pink", "red", "orange", "yellow"}


@pytest.mark.parametrize("kind, states", [
    (labels.REGISTRATION, workflow.STATES), (labels.ELECTION, elections.STATES),
    (labels.MEMBERSHIP_CHANGE, membership_changes.STATES),
    (labels.OUTCOME, ("approved", "approved_with_conditions", "deferred", "rejected", "agreed", "refused")),
])
def test_every_state_has_a_title_and_an_nhsuk_tag_colour(kind, states):
    for state in states:
        assert labels.title(kind, state) and labels.title(kind, state) != state
        assert labels.tag(kind, state) in NHSUK_TAG_COLOURS, (kind, state)
    assert set(labels.TITLES[kind]) == set(states) == set(labels.TAGS[kind])


def test_unknown_states_read_as_themselves_in_grey():
    assert labels.title(labels.ELECTION, "mystery") == "mystery"
    assert labels.tag(labels.ELECTION, "mystery") == "grey"
    assert labels.tag("no such kind", "draft") == "grey"


def test_the_map_fills_every_registration_state_with_its_own_colour():
    fills = [labels.map_fill(s) for s in workflow.STATES]
    assert len(set(fills)) == len(workflow.STATES)
    assert all(f.startswith("#") and len(f) == 7 for f in fills)
    assert labels.map_fill("mystery") == labels.map_fill("draft")


def test_committee_outcomes_are_the_decisions_and_the_exception_answers():
    from pcnreg import models

    assert set(models.DECISION_OUTCOMES) == {"approved", "approved_with_conditions", "deferred", "rejected",
                                             "agreed", "refused"}
    assert set(workflow.DECISIONS) <= set(workflow.MACHINE.states)
