"""The ePCN workbook: export, import (service, CLI and page) and the PCN-level comparison."""
from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from sqlalchemy import func, select

from pcnreg.extensions import db as _db
from pcnreg.importers.csvio import ImportFailed
from pcnreg.importers.epcn import DETAILS, PARTNERS
from pcnreg.models import ConfigChange, ConfigVersion, Membership, Pcn, Practice
from pcnreg.services import epcn, rounds

WHO = dict(author="Test User", reason="testing")
REAL_FILE = "ePCN-2019-12.xlsx"

# The header rows of the December 2019 release (row 1 of each sheet).
REAL_DETAILS_HEADER = [
    "PCN Code", "PCN Name", "Current Clinical Commissioning Group Code", "Clinical Commissioning Group Name",
    "Open Date (YYYYMMDD)", "Close Date", "Address Line 1", "Address Line 2", "Address Line 3", "Address Line 4",
    "Address Line 5", "Postcode"]
REAL_PARTNERS_HEADER = [
    "Partner Organisation Code", "Partner Name", "Practice Parent CCG Code", "Practice Parent CCG Name", "PCN Code",
    "PCN Name", "PCN Parent CCG Code", "PCN Parent CCG Name", "Practice to PCN Relationship Start Date",
    "Practice to PCN Relationship End Date", "Practice CCG and PCN CCG match?"]


@pytest.fixture
def rnd(app, db, demo_round):
    return rounds.get_round()


@pytest.fixture
def real_file(geodata):
    path = geodata / REAL_FILE
    if not path.is_file():
        pytest.skip(f"{path} (NHS Digital's Dec 2019 ePCN workbook) is not in the geodata folder")
    return path


def counts(db) -> tuple[int, ...]:
    db.session.expire_all()
    return tuple(db.session.scalar(select(func.count()).select_from(m))
                 for m in (ConfigVersion, ConfigChange, Membership, Pcn))


