"""Importing list sizes from NHS Digital "Patients Registered at a GP Practice" (``import
list-sizes``)."""
from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import click
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pcnreg.cli.imports import import_group
from pcnreg.importers.csvio import ImportFailed
from pcnreg.importers.list_sizes import parse_list_sizes
from pcnreg.models import Commissioner, ListSize, Practice, System
from pcnreg.services.imports import import_list_sizes, import_practices

LIST_SIZES = "gp-reg-pat-prac-all-2021-06.csv"
HEADER = ("PUBLICATION,EXTRACT_DATE,TYPE,CCG_CODE,ONS_CCG_CODE,CODE,POSTCODE,SEX,AGE,"
          "NUMBER_OF_PATIENTS\n")
# Verified from the files: of the 122 GP practices of 04K/04L/04E in epraccur Dec 2019,
# 89 are in the June 2021 publication (04K 48, 04E 25, 04L 16); the other 6,512 rows are not.
IN_INSTANCE = 89
ROWS = 6601


@pytest.fixture
def practices(db, geodata) -> None:
    """System E54000014 with commissioners 04K, 04L, 04E and their 122 epraccur practices."""
    system = System(code="E54000014", name="Nottingham and Nottinghamshire")
    db.session.add(system)
    db.session.flush()
    for code in ("04K", "04L", "04E"):
        db.session.add(Commissioner(code=code, name=f"NHS {code}", system_id=system.id))
    db.session.commit()
    summary = import_practices((geodata / "epraccur-2019-12.csv").read_bytes(), source="ep")
    assert summary.added == 122


@pytest.fixture
def cli() -> click.Group:
    group = click.Group("pcnreg")
    group.add_command(import_group)
    return group


@pytest.fixture
def real(geodata) -> Path:
    return geodata / LIST_SIZES


@pytest.fixture
def lines(real) -> list[str]:
    return real.read_text(encoding="utf-8").splitlines(keepends=True)


@pytest.fixture
def base(lines) -> list[str]:
    """Header, 2 national rows outside the instance, then 4 rows of instance practices
    (lines 4-7: C84004 7281 of 04K, C84010 of 04L, C84011 of 04K, C84012 of 04E)."""
    ours = [line for line in lines if line.split(",")[5] in ("C84004", "C84010", "C84011",
                                                              "C84012")]
    assert len(ours) == 4
    return lines[:3] + ours


def invoke(runner, cli, *args: str):
    return runner.invoke(cli, ["import", *args])


def write(tmp_path: Path, rows: list[str], name: str = "sizes.csv") -> Path:
    path = tmp_path / name
    path.write_bytes("".join(rows).encode("utf-8"))
    return path


def snapshot(db) -> list[tuple]:
    db.session.expire_all()
    return [tuple(r) for r in db.session.execute(
        select(Practice.code, ListSize.as_of, ListSize.size, ListSize.source)
        .join(ListSize.practice).order_by(Practice.code, ListSize.as_of)).all()]


def size_of(db, code: str) -> int:
    db.session.expire_all()
    return db.session.execute(select(ListSize.size).join(ListSize.practice)
                              .where(Practice.code == code)).scalar_one()


# --- the real file ---------------------------------------------------------------------------

@pytest.mark.slow
def test_real_file_imports(runner, cli, db, practices, real) -> None:
    started = time.perf_counter()
    result = invoke(runner, cli, "list-sizes", str(real))
    assert time.perf_counter() - started < 10
    assert result.exit_code == 0, result.output
    assert f"Imported list sizes from {LIST_SIZES}: {IN_INSTANCE} added, 0 changed, 0 unchanged." \
        in result.stdout
    assert f"Skipped {ROWS - IN_INSTANCE} rows: practice not in this instance." in result.stdout
    assert db.session.scalar(select(func.count()).select_from(ListSize)) == IN_INSTANCE
    albans = db.session.execute(select(ListSize).join(ListSize.practice)
                                .where(Practice.code == "C84004")).scalar_one()
    assert (albans.as_of, albans.size, albans.source) == (dt.date(2021, 6, 1), 7281, LIST_SIZES)
    assert size_of(db, "C84023") == 41494


