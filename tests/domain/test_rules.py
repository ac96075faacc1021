"""Unit tests of every rule, over plain domain data (no Flask, no database)."""
from __future__ import annotations

import datetime as dt

import pytest

from pcnreg.domain import rules
from pcnreg.domain.summary import summarise
from pcnreg.domain.types import Configuration, Pcn, Practice, RoundSpec, SizeException

REF = dt.date(2019, 1, 1)
ROUND = RoundSpec("Test round", REF, 30_000, 50_000)


def practice(code, size=10_000, *, place="North", commissioner="04K", status="open", as_of=REF):
    return Practice(code, f"Practice {code}", commissioner, place, status, size, as_of if size is not None else None)


def config(practices, pcns, exceptions=None, rnd=ROUND):
    return Configuration(rnd, {p.code: p for p in practices}, tuple(pcns), exceptions or {})


def only(findings, rule):
    return [f for f in findings if f.rule == rule]


@pytest.mark.parametrize("total,status", [
    (29_999, "below"), (30_000, "in_band"), (40_000, "in_band"), (50_000, "in_band"), (50_001, "above"), (0, "below"),
])
def test_band_status_bounds_are_inclusive(total, status):
    assert rules.band_status(total, 30_000, 50_000) == status


@pytest.mark.parametrize("sizes,severity", [
    ((15_000, 14_999), "error"),      # 29,999: below
    ((15_000, 15_000), None),         # 30,000: in band (inclusive)
    ((25_000, 25_000), None),         # 50,000: in band (inclusive)
    ((25_000, 25_001), "warning"),    # 50,001: above
])
def test_list_size_band(sizes, severity):
    ps = [practice("A00001", sizes[0]), practice("A00002", sizes[1])]
    found = only(rules.evaluate(config(ps, [Pcn("1", "Net", members=("A00001", "A00002"))])), "list_size_band")
    if severity is None:
        assert found == []
    else:
        assert [f.severity for f in found] == [severity]
        assert found[0].figures["total"] == sum(sizes)
        assert found[0].subject.name == "Net" and found[0].subject.type == "pcn"
        assert ("needs an exception" if severity == "error" else "needs commissioner approval") in found[0].message


def test_recorded_exception_turns_band_finding_into_info():
    ps = [practice("A00001", 12_000)]
    pcn = Pcn("7", "Rural", members=("A00001",))
    exc = SizeException("7", "Rural practice, 40 minutes from the nearest", "J Smith", dt.datetime(2019, 5, 1, 10, 0))
    [f] = only(rules.evaluate(config(ps, [pcn], {"7": exc})), "list_size_band")
    assert f.severity == "info"
    assert "J Smith" in f.message and f.figures["exception"]["reason"].startswith("Rural")
    # an exception for another PCN changes nothing
    [g] = only(rules.evaluate(config(ps, [pcn], {"8": exc})), "list_size_band")
    assert g.severity == "error"


def test_coverage_flags_open_unassigned_practices_only():
    ps = [practice("A00001"), practice("A00002"), practice("A00003", status="closed")]
    found = only(rules.evaluate(config(ps, [Pcn("1", "Net", members=("A00001",))])), "coverage")
    assert [(f.subject.code, f.severity) for f in found] == [("A00002", "error")]


def test_single_place_error_names_places():
    ps = [practice("A00001", place="North"), practice("A00002", place="South")]
    [f] = only(rules.evaluate(config(ps, [Pcn("1", "Net", place="North", members=("A00001", "A00002"))])),
               "single_place")
    assert f.severity == "error" and f.figures["places"] == {"North": 1, "South": 1}


def test_single_place_also_checks_pcn_own_place():
    ps = [practice("A00001", place="North")]
    [f] = only(rules.evaluate(config(ps, [Pcn("1", "Net", place="South", members=("A00001",))])), "single_place")
    assert f.figures["pcn_place"] == "South"
    assert only(rules.evaluate(config(ps, [Pcn("1", "Net", place="North", members=("A00001",))])),
                "single_place") == []


def test_members_with_different_commissioners_warn():
    ps = [practice("A00001", commissioner="04K"), practice("A00002", commissioner="04L")]
    [f] = only(rules.evaluate(config(ps, [Pcn("1", "Net", members=("A00001", "A00002"))])), "single_commissioner")
    assert f.severity == "warning" and f.figures["commissioners"] == {"04K": 1, "04L": 1}


def test_closed_practice_in_pcn_is_an_error():
    ps = [practice("A00001"), practice("A00002", status="closed")]
    [f] = only(rules.evaluate(config(ps, [Pcn("1", "Net", members=("A00001", "A00002"))])), "closed_practice")
    assert f.severity == "error" and f.figures["practice"] == "A00002" and f.subject.name == "Net"


def test_empty_pcn_is_an_error_and_not_a_band_finding():
    found = rules.evaluate(config([], [Pcn("1", "Empty")]))
    assert [(f.rule, f.severity) for f in found] == [("empty_pcn", "error")]


def test_list_size_missing_or_dated_before_reference_warns():
    ps = [practice("A00001", None), practice("A00002", as_of=dt.date(2018, 12, 31)), practice("A00003")]
    found = only(rules.evaluate(config(ps, [Pcn("1", "Net", members=("A00001", "A00002", "A00003"))])),
                 "list_size_date")
    assert [(f.subject.code, f.severity) for f in found] == [("A00001", "warning"), ("A00002", "warning")]
    # the date is written as people read it, not as ISO
    assert "its list size is dated 31 December 2018, before the round's reference date" in found[1].message
    assert "2018-12-31" not in found[1].message


def test_findings_have_the_documented_shape_and_order():
    ps = [practice("A00001", 60_000), practice("A00002")]
    found = rules.evaluate(config(ps, [Pcn("1", "Big", members=("A00001",))]))
    assert [f.severity for f in found] == sorted((f.severity for f in found),
                                                 key=["error", "warning", "info"].index)
    d = found[0].as_dict()
    assert set(d) == {"rule", "severity", "subject", "message", "figures"}
    assert set(d["subject"]) >= {"type", "code", "name"}


def test_summary_counts_and_completeness():
    ps = [practice("A00001", 20_000, place="North", commissioner="04K"),
          practice("A00002", 15_000, place="North", commissioner="04K"),
          practice("A00003", 5_000, place="South", commissioner="04L")]
    cfg = config(ps, [Pcn("1", "Net", place="North", lead_commissioner="04K", members=("A00001", "A00002"))])
    s = summarise(cfg, rules.evaluate(cfg), "Sys")
    assert (s.system.practices, s.system.practices_covered) == (3, 2)
    assert (s.system.patients, s.system.patients_covered) == (40_000, 35_000)
    assert s.system.patients_covered_pct == 87.5
    assert s.system.pcns_in_band == 1 and s.system.errors == 1 and not s.complete
    south = next(p for p in s.places if p.name == "South")
    assert south.errors == 1 and south.coverage_pct == 0.0
    north = next(p for p in s.places if p.name == "North")
    assert north.complete

    full = config(ps, [Pcn("1", "Net", place="North", lead_commissioner="04K",
                           members=("A00001", "A00002")),
                       Pcn("2", "South net", place="South", lead_commissioner="04L", members=("A00003",))],
                  {"2": SizeException("2", "island", "X", dt.datetime(2019, 1, 2))})
    s2 = summarise(full, rules.evaluate(full))
    assert s2.complete and s2.system.infos == 1 and s2.system.coverage_pct == 100.0
