"""Importing GP practices from the ODS epraccur.csv national file (``import practices``)."""
from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import click
import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from pcnreg.cli.imports import import_group
from pcnreg.importers.csvio import ImportFailed
from pcnreg.importers.epraccur import parse_epraccur
from pcnreg.models import Commissioner, ListSize, Practice, System
from pcnreg.services.imports import import_practices

EPRACCUR = "epraccur-2019-12.csv"
# Counts verified from epraccur-2019-12.csv (prescribing setting 4 = GP practice).
GP_PRACTICES = {"04K": 67, "04L": 22, "04E": 33}  # 04K: 51 active, 4 dormant, 12 closed
NOT_GP_ROWS = 14357 - 8204


@pytest.fixture
def nottingham(db) -> System:
    system = System(code="E54000014", name="Nottingham and Nottinghamshire")
    db.session.add(system)
    db.session.flush()
    for code, name in [("04K", "NHS Nottingham City CCG"),
                       ("04L", "NHS Nottingham North and East CCG"),
                       ("04E", "NHS Mansfield and Ashfield CCG")]:
        db.session.add(Commissioner(code=code, name=name, system_id=system.id))
    db.session.commit()
    return system


@pytest.fixture
def cli() -> click.Group:
    group = click.Group("pcnreg")
    group.add_command(import_group)
    return group


@pytest.fixture
def epraccur(geodata) -> Path:
    return geodata / EPRACCUR


@pytest.fixture
def lines(epraccur) -> list[str]:
    """The real file's lines (with their CRLF/LF ends as published)."""
    return epraccur.read_text(encoding="utf-8").splitlines(keepends=True)


def invoke(runner, cli, *args: str):
    return runner.invoke(cli, ["import", *args])


def snapshot(db) -> list[tuple]:
    """Every practice and list size row, to compare before and after a refused import."""
    db.session.expire_all()
    practices = db.session.execute(select(
        Practice.code, Practice.name, Practice.postcode, Practice.commissioner_id,
        Practice.status, Practice.ods_status_code, Practice.open_date, Practice.close_date,
        Practice.latitude, Practice.longitude, Practice.other_codes,
    ).order_by(Practice.code)).all()
    sizes = db.session.execute(select(ListSize.practice_id, ListSize.as_of, ListSize.size)
                               .order_by(ListSize.practice_id, ListSize.as_of)).all()
    return [tuple(r) for r in practices] + [tuple(r) for r in sizes]


def practices_by_commissioner(db) -> dict[str, int]:
    rows = db.session.execute(select(Commissioner.code, Practice.id).join(
        Practice, Practice.commissioner_id == Commissioner.id)).all()
    counts: dict[str, int] = {}
    for code, _ in rows:
        counts[code] = counts.get(code, 0) + 1
    return counts


# --- the real file ---------------------------------------------------------------------------

@pytest.mark.slow
def test_real_file_imports(runner, cli, db, nottingham, epraccur) -> None:
    started = time.perf_counter()
    result = invoke(runner, cli, "practices", str(epraccur))
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    assert f"Imported practices from {EPRACCUR}: 122 added, 0 changed, 0 unchanged." in (
        result.stdout)
    assert f"Skipped {NOT_GP_ROWS} rows: not a GP practice." in result.stdout
    assert f"Skipped {8204 - 122} rows: commissioner not in this instance." in result.stdout
    assert practices_by_commissioner(db) == GP_PRACTICES
    assert elapsed < 10

    albans = db.session.scalars(select(Practice).filter_by(code="C84004")).one()
    assert (albans.name, albans.postcode, albans.commissioner.code) == (
        "ST ALBANS MEDICAL CENTRE", "NG6 8AQ", "04K")
    assert (albans.status, albans.ods_status_code) == ("open", "A")
    assert (albans.open_date, albans.close_date) == (dt.date(1974, 4, 1), None)
    assert albans.latitude is None and albans.other_codes is None

    closed = db.session.scalars(select(Practice).filter_by(code="C84672")).one()
    assert (closed.name, closed.status, closed.ods_status_code, closed.close_date) == (
        "THE DALE SURGERY", "closed", "C", dt.date(2019, 4, 30))
    dormant = db.session.scalars(select(Practice).filter_by(code="C84104")).one()
    assert (dormant.name, dormant.status, dormant.ods_status_code, dormant.close_date) == (
        "GREENFIELDS MEDICAL CENTRE (SHARMA OP)", "closed", "D", None)
    # Names are stored as published (no title-casing), commas included.
    assert db.session.scalars(select(Practice).filter_by(code="C84023")).one().name == (
        "THE UNIV OF NOTTINGHAM HEALTH SERV")


