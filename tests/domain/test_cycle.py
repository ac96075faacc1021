"""The yearly cycle's rules (``domain.cycle``): the contract-year files' cycle dates, the opt-out
window, the annual return's transitions and what a change needs."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from pcnreg.domain import cycle

FILES = Path(__file__).resolve().parents[2] / "pcnreg" / "contract_years"
D = dt.date


def test_every_year_file_has_cycle_dates_each_with_its_source():
    for path in sorted(FILES.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        dates = cycle.parse_cycle(data.get("cycle"), path.name)
        for name, item in dates.items():
            assert (item.value is None) == (item.source is None), f"{path.name} {name}: a date needs its source"
    y2026 = cycle.parse_cycle(json.loads((FILES / "2026-27.json").read_text())["cycle"], "2026-27.json")
    assert (y2026["opt_out_opens"].value, y2026["opt_out_closes"].value) == (D(2026, 4, 30), D(2026, 5, 31))
    assert y2026["return_deadline"].value is None                       # no source: "not set"
    y2025 = cycle.parse_cycle(json.loads((FILES / "2025-26.json").read_text())["cycle"], "2025-26.json")
    assert (y2025["opt_out_opens"].value, y2025["opt_out_closes"].value) == (D(2025, 4, 1), D(2025, 4, 30))
    assert "BMA" in y2025["opt_out_opens"].source


@pytest.mark.parametrize("bad, message", [
    ({"opt_out_opens": {"value": "31/05/2026", "source": "x"}}, "is not a date"),
    ({"opt_out_when": {"value": None, "source": None}}, "is not a date of the cycle"),
    ({"opt_out_opens": {"value": "2026-06-01", "source": "x"}, "opt_out_closes": {"value": "2026-05-01", "source": "x"}},
     "after cycle.opt_out_closes"),
    ("soon", "must be an object"),
])
def test_a_bad_cycle_object_is_refused_naming_the_file_and_field(bad, message):
    with pytest.raises(cycle.CycleError) as caught:
        cycle.parse_cycle(bad, "2030-31.json")
    assert "2030-31.json" in str(caught.value) and message in str(caught.value)


def test_the_opt_out_window_is_inclusive_and_says_why_not():
    opens, closes = D(2026, 4, 30), D(2026, 5, 31)
    assert cycle.opt_out_refusal(D(2026, 4, 30), opens, closes, "2026/27") is None
    assert cycle.opt_out_refusal(D(2026, 5, 31), opens, closes, "2026/27") is None
    assert "opens on 30 April 2026" in cycle.opt_out_refusal(D(2026, 4, 29), opens, closes, "2026/27")
    assert "closed on 31 May 2026" in cycle.opt_out_refusal(D(2026, 6, 1), opens, closes, "2026/27")
    assert "not set" in cycle.opt_out_refusal(D(2026, 5, 1), None, closes, "2026/27")
    assert not cycle.applies("2019/20") and cycle.applies("2020/21") and cycle.applies("2026/27")


def test_the_annual_return_machine():
    f = cycle.ReturnFacts
    today, deadline = D(2026, 6, 1), D(2026, 6, 30)
    assert cycle.MACHINE.perform("submit", f("draft", today, deadline, no_change=True)) == "submitted"
    assert cycle.MACHINE.perform("submit", f("changes_requested", today, deadline, changes=2)) == "submitted"
    assert cycle.MACHINE.refusals("submit", f("draft", today, deadline)) == [
        "Confirm “no change” or add the changes the PCN notifies"]
    assert "not both" in cycle.MACHINE.refusals("submit", f("draft", today, deadline, no_change=True, changes=1))[0]
    assert "not set" in cycle.MACHINE.refusals("submit", f("draft", today, None, no_change=True))[0]
    late = cycle.MACHINE.refusals("submit", f("draft", D(2026, 7, 1), deadline, no_change=True))
    assert late == ["The annual return was due by 30 June 2026: it can no longer be made this year"]
    assert cycle.MACHINE.perform("accept", f("submitted", today, deadline)) == "accepted"
    assert cycle.MACHINE.refusals("ask_changes", f("submitted", today, deadline)) == [
        "Enter what the PCN must change in its return"]
    assert cycle.MACHINE.perform("ask_changes", f("submitted", today, deadline, note="Add the new CD")) == \
        "changes_requested"
    with pytest.raises(cycle.Refused):
        cycle.MACHINE.perform("submit", f("accepted", today, deadline, no_change=True))


def test_what_a_change_needs():
    common = {"members": {"A1", "B2"}, "year_start": D(2026, 4, 1), "year_end": D(2027, 3, 31),
              "own_account_allowed": True}
    ok = cycle.change_problems("join", practice="C3", details="", effective=D(2026, 7, 1), known_practice=True,
                               **common)
    assert ok == []
    assert cycle.change_problems("join", practice="A1", details="", effective=D(2026, 7, 1), known_practice=True,
                                 **common) == [("practice", "A1 is already a member of the PCN")]
    assert cycle.change_problems("leave", practice="C3", details="", effective=D(2026, 7, 1), known_practice=True,
                                 **common) == [("practice", "C3 is not a member of the PCN")]
    outside = cycle.change_problems("area", practice="", details="", effective=D(2027, 4, 1), known_practice=False,
                                    **common)
    assert [f for f, _ in outside] == ["effective", "details"]
    refused = cycle.change_problems("own_account", practice="", details="", effective=D(2026, 7, 1),
                                    known_practice=False, **{**common, "own_account_allowed": False})
    assert refused == [("kind", "This contract year a PCN is paid through a nominated payee practice")]
