"""`pcnreg onboard` on the real national files in ../shared/geodata.

Expectations are computed here with pandas from the same files (the ePCN workbook, the practice
map, the lookups and the list sizes), never copied from pcnreg's output.
"""
from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import GEODATA
from sqlalchemy import func, select

from pcnreg.extensions import db as _db
from pcnreg.models import AuditEvent, ConfigVersion, Membership, Pcn, Practice, RegistrationRound, System

pytestmark = pytest.mark.skipif(not (GEODATA / "ePCN-2019-12.xlsx").is_file(), reason="needs ../shared/geodata")

LLR = "E54000015"          # Leicester, Leicestershire and Rutland (2019 STP)
ERA_2019 = {"--organisations": "ccg19-stp19-lookup-england.csv", "--areas": "lsoa11-ccg19-lad19-lookup-england.csv",
            "--practices": "epraccur-2019-12.csv", "--list-sizes": "gp-reg-pat-prac-all-2021-06.csv",
            "--configuration": "ePCN-2019-12.xlsx"}
ERA_ICB = {"--organisations": "lsoa21-sicbl24-icb24-lad22-lookup-england.csv",
           "--areas": "lsoa21-sicbl24-icb24-lad22-lookup-england.csv", "--practices": "epraccur-2025-09.csv",
           "--list-sizes": "gp-reg-pat-prac-all-2026-04.csv", "--configuration": "gp-reg-pat-prac-map-2026-01.csv"}


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def onboard(runner, system: str, year: str, round_name: str, files: dict[str, str], **override: str):
    args = ["onboard", "--system", system, "--year", year, "--round", round_name]
    for option, name in {**files, **override}.items():
        args += [option, str(GEODATA / name)]
    return runner.invoke(args=args)


def round_state(name: str) -> tuple[dict[str, str], dict[str, set[str]]]:
    """(PCN code -> name, PCN code -> member practice codes) of a round, read from the database."""
    rnd = _db.session.scalar(select(RegistrationRound).where(RegistrationRound.name == name))
    pcns = {p.id: p for p in _db.session.scalars(select(Pcn).where(Pcn.round_id == rnd.id, Pcn.active.is_(True)))}
    members: dict[str, set[str]] = {p.code: set() for p in pcns.values()}
    for code, pcn_id in _db.session.execute(select(Practice.code, Membership.pcn_id).join(Membership.practice)
                                            .where(Membership.round_id == rnd.id)):
        members[pcns[pcn_id].code].add(code)
    return {p.code: p.name for p in pcns.values()}, members


def out_of_band(runner, name: str) -> set[str]:
    result = runner.invoke(args=["validate", "--round", name, "--json"])
    assert result.exit_code == 0, result.output
    return {f["subject"]["code"] for f in json.loads(result.output)["findings"] if f["rule"] == "list_size_band"}


def expected_out_of_band(members: dict[str, set[str]], sizes: dict[str, int]) -> set[str]:
    totals = {pcn: sum(sizes.get(code, 0) for code in codes) for pcn, codes in members.items()}
    return {pcn for pcn, total in totals.items() if not 30000 <= total <= 50000}


def test_leicester_2019_matches_the_national_files(app, db, runner):
    result = onboard(runner, LLR, "2019/20", "LLR 2019/20", ERA_2019)
    assert result.exit_code == 0, result.output

    lookup = pd.read_csv(GEODATA / "ccg19-stp19-lookup-england.csv", dtype=str)
    ccgs = set(lookup.loc[lookup.STP19CD == LLR, "CCG19CDH"])
    details = pd.read_excel(GEODATA / "ePCN-2019-12.xlsx", sheet_name="PCN Details", dtype=str)
    partners = pd.read_excel(GEODATA / "ePCN-2019-12.xlsx", sheet_name="PCN Core Partner Details", dtype=str)
    ours = details[details["Current Clinical Commissioning Group Code"].isin(ccgs) & details["Close Date"].isna()]
    current = partners[partners["PCN Code"].isin(ours["PCN Code"])
                       & partners["Practice to PCN Relationship End Date"].isna()]
    want_members = current.groupby("PCN Code")["Partner Organisation Code"].apply(set).to_dict()

    names, members = round_state("LLR 2019/20")
    assert set(names) == set(ours["PCN Code"])
    assert members == want_members
    # A member commissioned outside the system comes with its PCN and is flagged, not dropped.
    outside = current[~current["Practice Parent CCG Code"].isin(ccgs)]["Partner Organisation Code"]
    assert len(outside) >= 1
    assert "members commissioned in another system: " + ", ".join(
        sorted(f"{c} ({p})" for c, p in zip(outside, current.loc[outside.index, "Practice Parent CCG Code"]))) \
        in result.output
    validate = json.loads(runner.invoke(args=["validate", "--round", "LLR 2019/20", "--json"]).output)
    flagged = {f["figures"]["practice"] for f in validate["findings"] if f["rule"] == "member_other_system"}
    assert flagged == set(outside)

    sizes = pd.read_csv(GEODATA / "gp-reg-pat-prac-all-2021-06.csv", dtype={"NUMBER_OF_PATIENTS": int})
    sizes = sizes[(sizes.SEX == "ALL") & (sizes.AGE == "ALL")].set_index("CODE")["NUMBER_OF_PATIENTS"].to_dict()
    assert out_of_band(runner, "LLR 2019/20") == expected_out_of_band(want_members, sizes)

    rnd = db.session.scalar(select(RegistrationRound).where(RegistrationRound.name == "LLR 2019/20"))
    assert rnd.contract_year == "2019/20" and rnd.go_live.isoformat() == "2019-07-01"
    assert rnd.system.code == LLR and rnd.system.kind == "stp"
    assert {c.code for c in rnd.system.commissioners} == ccgs
    assert all(c.kind == "ccg" and c.ons_code.startswith("E38") for c in rnd.system.commissioners)