@pytest.mark.slow
def test_reimport_changes_nothing(runner, cli, db, nottingham, epraccur) -> None:
    assert invoke(runner, cli, "practices", str(epraccur)).exit_code == 0
    before = snapshot(db)
    result = invoke(runner, cli, "practices", str(epraccur))
    assert result.exit_code == 0, result.output
    assert "0 added, 0 changed, 122 unchanged." in result.stdout
    assert "Nothing changed." in result.stdout
    assert snapshot(db) == before


@pytest.mark.slow
def test_commissioner_subset(runner, cli, db, nottingham, epraccur) -> None:
    result = invoke(runner, cli, "practices", str(epraccur), "--commissioner", "04K",
                    "--commissioner", "04l")
    assert result.exit_code == 0, result.output
    assert "89 added" in result.stdout
    assert "Skipped 33 rows: commissioner not selected." in result.stdout
    assert practices_by_commissioner(db) == {"04K": 67, "04L": 22}


@pytest.mark.slow
def test_unknown_commissioner_option_is_an_error(runner, cli, db, nottingham, epraccur) -> None:
    result = invoke(runner, cli, "practices", str(epraccur), "--commissioner", "04K",
                    "--commissioner", "99X")
    assert result.exit_code == 1
    assert "field --commissioner: 99X is not in the commissioner table" in result.stderr
    assert "Traceback" not in result.output
    assert snapshot(db) == []


def test_option_and_file_problems_are_reported_together(runner, cli, db, nottingham,
                                                         tmp_path, lines) -> None:
    rows = [corrupt(lines[0], 10, "20190231")] + lines[1:3]
    result = invoke(runner, cli, "practices", str(write(tmp_path, rows)),
                    "--commissioner", "99X")
    assert result.exit_code == 1
    assert "(2 problems)" in result.stderr
    assert "field --commissioner: 99X is not in the commissioner table" in result.stderr
    assert "row 1, field open date (column 11): '20190231' is not a real date" in result.stderr


def test_empty_commissioner_table_is_an_error(runner, cli, db, tmp_path, lines) -> None:
    path = tmp_path / "epraccur.csv"
    path.write_text("".join(lines[:3]), encoding="utf-8")
    result = invoke(runner, cli, "practices", str(path))
    assert result.exit_code == 1
    assert "commissioner table is empty" in result.stderr


# --- small files made from real rows -------------------------------------------------------

def real_rows(lines: list[str], commissioner: str, count: int) -> list[str]:
    """The first ``count`` GP-practice lines of ``commissioner`` in the real file."""
    found = [line for line in lines
             if f',"{commissioner}",' in line and line.rstrip().endswith(',"4",""')]
    return found[:count]


@pytest.fixture
def base(lines) -> list[str]:
    """3 national rows outside the instance, 4 04K practices, 2 04L practices."""
    return lines[:3] + real_rows(lines, "04K", 4) + real_rows(lines, "04L", 2)


def write(tmp_path: Path, rows: list[str], name: str = "epraccur.csv") -> Path:
    path = tmp_path / name
    path.write_bytes("".join(rows).encode("utf-8"))
    return path


def test_update_only_changes_differing_fields_and_keeps_other_sources(
        runner, cli, db, nottingham, tmp_path, base) -> None:
    assert invoke(runner, cli, "practices", str(write(tmp_path, base))).exit_code == 0
    code = base[3][1:7]
    practice = db.session.scalars(select(Practice).filter_by(code=code)).one()
    published = practice.name
    practice.name, practice.latitude, practice.longitude = "OLD NAME", 52.95, -1.15
    practice.other_codes = "C84999"
    db.session.commit()

    result = invoke(runner, cli, "practices", str(write(tmp_path, base)))
    assert result.exit_code == 0, result.output
    assert "0 added, 1 changed, 5 unchanged." in result.stdout
    assert "Skipped 3 rows: commissioner not in this instance." in result.stdout
    db.session.expire_all()
    practice = db.session.scalars(select(Practice).filter_by(code=code)).one()
    assert practice.name == published
    assert (practice.latitude, practice.longitude, practice.other_codes) == (
        52.95, -1.15, "C84999")


def test_crlf_and_bom_accepted(runner, cli, db, nottingham, tmp_path, base) -> None:
    path = tmp_path / "epraccur.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "".join(
        line.rstrip("\r\n") + "\r\n" for line in base).encode("utf-8"))
    result = invoke(runner, cli, "practices", str(path))
    assert result.exit_code == 0, result.output
    assert "6 added" in result.stdout


def corrupt(line: str, column: int, value: str) -> str:
    """``line`` with 0-based ``column`` replaced by ``value`` (quoted as ODS does)."""
    fields = line.rstrip("\r\n").split('","')
    fields[0], fields[-1] = fields[0][1:], fields[-1][:-1]
    assert len(fields) == 27, "real rows used here have no '\",\"' inside a field"
    fields[column] = value.replace('"', '""')
    return '"' + '","'.join(fields) + '"\n'