def xlsx(sheets: dict[str, list[list]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def members_of(db, rnd, name: str) -> list[str]:
    return list(db.session.scalars(select(Practice.code).join(Membership).join(Pcn, Pcn.id == Membership.pcn_id)
                                   .where(Membership.round_id == rnd.id, Pcn.name == name).order_by(Practice.code)))


def sheet_rows(data: bytes, name: str) -> list[tuple]:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    try:
        return list(book[name].iter_rows(values_only=True))
    finally:
        book.close()


# --- export ----------------------------------------------------------------------------------------------

def test_export_has_both_sheets_with_the_real_headers(rnd, db):
    data = epcn.export_xlsx(rnd)
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    assert book.sheetnames == [DETAILS, PARTNERS]
    book.close()
    details, partners = sheet_rows(data, DETAILS), sheet_rows(data, PARTNERS)
    assert list(details[0][:len(REAL_DETAILS_HEADER)]) == REAL_DETAILS_HEADER
    assert list(partners[0][:len(REAL_PARTNERS_HEADER)]) == REAL_PARTNERS_HEADER
    assert len(details) == 1 + 22 and len(partners) == 1 + 135
    newark = next(dict(zip(details[0], r)) for r in details[1:] if r[1] == "Newark")
    assert newark["Current Clinical Commissioning Group Code"] == "04H"
    assert newark["Place"] == "Mid Nottinghamshire" and newark["Member Practices"] == 7
    assert newark["PCN Code"] is None and newark["Address Line 1"] is None       # not known: empty
    assert sum(dict(zip(details[0], r))["Registered Patients"] for r in details[1:]) == 1_092_110


def test_export_matches_the_real_files_headers(rnd, real_file):
    real = real_file.read_bytes()
    ours = epcn.export_xlsx(rnd)
    for sheet in (DETAILS, PARTNERS):
        header = [h for h in sheet_rows(real, sheet)[0] if h is not None]
        assert list(sheet_rows(ours, sheet)[0][:len(header)]) == header


def test_csv_export_neutralises_cells(rnd, db):
    practice = db.session.scalar(select(Practice).where(Practice.code == "C84009"))
    practice.name = "=HYPERLINK(\"http://evil.example\")"
    db.session.commit()
    rows = list(csv.reader(io.StringIO(epcn.export_csv(rnd, "partners"))))
    assert rows[0][:len(REAL_PARTNERS_HEADER)] == REAL_PARTNERS_HEADER
    row = next(r for r in rows if r[0] == "C84009")
    assert row[1] == "'=HYPERLINK(\"http://evil.example\")"
    details = list(csv.reader(io.StringIO(epcn.export_csv(rnd, "details"))))
    assert details[0][:len(REAL_DETAILS_HEADER)] == REAL_DETAILS_HEADER and len(details) == 23
    # the workbook stores it as text, not as a formula
    cell = next(r for r in sheet_rows(epcn.export_xlsx(rnd), PARTNERS) if r[0] == "C84009")[1]
    assert cell.startswith("'=")


# --- import ------------------------------------------------------------------------------------------------

def test_round_trip_changes_nothing(rnd, db):
    before = counts(db)
    summary = epcn.import_workbook(rnd, epcn.export_xlsx(rnd), source="ours.xlsx", **WHO)
    assert summary.version is None and "already matches" in summary.lines()[0]
    assert summary.taken == 135 and summary.outside == summary.unknown == 0 and summary.unassigned == []
    assert counts(db) == before


def test_an_edited_export_merges_two_pcns_as_one_version(rnd, db, client):
    """Move every Rushcliffe Central practice to Rushcliffe North in the workbook: one version,
    Central retired, and the compare page calls it a merge."""
    data = epcn.export_xlsx(rnd)
    book = openpyxl.load_workbook(io.BytesIO(data))
    for row in book[PARTNERS].iter_rows(min_row=2):
        if row[5].value == "Rushcliffe Central":
            row[5].value = "Rushcliffe North"
    out = io.BytesIO()
    book.save(out)
    versions = counts(db)[0]
    summary = epcn.import_workbook(rnd, out.getvalue(), source="edited.xlsx", **WHO)
    assert summary.version == 2 and counts(db)[0] == versions + 1
    assert summary.config.retired == ["Rushcliffe Central"] and summary.config.created == []
    assert len(members_of(db, rnd, "Rushcliffe North")) == 5 + 3
    diff = epcn.describe_changes(rnd, 1, 2)
    assert [(c.kind, c.before_names, c.after_names) for c in diff.changes if c.kind != "unchanged"] == [
        ("merged", ("Rushcliffe Central", "Rushcliffe North"), ("Rushcliffe North",))]
    page = client.get(f"/rounds/{rnd.id}/compare", query_string={"a": 1, "b": 2})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "What happened to the PCNs" in html and "Merged" in html
    assert html.index("What happened to the PCNs") < html.index("Practices moved")


def test_import_of_the_real_december_2019_file(rnd, db, real_file, client):
    newark = members_of(db, rnd, "Newark")
    summary = epcn.import_workbook(rnd, real_file.read_bytes(), source=REAL_FILE, **WHO)
    assert summary.version == 2
    assert summary.partners == 6_757
    # 134 of the 135 demo practices are core partners in Dec 2019 (Peacock Healthcare under its former
    # code C84133); Ashfield Medical Practice (C84712, dormant) is in no PCN.
    assert summary.taken == 134 and summary.unassigned == ["C84712"] and summary.unknown_here == []
    assert summary.config.pcns == 20 and len(summary.config.retired) == 22
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Membership)) == 134
    assert members_of(db, rnd, "NEWARK PCN") == newark and len(newark) == 7    # named as NHS Digital names it
    assert db.session.scalar(select(Pcn.code).where(Pcn.name == "RUSHCLIFFE PCN", Pcn.active.is_(True))) == "U12563"

    diff = epcn.describe_changes(rnd, 1, 2)
    changes = {(c.kind, c.before_names, c.after_names) for c in diff.changes}
    assert diff.counts() == {"merged": 2, "split": 1, "renamed": 16, "continued": 0, "new": 0, "dissolved": 0,
                             "unchanged": 0}
    assert ("merged", ("Rushcliffe Central", "Rushcliffe North", "Rushcliffe South"), ("RUSHCLIFFE PCN",)) in changes
    assert ("merged", ("Bramcote and Beeston", "Eastwood and Stapleford"), ("NOTTINGHAM WEST PCN",)) in changes
    assert ("split", ("NNE PCN 3",), ("ARROW HEALTH PCN", "SYNERGY HEALTH PCN")) in changes
    assert ("renamed", ("Newark",), ("NEWARK PCN",)) in changes
    assert [m.practice_code for m in diff.moved] == ["C84066", "C84712"]   # Daybrook to Arrow; Ashfield unassigned
    html = client.get(f"/rounds/{rnd.id}/compare", query_string={"a": 1, "b": 2}).get_data(as_text=True)
    assert "Merged: 2; Split: 1; Renamed: 16." in html
    assert "Practices that moved on their own (2)" in html and "Daybrook Medical Practice" in html

    # the new configuration exports with its PCN codes and re-imports as it is
    again = epcn.import_workbook(rnd, epcn.export_xlsx(rnd), source="ours.xlsx", **WHO)
    assert again.version is None


