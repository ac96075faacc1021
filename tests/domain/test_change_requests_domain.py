"""The pure checks of in-year membership changes (domain/change_requests.py): contract-year
bounds, quarter starts, and every problem of a notice or an assignment at once."""
from __future__ import annotations

import datetime as dt

import pytest

from pcnreg.domain import change_requests as rules

D = dt.date


def facts(**changes) -> rules.Facts:
    base = dict(today=D(2019, 8, 1), year=(D(2019, 4, 1), D(2020, 3, 31)), year_name="2019/20", round_name="R",
                live=True, practice_known=True, practice_code="C84001", current_pcn="Newark",
                target_pcn="Sherwood", pending=False, last_applied=None)
    return rules.Facts(**{**base, **changes})


@pytest.mark.parametrize("year, reference, first, last", [
    ("2019/20", D(2019, 1, 1), D(2019, 4, 1), D(2020, 3, 31)),
    ("2026/27", D(2026, 1, 1), D(2026, 4, 1), D(2027, 3, 31)),
    (None, D(2020, 3, 31), D(2019, 4, 1), D(2020, 3, 31)),
    (None, D(2020, 4, 1), D(2020, 4, 1), D(2021, 3, 31)),
])
def test_contract_year_bounds(year, reference, first, last):
    assert rules.contract_year(year, reference) == (first, last)


def test_quarter_starts():
    assert [m for m in range(1, 13) if rules.is_quarter_start(D(2019, m, 1))] == [1, 4, 7, 10]
    assert not rules.is_quarter_start(D(2019, 10, 2))


def test_a_good_notice_has_no_problem():
    assert rules.notice_problems(facts(), "Closer", None) == []
    assert rules.notice_problems(facts(), "Closer", D(2020, 1, 1)) == []


def test_every_problem_of_a_notice_at_once():
    found = rules.notice_problems(facts(live=False, current_pcn="Sherwood", pending=True, last_applied=D(2019, 10, 1)),
                                  " ", D(2019, 9, 15))
    fields = sorted({p.field for p in found})
    assert fields == ["", "effective_from", "practice", "reason", "to_pcn"]
    dates = [p.message for p in found if p.field == "effective_from"]
    assert dates == ["The change cannot take effect before 1 October 2019",
                     "The date is before the last change applied in this round (1 October 2019): choose a later date",
                     "A change takes effect on the first day of a quarter (1 January, April, July or October)"]


def test_a_notice_given_late_in_the_year_falls_outside_it():
    found = rules.notice_problems(facts(today=D(2020, 2, 10)), "Closer", None)
    assert [p.message for p in found] == [
        "The date is outside the 2019/20 contract year (1 April 2019 to 31 March 2020)"]


def test_an_assignment_needs_the_lmc_engagement_and_no_backdating():
    assert rules.assignment_problems(facts(), D(2019, 8, 1), D(2019, 7, 30), "Met the LMC") == []
    found = rules.assignment_problems(facts(), D(2019, 7, 31), None, "")
    assert {(p.field, p.message) for p in found} == {
        ("lmc_on", "Enter the date the LMC was engaged"), ("lmc_summary", "Summarise the LMC's engagement"),
        ("effective_from", "The change cannot take effect before 1 August 2019")}
    assert [p.message for p in rules.assignment_problems(facts(), None, D(2019, 8, 2), "x")] == [
        "The LMC's engagement cannot be in the future", "Enter the date the assignment takes effect"]


YEAR_2019 = (dt.date(2019, 4, 1), dt.date(2020, 3, 31))


@pytest.mark.parametrize("today, closed", [
    (dt.date(2019, 12, 1), False),    # 28 days run to 29 December: takes effect 1 January 2020, in the year
    (dt.date(2020, 1, 15), True),     # runs to 12 February: the next quarter starts 1 April 2020, after the year
    (dt.date(2026, 12, 4), True),     # years after
])
def test_a_contract_year_closes_to_changes_when_no_notice_could_take_effect_in_it(today, closed):
    reason = rules.closed_for_changes(YEAR_2019, today)
    assert (reason is not None) == closed
    if closed:
        assert reason.startswith("The contract year ended on 31 March 2020")