def test_second_run_changes_nothing(app, db, runner):
    assert onboard(runner, "E54000015", "2019/20", "LLR 2019/20", ERA_2019).exit_code == 0
    counts = lambda: tuple(db.session.scalar(select(func.count()).select_from(m))  # noqa: E731
                           for m in (AuditEvent, ConfigVersion, Practice, Pcn, System))
    before = counts()
    again = onboard(runner, "E54000015", "2019/20", "LLR 2019/20", ERA_2019)
    assert again.exit_code == 0, again.output
    assert "nothing changed" in again.output
    assert counts() == before


def test_an_icb_of_today_from_the_practice_map(app, db, runner):
    result = onboard(runner, "QT1", "2026/27", "Notts ICB 2026/27", ERA_ICB)
    assert result.exit_code == 0, result.output

    lookup = pd.read_csv(GEODATA / "lsoa21-sicbl24-icb24-lad22-lookup-england.csv", dtype=str)
    sub_icbs = set(lookup.loc[lookup.ICB24CDH == "QT1", "SICBL24CDH"])
    assert sub_icbs == {"02Q", "52R"}          # Bassetlaw joined Nottingham and Nottinghamshire in 2022
    practice_map = pd.read_csv(GEODATA / "gp-reg-pat-prac-map-2026-01.csv", dtype=str)
    practice_map = practice_map[practice_map.PCN_CODE != "U"]
    counts = practice_map.groupby(["PCN_CODE", "SUB_ICB_LOCATION_CODE"]).size().reset_index(name="n")
    lead = counts.sort_values(["PCN_CODE", "n", "SUB_ICB_LOCATION_CODE"], ascending=[True, False, True]) \
        .drop_duplicates("PCN_CODE").set_index("PCN_CODE")["SUB_ICB_LOCATION_CODE"]
    pcns = set(lead[lead.isin(sub_icbs)].index)
    want = practice_map[practice_map.PCN_CODE.isin(pcns)].groupby("PCN_CODE")["PRACTICE_CODE"].apply(set).to_dict()

    names, members = round_state("Notts ICB 2026/27")
    assert members == want
    sizes = pd.read_csv(GEODATA / "gp-reg-pat-prac-all-2026-04.csv", dtype={"NUMBER_OF_PATIENTS": int})
    sizes = sizes[(sizes.SEX == "ALL") & (sizes.AGE == "ALL")].set_index("CODE")["NUMBER_OF_PATIENTS"].to_dict()
    assert out_of_band(runner, "Notts ICB 2026/27") == expected_out_of_band(want, sizes)
    rnd = db.session.scalar(select(RegistrationRound).where(RegistrationRound.name == "Notts ICB 2026/27"))
    assert rnd.system.ods_code == "QT1" and rnd.system.kind == "icb" and rnd.system.code == "E54000060"
    assert {c.kind for c in rnd.system.commissioners} == {"sub_icb"}
    assert "reference date not set for 2026/27" in result.output