@pytest.mark.slow
def test_reimport_changes_nothing(runner, cli, db, practices, real) -> None:
    assert invoke(runner, cli, "list-sizes", str(real)).exit_code == 0
    before = snapshot(db)
    result = invoke(runner, cli, "list-sizes", str(real))
    assert result.exit_code == 0
    assert f"0 added, 0 changed, {IN_INSTANCE} unchanged." in result.stdout
    assert "Nothing changed." in result.stdout
    assert snapshot(db) == before


def test_changed_size_is_updated_and_history_kept(runner, cli, db, practices, tmp_path,
                                                  base) -> None:
    assert invoke(runner, cli, "list-sizes", str(write(tmp_path, base))).exit_code == 0
    changed = [line.replace(",7281\n", ",7300\n") for line in base]
    later = [line.replace("01Jun2021", "01Jul2021") for line in base[3:]]
    result = invoke(runner, cli, "list-sizes", str(write(tmp_path, changed + later, "new.csv")))
    assert result.exit_code == 0, result.output
    assert "4 added, 1 changed, 3 unchanged." in result.stdout
    rows = [r for r in snapshot(db) if r[0] == "C84004"]
    assert rows == [("C84004", dt.date(2021, 6, 1), 7300, "new.csv"),
                    ("C84004", dt.date(2021, 7, 1), 7281, "new.csv")]


def test_extra_columns_other_rows_crlf_and_bom(runner, cli, db, practices, tmp_path,
                                               base) -> None:
    rows = [base[0].rstrip("\n") + ",EXTRA\n"] + [line.rstrip("\n") + ",x\n" for line in base[1:]]
    rows.append("GP_PRAC_PAT_LIST,01Jun2021,GP,52R,E38000243,C84004,NG6 8AQ,MALE,ALL,3600,x\n")
    rows.append("GP_PRAC_PAT_LIST,01Jun2021,CCG,52R,E38000243,52R,,ALL,ALL,1000000,x\n")
    path = tmp_path / "sizes.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "".join(r.replace("\n", "\r\n") for r in rows).encode())
    result = invoke(runner, cli, "list-sizes", str(path))
    assert result.exit_code == 0, result.output
    assert "4 added, 0 changed, 0 unchanged." in result.stdout
    assert "Skipped 2 rows: not a practice total (TYPE=GP, SEX=ALL, AGE=ALL)." in result.stdout
    assert "Skipped 2 rows: practice not in this instance." in result.stdout
    assert size_of(db, "C84004") == 7281


# --- bad files -------------------------------------------------------------------------------

def drop_column(line: str, name: str) -> str:
    index = HEADER.rstrip().split(",").index(name)
    values = line.rstrip("\n").split(",")
    del values[index]
    return ",".join(values) + "\n"


def set_value(line: str, name: str, value: str) -> str:
    index = HEADER.rstrip().split(",").index(name)
    values = line.rstrip("\n").split(",")
    values[index] = value
    return ",".join(values) + "\n"


