"""Where a round stands on a day (pcnreg/domain/phases.py), with the contract year's end."""
from __future__ import annotations

import datetime as dt

import pytest

from pcnreg.domain.phases import RoundDates, phase

D2019 = RoundDates(opens=dt.date(2019, 3, 22), submission_deadline=dt.date(2019, 5, 15),
                   go_live=dt.date(2019, 7, 1), year_ends=dt.date(2020, 3, 31))


@pytest.mark.parametrize("today, expected", [
    (dt.date(2019, 3, 1), "setting_up"),
    (dt.date(2019, 3, 22), "open"),
    (dt.date(2019, 5, 15), "open"),            # the deadline day is still open
    (dt.date(2019, 5, 16), "in_review"),
    (dt.date(2019, 7, 1), "live"),
    (dt.date(2020, 3, 31), "live"),            # the year's last day
    (dt.date(2020, 4, 1), "ended"),
    (dt.date(2026, 12, 4), "ended"),
])
def test_a_round_moves_through_its_phases_and_ends_with_its_contract_year(today, expected):
    assert phase(D2019, today) == expected


def test_without_a_year_end_a_live_round_stays_live():
    undated = RoundDates(D2019.opens, D2019.submission_deadline, D2019.go_live)
    assert phase(undated, dt.date(2030, 1, 1)) == "live"
