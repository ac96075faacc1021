"""Funding per contract year (``services.funding.year_funding``) on the PCN pages: each line from
the year's file, recomputed here by hand from the file's rates (read as JSON, not through the
code under test) and the members' list sizes read from the tables."""
from __future__ import annotations

import datetime as dt
import json
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from sqlalchemy import func, select

from pcnreg.extensions import db as _db
from pcnreg.models import ListSize, Membership, Pcn
from pcnreg.services import funding as funding_svc
from pcnreg.services import rounds as rounds_svc
from pcnreg.services.demo import load_demo
from pcnreg.services.round_setup import RoundValues, create_round

FILES = Path(__file__).resolve().parents[2] / "pcnreg" / "contract_years"
PENNY = Decimal("0.01")


def rates(year: str) -> list[dict]:
    return json.loads((FILES / f"{year.replace('/', '-')}.json").read_text(encoding="utf-8"))["funding_rates"]


def newark_total(rnd) -> tuple[Pcn, int]:
    pcn = _db.session.scalar(select(Pcn).where(Pcn.round_id == rnd.id, Pcn.name == "Newark"))
    total = _db.session.scalar(select(func.sum(ListSize.size)).join(Membership, Membership.practice_id ==
                                                                    ListSize.practice_id)
                               .where(Membership.round_id == rnd.id, Membership.pcn_id == pcn.id))
    return pcn, int(total)


def months(start: str, end: str) -> int:
    a, b = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    return (b.year - a.year) * 12 + b.month - a.month + 1          # both ends whole months in these files


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def roll(old, year: str):
    start = int(year[:4])
    values = RoundValues(name=f"Notts {year}", reference_date=dt.date(start, 1, 1), opens=None,
                         submission_deadline=None, committee_date=None, confirmation_date=None,
                         schedule1_deadline=None, go_live=None, band_min=30000, band_max=50000)
    return create_round(old.system_id, year, values, from_round_id=old.id, author="Test")


def test_funding_lines_of_each_year_recomputed_from_the_files(app, db, client):
    load_demo(None)
    old = rounds_svc.get_round(None)
    assert old.contract_year == "2019/20"
    r2024, r2026 = roll(old, "2024/25"), roll(old, "2026/27")

    # 2019/20: core £1.50 a year for July 2019 to March 2020 (9 months), CD £0.514 for the period
    pcn, total = newark_total(old)
    spec = rates("2019/20")
    want = []
    for r in spec:
        amount = Decimal(r["amount"]) * total
        if r["basis"] == "year":
            amount = amount * months(r["valid_from"], r["valid_to"]) / 12
        want.append(amount.quantize(PENNY, rounding=ROUND_HALF_UP))
    got = funding_svc.year_funding(old, total)
    assert [ln.amount for ln in got.lines] == want and not got.partial
    page = text(client.get(f"/rounds/{old.id}/pcns/{pcn.id}/registration"))
    assert "Funding in 2019/20" in page
    assert all(f"£{a:,.2f}" in page for a in want), want
    assert f"£{sum(want):,.2f}" in page

    # 2024/25: the registered-list part is computed, the adjusted-population part says it is not
    pcn, total = newark_total(r2024)
    spec = rates("2024/25")
    registered = [r for r in spec if r.get("population", "registered_list") == "registered_list"]
    adjusted = [r for r in spec if r.get("population") == "adjusted_population"]
    assert registered and adjusted
    got = funding_svc.year_funding(r2024, total)
    by_kind = {ln.kind: ln for ln in got.lines}
    for r in registered:
        amount = (Decimal(r["amount"]) * total * months(r["valid_from"], r["valid_to"]) / 12).quantize(
            PENNY, rounding=ROUND_HALF_UP)
        assert by_kind[r["kind"]].amount == amount
    assert all(by_kind[r["kind"]].amount is None for r in adjusted) and got.partial
    page = text(client.get(f"/rounds/{r2024.id}/pcns/{pcn.id}/registration"))
    assert "per head of adjusted population" in page and "Not computed" in page
    assert "only the registered list is known" in page
    assert text(client.get(f"/rounds/{r2024.id}/pcns/{pcn.id}")).count("Funding in 2024/25") == 1

    # the round's funding page lists every PCN's lines of the year (no rate table for its go-live)
    funding_page = text(client.get(f"/rounds/{r2024.id}/funding"))
    newark_amounts = [f"£{by_kind[r['kind']].amount:,.2f}" for r in registered]
    row = re.search(r"Newark (\S+) (.*?) (?:Nottingham|Rushcliffe|Sherwood|Principia|Mansfield|$)", funding_page)
    assert "Funding per PCN in 2024/25" in funding_page and row and row.group(1) == f"{total:,}"
    assert all(a in row.group(2) for a in newark_amounts) and "not computed" in row.group(2)

    # 2026/27: no source gives a rate
    assert rates("2026/27") == []
    pcn, _ = newark_total(r2026)
    page = text(client.get(f"/rounds/{r2026.id}/pcns/{pcn.id}/registration"))
    assert "Not set: no source gives a funding rate for 2026/27" in page
    assert "Not set: no source gives a funding rate for 2026/27" in text(client.get(f"/rounds/{r2026.id}/funding"))


