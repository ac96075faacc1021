"""Dated memberships from the national ePCN workbooks: an ePCN import keeps every relationship
(the ended ones as history) and `pcnreg configuration on --date D` answers which practice was in
which PCN on D, checked against what pandas reads from the workbooks' start and end columns."""
from __future__ import annotations

import csv
import datetime as dt
import io

import pandas as pd
import pytest
from conftest import GEODATA
from sqlalchemy import func, select

from pcnreg.models import MembershipPeriod, RegistrationRound

pytestmark = pytest.mark.skipif(not (GEODATA / "ePCN-2025-01.xlsx").is_file(), reason="needs ../shared/geodata")


def _key(name: object) -> str:
    return " ".join(str(name).split()).casefold()


def _ymd(value) -> dt.date | None:
    if value is None or (not isinstance(value, str | dt.date) and pd.isna(value)):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    return dt.datetime.strptime(str(int(float(value))), "%Y%m%d").date()


def relationships(name: str) -> pd.DataFrame:
    """practice, pcn, start, end (the PCN's close date where the relationship has none)."""
    sheets = pd.read_excel(GEODATA / name, sheet_name=None)
    partners = sheets["PCN Core Partner Details"]
    partners.columns = [_key(c) for c in partners.columns]
    details = next(frame for sheet, frame in sheets.items() if _key(sheet).replace(" ", "") == "pcndetails")
    details.columns = [_key(c) for c in details.columns]
    closes = {code: _ymd(v) for code, v in zip(details["pcn code"], details["close date"], strict=True)}
    out = pd.DataFrame({
        "practice": partners["partner organisation code"].str.strip().str.upper(),
        "pcn": partners["pcn code"].str.strip().str.upper(),
        "start": [_ymd(v) for v in partners["practice to pcn relationship start date"]],
        "end": [_ymd(v) for v in partners["practice to pcn relationship end date"]]})
    out["end"] = [end if end is not None else closes.get(pcn) for end, pcn in zip(out["end"], out["pcn"], strict=True)]
    return out


def expected_on(frame: pd.DataFrame, day: dt.date) -> set[tuple[str, str]]:
    """Where the file has a practice in two PCNs on the day (a few in July 2024), the relationship
    that started later counts, then the one that lasts longer (an open one)."""
    on = frame[[(s is None or s <= day) and (e is None or day <= e) for s, e in zip(frame["start"], frame["end"],
                                                                                     strict=True)]].copy()
    on["order"] = [(s or dt.date.min, e or dt.date.max) for s, e in zip(on["start"], on["end"], strict=True)]
    on = on.sort_values("order").drop_duplicates("practice", keep="last")
    return set(zip(on["practice"], on["pcn"], strict=True))


def answered(runner, day: dt.date, *extra: str) -> set[tuple[str, str]]:
    result = runner.invoke(args=["configuration", "on", "--date", day.isoformat(), *extra])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert all(r["date"] == day.isoformat() for r in rows)
    return {(r["practice_code"], r["pcn_code"]) for r in rows}


def test_the_configuration_on_a_date_from_the_2025_workbook(app, db, runner, demo_round):
    rnd = db.session.scalar(select(RegistrationRound).order_by(RegistrationRound.id))
    result = runner.invoke(args=["epcn", "import", str(GEODATA / "ePCN-2025-01.xlsx"), "--round", str(rnd.id),
                                 "--author", "Test", "--reason", "The January 2025 ePCN"])
    assert result.exit_code == 0, result.output
    frame = relationships("ePCN-2025-01.xlsx")
    ended = frame[frame["end"].notna()]
    assert len(ended) > 1000                                 # the ended relationships are kept as history
    assert db.session.scalar(select(func.count()).select_from(MembershipPeriod)) == len(frame)
    for day in (dt.date(2019, 10, 1), dt.date(2020, 3, 31), dt.date(2020, 4, 1), dt.date(2024, 7, 1)):
        assert answered(runner, day) == expected_on(frame, day), day
    # one relationship that had ended: in the configuration on its last day, not the day after
    one = ended.iloc[0]
    assert (one["practice"], one["pcn"]) in answered(runner, one["end"])
    assert (one["practice"], one["pcn"]) not in answered(runner, one["end"] + dt.timedelta(days=1))


def test_a_system_and_bad_arguments(app, db, runner, demo_round):
    rnd = db.session.scalar(select(RegistrationRound).order_by(RegistrationRound.id))
    assert runner.invoke(args=["epcn", "import", str(GEODATA / "ePCN-2019-12.xlsx"), "--round", str(rnd.id),
                               "--author", "Test", "--reason", "December 2019"]).exit_code == 0
    lookup = pd.read_csv(GEODATA / "ccg19-stp19-lookup-england.csv", dtype=str)
    notts = set(lookup[lookup["STP19CD"] == "E54000014"]["CCG19CDH"])
    partners = pd.read_excel(GEODATA / "ePCN-2019-12.xlsx", sheet_name="PCN Core Partner Details", dtype=str)
    ours = partners[partners["Practice Parent CCG Code"].isin(notts) | partners["PCN Parent CCG Code"].isin(notts)]
    assert answered(runner, dt.date(2019, 12, 4), "--system", "E54000014") == \
        set(zip(ours["Partner Organisation Code"], ours["PCN Code"], strict=True))
    assert answered(runner, dt.date(2019, 9, 30), "--system", "E54000014") == set()     # before 1 October 2019
    unknown = runner.invoke(args=["configuration", "on", "--date", "2020-01-01", "--system", "E54999999"])
    assert unknown.exit_code == 2 and "not a system pcnreg knows" in unknown.output
    assert runner.invoke(args=["configuration", "on", "--date", "1 Jan 2020"]).exit_code == 2
