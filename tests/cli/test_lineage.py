"""Organisation lineage from the shared files: the Nottinghamshire story (six CCGs merged into
52R on 1 April 2020; Bassetlaw's 02Q moved with its practices into the Nottingham and
Nottinghamshire ICB, E54000060 / QT1), checked against what pandas reads from the same files."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from conftest import GEODATA
from sqlalchemy import select

from pcnreg.domain.lineage import commissioner_links
from pcnreg.models import OrganisationLink

pytestmark = pytest.mark.skipif(not (GEODATA / "epraccur-2025-09.csv").is_file(), reason="needs ../shared/geodata")
ARGS = ["organisations", "lineage", "--before", str(GEODATA / "epraccur-2019-12.csv"),
        "--after", str(GEODATA / "epraccur-2025-09.csv"),
        "--before-lookup", str(GEODATA / "ccg19-stp19-lookup-england.csv"),
        "--after-lookup", str(GEODATA / "sicbl22-icb22-nhser22-lookup-england.csv")]


def _practices(name: str) -> pd.DataFrame:
    frame = pd.read_csv(GEODATA / name, header=None, dtype=str, keep_default_na=False)
    return frame[(frame[25] == "4") & frame[12].isin(["A", "P"])]


def test_the_nottinghamshire_lineage(app, db, runner):
    result = runner.invoke(args=ARGS)
    assert result.exit_code == 0, result.output
    old, new = _practices("epraccur-2019-12.csv"), _practices("epraccur-2025-09.csv")
    both = old[[0, 14]].merge(new[[0, 14, 15]], on=0, suffixes=("_old", "_new"))
    notts = {"04E", "04H", "04K", "04L", "04M", "04N"}
    moved = both[both["14_old"].isin(notts)]
    assert set(moved["14_new"]) == {"52R"}                      # every practice of the six now under 52R
    merge_date = dt.datetime.strptime(moved[15].mode()[0], "%Y%m%d").date()
    links = {(l.before, l.after): l for l in db.session.scalars(select(OrganisationLink))}
    for ccg in notts:
        link = links[(ccg, "52R")]
        assert link.relation == "merged_into" and link.effective == merge_date == dt.date(2020, 4, 1)
    assert links[("02Q", "02Q")].relation == "continued_as"
    assert links[("E54000014", "E54000060")].relation == "became"
    assert links[("E54000009", "E54000060")].relation == "moved_to" and "02Q" in links[("E54000009", "E54000060")].evidence
    assert "merged into 52R on 1 April 2020" in result.output
    again = runner.invoke(args=ARGS)                            # the same files: replaced, not duplicated
    assert again.exit_code == 0 and db.session.query(OrganisationLink).count() == len(links)


def test_the_lineage_shows_on_the_system_page(app, db, runner, client, demo_round):
    assert runner.invoke(args=ARGS).exit_code == 0
    from pcnreg.models import System

    system = db.session.scalar(select(System).where(System.code == "E54000014"))
    page = client.get(f"/systems/{system.id}").get_data(as_text=True)
    assert "Lineage" in page and "merged into" in page and "E54000060" in page


def test_domain_rules_on_a_hand_made_story():
    before = {"A1": "X", "A2": "X", "B1": "Y", "C1": "Z", "C2": "Z", "C3": "Z"}
    after = {"A1": "N", "A2": "N", "B1": "N", "C1": "P", "C2": "Q", "C3": "Q"}
    joined = {"A1": dt.date(2020, 4, 1), "A2": dt.date(2020, 4, 1), "B1": dt.date(2020, 4, 1)}
    links = {(l.before, l.after): l for l in commissioner_links(before, after, joined, dt.date(2019, 12, 1))}
    assert links[("X", "N")].relation == links[("Y", "N")].relation == "merged_into"
    assert links[("X", "N")].effective == dt.date(2020, 4, 1)
    assert links[("Z", "P")].relation == links[("Z", "Q")].relation == "split_into"


def test_a_bad_file_is_refused_naming_it(app, db, runner):
    bad = list(ARGS)
    bad[bad.index("--after") + 1] = str(GEODATA / "gp-reg-pat-prac-all-2026-04.csv")
    result = runner.invoke(args=bad)
    assert result.exit_code == 1 and "gp-reg-pat-prac-all-2026-04.csv (--after)" in result.output
    assert db.session.query(OrganisationLink).count() == 0
