"""The ODS change instruction: a round rolled forward from the demo 2019/20 round and then
regrouped (a move, a new PCN, a merge), and the in-year changes of a live round; each CSV
checked column by column against rows written out here from the edits the test made (not from
the code under test), and the column names against the real ePCN workbook's header."""
from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import select
from test_change_pages import live  # noqa: F401  (the live demo round: a fixture)

from pcnreg.domain import change_instruction as ci
from pcnreg.extensions import db as _db
from pcnreg.models import Commissioner, Membership, Pcn, Practice
from pcnreg.services import change_instruction as instruction_svc
from pcnreg.services import change_requests as req_svc
from pcnreg.services import configuration as config_svc
from pcnreg.services import rounds as rounds_svc
from pcnreg.services.demo import load_demo
from pcnreg.services.round_setup import RoundValues, create_round

WHO = {"author": "Test", "reason": "Annual return"}


def parse(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def members(rnd, pcn: Pcn) -> list[str]:
    return sorted(_db.session.scalars(select(Practice.code).join(Membership, Membership.practice_id == Practice.id)
                                      .where(Membership.round_id == rnd.id, Membership.pcn_id == pcn.id)))


def names(codes) -> dict[str, str]:
    return dict(_db.session.execute(select(Practice.code, Practice.name).where(Practice.code.in_(list(codes)))).all())


def parents(codes) -> dict[str, tuple[str, str]]:
    """Practice code -> (its commissioner's code, name): the practice's parent sub-ICB location."""
    return {code: (c, n) for code, c, n in _db.session.execute(
        select(Practice.code, Commissioner.code, Commissioner.name)
        .join(Commissioner, Commissioner.id == Practice.commissioner_id).where(Practice.code.in_(list(codes))))}


def expect(change, pcn: Pcn, practice, effective: str, start: str, end: str, source: str, details: str = "") -> dict:
    lead = pcn.lead_commissioner
    parent = parents([practice])[practice] if practice else ("", "")
    return {"Change": change, "PCN Code": pcn.code or "", "PCN Name": pcn.name,
            "Partner Organisation Code": practice or "", "Partner Name": names([practice])[practice] if practice else "",
            "Practice Parent Sub ICB Loc Code": parent[0], "Practice Parent Sub ICB Loc Name": parent[1],
            "PCN Parent Sub ICB Loc Code": lead.code if lead else "", "PCN Parent Sub ICB Loc Name": lead.name if lead else "",
            "Effective Date": effective, "Practice to PCN Relationship Start Date": start,
            "Practice to PCN Relationship End Date": end, "Details": details, "Source": source}


def test_the_column_names_are_the_epcn_core_partner_headers(geodata):
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.load_workbook(geodata / "ePCN-2025-01.xlsx", read_only=True)
    header = next(workbook["PCN Core Partner Details"].iter_rows(max_row=1, values_only=True))
    flattened = [" ".join(str(h).split()) for h in header if h]
    shared = [c for c in ci.COLUMNS if c in flattened]
    # every ePCN column about a practice's relationship, the sub-ICB locations' too, in the ePCN's order
    assert shared == [c for c in flattened if c != "Practice Sub ICB Loc and PCN Sub ICB Loc Match"]
    assert set(ci.CORE_PARTNER_HEADERS.values()) <= set(header)


def test_a_rolled_forward_round_lists_its_annual_changes(app, db, runner):
    load_demo(None)
    old = rounds_svc.get_round(None)
    values = RoundValues(name="Notts 2020/21", reference_date=dt.date(2020, 1, 1), opens=None,
                         submission_deadline=None, committee_date=None, confirmation_date=None,
                         schedule1_deadline=None, go_live=None, band_min=30000, band_max=50000)
    new = create_round(old.system_id, "2020/21", values, from_round_id=old.id, author="Test")
    unchanged = parse(instruction_svc.csv_text(new))
    assert unchanged == []                                  # a plain roll-forward changes nothing

    pcn = {p.name: p for p in _db.session.scalars(select(Pcn).where(Pcn.round_id == new.id, Pcn.active.is_(True)))}
    old_pcn = {p.name: p for p in _db.session.scalars(select(Pcn).where(Pcn.round_id == old.id, Pcn.active.is_(True)))}
    newark, sherwood = pcn["Newark"], pcn["Sherwood"]
    newark_members, sherwood_members = members(new, newark), members(new, sherwood)
    moved = newark_members[0]
    config_svc.move_practices(new, [moved], str(sherwood.id), **WHO)
    config_svc.create_pcn(new, "Trent Valley", place_id=newark.place_id, lead_commissioner_id=newark.lead_commissioner_id,
                          **WHO)
    trent = _db.session.scalar(select(Pcn).where(Pcn.round_id == new.id, Pcn.name == "Trent Valley"))
    to_trent = newark_members[1]
    config_svc.move_practices(new, [to_trent], str(trent.id), **WHO)
    # Sherwood (with the moved practice) merges into Newark: Sherwood closes, its members join Newark
    config_svc.merge_pcns(new, [str(sherwood.id)], str(newark.id), name=None, **WHO)

    source = "annual changes (against the predecessor round)"
    want = [expect("new PCN", trent, None, "20200401", "20200401", "", source)]
    # the practice moved to Trent Valley leaves Newark and joins Trent Valley
    want += [expect("leave", old_pcn["Newark"], to_trent, "20200401", "", "20200331", source),
             expect("join", trent, to_trent, "20200401", "20200401", "", source)]
    # Sherwood's members (old Sherwood) leave it and join Newark
    for code in sherwood_members:
        want += [expect("leave", old_pcn["Sherwood"], code, "20200401", "", "20200331", source),
                 expect("join", newark, code, "20200401", "20200401", "", source)]
    want.append(expect("closed PCN", old_pcn["Sherwood"], None, "20200401", "", "20200331", source))
    got = parse(instruction_svc.csv_text(new))
    assert list(got[0]) == list(ci.COLUMNS)
    key = lambda r: (r["Change"], r["PCN Name"], r["Partner Organisation Code"])
    assert sorted(got, key=key) == sorted(want, key=key)
    for column in ci.COLUMNS:                               # column by column, for a readable failure
        assert [r[column] for r in sorted(got, key=key)] == [r[column] for r in sorted(want, key=key)], column
    # the moved practice went Newark -> Sherwood -> (merge) Newark: no change for it
    assert moved not in {r["Partner Organisation Code"] for r in got}

    # the CLI writes the same file
    target = app.instance_path + "/instruction.csv"
    result = runner.invoke(args=["round", "change-instruction", "--round", "Notts 2020/21", "--output", target])
    assert result.exit_code == 0, result.output
    with open(target, encoding="utf-8", newline="") as handle:
        assert parse(handle.read()) == got
    assert runner.invoke(args=["round", "change-instruction", "--round", "No such round"]).exit_code == 1


def test_in_year_changes_are_listed_with_their_dates(app, live, client_as):  # noqa: F811  (the fixture)
    rnd, newark, sherwood, member = live
    change = req_svc.give_notice(rnd, member, str(sherwood.id), "Closer")
    commissioner = client_as("commissioner", "system:E54000014")
    empty = commissioner.get(f"/rounds/{rnd.id}/changes/ods-change-instruction.csv")
    assert empty.status_code == 200 and parse(empty.text) == []          # notified only: not yet a change
    req_svc.changes.decide(rnd, change.id, approve=True)
    response = commissioner.get(f"/rounds/{rnd.id}/changes/ods-change-instruction.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "ods-change-instruction.csv" in response.headers["Content-Disposition"]
    source = "in-year change: the practice's notice, approved"
    want = [expect("leave", newark, member, "20191001", "", "20190930", source),
            expect("join", sherwood, member, "20191001", "20191001", "", source)]
    assert parse(response.text) == want
    assert client_as("practice_rep", f"practice:{member}").get(
        f"/rounds/{rnd.id}/changes/ods-change-instruction.csv").status_code == 403