def test_an_adjusted_population_rate_stays_out_of_the_entitlement_table(app, db):
    """The round's funding table multiplies by registered lists: the 2024/25 adjusted-population
    rate is not copied into it."""
    load_demo(None)
    r2024 = roll(rounds_svc.get_round(None), "2024/25")
    kinds = {r.kind for r in funding_svc.rates()}
    assert "core_pcn_funding_adjusted" not in kinds
    assert r2024.contract_year == "2024/25"


def test_a_practice_that_opted_out_of_the_year_is_not_counted(app, db, client):
    from pcnreg.models import Practice
    from pcnreg.services import cycle as cycle_svc

    load_demo(None)
    r2024 = roll(rounds_svc.get_round(None), "2024/25")
    pcn, total = newark_total(r2024)
    code, size = db.session.execute(
        select(Practice.code, ListSize.size).join(Membership, Membership.practice_id == Practice.id)
        .join(ListSize, ListSize.practice_id == Practice.id)
        .where(Membership.round_id == r2024.id, Membership.pcn_id == pcn.id).order_by(Practice.code)).first()
    cycle_svc.set_dates(r2024, {"opt_out_opens": dt.date(2024, 4, 1), "opt_out_closes": dt.date(2024, 4, 30)})
    db.session.commit()
    app.config["PCNREG_NOW"] = "2024-04-10T10:00:00+01:00"
    cycle_svc.opt_out(r2024, code, "The partners cannot staff the extended hours this year")

    # the lines are computed for Newark's list less the practice's, recomputed here from the file
    counted = total - size
    got = funding_svc.pcn_year_funding(r2024, str(pcn.id))
    assert got.list_size == counted and got.opted_out == ((code, size),)
    by_kind = {ln.kind: ln.amount for ln in got.lines}
    for r in rates("2024/25"):
        if r.get("population", "registered_list") == "registered_list":
            assert by_kind[r["kind"]] == (Decimal(r["amount"]) * counted * months(r["valid_from"], r["valid_to"])
                                          / 12).quantize(PENNY, rounding=ROUND_HALF_UP)
    note = f"Not counted: 1 member practice opted out of 2024/25 ({code}, {size:,} registered patients)"
    assert note in text(client.get(f"/rounds/{r2024.id}/pcns/{pcn.id}/registration"))
    assert note in text(client.get(f"/rounds/{r2024.id}/pcns/{pcn.id}"))
    row = re.search(r"Newark (\S+) (\S+) \((\S+) patients\)", text(client.get(f"/rounds/{r2024.id}/funding")))
    assert row and row.groups() == (f"{counted:,}", code, f"{size:,}")
    # another PCN keeps its whole list
    other = next(p for p in rounds_svc.build_configuration(r2024).config.pcns if code not in p.members)
    assert funding_svc.pcn_year_funding(r2024, other.key).opted_out == ()