# (description, function(base rows) -> rows, expected text naming the row and field)
# Line 4 is the first 04K practice; line 1 is the first (national) row of the file.
BAD_CASES = {
    "too few columns": (lambda b: b[:3] + [b[3].rsplit(",", 1)[0] + "\n"] + b[4:],
                        "row 4, field columns: has 26 columns; epraccur rows have 27"),
    "too many columns": (lambda b: [b[0].rstrip() + ',""\n'] + b[1:],
                         "row 1, field columns: has 28 columns"),
    "invalid practice code": (lambda b: b[:4] + [corrupt(b[4], 0, "C8400")] + b[5:],
                              "row 5, field organisation code (column 1): 'C8400' is not a "
                              "valid GP practice code"),
    "empty practice code": (lambda b: b[:4] + [corrupt(b[4], 0, "")] + b[5:],
                            "row 5, field organisation code (column 1): is empty"),
    "duplicate practice code": (lambda b: b + [b[4]],
                                "row 10, field organisation code (column 1): "),
    "impossible open date": (lambda b: b[:5] + [corrupt(b[5], 10, "20190231")] + b[6:],
                             "row 6, field open date (column 11): '20190231' is not a real "
                             "date"),
    "impossible close date": (lambda b: b[:5] + [corrupt(b[5], 11, "2019-12-01")] + b[6:],
                              "row 6, field close date (column 12): '2019-12-01' is not a "
                              "date YYYYMMDD"),
    "close before open": (lambda b: b[:5] + [corrupt(b[5], 11, "19700101")] + b[6:],
                          "row 6, field close date (column 12): 19700101 is before the open "
                          "date"),
    "empty open date": (lambda b: [corrupt(b[0], 10, "")] + b[1:],
                        "row 1, field open date (column 11): is empty"),
    "formula =": (lambda b: b[:6] + [corrupt(b[6], 1, '=HYPERLINK("http://x","y")')] + b[7:],
                  "row 7, field name (column 2): '=HYPERLINK"),
    "formula +": (lambda b: b[:6] + [corrupt(b[6], 1, "+44 SURGERY")] + b[7:],
                  "row 7, field name (column 2): '+44 SURGERY' starts with '+'"),
    "formula -": (lambda b: b[:6] + [corrupt(b[6], 1, "-2+3")] + b[7:],
                  "row 7, field name (column 2): '-2+3' starts with '-'"),
    "formula @": (lambda b: b[:6] + [corrupt(b[6], 1, "@SUM(1+1)")] + b[7:],
                  "row 7, field name (column 2): '@SUM(1+1)' starts with '@'"),
    "formula in a national row": (lambda b: [corrupt(b[0], 1, "=1+1")] + b[1:],
                                  "row 1, field name (column 2): '=1+1' starts with '='"),
    "empty name": (lambda b: b[:6] + [corrupt(b[6], 1, "  ")] + b[7:],
                   "row 7, field name (column 2): is empty"),
    "bad status": (lambda b: b[:7] + [corrupt(b[7], 12, "X")] + b[8:],
                   "row 8, field status code (column 13): 'X' is not a status code"),
    "bad commissioner": (lambda b: b[:7] + [corrupt(b[7], 14, "04KK")] + b[8:],
                         "row 8, field commissioner (column 15): '04KK' is not a valid "
                         "commissioner code"),
    "bad postcode": (lambda b: b[:7] + [corrupt(b[7], 9, "NOT A POSTCODE")] + b[8:],
                     "row 8, field postcode (column 10): 'NOT A POSTCODE' is not a postcode"),
    "non-numeric prescribing setting": (lambda b: b[:8] + [corrupt(b[8], 25, "GP")] + b[9:],
                                        "row 9, field prescribing setting (column 26): 'GP' "
                                        "is not a number"),
    "broken quoting": (lambda b: b[:8] + ['"C84999"x,"A"\n'] + b[9:],
                       "row 9: not valid CSV"),
}


def _bad_file(base: list[str], make) -> list[str]:
    """The corrupted rows, plus a change to a good row and a new practice, so that a partial
    write would show in the database."""
    rows = make(list(base))
    rows[3] = corrupt(rows[3], 1, "RENAMED SURGERY") if rows[3] == base[3] else rows[3]
    return rows


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_file_is_refused_and_changes_nothing(
        runner, cli, db, nottingham, tmp_path, base, case) -> None:
    assert invoke(runner, cli, "practices", str(write(tmp_path, base[:5], "good.csv"))
                  ).exit_code == 0
    before = snapshot(db)
    assert len(before) == 2
    make, expected = BAD_CASES[case]
    result = invoke(runner, cli, "practices", str(write(tmp_path, _bad_file(base, make))))
    assert result.exit_code == 1, result.output
    assert expected in result.stderr, result.stderr
    assert "epraccur.csv: not imported, nothing was changed" in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert snapshot(db) == before


