"""Catchments and neighbourhoods (issue #14) on Staffordshire and Stoke-on-Trent ICB (QNC), 2026/27.

Expectations are recomputed here with pandas from the LSOA registrations file, the practice map
and the ONS lookup (the system's LSOAs), never copied from pcnreg's output.
"""
from __future__ import annotations

import io
import re

import pandas as pd
import pytest
from conftest import GEODATA, content_fixture
from sqlalchemy import func, select

from pcnreg.domain import catchments as cm
from pcnreg.extensions import db as _db
from pcnreg.models import AuditEvent, Block, LsoaRegistration, LsoaRegistrationLoad, Neighbourhood, RegistrationRound
from pcnreg.services import neighbourhoods as nb
from pcnreg.services import rounds as rounds_svc

LSOA_FILE = GEODATA / "gp-reg-pat-prac-lsoa-staffordshire-2025-10.csv"
pytestmark = pytest.mark.skipif(not LSOA_FILE.is_file(), reason="needs ../shared/geodata")

ROUND = "Staffs 2026/27"
FILES = {"--organisations": "lsoa21-sicbl24-icb24-lad22-lookup-england.csv",
         "--areas": "lsoa21-sicbl24-icb24-lad22-lookup-england.csv", "--practices": "epraccur-2025-09.csv",
         "--list-sizes": "gp-reg-pat-prac-all-2026-04.csv", "--configuration": "gp-reg-pat-prac-map-2026-01.csv",
         "--blocks": "lsoa21-england.geojson.gz"}
HEADER = "PUBLICATION,EXTRACT_DATE,PRACTICE_CODE,PRACTICE_NAME,LSOA_CODE,SEX,NUMBER_OF_PATIENTS\n"


def _onboard_staffs() -> None:
    """`pcnreg onboard` of QNC for 2026/27 from the national files: run once per session, each
    test getting a copy of the database (``content_fixture``)."""
    from flask import current_app

    args = ["onboard", "--system", "QNC", "--year", "2026/27", "--round", ROUND]
    for option, name in FILES.items():
        args += [option, str(GEODATA / name)]
    result = current_app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output


content_fixture("staffs", "staffs-2026-27", _onboard_staffs)


@pytest.fixture
def staffs(app, db):
    """The QNC round onboarded by ``_onboard_staffs``."""
    return _db.session.scalar(select(RegistrationRound).where(RegistrationRound.name == ROUND))


def _load(runner, path=LSOA_FILE):
    return runner.invoke(args=["import", "lsoa-registrations", str(path), "--round", ROUND])


# --- pandas, independently ------------------------------------------------------------------------------

def _expected(round_pcn_codes: set[str]):
    reg = pd.read_csv(LSOA_FILE, dtype={"NUMBER_OF_PATIENTS": int})
    reg = reg[(reg.SEX == "ALL") & reg.LSOA_CODE.str.match(r"^E01\d{6}$")]
    pmap = pd.read_csv(GEODATA / "gp-reg-pat-prac-map-2026-01.csv", dtype=str)
    pmap = pmap[pmap.PCN_CODE.isin(round_pcn_codes)][["PRACTICE_CODE", "PCN_CODE"]]
    lookup = pd.read_csv(GEODATA / "lsoa21-sicbl24-icb24-lad22-lookup-england.csv", dtype=str, encoding="utf-8-sig")
    qnc = lookup[lookup.ICB24CDH == "QNC"]
    totals = reg.groupby("LSOA_CODE").NUMBER_OF_PATIENTS.sum()
    by = reg.merge(pmap, on="PRACTICE_CODE").groupby(["PCN_CODE", "LSOA_CODE"]).NUMBER_OF_PATIENTS.sum().reset_index()
    pcn_total = by.groupby("PCN_CODE").NUMBER_OF_PATIENTS.sum()
    top = (by.groupby("PCN_CODE").NUMBER_OF_PATIENTS.max() / pcn_total).to_dict()
    by["lsoa_share"] = by.NUMBER_OF_PATIENTS / by.LSOA_CODE.map(totals)
    inside = by[by.LSOA_CODE.isin(set(qnc.LSOA21CD)) & (by.lsoa_share >= 0.5)]
    catchments = {pcn: set(g.LSOA_CODE) for pcn, g in inside.groupby("PCN_CODE")}
    return reg, pmap, qnc, by, top, catchments


def test_catchments_match_pandas(staffs, runner):
    result = _load(runner)
    assert result.exit_code == 0, result.output
    assert "LSOA codes: LSOA 2021" in result.output
    assert "CLOSED" in result.output and "Welsh" in result.output        # special values reported, not errors

    data = rounds_svc.build_configuration(staffs)
    code_of = {k: p.code for k, p in data.pcns.items()}
    facts = nb.page_facts(data)
    _, _, _, _, top, want = _expected(set(code_of.values()))

    got_top = {code_of[r.key]: r.top_share for r in facts.rows if r.top_share is not None}
    assert set(got_top) == set(top)
    for code, share in top.items():
        assert got_top[code] == pytest.approx(share, abs=1e-12), code
    got = {code_of[k]: set(v) for k, v in facts.catchments.items() if v}
    assert got == want
    assert sum(len(v) for v in want.values()) > 400                # most of QNC's 697 LSOAs

    # the rule: a PCN is reported exactly when its catchment is in several parts under the block adjacency
    geo = data.config.geography
    split = {code_of[k] for k, v in facts.catchments.items() if len(cm.parts(v, geo.block_neighbours)) > 1}
    flagged = {f.subject.code for f in data.findings if f.rule == "catchment_contiguous"}
    assert flagged == split and flagged