# --- refused workbooks ------------------------------------------------------------------------------------

DETAILS_HEAD = ["PCN Code", "PCN Name", "Current Clinical Commissioning Group Code"]
PARTNERS_HEAD = ["Partner Organisation Code", "Partner Name", "PCN Code"]


def good_sheets() -> dict[str, list[list]]:
    return {DETAILS: [DETAILS_HEAD, ["U65095", "NEWARK PCN", "04H"], ["U90349", "SHERWOOD PCN", "04H"]],
            PARTNERS: [PARTNERS_HEAD, ["C84009", "BARNBY GATE", "U65095"], ["C84037", "ABBEY", "U90349"]]}


def refused(db, rnd, data: bytes) -> ImportFailed:
    before = counts(db)
    with pytest.raises(ImportFailed) as caught:
        epcn.import_workbook(rnd, data, source="bad.xlsx", **WHO)
    assert counts(db) == before, "a refused workbook wrote something"
    return caught.value


def test_a_small_workbook_with_title_rows_imports(rnd, db):
    sheets = good_sheets()
    sheets[DETAILS] = [["ePCN export"], ["December 2019"], *sheets[DETAILS]]
    summary = epcn.import_workbook(rnd, xlsx(sheets), source="small.xlsx", **WHO)
    assert summary.version == 2 and summary.taken == 2 and len(summary.unassigned) == 133
    assert members_of(db, rnd, "NEWARK PCN") == ["C84009"]


def test_a_workbook_read_again_is_not_parsed_again_but_a_changed_one_is():
    from pcnreg.importers import epcn as reader

    data = xlsx(good_sheets())
    first = reader.read_workbook(data, 10**8)
    assert reader.read_workbook(bytes(data), 10**8) is first          # the same content: the same rows
    assert isinstance(first.partners, tuple) and isinstance(first.pcns, tuple)   # immutable, so shareable
    sheets = good_sheets()
    sheets[PARTNERS] = sheets[PARTNERS][:-1]                              # one partner row fewer
    other = reader.read_workbook(xlsx(sheets), 10**8)
    assert other is not first and len(other.partners) == len(first.partners) - 1
    bad = xlsx({DETAILS: good_sheets()[DETAILS]})                         # no partners sheet
    for _ in range(2):                                                    # a refusal is not remembered
        with pytest.raises(ImportFailed, match="no sheet"):
            reader.read_workbook(bad, 10**8)
    with pytest.raises(ImportFailed):                                     # nor is the size limit skipped
        reader.read_workbook(data, len(data) - 1)


def test_garbage_is_refused(rnd, db):
    assert "not an Excel workbook" in str(refused(db, rnd, b"practice_code,pcn\nC84009,U1\n"))
    assert "not a readable .xlsx" in str(refused(db, rnd, b"PK\x03\x04garbage"))


