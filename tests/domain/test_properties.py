"""Property tests (hypothesis) of the domain core."""
from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from pcnreg.domain import edits, rules
from pcnreg.domain.summary import summarise
from pcnreg.domain.types import Configuration, Pcn, Practice, RoundSpec
from pcnreg.domain.versioning import ConfigState, apply, changes_between, compare, replay

ROUND = RoundSpec("R", dt.date(2019, 1, 1))
CODES = [f"A{n:05d}" for n in range(12)]
KEYS = ["1", "2", "3", "4"]


@st.composite
def states(draw):
    pcns = {k: f"PCN {k}" for k in draw(st.sets(st.sampled_from(KEYS), min_size=1))}
    assignments = {}
    for code in CODES:
        key = draw(st.one_of(st.none(), st.sampled_from(sorted(pcns))))
        if key is not None:
            assignments[code] = key
    sizes = {code: draw(st.integers(0, 20_000)) for code in CODES}
    return ConfigState(pcns, assignments), sizes


def configuration(state: ConfigState, sizes: dict[str, int]) -> Configuration:
    practices = {c: Practice(c, c, "04K", "P", "open", sizes[c], ROUND.reference_date) for c in CODES}
    pcns = tuple(Pcn(k, n, members=tuple(state.members(k))) for k, n in state.pcns.items())
    return Configuration(ROUND, practices, pcns)


@given(states())
def test_pcn_total_is_the_sum_of_its_members(s):
    state, sizes = s
    cfg = configuration(state, sizes)
    for pcn in cfg.pcns:
        assert cfg.pcn_total(pcn) == sum(sizes[c] for c in pcn.members)


@given(states(), st.lists(st.sampled_from(CODES), min_size=1, max_size=4, unique=True), st.data())
def test_moving_practices_never_changes_the_system_total(s, codes, data):
    state, sizes = s
    target = data.draw(st.sampled_from(sorted(state.pcns)))
    if all(state.assignments.get(c) == target for c in codes):
        return
    moved = edits.move(state, codes, target)
    before = summarise(configuration(state, sizes), [])
    after = summarise(configuration(moved, sizes), [])
    assert before.system.patients == after.system.patients == sum(sizes.values())
    # patients covered only changes by what moved in from outside any PCN
    newly = sum(sizes[c] for c in codes if c not in state.assignments)
    assert after.system.patients_covered == before.system.patients_covered + newly


@given(states())
def test_coverage_is_complete_iff_no_practice_is_unassigned(s):
    state, sizes = s
    cfg = configuration(state, sizes)
    summary = summarise(cfg, rules.evaluate(cfg))
    unassigned = [c for c in CODES if c not in state.assignments]
    assert (summary.system.coverage_pct == 100.0) == (not unassigned)
    assert bool(list(rules.coverage(cfg))) == bool(unassigned)


@settings(max_examples=200)
@given(states(), states())
def test_changes_between_turns_one_state_into_the_other(a, b):
    (sa, _), (sb, _) = a, b
    changes = changes_between(sa, sb)
    assert apply(sa, changes) == sb
    assert (changes == []) == (sa == sb)


@given(st.lists(states(), min_size=1, max_size=5))
def test_replaying_a_chain_of_versions_gives_the_last_state(chain):
    history, state = [], ConfigState()
    for target, _ in chain:
        history.append(changes_between(state, target))
        state = target
    assert replay(history) == chain[-1][0]


@given(states(), states())
def test_compare_reports_exactly_the_moved_practices(a, b):
    (sa, sizes), (sb, _) = a, b
    result = compare(sa, sb, sizes)
    moved = {c for c in CODES if sa.assignments.get(c) != sb.assignments.get(c)}
    assert {m.practice_code for m in result.moves} == moved
    for delta in result.pcns:
        assert delta.total_before == sum(sizes[c] for c in sa.members(delta.key))
        assert delta.total_after == sum(sizes[c] for c in sb.members(delta.key))