def test_neighbourhood_alignment_on_a_hand_made_layout(staffs, runner, tmp_path):
    assert _load(runner).exit_code == 0
    data = rounds_svc.build_configuration(staffs)
    code_of = {k: p.code for k, p in data.pcns.items()}
    reg, pmap, qnc, by, _, _ = _expected(set(code_of.values()))
    # three neighbourhoods: Stoke-on-Trent (multi); North Staffordshire (Newcastle, Moorlands); the rest
    layout = {"E06000021": ("Stoke-on-Trent", "multi"), "E07000195": ("North Staffordshire", "single"),
              "E07000198": ("North Staffordshire", "single")}
    rows = [(r.LSOA21CD, *layout.get(r.LAD22CD, ("South and East Staffordshire", "multi"))) for r in qnc.itertuples()]
    csv_text = "lsoa_code,neighbourhood,kind\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows)
    layout_file = tmp_path / "neighbourhoods.csv"
    layout_file.write_text(csv_text)
    result = runner.invoke(args=["import", "neighbourhoods", str(layout_file), "--round", ROUND])
    assert result.exit_code == 0, result.output
    assert "3 neighbourhoods, 697 LSOAs" in result.output

    name_of = {a: b for a, b, _ in rows}
    by["nb"] = by.LSOA_CODE.map(name_of)
    per = by.groupby(["PCN_CODE", "nb"]).NUMBER_OF_PATIENTS.sum().unstack(fill_value=0)
    total = by.groupby("PCN_CODE").NUMBER_OF_PATIENTS.sum()
    share = (per.max(axis=1) / total)
    want = {pcn: round(100 * s, 1) for pcn, s in share.items() if s < 0.8}

    data = rounds_svc.build_configuration(staffs)
    findings = {f.subject.code: f for f in data.findings if f.rule == "neighbourhood_alignment"}
    assert {c: f.figures["share_pct"] for c, f in findings.items()} == want
    assert all(f.severity == "warning" and f.figures["basis"] == "registrations" for f in findings.values())
    for code, f in findings.items():
        assert f.figures["best"] == per.loc[code].idxmax()

    # the neighbourhoods table: registered population living there
    facts = nb.page_facts(data)
    pop = reg.assign(nb=reg.LSOA_CODE.map(name_of)).groupby("nb").NUMBER_OF_PATIENTS.sum().to_dict()
    assert {n.name: n.population for n in facts.neighbourhoods} == pop
    assert {n.name: n.target for n in facts.neighbourhoods} == {
        "North Staffordshire": 50_000, "South and East Staffordshire": 250_000, "Stoke-on-Trent": 250_000}

    # a stricter round setting flags more PCNs; by area when no LSOA file is loaded
    nb.save_settings(staffs, cm.Settings(alignment_threshold=0.95))
    data = rounds_svc.build_configuration(staffs)
    strict = {f.subject.code for f in data.findings if f.rule == "neighbourhood_alignment"}
    assert strict == {pcn for pcn, s in share.items() if s < 0.95}


def test_alignment_by_hand():
    weights = {"1": {"a": 60, "b": 30, "x": 10}, "2": {"c": 100}}
    result = cm.alignment(weights, {"a": "N1", "b": "N2", "c": "N2"})
    assert result["1"].best == "N1" and result["1"].share == pytest.approx(0.6)
    assert result["1"].outside == pytest.approx(10)
    assert result["2"].best == "N2" and result["2"].share == 1.0
    counts = {"P1": {"a": 60, "b": 10}, "P2": {"a": 40, "b": 90}}
    catch = cm.catchments(cm.pcn_lsoa_patients(counts, {"1": ["P1"], "2": ["P2"]}), {"a": 100, "b": 200})
    assert catch == {"1": frozenset({"a"}), "2": frozenset()}          # P2 holds 90/200 of b: below half
    largest = cm.catchments(cm.pcn_lsoa_patients(counts, {"1": ["P1"], "2": ["P2"]}), {"a": 100, "b": 200},
                            method="largest", within={"a", "b"})
    assert largest == {"1": frozenset({"a"}), "2": frozenset({"b"})}