def test_the_icb_era_workbook_gives_the_same_pcns_as_the_map_minus_ended_ones(app, db, runner):
    result = onboard(runner, "E54000060", "2026/27", "Notts ICB ePCN", ERA_ICB,
                     **{"--configuration": "ePCN-2025-01.xlsx", "--organisations": "sicbl22-icb22-nhser22-lookup-england.csv"})
    assert result.exit_code == 0, result.output
    details = pd.read_excel(GEODATA / "ePCN-2025-01.xlsx", sheet_name="PCNDetails", dtype=str)
    partners = pd.read_excel(GEODATA / "ePCN-2025-01.xlsx", sheet_name="PCN Core Partner Details", dtype=str)
    partners.columns = [" ".join(c.split()) for c in partners.columns]
    open_pcns = details[details["Current Sub ICB Loc Code"].isin({"02Q", "52R"})
                        & (details["Close Date"].isna() | (details["Close Date"] == ""))]
    current = partners[partners["PCN Code"].isin(open_pcns["PCN Code"])
                       & partners["Practice to PCN Relationship End Date"].isna()]
    names, members = round_state("Notts ICB ePCN")
    assert members == current.groupby("PCN Code")["Partner Organisation Code"].apply(set).to_dict()


def test_all_england_2019_in_one_call(app, db, runner):
    result = onboard(runner, "all", "2019/20", "{system} 2019/20", ERA_2019)
    assert result.exit_code == 0, result.output
    lookup = pd.read_csv(GEODATA / "ccg19-stp19-lookup-england.csv", dtype=str)
    assert db.session.scalar(select(func.count()).select_from(RegistrationRound)) == lookup.STP19CD.nunique()
    partners = pd.read_excel(GEODATA / "ePCN-2019-12.xlsx", sheet_name="PCN Core Partner Details", dtype=str)
    current = partners[partners["Practice to PCN Relationship End Date"].isna()]
    assert db.session.scalar(select(func.count()).select_from(Membership)) == len(current)
    assert db.session.scalar(select(func.count()).select_from(Pcn)) == current["PCN Code"].nunique()


def _nothing_written(db) -> bool:
    return db.session.scalar(select(func.count()).select_from(System)) == 0


@pytest.mark.parametrize("option, wrong, message", [
    ("--organisations", "gp-reg-pat-prac-all-2021-06.csv", "is not an organisation lookup"),
    ("--areas", "ccg19-stp19-lookup-england.csv", "is not an LSOA lookup"),
    ("--practices", "gp-reg-pat-prac-all-2021-06.csv", "epraccur rows have 27"),
    ("--list-sizes", "epraccur-2019-12.csv", "column is missing from the header"),
    ("--configuration", "pcns-england-dec2019.csv", "column is missing from the header"),
    ("--list-sizes", "gp-reg-pat-prac-all-2026-04.csv", "files of different eras are mixed"),
    ("--configuration", "gp-reg-pat-prac-map-2026-01.csv", "files of different eras are mixed"),
    ("--practices", "epraccur-2025-09.csv", "files of different eras are mixed"),
])
def test_a_bad_file_is_refused_naming_it_and_nothing_is_written(app, db, runner, option, wrong, message):
    result = onboard(runner, LLR, "2019/20", "LLR 2019/20", ERA_2019, **{option: wrong})
    assert result.exit_code == 1
    assert message in result.output and wrong in result.output and "nothing was changed" in result.output
    assert _nothing_written(db)


def test_unknown_system_suggests_the_nearest_names(app, db, runner):
    result = onboard(runner, "Leicester", "2019/20", "X", ERA_2019)
    assert result.exit_code == 1
    assert "'Leicester' is not a system of the organisation file" in result.output
    assert "E54000015 Leicester, Leicestershire and Rutland" in result.output
    assert _nothing_written(db)


def test_round_name_of_another_system_and_several_systems_without_placeholder(app, db, runner):
    assert onboard(runner, LLR, "2019/20", "Shared name", ERA_2019).exit_code == 0
    clash = onboard(runner, "E54000014", "2019/20", "Shared name", ERA_2019)
    assert clash.exit_code == 1 and "already a round of another system" in clash.output
    several = onboard(runner, "E54000014,E54000015", "2019/20", "One name", ERA_2019)
    assert several.exit_code == 1 and "must contain {system}" in several.output
    year = onboard(runner, LLR, "2026/27", "Wrong year", ERA_2019)
    assert year.exit_code == 1 and "2026/27 is not in the CCG era" in year.output
    assert db.session.scalar(select(func.count()).select_from(RegistrationRound)) == 1