# Line 1 is the header; lines 4-7 are instance practices (see ``base``).
BAD_CASES = {
    "missing NUMBER_OF_PATIENTS": (
        lambda b: [drop_column(line, "NUMBER_OF_PATIENTS") for line in b],
        "row 1, field NUMBER_OF_PATIENTS: column is missing from the header"),
    "missing CODE": (lambda b: [drop_column(line, "CODE") for line in b],
                     "row 1, field CODE: column is missing from the header"),
    "misspelt EXTRACT_DATE": (lambda b: [b[0].replace("EXTRACT_DATE", "EXTRACTDATE")] + b[1:],
                              "row 1, field EXTRACT_DATE: column is missing from the header"),
    "duplicate column": (lambda b: [b[0].replace("POSTCODE", "CODE")] + b[1:],
                         "row 1, field CODE: column appears more than once"),
    "row with too few columns": (lambda b: b[:5] + [b[5].rsplit(",", 1)[0] + "\n"] + b[6:],
                                 "row 6, field columns: has 9 columns; the header has 10"),
    "invalid code": (lambda b: b[:5] + [set_value(b[5], "CODE", "C8400X")] + b[6:],
                     "row 6, field CODE: 'C8400X' is not a valid GP practice code"),
    "formula in code": (lambda b: b[:5] + [set_value(b[5], "CODE", "=1+1")] + b[6:],
                        "row 6, field CODE: '=1+1' is not a valid GP practice code"),
    "duplicate code": (lambda b: b + [b[4]],
                       "row 8, field CODE: "),
    "impossible date": (lambda b: b[:5] + [set_value(b[5], "EXTRACT_DATE", "31Feb2021")] + b[6:],
                        "row 6, field EXTRACT_DATE: '31Feb2021' is not a real date"),
    "bad date format": (lambda b: b[:5] + [set_value(b[5], "EXTRACT_DATE", "01/06/2021")]
                        + b[6:],
                        "row 6, field EXTRACT_DATE: '01/06/2021' is not a date like 01Jun2021"),
    "impossible ISO date": (lambda b: b[:5] + [set_value(b[5], "EXTRACT_DATE", "2021-02-30")] + b[6:],
                            "row 6, field EXTRACT_DATE: '2021-02-30' is not a real date"),
    "negative size": (lambda b: b[:6] + [set_value(b[6], "NUMBER_OF_PATIENTS", "-12")] + b[7:],
                      "row 7, field NUMBER_OF_PATIENTS: '-12' is negative"),
    "non-numeric size": (lambda b: b[:6] + [set_value(b[6], "NUMBER_OF_PATIENTS", "abc")]
                         + b[7:],
                         "row 7, field NUMBER_OF_PATIENTS: 'abc' is not a whole number"),
    "decimal size": (lambda b: b[:6] + [set_value(b[6], "NUMBER_OF_PATIENTS", "12.5")] + b[7:],
                     "row 7, field NUMBER_OF_PATIENTS: '12.5' is not a whole number"),
    "empty size": (lambda b: b[:6] + [set_value(b[6], "NUMBER_OF_PATIENTS", "")] + b[7:],
                   "row 7, field NUMBER_OF_PATIENTS: is empty"),
    "huge size": (lambda b: b[:6] + [set_value(b[6], "NUMBER_OF_PATIENTS", "99999999999")]
                  + b[7:],
                  "row 7, field NUMBER_OF_PATIENTS: 99,999,999,999 is not a plausible"),
    "bad national row": (lambda b: [b[0], set_value(b[1], "NUMBER_OF_PATIENTS", "n/a")] + b[2:],
                         "row 2, field NUMBER_OF_PATIENTS: 'n/a' is not a whole number"),
    "header only": (lambda b: b[:1], "the file has a header but no data rows"),
    "broken quoting": (lambda b: b[:3] + ['"A"B,01Jun2021\n'] + b[3:],
                       "row 4: not valid CSV"),
}


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_file_is_refused_and_changes_nothing(runner, cli, db, practices, tmp_path, base,
                                                 case) -> None:
    assert invoke(runner, cli, "list-sizes", str(write(tmp_path, base[:5], "good.csv"))
                  ).exit_code == 0
    before = snapshot(db)
    assert len(before) == 2
    make, expected = BAD_CASES[case]
    rows = make(list(base))
    rows = [line.replace(",7281\n", ",7300\n") for line in rows]  # a change, if it were written
    result = invoke(runner, cli, "list-sizes", str(write(tmp_path, rows)))
    assert result.exit_code == 1, result.output
    assert expected in result.stderr, result.stderr
    assert "sizes.csv: not imported, nothing was changed" in result.stderr
    assert "Traceback" not in result.output and result.stdout == ""
    assert snapshot(db) == before


def test_duplicate_code_names_both_rows(runner, cli, db, practices, tmp_path, base) -> None:
    result = invoke(runner, cli, "list-sizes", str(write(tmp_path, base + [base[4]])))
    assert result.exit_code == 1
    code = base[4].split(",")[5]
    assert f"row 8, field CODE: {code} on 01Jun2021 is a duplicate: it is also on row 5" in (
        result.stderr)


