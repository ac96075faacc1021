"""pcnreg.importers.ballots: the ballot file of a Clinical Director election, read without a
database; every problem is reported with its row and field, like the other importers."""
from __future__ import annotations

import pytest

from pcnreg.domain.counting import Ballot
from pcnreg.importers.ballots import parse_ballots
from pcnreg.importers.csvio import ImportFailed, ImportProblem


def problems(text: str | bytes, candidates=None) -> list[ImportProblem]:
    data = text.encode("utf-8") if isinstance(text, str) else text
    with pytest.raises(ImportFailed) as caught:
        parse_ballots(data, candidates)
    return caught.value.problems


def test_a_sound_file_with_weights_blanks_bom_and_empty_lines():
    data = b"\xef\xbb\xbf" + b"Weight, PREF1 ,pref2,pref3\r\n4000,Okafor,Patel,\r\n\r\n9000, Patel ,,\r\n"
    bf = parse_ballots(data)
    assert bf.ballots == [Ballot(("Okafor", "Patel"), 4000), Ballot(("Patel",), 9000)]
    assert bf.rows == [2, 4]                      # line numbers in the file, the header is row 1
    assert bf.names == ["Okafor", "Patel"]
    assert bf.weighted


def test_without_a_weight_column_every_ballot_weighs_one():
    bf = parse_ballots(b"pref1\nA\nB\n", ("A", "B", "C"))
    assert [b.weight for b in bf.ballots] == [1, 1] and not bf.weighted and bf.names == ["A", "B"]


def test_every_header_problem_is_listed_and_the_rows_are_not_read():
    found = problems("first,pref3,pref3,,weight,WEIGHT\n1,2,3,4,5,6\n")
    assert found == [
        ImportProblem(1, "column 1", "'first' is not a ballot column (the header must be pref1, pref2, … "
                                     "and optionally weight)"),
        ImportProblem(1, "column 3", "a second 'pref3' column"),
        ImportProblem(1, "column 4", "no column name (the header must be pref1, pref2, … and optionally weight)"),
        ImportProblem(1, "column 6", "a second 'weight' column"),
        ImportProblem(1, None, "there is pref3 but no pref1"),
    ]


def test_every_row_problem_is_listed_in_file_order():
    text = ("weight,pref1,pref2,pref3\n"
            "10,A,B,C\n"          # sound
            "0,A,,B\n"            # row 3: weight, and a gap
            ",,,\n"               # row 4: blank weight, empty ballot
            "5,B,B,Z\n"           # row 5: repeat, not a candidate
            "5,A,B,C,D\n")        # row 6: too many values
    assert problems(text, ("A", "B", "C")) == [
        ImportProblem(3, "weight", "'0' is not a positive whole number"),
        ImportProblem(3, "pref3", "pref2 is blank but pref3 is not"),
        ImportProblem(4, "weight", "blank (give the practice's list size)"),
        ImportProblem(4, "pref1", "blank (an empty ballot)"),
        ImportProblem(5, "pref2", "'B' again (already pref1)"),
        ImportProblem(5, "pref3", "'Z' is not a candidate (candidates: A, B, C)"),
        ImportProblem(6, None, "5 values but the header has 4 columns"),
    ]


def test_problems_before_broken_csv_are_kept():
    found = problems('pref1,weight\nA,x\n"B\n')
    assert found[0] == ImportProblem(2, "weight", "'x' is not a positive whole number")
    assert found[1].row == 3 and "not valid CSV" in found[1].message and len(found) == 2


@pytest.mark.parametrize("data, expected", [
    (b"", "the file is empty"),
    (b"\n \n", "the file is empty"),
    (b"pref1,pref2\n", "no ballots (only the header row)"),
    (b"weight\n1\n", "no pref1 column"),
    (b" , \nA\n", "blank; the first row must be the header"),
])
def test_files_without_ballots(data, expected):
    found = problems(data)
    assert len(found) == 1 and expected in found[0].message


def test_not_utf8_names_the_row_and_field():
    found = problems("pref1,pref2\nA,Siân\n".encode("latin-1"))
    assert len(found) == 1 and (found[0].row, found[0].field) == (2, "pref2") and "not UTF-8" in found[0].message
