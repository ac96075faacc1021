"""Onboarding takes a round's configuration as the memberships current on its reference date
(services/onboarding.date_grouping), recomputed with pandas from the ePCN workbook's start and
end columns; a lookup putting a commissioner in another system than a stored lookup of the same
date is refused, naming the file, row and column."""
from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest
from conftest import GEODATA
from flask import current_app
from sqlalchemy import select

from pcnreg.importers import groupings
from pcnreg.importers.csvio import ImportFailed
from pcnreg.importers.epcn import read_workbook
from pcnreg.importers.organisations import read_organisations
from pcnreg.models import Commissioner
from pcnreg.services import contract_years, onboarding

EPCN = GEODATA / "ePCN-2025-01.xlsx"


@pytest.mark.skipif(not EPCN.is_file(), reason="needs ../shared/geodata")
def test_a_2020_21_round_takes_the_configuration_of_its_reference_date(app):
    book = read_workbook(EPCN.read_bytes(), current_app.config["MAX_IMPORT_BYTES"])
    year = contract_years.load("2020/21")
    assert year.value("reference_date") is None            # not set: 1 April of the year, with no list sizes
    inputs = SimpleNamespace(grouping=groupings.from_workbook(book), source={"configuration": EPCN.name},
                             list_sizes=[])
    note = onboarding.date_grouping(inputs, year)
    assert "1 April 2020" in note
    partners = pd.read_excel(EPCN, sheet_name="PCN Core Partner Details")
    partners.columns = [" ".join(str(c).split()) for c in partners.columns]
    start = pd.to_datetime(partners["Practice to PCN Relationship Start Date"].astype("Int64").astype(str),
                           format="%Y%m%d")
    end = pd.to_datetime(partners["Practice to PCN Relationship End Date"].astype("Int64").astype(str),
                         format="%Y%m%d", errors="coerce")
    day = pd.Timestamp(2020, 4, 1)
    on = partners[(start <= day) & (end.isna() | (end >= day))]
    expected = dict(zip(on["Partner Organisation Code"], on["PCN Code"], strict=True))
    assert inputs.grouping.members == expected
    # not the workbook's current grouping (January 2025): the relationships of 1 April 2020
    assert groupings.from_workbook(book).members != expected


def test_a_lookup_contradicting_a_stored_one_of_the_same_date(app, db, demo_round):
    header = "CCG19CD,CCG19CDH,CCG19NM,STP19CD,STP19NM\n"
    text = (header + "E38000132,04K,NHS Nottingham City CCG,E54000014,Nottingham and Nottinghamshire\n"
            "E38000008,02Q,NHS Bassetlaw CCG,E54000009,South Yorkshire and Bassetlaw\n")
    inputs = SimpleNamespace(organisations=read_organisations(text), source={"organisations": "mine.csv"})
    city = db.session.scalar(select(Commissioner).where(Commissioner.code == "04K"))
    city.lookup = "CCG19"
    db.session.commit()
    onboarding.check_lookup_history(inputs)                 # 04K in E54000014 again: no contradiction
    # 04K stored by a CCG19 lookup in E54000014; another CCG19 lookup puts it in E54000009
    moved = read_organisations(header + "E38000008,02Q,NHS Bassetlaw CCG,E54000009,South Yorkshire and Bassetlaw\n"
                               "E38000132,04K,NHS Nottingham City CCG,E54000009,South Yorkshire and Bassetlaw\n")
    with pytest.raises(ImportFailed) as refused:
        onboarding.check_lookup_history(SimpleNamespace(organisations=moved, source={"organisations": "mine.csv"}))
    [problem] = refused.value.problems
    assert (problem.row, problem.field) == (3, "CCG19CDH")
    assert "04K is in system E54000009 here" in problem.message and "E54000014" in problem.message
    assert "mine.csv" in problem.message
    # a lookup of another date may move it (2022: sub-ICB locations in ICBs)
    city.lookup = "SICBL22"
    db.session.commit()
    onboarding.check_lookup_history(SimpleNamespace(organisations=moved, source={"organisations": "mine.csv"}))


@pytest.mark.skipif(not (GEODATA / "ePCN-2019-12.xlsx").is_file(), reason="needs ../shared/geodata")
def test_onboarding_stores_the_dated_memberships_and_says_which_date_it_took(app, db):
    """2019/20: reference date 1 January 2019, before the December 2019 ePCN's relationships
    (1 October and 1 December 2019): the configuration the workbook first records is taken, the
    round's members are the Nottinghamshire partners pandas reads, and every relationship is kept."""
    from test_onboard import ERA_2019, onboard, round_state

    from pcnreg.models import MembershipPeriod

    result = onboard(app.test_cli_runner(), "E54000014", "2019/20", "Notts dated 2019/20", ERA_2019)
    assert result.exit_code == 0, result.output
    assert "no relationship is current on the reference date 1 January 2019" in result.output
    assert "1 December 2019" in result.output
    partners = pd.read_excel(GEODATA / "ePCN-2019-12.xlsx", sheet_name="PCN Core Partner Details", dtype=str)
    details = pd.read_excel(GEODATA / "ePCN-2019-12.xlsx", sheet_name="PCN Details", dtype=str)
    lookup = pd.read_csv(GEODATA / "ccg19-stp19-lookup-england.csv", dtype=str)
    notts = set(lookup[lookup["STP19CD"] == "E54000014"]["CCG19CDH"])
    led = set(details[details["Current Clinical Commissioning Group Code"].isin(notts)]["PCN Code"])
    ours = partners[partners["PCN Code"].isin(led)]
    _, members = round_state("Notts dated 2019/20")
    assert {(code, pcn) for pcn, codes in members.items() for code in codes} == \
        set(zip(ours["Partner Organisation Code"], ours["PCN Code"], strict=True))
    assert db.session.query(MembershipPeriod).count() == len(partners)
