"""The neighbourhoods table's resident population (issue #14): the ONS mid-2018 estimates of
2011 LSOAs (../shared/geodata/lsoa11-population-mid2018-england.csv), summed with pandas here;
for 2021 LSOAs the page says the resident population is not known."""
from __future__ import annotations

import pandas as pd
import pytest
from conftest import GEODATA
from sqlalchemy import select
from test_neighbourhoods import staffs  # noqa: F401 - the fixture

from pcnreg.extensions import db as _db
from pcnreg.models import Block
from pcnreg.services import neighbourhoods as nb
from pcnreg.services import rounds as rounds_svc

POPULATION = GEODATA / "lsoa11-population-mid2018-england.csv"
pytestmark = pytest.mark.skipif(not POPULATION.is_file(), reason="needs ../shared/geodata")


def test_resident_population_of_2011_lsoas(app, db, geodata, demo_round, client):
    from pcnreg.services.geodata import install

    install(geodata)
    blocks = sorted(_db.session.scalars(select(Block.code).where(Block.system_id == demo_round.system_id)))
    assert len(blocks) > 100
    layout = {c: ("West", "single") if i % 3 else ("East", "multi") for i, c in enumerate(blocks)}
    csv = "lsoa_code,neighbourhood,kind\n" + "".join(f"{c},{n},{k}\n" for c, (n, k) in layout.items())
    nb.import_neighbourhoods(demo_round, csv.encode(), source="nb.csv", max_bytes=1 << 22)

    pop = pd.read_csv(POPULATION, dtype={"lsoa11cd": str})
    pop["nb"] = pop.lsoa11cd.map({c: n for c, (n, _) in layout.items()})
    want = pop.dropna(subset=["nb"]).groupby("nb").population_mid2018.sum().to_dict()
    assert set(want) == {"East", "West"} and sum(want.values()) > 500_000

    facts = nb.page_facts(rounds_svc.build_configuration(demo_round))
    assert {n.name: n.resident for n in facts.neighbourhoods} == want
    assert "ONS mid-2018 estimates for 2011 LSOAs" in facts.resident_note
    page = client.get(f"/rounds/{demo_round.id}/neighbourhoods").get_data(as_text=True)
    assert "Resident population" in page and f"{want['East']:,}" in page


def test_resident_population_not_known_for_2021_lsoas(staffs, client):  # noqa: F811
    codes = sorted(_db.session.scalars(select(Block.code).where(Block.system_id == staffs.system_id)))[:50]
    csv = "lsoa_code,neighbourhood\n" + "".join(f"{c},Somewhere\n" for c in codes)
    nb.import_neighbourhoods(staffs, csv.encode(), source="nb.csv", max_bytes=1 << 20)
    facts = nb.page_facts(rounds_svc.build_configuration(staffs))
    assert [n.resident for n in facts.neighbourhoods] == [None]
    assert "Resident population not known for the 2021 LSOA vintage" in facts.resident_note
    page = client.get(f"/rounds/{staffs.id}/neighbourhoods").get_data(as_text=True)
    assert "Resident population not known for the 2021 LSOA vintage" in page and "not known" in page
