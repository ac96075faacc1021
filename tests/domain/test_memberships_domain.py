"""Dated memberships and commissioner history in the domain (domain/memberships.py), on hand-made
periods whose answers are written out."""
from __future__ import annotations

import datetime as dt

from pcnreg.domain.memberships import (
    CommissionerPeriod,
    Organisation,
    Period,
    Snapshot,
    commissioner_history,
    configuration_date,
    configuration_on,
    move,
)

D = dt.date
A1 = Period("A00001", "U00001", "North", D(2019, 10, 1), D(2020, 3, 31))
A2 = Period("A00001", "U00002", "South", D(2020, 4, 1), None)
B1 = Period("B00001", "U00001", "North", D(2019, 12, 1), None)


def test_the_configuration_on_a_date_takes_both_ends_inclusive():
    assert configuration_on([A1, A2, B1], D(2019, 9, 30)) == []
    assert configuration_on([A1, A2, B1], D(2019, 10, 1)) == [A1]
    assert configuration_on([A1, A2, B1], D(2020, 3, 31)) == [A1, B1]          # A1's last day
    assert configuration_on([A1, A2, B1], D(2020, 4, 1)) == [B1, A2]           # North, then South


def test_a_round_takes_the_reference_date_or_the_first_recorded_configuration():
    assert configuration_date([A1, A2, B1], D(2020, 6, 1)) == D(2020, 6, 1)
    # nothing recorded yet on 1 January 2019: every practice has its first relationship by
    # 1 December 2019, and none has ended by then
    assert configuration_date([A1, A2, B1], D(2019, 1, 1)) == D(2019, 12, 1)
    late = Period("C00001", "U00002", "South", D(2021, 4, 1), None)
    # a practice first recorded after a relationship ended does not hold the date back past that end
    assert configuration_date([A1, A2, B1, late], D(2019, 1, 1)) == D(2020, 3, 31)


def test_a_move_ends_the_open_period_the_day_before():
    ended, new = move([A2, B1], "A00001", "U00001", "North", D(2021, 7, 1), "change 7")
    assert ended == [(A2, Period("A00001", "U00002", "South", D(2020, 4, 1), D(2021, 6, 30)))]
    assert new == Period("A00001", "U00001", "North", D(2021, 7, 1), None, "change 7")
    # a period already ended before the date is history, not touched
    assert move([A1], "A00001", "U00002", "South", D(2020, 7, 1), "x")[0] == []


def test_commissioner_history_of_a_merged_ccg_and_of_one_that_continued():
    before = {"C84001": Snapshot("04K", D(2013, 4, 1)), "C84002": Snapshot("02Q", D(2013, 4, 1))}
    after = {"C84001": Snapshot("52R", D(2020, 4, 1)), "C84002": Snapshot("02Q", D(2013, 4, 1))}
    old = {"04K": Organisation("ccg", "E54000014"), "02Q": Organisation("ccg", "E54000009")}
    new = {"52R": Organisation("sub_icb", "E54000060"), "02Q": Organisation("sub_icb", "E54000060")}
    history = commissioner_history(before, after, old, new, "ccg", "sub_icb", D(2022, 7, 1))
    assert history["C84001"] == [
        CommissionerPeriod("C84001", "04K", "ccg", "E54000014", D(2013, 4, 1), D(2020, 3, 31)),
        CommissionerPeriod("C84001", "52R", "ccg", None, D(2020, 4, 1), D(2022, 6, 30)),
        CommissionerPeriod("C84001", "52R", "sub_icb", "E54000060", D(2022, 7, 1), None)]
    assert history["C84002"] == [
        CommissionerPeriod("C84002", "02Q", "ccg", "E54000009", D(2013, 4, 1), D(2022, 6, 30)),
        CommissionerPeriod("C84002", "02Q", "sub_icb", "E54000060", D(2022, 7, 1), None)]
    # without the later era's date the later commissioner is not cut
    undated = commissioner_history(before, after, old, new, "ccg", "sub_icb", None)
    assert undated["C84001"][-1] == CommissionerPeriod("C84001", "52R", "sub_icb", "E54000060", D(2020, 4, 1), None)