def test_a_newer_file_renames_and_the_change_is_recorded(app, db, runner):
    assert onboard(runner, LLR, "2019/20", "LLR 2019/20", ERA_2019).exit_code == 0
    from pcnreg.models import Commissioner

    ccg = db.session.scalar(select(Commissioner).where(Commissioner.code == "04C"))
    lookup = pd.read_csv(GEODATA / "ccg19-stp19-lookup-england.csv", dtype=str)
    published = lookup.loc[lookup.CCG19CDH == "04C", "CCG19NM"].item()
    ccg.name = "An older name"
    db.session.commit()
    again = onboard(runner, LLR, "2019/20", "LLR 2019/20", ERA_2019)
    assert again.exit_code == 0 and "commissioners 0 added, 1 changed" in again.output
    db.session.expire_all()
    assert db.session.get(Commissioner, ccg.id).name == published
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "organisation.update")
                              .order_by(AuditEvent.seq.desc()))
    assert event.object_id == "04C" and "An older name" in json.dumps(event.after)


def test_local_authorities_without_blocks_are_said_to_be_unread(app, db, runner):
    result = onboard(runner, LLR, "2019/20", "LLR 2019/20", ERA_2019, **{"--local-authorities": "lad19-england.geojson"})
    assert result.exit_code == 0 and "--local-authorities lad19-england.geojson: not read without --blocks" in result.output


def test_geography_of_an_onboarded_system_from_the_national_files(app, db, runner):
    result = onboard(runner, LLR, "2019/20", "LLR 2019/20", ERA_2019,
                     **{"--blocks": "lsoa11-england.geojson.gz", "--local-authorities": "lad19-england.geojson"})
    assert result.exit_code == 0, result.output
    import geopandas as gpd
    from shapely import is_valid

    from pcnreg.models import Block, LocalAuthority, PcnArea

    lookup = pd.read_csv(GEODATA / "lsoa11-ccg19-lad19-lookup-england.csv", dtype=str)
    ccgs = set(pd.read_csv(GEODATA / "ccg19-stp19-lookup-england.csv", dtype=str).query("STP19CD == @LLR").CCG19CDH)
    lsoas = lookup[lookup.CCG19CDH.isin(ccgs)]
    system = db.session.scalar(select(System).where(System.code == LLR))
    blocks = set(db.session.scalars(select(Block.code).where(Block.system_id == system.id)))
    assert blocks == set(lsoas.LSOA11CD)
    boundaries = gpd.read_file(f"/vsigzip/{GEODATA / 'lsoa11-england.geojson.gz'}", engine="pyogrio")
    invalid = int((~is_valid(boundaries[boundaries.LSOA11CD.isin(blocks)].geometry.values)).sum())
    assert f"{invalid} invalid polygons repaired" in result.output if invalid else "repaired" not in result.output
    with_boundary = {la.code for la in db.session.scalars(select(LocalAuthority).where(LocalAuthority.geometry.is_not(None)))}
    assert set(lsoas.LAD19CD) <= with_boundary
    rnd = db.session.scalar(select(RegistrationRound).where(RegistrationRound.name == "LLR 2019/20"))
    assert db.session.scalar(select(func.count()).select_from(PcnArea).where(PcnArea.round_id == rnd.id)) >= 20
    page = app.test_client().get(f"/rounds/{rnd.id}/map")
    assert page.status_code == 200 and "maps are unavailable" not in page.get_data(as_text=True).lower()


def test_both_eras_of_one_area_keep_their_own_blocks(app, db, runner):
    """Nottinghamshire 2019 (LSOA 2011, the demo's geodata) and the QT1 ICB of today (LSOA 2021):
    most LSOA codes are the same, each system has its own blocks."""
    from pcnreg.models import Block
    from pcnreg.services.demo import load_demo
    from pcnreg.services.geodata import install

    load_demo(GEODATA)
    install(GEODATA)
    result = onboard(runner, "QT1", "2026/27", "Notts ICB 2026/27", ERA_ICB, **{"--blocks": "lsoa21-england.geojson.gz"})
    assert result.exit_code == 0, result.output
    lookup = pd.read_csv(GEODATA / "lsoa21-sicbl24-icb24-lad22-lookup-england.csv", dtype=str)
    icb = db.session.scalar(select(System).where(System.code == "E54000060"))
    assert set(db.session.scalars(select(Block.code).where(Block.system_id == icb.id))) == \
        set(lookup.loc[lookup.ICB24CDH == "QT1", "LSOA21CD"])
    stp = db.session.scalar(select(System).where(System.code == "E54000014"))
    shared = set(db.session.scalars(select(Block.code).where(Block.system_id == stp.id))) & \
        set(db.session.scalars(select(Block.code).where(Block.system_id == icb.id)))
    assert len(shared) > 400


def test_blocks_of_another_lsoa_vintage_are_refused(app, db, runner):
    result = onboard(runner, LLR, "2019/20", "LLR 2019/20", ERA_2019, **{"--blocks": "lsoa21-england.geojson.gz"})
    assert result.exit_code == 1 and "files of different eras are mixed" in result.output
    assert _nothing_written(db)
