"""Unit tests of the database-free CSV helpers."""
from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from pcnreg.importers.csvio import (
    ImportFailed,
    ImportProblem,
    check_text,
    decode,
    neutralise,
    parse_extract_date,
    parse_whole_number,
    parse_yyyymmdd,
    write_csv,
)


def problem_of(exc_info: pytest.ExceptionInfo[ImportFailed]) -> ImportProblem:
    assert len(exc_info.value.problems) == 1
    return exc_info.value.problems[0]


# --- neutralise / write_csv ----------------------------------------------------------------

@pytest.mark.parametrize("value", ["=1+1", "+44 115", "-2", "@SUM(A1)", "\tx", "\rx",
                                   '=HYPERLINK("http://evil","click")'])
def test_neutralise_prefixes_formula_starts(value: str) -> None:
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["", "LARWOOD SURGERY", "C84001", "1=1", "a-b", "'quoted"])
def test_neutralise_leaves_other_values(value: str) -> None:
    assert neutralise(value) == value


def test_write_csv_neutralises_every_text_cell_and_round_trips() -> None:
    text = write_csv([["=cmd|' /C calc'!A0", "@x", None, -5, 3.5], ["ok", "+1", "", 0, 1]],
                     header=["name", "-h", "c", "n", "f"])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [
        ["name", "'-h", "c", "n", "f"],
        ["'=cmd|' /C calc'!A0", "'@x", "", "-5", "3.5"],
        ["ok", "'+1", "", "0", "1"],
    ]


# --- decode ------------------------------------------------------------------------------

def test_decode_strips_bom_and_keeps_crlf() -> None:
    assert decode(b"\xef\xbb\xbfa,b\r\n1,2\r\n", 100) == "a,b\r\n1,2\r\n"


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"  \r\n\n"])
def test_decode_rejects_empty(data: bytes) -> None:
    with pytest.raises(ImportFailed) as exc_info:
        decode(data, 100)
    assert "empty" in str(exc_info.value)


def test_decode_rejects_too_big_saying_size_and_limit() -> None:
    with pytest.raises(ImportFailed) as exc_info:
        decode(b"x" * 3 * 1024 * 1024, 2 * 1024 * 1024)
    message = str(exc_info.value)
    assert "3.0 MB" in message and "limit is 2.0 MB" in message


def test_decode_rejects_binary_naming_line() -> None:
    with pytest.raises(ImportFailed) as exc_info:
        decode(b"a,b\n1,\x002\n", 100, header=True)
    problem = problem_of(exc_info)
    assert (problem.row, problem.field) == (2, "b")
    assert "binary" in problem.message


def test_decode_rejects_non_utf8_naming_line_field_and_offset() -> None:
    data = "NAME,POSTCODE\nok,NG1 1AA\nCAF\u00c9,NG7 2QW\n".encode("latin-1")
    with pytest.raises(ImportFailed) as exc_info:
        decode(data, 1000, header=True)
    problem = problem_of(exc_info)
    assert (problem.row, problem.field) == (3, "NAME")
    assert "0xC9" in problem.message and f"file offset {data.index(0xC9)}" in problem.message
    assert str(problem).startswith("row 3, field NAME: ")


def test_decode_does_not_name_fields_after_a_broken_header() -> None:
    with pytest.raises(ImportFailed) as exc_info:
        decode(b"\x1b[31m,\x00", 100, header=True)
    assert (problem_of(exc_info).row, problem_of(exc_info).field) == (1, "column 2")


def test_decode_names_field_from_columns_and_handles_quoted_commas() -> None:
    data = b'"a,b","x\xff"\n'
    with pytest.raises(ImportFailed) as exc_info:
        decode(data, 1000, columns=["first", "second"])
    assert problem_of(exc_info).field == "second"


# --- ImportProblem / ImportFailed ----------------------------------------------------------

def test_problem_str() -> None:
    assert str(ImportProblem(12, "NUMBER_OF_PATIENTS", "'abc' is not a whole number")) == (
        "row 12, field NUMBER_OF_PATIENTS: 'abc' is not a whole number")
    assert str(ImportProblem(None, None, "the file is empty")) == "the file is empty"


def test_failed_caps_listed_problems() -> None:
    failed = ImportFailed([ImportProblem(i, "F", "bad") for i in range(1, 61)], source="f.csv")
    text = str(failed)
    assert text.startswith("f.csv: not imported, nothing was changed (60 problems)")
    assert "row 50, field F" in text and "row 51," not in text
    assert text.endswith("... and 10 more")


# --- field checks --------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["=SUM(A1)", "+1", "-1", "@me"])
def test_check_text_rejects_formula_injection(value: str) -> None:
    problems: list[ImportProblem] = []
    check_text(value, 4, "name", problems)
    assert len(problems) == 1 and problems[0].row == 4 and "formula" in problems[0].message


def test_check_text_accepts_and_strips_plain_names() -> None:
    problems: list[ImportProblem] = []
    assert check_text("  ST. ALBANS (DR X) - BULWELL ", 1, "name", problems) == (
        "ST. ALBANS (DR X) - BULWELL")
    assert problems == []


def test_parse_yyyymmdd() -> None:
    problems: list[ImportProblem] = []
    assert parse_yyyymmdd("19740401", 1, "open date", problems) == dt.date(1974, 4, 1)
    assert parse_yyyymmdd("", 1, "close date", problems) is None
    assert problems == []
    assert parse_yyyymmdd("20190231", 2, "open date", problems) is None
    assert parse_yyyymmdd("2019-02-01", 3, "open date", problems) is None
    assert parse_yyyymmdd("", 4, "open date", problems, required=True) is None
    assert [(p.row, p.message) for p in problems] == [
        (2, "'20190231' is not a real date"),
        (3, "'2019-02-01' is not a date YYYYMMDD"),
        (4, "is empty; a date YYYYMMDD is needed"),
    ]


def test_parse_extract_date() -> None:
    problems: list[ImportProblem] = []
    assert parse_extract_date("01Jun2021", 2, "EXTRACT_DATE", problems) == dt.date(2021, 6, 1)
    assert parse_extract_date("1SEP2020", 2, "EXTRACT_DATE", problems) == dt.date(2020, 9, 1)
    assert parse_extract_date("2026-04-01", 2, "EXTRACT_DATE", problems) == dt.date(2026, 4, 1)   # later releases
    assert problems == []
    for value in ("31Feb2021", "01Jux2021", "01/06/2021", ""):
        assert parse_extract_date(value, 3, "EXTRACT_DATE", problems) is None
    assert len(problems) == 4 and "not a real date" in problems[0].message


@pytest.mark.parametrize("value, message", [
    ("abc", "'abc' is not a whole number"), ("-5", "'-5' is negative"),
    ("", "is empty; a whole number is needed"), ("12.5", "'12.5' is not a whole number"),
    ("\u0661\u0662", "is not a whole number"),
])
def test_parse_whole_number_problems(value: str, message: str) -> None:
    problems: list[ImportProblem] = []
    assert parse_whole_number(value, 7, "NUMBER_OF_PATIENTS", problems) is None
    assert message in problems[0].message


def test_parse_whole_number_ok() -> None:
    assert parse_whole_number(" 7281 ", 1, "N", []) == 7281