def test_duplicate_code_names_both_rows(runner, cli, db, nottingham, tmp_path, base) -> None:
    result = invoke(runner, cli, "practices", str(write(tmp_path, base + [base[4]])))
    assert result.exit_code == 1
    code = base[4][1:7]
    assert (f"row 10, field organisation code (column 1): {code} is a duplicate: it is also "
            "on row 5") in result.stderr


def test_non_utf8_is_refused(runner, cli, db, nottingham, tmp_path, base) -> None:
    data = "".join(base).encode("utf-8")
    name = base[5].split('","')[1].encode()
    bad = data.replace(name, name[:3] + b"\xe9" + name[4:])
    path = tmp_path / "epraccur.csv"
    path.write_bytes(bad)
    result = invoke(runner, cli, "practices", str(path))
    assert result.exit_code == 1
    assert "row 6, field name (column 2): byte 0xE9" in result.stderr
    offset = bad.index(0xE9)
    assert f"(file offset {offset})" in result.stderr
    assert "not UTF-8" in result.stderr
    assert snapshot(db) == []


@pytest.mark.parametrize("content, expected", [
    (b"", "the file is empty"),
    (b"\r\n\r\n", "the file is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
     "row 3, field organisation code (column 1): the file is binary"),
])
def test_empty_or_binary_file_is_refused(runner, cli, db, nottingham, tmp_path,
                                          content, expected) -> None:
    path = tmp_path / "epraccur.csv"
    path.write_bytes(content)
    result = invoke(runner, cli, "practices", str(path))
    assert result.exit_code == 1
    assert expected in result.stderr
    assert snapshot(db) == []


def test_50_mb_file_is_refused(runner, cli, db, nottingham, tmp_path, base) -> None:
    path = write(tmp_path, base)
    with path.open("r+b") as fh:
        fh.truncate(50 * 1024 * 1024)  # sparse
    result = invoke(runner, cli, "practices", str(path))
    assert result.exit_code == 1
    assert "the file is 50.0 MB (52,428,800 bytes); the limit is 25.0 MB" in result.stderr
    assert snapshot(db) == []


def test_list_size_file_given_as_epraccur(runner, cli, db, nottingham, geodata) -> None:
    result = invoke(runner, cli, "practices", str(geodata / "gp-reg-pat-prac-all-2021-06.csv"))
    assert result.exit_code == 1
    assert "row 1, field columns: has 10 columns; epraccur rows have 27" in result.stderr
    assert "... and 6552 more" in result.stderr  # 6,602 lines, 50 listed
    assert snapshot(db) == []


def test_many_problems_all_collected_and_capped(runner, cli, db, nottingham, tmp_path,
                                                lines) -> None:
    rows = [corrupt(line, 10, "20190231") for line in lines[:60]]
    result = invoke(runner, cli, "practices", str(write(tmp_path, rows)))
    assert result.exit_code == 1
    assert "(60 problems)" in result.stderr
    assert "row 50, field open date" in result.stderr and "row 51," not in result.stderr
    assert "... and 10 more" in result.stderr


# --- transactions ----------------------------------------------------------------------------

def test_database_error_mid_import_writes_nothing(db, nottingham, tmp_path, base,
                                                  monkeypatch) -> None:
    data = "".join(base).encode("utf-8")
    import_practices("".join(base[:4]).encode("utf-8"), source="good.csv")
    before = snapshot(db)
    real_flush = Session.flush

    def flush_then_fail(self, objects=None):
        pending = bool(self.new or self.dirty)
        real_flush(self, objects)  # the rows reach the database inside the transaction...
        if pending:
            raise OperationalError("INSERT INTO practice ...", {}, Exception("disk I/O error"))

    monkeypatch.setattr(Session, "flush", flush_then_fail)
    with pytest.raises(ImportFailed) as exc_info:
        import_practices(data, source="epraccur.csv")
    monkeypatch.undo()
    assert "database error, nothing was written" in str(exc_info.value)
    assert "disk I/O error" in str(exc_info.value)
    assert snapshot(db) == before  # ...and are rolled back


def test_parse_returns_every_row_with_gp_rows_checked(lines) -> None:
    records = parse_epraccur("".join(lines))
    assert len(records) == 14357
    gp = [r for r in records if r.is_gp_practice]
    assert len(gp) == 8204
    assert all(r.status in ("open", "closed") and r.open_date for r in gp)
    larwood = next(r for r in gp if r.code == "C84001")
    assert (larwood.name, larwood.commissioner_code, larwood.postcode, larwood.row) == (
        "LARWOOD SURGERY", "02Q", "S81 0HH", lines.index(next(
            line for line in lines if line.startswith('"C84001"'))) + 1)