def test_non_utf8_is_refused(runner, cli, db, practices, tmp_path, base) -> None:
    rows = base[:5] + [base[5].replace(",NG", ",N\u00c9")] + base[6:]
    data = "".join(rows).encode("latin-1")
    path = tmp_path / "sizes.csv"
    path.write_bytes(data)
    result = invoke(runner, cli, "list-sizes", str(path))
    assert result.exit_code == 1
    assert "row 6, field POSTCODE: byte 0xC9" in result.stderr
    assert f"(file offset {data.index(0xC9)}) is not UTF-8" in result.stderr
    assert snapshot(db) == []


@pytest.mark.parametrize("content, expected", [
    (b"", "the file is empty"),
    (b"\xef\xbb\xbf\n", "the file is empty"),
    (HEADER.encode() + b"GP_PRAC_PAT_LIST,\x00\x01\x02", "row 2, field EXTRACT_DATE: the file is "
                                                          "binary"),
    (b"PK\x03\x04\x14\x00\x06\x00", "row 1, field column 1: the file is binary"),
])
def test_empty_or_binary_file_is_refused(runner, cli, db, practices, tmp_path,
                                          content, expected) -> None:
    path = tmp_path / "sizes.csv"
    path.write_bytes(content)
    result = invoke(runner, cli, "list-sizes", str(path))
    assert result.exit_code == 1
    assert expected in result.stderr
    assert snapshot(db) == []


def test_50_mb_file_is_refused(runner, cli, db, practices, tmp_path, base) -> None:
    path = write(tmp_path, base)
    with path.open("r+b") as fh:
        fh.truncate(50 * 1024 * 1024)
    result = invoke(runner, cli, "list-sizes", str(path))
    assert result.exit_code == 1
    assert "the file is 50.0 MB (52,428,800 bytes); the limit is 25.0 MB" in result.stderr
    assert snapshot(db) == []


def test_50_mb_upload_is_refused_by_the_service(db, practices, app) -> None:
    with pytest.raises(ImportFailed) as exc_info:
        import_list_sizes(HEADER.encode() + b" " * (50 * 1024 * 1024), source="upload")
    assert "the limit is 25.0 MB" in str(exc_info.value)


def test_epraccur_given_as_list_sizes(runner, cli, db, practices, geodata) -> None:
    result = invoke(runner, cli, "list-sizes", str(geodata / "epraccur-2019-12.csv"))
    assert result.exit_code == 1
    for name in ("EXTRACT_DATE", "TYPE", "CODE", "SEX", "AGE", "NUMBER_OF_PATIENTS"):
        assert f"row 1, field {name}: column is missing from the header" in result.stderr
    assert snapshot(db) == []


# --- transactions ----------------------------------------------------------------------------

def test_database_error_mid_import_writes_nothing(db, practices, real, monkeypatch) -> None:
    real_flush = Session.flush

    def flush_then_fail(self, objects=None):
        pending = bool(self.new or self.dirty)
        real_flush(self, objects)
        if pending:
            raise IntegrityError("INSERT INTO list_size ...", {}, Exception("constraint failed"))

    monkeypatch.setattr(Session, "flush", flush_then_fail)
    with pytest.raises(ImportFailed) as exc_info:
        import_list_sizes(real.read_bytes(), source=LIST_SIZES)
    monkeypatch.undo()
    assert "database error, nothing was written: IntegrityError" in str(exc_info.value)
    assert snapshot(db) == []
    assert db.session.scalar(select(func.count()).select_from(Practice)) == 122


def test_parse_real_file(lines) -> None:
    records = parse_list_sizes("".join(lines))
    assert len(records) == ROWS
    assert all(r.skip_reason is None and r.as_of == dt.date(2021, 6, 1) for r in records)
    assert records[0].row == 2 and records[0].code == "A84002" and records[0].size == 5995