def test_missing_sheet_is_named(rnd, db):
    sheets = good_sheets()
    del sheets[PARTNERS]
    problem, = refused(db, rnd, xlsx(sheets)).problems
    assert f"no sheet {PARTNERS!r}" in problem.message


def test_missing_column_is_named_with_its_sheet(rnd, db):
    sheets = good_sheets()
    sheets[PARTNERS] = [[r[0], r[1]] for r in sheets[PARTNERS]]          # no PCN Code column
    problem, = refused(db, rnd, xlsx(sheets)).problems
    assert problem.field == f"PCN Code (sheet {PARTNERS})" and "missing" in problem.message


def test_partner_of_an_unknown_pcn_is_refused_with_sheet_row_and_column(rnd, db):
    sheets = good_sheets()
    sheets[PARTNERS].append(["C84045", "COLLINGHAM", "U99999"])
    problem, = refused(db, rnd, xlsx(sheets)).problems
    assert (problem.row, problem.field) == (4, f"PCN Code (sheet {PARTNERS})")
    assert "'U99999' is not a PCN on sheet 'PCN Details'" in problem.message
    assert str(problem).startswith("row 4, field PCN Code (sheet PCN Core Partner Details)")


def test_bad_codes_and_a_practice_in_two_pcns_are_all_listed(rnd, db):
    sheets = good_sheets()
    sheets[DETAILS].append(["X12", "BAD PCN", "04H"])
    sheets[PARTNERS] += [["C8400", "SHORT", "U65095"], ["C84009", "AGAIN", "U90349"]]
    problems = refused(db, rnd, xlsx(sheets)).problems
    assert [(p.row, p.field) for p in problems] == [
        (4, f"PCN Code (sheet {DETAILS})"),
        (4, f"Partner Organisation Code (sheet {PARTNERS})"),
        (5, f"Partner Organisation Code (sheet {PARTNERS})")]
    assert "also row 2" in problems[2].message


def test_over_the_size_limit_is_refused(rnd, db, app):
    app.config["MAX_IMPORT_BYTES"] = 1000
    assert "the limit is" in str(refused(db, rnd, xlsx(good_sheets())))


# --- pages and CLI -------------------------------------------------------------------------------------------

def upload(client, rnd, content: bytes, reason="ePCN Dec 2019"):
    return client.post(f"/rounds/{rnd.id}/epcn/import", content_type="multipart/form-data",
                       data={"file": (io.BytesIO(content), "epcn.xlsx"), "reason": reason})


def test_downloads_have_their_content_types(rnd, client):
    response = client.get(f"/rounds/{rnd.id}/epcn.xlsx")
    assert response.status_code == 200 and response.mimetype == epcn.XLSX_MIMETYPE
    assert "attachment" in response.headers["Content-Disposition"]
    assert openpyxl.load_workbook(io.BytesIO(response.data), read_only=True).sheetnames == [DETAILS, PARTNERS]
    for sheet in ("details", "partners"):
        response = client.get(f"/rounds/{rnd.id}/epcn-{sheet}.csv")
        assert response.status_code == 200 and response.mimetype == "text/csv"
    assert client.get(f"/rounds/{rnd.id}/epcn-other.csv").status_code == 404
    assert client.get("/rounds/99999/epcn.xlsx").status_code == 404


def test_versions_page_links_to_the_workbook(rnd, client):
    html = client.get(f"/rounds/{rnd.id}/versions").get_data(as_text=True)
    assert "Import an ePCN workbook" in html and "Download as ePCN workbook (XLSX)" in html
    assert client.get(f"/rounds/{rnd.id}/epcn/import").status_code == 200


