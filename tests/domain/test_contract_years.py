"""Contract-year files: every shipped year parses, its values carry sources, and bad files are
refused naming the field."""
from __future__ import annotations

import json

import pytest

from pcnreg.domain.contract_years import ContractYearError, check_year, parse
from pcnreg.services import contract_years


def test_every_year_from_2019_to_2026_is_shipped_and_parses():
    years = contract_years.available()
    assert years == [f"{y}/{(y + 1) % 100:02d}" for y in range(2019, 2027)]
    for year in years:
        spec = contract_years.load(year)
        for name in spec.values:
            assert (spec.value(name) is None) == (spec.source(name) is None), (year, name)
        assert all(rate.source for rate in spec.funding_rates)


def test_eras_follow_the_change_to_icbs():
    assert contract_years.load("2019/20").eras == ("ccg",)
    assert contract_years.load("2022/23").eras == ("ccg", "sub_icb")
    assert contract_years.load("2026/27").eras == ("sub_icb",)


def test_a_value_without_a_source_is_not_set():
    spec = parse({"year": "2030/31", "values": {"go_live": {"value": "2030-05-01", "source": ""}}}, "x.json")
    assert spec.value("go_live") is None and "go_live" in spec.not_set()


@pytest.mark.parametrize("data, message", [
    ({"year": "2030/32", "values": {}}, "year: '2030/32' is not a contract year"),
    ({"year": "2030/31", "values": {"go_live": {"value": "31/05/2030", "source": "s"}}}, "values.go_live: '31/05/2030' is not a date"),
    ({"year": "2030/31", "values": {"colour": {"value": 1, "source": "s"}}}, "values.colour: not a round setting"),
    ({"year": "2030/31", "values": {"band_min": {"value": 60000, "source": "s"}, "band_max": {"value": 50000, "source": "s"}}},
     "values.band_min: larger than band_max"),
    ({"year": "2030/31", "values": {}, "funding_rates": [{"kind": "core", "title": "Core", "amount": "1", "basis": "year",
                                                          "valid_from": "2030-04-01", "valid_to": "2031-03-31"}]},
     "funding_rates[1]: missing source"),
    # a date that follows another, without it or before it
    ({"year": "2030/31", "values": {"confirmation_date": {"value": "2030-06-12", "source": "s"}}},
     "values.confirmation_date: given without values.submission_deadline, the date it follows"),
    ({"year": "2030/31", "values": {"submission_deadline": {"value": "2030-05-31", "source": "s"},
                                    "schedule1_deadline": {"value": "2030-05-01", "source": "s"}}},
     "values.schedule1_deadline: 2030-05-01 is before values.submission_deadline (2030-05-31)"),
    ({"year": "2030/31", "values": {"opens": {"value": "2030-06-01", "source": "s"},
                                    "submission_deadline": {"value": "2030-05-31", "source": "s"}}},
     "values.submission_deadline: 2030-05-31 is before values.opens (2030-06-01)"),
])
def test_bad_files_are_refused_naming_the_field(data, message):
    with pytest.raises(ContractYearError) as caught:
        parse(json.loads(json.dumps(data)), "bad.json")
    assert message in str(caught.value)


def test_year_labels():
    assert check_year(" 2024/25 ") == "2024/25"
    with pytest.raises(ValueError):
        check_year("2024-25")
    with pytest.raises(ValueError):
        contract_years.load("2099/00")
