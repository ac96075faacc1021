"""Practices' commissioner history from the two epraccur files and the lookups of their eras
(`pcnreg organisations lineage`, stored with the lineage in one transaction), checked against
what pandas reads from the same files; the practice history page; a lookup that contradicts
another of the same date refused with nothing written."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from conftest import GEODATA
from sqlalchemy import func, select

from pcnreg.models import CommissionerPeriod, OrganisationLink, System

pytestmark = pytest.mark.skipif(not (GEODATA / "epraccur-2025-09.csv").is_file(), reason="needs ../shared/geodata")
FILES = ["--before", str(GEODATA / "epraccur-2019-12.csv"), "--after", str(GEODATA / "epraccur-2025-09.csv"),
         "--before-lookup", str(GEODATA / "ccg19-stp19-lookup-england.csv")]
ARGS = ["organisations", "lineage", *FILES, "--after-lookup", str(GEODATA / "sicbl22-icb22-nhser22-lookup-england.csv"),
        "--after-lookup-from", "2022-07-01"]


def _epraccur(name: str) -> pd.DataFrame:
    frame = pd.read_csv(GEODATA / name, header=None, dtype=str, keep_default_na=False)
    return frame[frame[25] == "4"].set_index(0)


def _date(text: str) -> dt.date:
    return dt.datetime.strptime(text, "%Y%m%d").date()


def test_a_nottingham_city_practice_from_04k_to_52r(app, db, runner, demo_round, client):
    result = runner.invoke(args=ARGS)
    assert result.exit_code == 0, result.output
    old, new = _epraccur("epraccur-2019-12.csv"), _epraccur("epraccur-2025-09.csv")
    lookup19 = pd.read_csv(GEODATA / "ccg19-stp19-lookup-england.csv", dtype=str).set_index("CCG19CDH")
    lookup22 = pd.read_csv(GEODATA / "sicbl22-icb22-nhser22-lookup-england.csv", dtype=str,
                           encoding="utf-8-sig").set_index("SICBL22CDH")
    both = old.merge(new, left_index=True, right_index=True, suffixes=("_old", "_new"))
    city = both[(both["14_old"] == "04K") & (both["14_new"] == "52R") & (both["12_new"] == "A")].index
    code = sorted(city)[0]
    then, now = old.loc[code], new.loc[code]
    joined = _date(now[15])
    assert joined == dt.date(2020, 4, 1)
    periods = [(p.commissioner_code, p.kind, p.system_code, p.start_date, p.end_date) for p in db.session.scalars(
        select(CommissionerPeriod).where(CommissionerPeriod.practice_code == code).order_by(CommissionerPeriod.id))]
    assert periods == [
        ("04K", "ccg", lookup19.loc["04K", "STP19CD"], _date(then[15]), joined - dt.timedelta(days=1)),
        ("52R", "ccg", None, joined, dt.date(2022, 6, 30)),
        ("52R", "sub_icb", lookup22.loc["52R", "ICB22CD"], dt.date(2022, 7, 1), None)]
    # Bassetlaw: 02Q throughout, from South Yorkshire and Bassetlaw to the Nottingham and Nottinghamshire ICB
    bassetlaw = sorted(both[(both["14_old"] == "02Q") & (both["14_new"] == "02Q") & (both["12_new"] == "A")].index)[0]
    systems = [p.system_code for p in db.session.scalars(select(CommissionerPeriod).where(
        CommissionerPeriod.practice_code == bassetlaw).order_by(CommissionerPeriod.id))]
    assert systems == [lookup19.loc["02Q", "STP19CD"], lookup22.loc["02Q", "ICB22CD"]] == ["E54000009", "E54000060"]
    # stored once per pair of files: a second run replaces them
    count = db.session.scalar(select(func.count()).select_from(CommissionerPeriod))
    assert count >= len(new) and runner.invoke(args=ARGS).exit_code == 0
    assert db.session.scalar(select(func.count()).select_from(CommissionerPeriod)) == count
    # the page of the system shows it
    system = db.session.scalar(select(System).where(System.code == "E54000014"))
    page = client.get(f"/systems/{system.id}/practices/{code}/history")
    assert page.status_code == 200, page.text
    assert "31 March 2020" in page.text and "1 April 2020" in page.text and "1 July 2022" in page.text
    assert "Nottingham City" in page.text and "sub-ICB location" in page.text
    assert client.get(f"/systems/{system.id}/practices/A81001/history").status_code == 404   # not the system's


def test_two_lookups_of_the_same_date_that_contradict_each_other(app, db, runner, tmp_path):
    lookup = pd.read_csv(GEODATA / "ccg19-stp19-lookup-england.csv", dtype=str)
    row = lookup.index[lookup["CCG19CDH"] == "02Q"][0]
    lookup.loc[row, ["STP19CD", "STP19NM"]] = lookup[lookup["STP19CD"] == "E54000014"][["STP19CD", "STP19NM"]].iloc[0]
    changed = tmp_path / "ccg19-changed.csv"
    lookup.to_csv(changed, index=False)
    result = runner.invoke(args=["organisations", "lineage", *FILES, "--after-lookup", str(changed)])
    assert result.exit_code == 1
    assert f"row {row + 2}" in result.output and "CCG19CDH" in result.output and "ccg19-changed.csv" in result.output
    assert "02Q is in system E54000014 here, but in E54000009 in ccg19-stp19-lookup-england.csv" in result.output
    assert db.session.scalar(select(func.count()).select_from(OrganisationLink)) == 0
    assert db.session.scalar(select(func.count()).select_from(CommissionerPeriod)) == 0