def test_upload_of_a_bad_workbook_is_400_and_writes_nothing(rnd, db, client):
    sheets = good_sheets()
    sheets[PARTNERS].append(["C84045", "COLLINGHAM", "U99999"])
    before = counts(db)
    response = upload(client, rnd, xlsx(sheets))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "nhsuk-error-summary" in html and "nothing was changed" in html
    assert "row 4, field PCN Code (sheet PCN Core Partner Details)" in html and "U99999" in html
    assert counts(db) == before
    missing = client.post(f"/rounds/{rnd.id}/epcn/import", data={"reason": "x"}, content_type="multipart/form-data")
    assert missing.status_code == 400 and "Choose the workbook to import" in missing.get_data(as_text=True)
    no_reason = upload(client, rnd, xlsx(good_sheets()), reason="")
    assert no_reason.status_code == 400 and "Enter the reason" in no_reason.get_data(as_text=True)
    assert counts(db) == before


def test_upload_saves_a_version_and_redirects(rnd, db, client):
    response = upload(client, rnd, xlsx(good_sheets()))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/rounds/{rnd.id}/versions")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "saved as version 2" in page
    version = db.session.scalar(select(ConfigVersion).where(ConfigVersion.number == 2))
    assert version.kind == "import" and version.author == "Test Administrator" and version.reason == "ePCN Dec 2019"


def test_viewer_may_download_but_not_import(rnd, db, client_as):
    viewer = client_as("viewer")
    assert viewer.get(f"/rounds/{rnd.id}/epcn.xlsx").status_code == 200
    assert viewer.get(f"/rounds/{rnd.id}/epcn/import").status_code == 403
    before = counts(db)
    assert upload(viewer, rnd, xlsx(good_sheets())).status_code == 403
    assert counts(db) == before


def test_cli_export_and_import(rnd, db, runner, tmp_path):
    out = tmp_path / "epcn.xlsx"
    result = runner.invoke(args=["epcn", "export", "--round", rnd.name, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert openpyxl.load_workbook(out, read_only=True).sheetnames == [DETAILS, PARTNERS]
    partners = tmp_path / "partners.csv"
    result = runner.invoke(args=["epcn", "export", "--round", rnd.name, "--out", str(partners), "--sheet", "partners"])
    assert result.exit_code == 0 and partners.read_text().startswith("Partner Organisation Code,")
    result = runner.invoke(args=["epcn", "import", str(out), "--round", rnd.name, "--reason", "round trip"])
    assert result.exit_code == 0 and "already matches" in result.output

    bad = tmp_path / "bad.xlsx"
    sheets = good_sheets()
    sheets[PARTNERS].append(["C84045", "COLLINGHAM", "U99999"])
    bad.write_bytes(xlsx(sheets))
    before = counts(db)
    result = runner.invoke(args=["epcn", "import", str(bad), "--round", rnd.name, "--reason", "bad"])
    assert result.exit_code == 1
    assert "bad.xlsx: not imported" in result.output and "row 4, field PCN Code" in result.output
    assert counts(db) == before
    good = tmp_path / "good.xlsx"
    good.write_bytes(xlsx(good_sheets()))
    result = runner.invoke(args=["epcn", "import", str(good), "--round", rnd.name, "--reason", "two PCNs"])
    assert result.exit_code == 0 and "saved as version 2" in result.output
    assert db.session.scalar(select(ConfigVersion.author).where(ConfigVersion.number == 2)).startswith("cli:")
    assert runner.invoke(args=["epcn", "export", "--round", "No such round", "--out", str(out)]).exit_code == 1


def test_upload_without_a_csrf_token_is_refused(csrf_app):
    rnd = rounds.get_round()
    client = csrf_app.test_client()
    before = counts(_db)
    response = upload(client, rnd, xlsx(good_sheets()))
    assert response.status_code == 400 and counts(_db) == before


def test_a_partner_row_may_name_its_pcn_instead_of_giving_the_code(rnd, db):
    sheets = good_sheets()
    sheets[PARTNERS] = [[*r, name] for r, name in zip(sheets[PARTNERS], ["PCN Name", "NEWARK PCN", "SHERWOOD PCN"])]
    sheets[PARTNERS].append(["C84045", "COLLINGHAM", "", "newark  pcn"])
    summary = epcn.import_workbook(rnd, xlsx(sheets), source="named.xlsx", **WHO)
    assert summary.taken == 3 and members_of(db, rnd, "NEWARK PCN") == ["C84009", "C84045"]