def test_bad_files_are_refused_naming_row_and_field(staffs, runner, tmp_path):
    good = LSOA_FILE.read_text().splitlines(keepends=True)
    missing = tmp_path / "missing.csv"
    missing.write_text(good[0].replace(",NUMBER_OF_PATIENTS", "") + "".join(
        ",".join(line.rstrip("\n").split(",")[:-1]) + "\n" for line in good[1:50]))
    result = _load(runner, missing)
    assert result.exit_code == 1
    assert "row 1, field NUMBER_OF_PATIENTS: column is missing" in result.output
    bad = tmp_path / "bad.csv"
    lines = list(good[:200])
    lines[41] = lines[41].rsplit(",", 1)[0] + ",12x\n"
    lines[77] = lines[77].rsplit(",", 1)[0] + ",-3\n"
    bad.write_text("".join(lines))
    result = _load(runner, bad)
    assert result.exit_code == 1
    assert "row 42, field NUMBER_OF_PATIENTS: '12x' is not a whole number" in result.output
    assert "row 78, field NUMBER_OF_PATIENTS: '-3' is negative" in result.output
    assert _db.session.scalar(select(func.count()).select_from(LsoaRegistrationLoad)) == 0
    assert _db.session.scalar(select(func.count()).select_from(LsoaRegistration)) == 0
    # a good load, then a bad file: the good load stays, unchanged
    assert _load(runner).exit_code == 0
    events = _db.session.scalar(select(func.count()).select_from(AuditEvent))
    assert _load(runner, bad).exit_code == 1
    assert _db.session.scalar(select(func.count()).select_from(LsoaRegistration)) > 16000
    assert _db.session.scalar(select(func.count()).select_from(AuditEvent)) == events
    # a bad neighbourhoods CSV: nothing written
    nbad = tmp_path / "nb.csv"
    nbad.write_text("lsoa_code,neighbourhood,kind\nE01014285,A,single\nE01999999,A,single\nE01014286,A,multi\n")
    result = runner.invoke(args=["import", "neighbourhoods", str(nbad), "--round", ROUND])
    assert result.exit_code == 1
    assert "row 3, field lsoa_code: E01999999 is not a block of the round's system" in result.output
    assert "row 4, field kind: A is single on row 2" in result.output
    assert _db.session.scalar(select(func.count()).select_from(Neighbourhood)) == 0


# The streamed import of a synthetic national-size (~30 MB) file, within a memory bound, takes more
# than 20 s here: it is a benchmark, ``python -m benchmarks lsoa-import`` (benchmarks/lsoa_import.py).


def test_pages(staffs, runner, client, client_as):
    assert _load(runner).exit_code == 0
    rid = staffs.id
    page = client.get(f"/rounds/{rid}/neighbourhoods")
    assert page.status_code == 200 and b"LSOAs that change PCN" in page.data
    html = page.get_data(as_text=True)
    assert re.search(rf'<a href="/rounds/{rid}/pcns/\d+">[^<]+</a>', html) and "&lt;a href" not in html
    assert "Load the neighbourhoods" in html and "Save the settings" in html
    # a viewer reads the settings but is offered no upload or settings form
    viewer = client_as("viewer", f"system:{staffs.system.code}").get(f"/rounds/{rid}/neighbourhoods")
    seen = viewer.get_data(as_text=True)
    assert viewer.status_code == 200 and "LSOAs that change PCN" in seen
    assert "Load the neighbourhoods" not in seen and "Save the settings" not in seen
    assert "Alignment threshold (%)" in seen and "50,000" in seen
    doc = client.get(f"/rounds/{rid}/neighbourhoods/map.html")
    assert doc.status_code == 200 and b"Catchments" in doc.data and b"unpkg" not in doc.data
    gj = client.get(f"/rounds/{rid}/catchments.geojson")
    assert gj.status_code == 200 and gj.json["features"] and "catchment_lsoas" in gj.json["features"][0]["properties"]
    bad = client.post(f"/rounds/{rid}/neighbourhoods/registrations", data={
        "registrations_file": (io.BytesIO(HEADER.encode() + b"GP,2025-10-01,M83001,X,E01014285,ALL,ten\n"), "x.csv")},
        content_type="multipart/form-data")
    assert bad.status_code == 400 and b"row 2, field NUMBER_OF_PATIENTS" in bad.data
    ok = client.post(f"/rounds/{rid}/neighbourhoods/settings", data={
        "method": "largest", "threshold": "50", "alignment": "75", "single_size": "50000", "multi_size": "250000"})
    assert ok.status_code == 302
    assert nb.settings_of(staffs) == cm.Settings(0.5, "largest", 0.75)
    refused = client.post(f"/rounds/{rid}/neighbourhoods/settings", data={
        "method": "largest", "threshold": "0", "alignment": "175", "single_size": "x", "multi_size": ""})
    assert refused.status_code == 400


def test_neighbourhoods_replaced_over_the_same_lsoas_are_read_again(staffs):
    """Neighbourhoods replaced by others over the same LSOAs (the same number of rows, and on
    SQLite the same ids again) are what the page reads next, not the cached first ones."""
    codes = sorted(_db.session.scalars(select(Block.code).where(Block.system_id == staffs.system_id)))[:40]
    for name in ("North", "South"):
        csv = "lsoa_code,neighbourhood\n" + "".join(f"{c},{name}\n" for c in codes)
        nb.import_neighbourhoods(staffs, csv.encode(), source=f"{name}.csv", max_bytes=1 << 20)
        facts = nb.page_facts(rounds_svc.build_configuration(staffs))
        assert [n.name for n in facts.neighbourhoods] == [name]
