"""A round's state (domain/state.py): derived incrementally after each change, it equals the state
derived from scratch; on random sequences of moves, merges, splits, new and retired PCNs,
list-size changes, practices closing and exceptions (hypothesis)."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pcnreg.domain import rules, state as S
from pcnreg.domain.summary import summarise
from pcnreg.domain.types import Configuration, Pcn, Practice, RoundSpec, SizeException

ROUND = RoundSpec("R", dt.date(2019, 1, 1), band_min=20_000, band_max=40_000, system="E1")
CODES = [f"A{n:05d}" for n in range(14)]
PLACES = ["North", "South", None]
COMMISSIONERS = ["04K", "02Q", "52R"]
WHEN = dt.datetime(2019, 5, 1, 12)


def practice(code: str, i: int, size: int | None, status: str = "open", dated: dt.date | None = None) -> Practice:
    return Practice(code, f"Practice {code}", COMMISSIONERS[i % 3], PLACES[i % 3], status, size,
                    dated or dt.date(2019, 1, 1), "E1" if i % 5 else "E2")


@st.composite
def configurations(draw):
    practices = {c: practice(c, i, draw(st.one_of(st.none(), st.integers(0, 15_000))))
                 for i, c in enumerate(CODES)}
    n = draw(st.integers(1, 5))
    members: dict[str, list[str]] = {str(k): [] for k in range(1, n + 1)}
    for code in CODES:
        key = draw(st.one_of(st.none(), st.sampled_from(sorted(members))))
        if key is not None:
            members[key].append(code)
    pcns = tuple(Pcn(k, f"PCN {k}", None, draw(st.sampled_from(PLACES)), draw(st.sampled_from(COMMISSIONERS)),
                     tuple(sorted(v))) for k, v in members.items())
    return Configuration(ROUND, practices, S._sorted_pcns(pcns))


def edit(draw, state: S.RoundState, serial: int) -> S.Delta:
    """One random change of ``state`` as a delta."""
    keys = sorted(state.pcn_by_key)
    kind = draw(st.sampled_from(["move", "merge", "split", "create", "retire", "rename", "size", "close",
                                 "exception", "unexception", "place"]))
    if kind == "move":
        codes = draw(st.lists(st.sampled_from(CODES), min_size=1, max_size=3, unique=True))
        return S.move(state, codes, draw(st.one_of(st.none(), st.sampled_from(keys))) if keys else None)
    if kind == "merge" and len(keys) >= 2:
        a, b = draw(st.lists(st.sampled_from(keys), min_size=2, max_size=2, unique=True))
        into = state.pcn(a)
        merged = Pcn(a, into.name, into.code, into.place, into.lead_commissioner,
                     tuple(sorted(into.members + state.pcn(b).members)))
        return S.Delta(pcns={a: merged, b: None})
    if kind == "split" and keys:
        source = state.pcn(draw(st.sampled_from(keys)))
        if len(source.members) >= 2:
            out = draw(st.lists(st.sampled_from(source.members), min_size=1, max_size=len(source.members) - 1,
                                unique=True))
            key = f"n{serial}"
            return S.Delta(pcns={
                source.key: Pcn(source.key, source.name, source.code, source.place, source.lead_commissioner,
                                tuple(c for c in source.members if c not in out)),
                key: Pcn(key, f"New {serial}", None, source.place, source.lead_commissioner, tuple(sorted(out)))})
    if kind == "create":
        key = f"c{serial}"
        return S.Delta(pcns={key: Pcn(key, draw(st.sampled_from(["aa", "Zed", "PCN 2"])), None,
                                      draw(st.sampled_from(PLACES)), "04K")})
    if kind == "retire":
        empty = [k for k in keys if not state.pcn(k).members]
        if empty:
            return S.Delta(pcns={draw(st.sampled_from(empty)): None})
    if kind == "rename" and keys:
        p = state.pcn(draw(st.sampled_from(keys)))
        return S.Delta(pcns={p.key: Pcn(p.key, f"Renamed {serial}", p.code, p.place, p.lead_commissioner, p.members)})
    if kind == "place" and keys:
        p = state.pcn(draw(st.sampled_from(keys)))
        return S.Delta(pcns={p.key: Pcn(p.key, p.name, p.code, draw(st.sampled_from(PLACES)),
                                        draw(st.sampled_from(COMMISSIONERS + [None])), p.members)})
    if kind == "size":
        code = draw(st.sampled_from(CODES))
        i = CODES.index(code)
        dated = draw(st.sampled_from([dt.date(2019, 1, 1), dt.date(2018, 6, 1), None]))
        return S.Delta(practices={code: practice(code, i, draw(st.one_of(st.none(), st.integers(0, 30_000))),
                                                 state.config.practices[code].status, dated)})
    if kind == "close":
        code = draw(st.sampled_from(CODES))
        old = state.config.practices[code]
        return S.Delta(practices={code: Practice(old.code, old.name, old.commissioner, old.place,
                                                 "closed" if old.status == "open" else "open", old.list_size,
                                                 old.list_size_date, old.system)})
    if kind == "exception" and keys:
        key = draw(st.sampled_from(keys))
        return S.Delta(exceptions={key: SizeException(key, f"Reason {serial}", "Committee", WHEN)})
    if kind == "unexception" and state.config.exceptions:
        return S.Delta(exceptions={draw(st.sampled_from(sorted(state.config.exceptions))): None})
    return S.Delta()


@settings(max_examples=150, deadline=None)
@given(configurations(), st.data())
def test_incremental_derivation_equals_derivation_from_scratch(config, data):
    state = S.derive_all(config, "Sys")
    for serial in range(data.draw(st.integers(1, 12))):
        delta = edit(data.draw, state, serial)
        state = S.derive(state, delta)
        full = S.derive_all(state.config, "Sys")
        assert state.same_as(full), delta


@settings(max_examples=60, deadline=None)
@given(configurations())
def test_derive_all_agrees_with_the_rules_and_the_summary(config):
    state = S.derive_all(config, "Sys")
    findings = rules.evaluate(config)
    assert state.findings == findings
    assert state.summary.as_dict() == summarise(config, findings, "Sys").as_dict()
    for pcn in config.pcns:
        assert state.totals[pcn.key] == config.pcn_total(pcn)
        members = set(pcn.members)
        assert state.findings_for_pcn(pcn.key) == [
            f for f in findings if (f.subject.type == "pcn" and f.subject.key == pcn.key)
            or (f.subject.type == "practice" and f.subject.code in members)]


def test_a_move_touches_only_the_two_pcns():
    practices = {c: practice(c, i, 10_000) for i, c in enumerate(CODES)}
    pcns = S._sorted_pcns([Pcn("1", "One", members=tuple(CODES[:5])), Pcn("2", "Two", members=tuple(CODES[5:10])),
                           Pcn("3", "Three", members=tuple(CODES[10:]))])
    parent = S.derive_all(Configuration(ROUND, practices, pcns))
    child = S.derive(parent, S.move(parent, [CODES[0]], "2"))
    assert child.totals == {"1": 40_000, "2": 60_000, "3": 40_000}
    assert child.pcn_findings["3"] is parent.pcn_findings["3"]        # shared, not recomputed
    assert child.pcn_of[CODES[0]] == "2" and parent.pcn_of[CODES[0]] == "1"   # the parent is unchanged
    assert "list_size_band" in [f.rule for f in child.findings_for_pcn("2")]         # 60,000: above the band
    assert "list_size_band" not in [f.rule for f in child.findings_for_pcn("1")]


def test_a_practice_cannot_be_in_two_pcns():
    practices = {c: practice(c, i, 10_000) for i, c in enumerate(CODES[:2])}
    parent = S.derive_all(Configuration(ROUND, practices, (Pcn("1", "One", members=(CODES[0],)),
                                                           Pcn("2", "Two", members=(CODES[1],)))))
    with pytest.raises(S.InconsistentDelta):
        S.derive(parent, S.Delta(pcns={"2": Pcn("2", "Two", members=(CODES[0], CODES[1]))}))


def test_every_rule_has_a_scope():
    assert set(rules.PCN_RULES) | set(rules.PRACTICE_RULES) | set(rules.GEOGRAPHIC) == set(rules.RULES)
    assert not set(rules.PCN_RULES) & set(rules.PRACTICE_RULES)
