"""`pcnreg election count BALLOTS.csv --method …`: reading the ballot file, counting, printing."""
from __future__ import annotations

import json

import pytest


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def write(tmp_path):
    def write(text: str, name: str = "ballots.csv", bom: bool = False) -> str:
        path = tmp_path / name
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
        return str(path)
    return write


def run(runner, path: str, *args: str):
    return runner.invoke(args=["election", "count", path, *args])


def counted(runner, path: str, *args: str) -> dict:
    result = run(runner, path, "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def refused(runner, path: str, *args: str) -> str:
    result = run(runner, path, *args)
    assert result.exit_code == 1, result.output
    assert "Winner" not in result.output and "{" not in result.output          # nothing counted
    return result.output


# Wikipedia's Tennessee capital example ("Instant-runoff voting"), the shares of the vote as
# weights; see tests/domain/test_counting.py.
TENNESSEE = """weight,pref1,pref2,pref3,pref4
42,Memphis,Nashville,Chattanooga,Knoxville
26,Nashville,Chattanooga,Knoxville,Memphis
15,Chattanooga,Knoxville,Nashville,Memphis
17,Knoxville,Chattanooga,Nashville,Memphis
"""

# six practices; blanks after the last preference. By hand:
#   plurality: Okafor 3, Patel 2, Quinn 1 -> Okafor
#   weighted:  Okafor 4,000 + 5,000 + 3,000 = 12,000; Patel 9,000 + 8,000 = 17,000; Quinn 2,000
#   irv (weighted): 31,000 in all, a majority is above 15,500: Patel 17,000 wins in round 1
PRACTICES = """pref1,pref2,pref3,weight
Okafor,Patel,,4000
Patel,,,9000
Okafor,,,5000
Quinn,Okafor,Patel,2000
Patel,Okafor,,8000
Okafor,Quinn,,3000
"""

# unweighted alternative vote, by hand: round 1 Okafor 2, Patel 2, Quinn 1 of 5 -> Quinn out;
# Quinn's ballot goes to Patel: round 2 Patel 3, Okafor 2 -> Patel wins; no ballot is
# exhausted (Quinn's voter gave a second preference).
IRV = """pref1,pref2
Okafor,
Okafor,Patel
Patel,
Patel,Quinn
Quinn,Patel
"""


def test_irv_published_example_json(runner, write):
    out = counted(runner, write(TENNESSEE), "--method", "irv")
    assert out == {
        "method": "irv",
        "rounds": [
            {"tallies": {"Memphis": 42, "Nashville": 26, "Knoxville": 17, "Chattanooga": 15},
             "eliminated": "Chattanooga", "tie_break": None},
            {"tallies": {"Memphis": 42, "Knoxville": 32, "Nashville": 26},
             "eliminated": "Nashville", "tie_break": None},
            {"tallies": {"Knoxville": 58, "Memphis": 42}, "eliminated": None, "tie_break": None},
        ],
        "winner": "Knoxville",
        "exhausted": 0,
    }


def test_irv_text_prints_every_round(runner, write):
    result = run(runner, write(TENNESSEE), "--method", "irv")
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.output.splitlines()]
    assert ["Round", "1"] in lines and ["Round", "3"] in lines
    assert ["eliminated:", "Chattanooga"] in lines and ["eliminated:", "Nashville"] in lines
    assert ["Knoxville", "58"] in lines and lines[-1] == ["Winner:", "Knoxville"]
    text = result.output
    assert text.index("Memphis      42") < text.index("Nashville    26") < text.index("Knoxville    17") \
        < text.index("Chattanooga  15")                                    # by votes


def test_plurality_weighted_and_irv_of_one_file(runner, write):
    path = write(PRACTICES)
    plurality = counted(runner, path, "--method", "plurality")
    assert plurality["rounds"] == [{"tallies": {"Okafor": 3, "Patel": 2, "Quinn": 1},
                                    "eliminated": None, "tie_break": None}]
    assert plurality["winner"] == "Okafor" and plurality["method"] == "plurality"
    weighted = counted(runner, path, "--method", "weighted")
    assert weighted["rounds"][0]["tallies"] == {"Patel": 17_000, "Okafor": 12_000, "Quinn": 2_000}
    assert weighted["winner"] == "Patel"
    irv = counted(runner, path, "--method", "irv")
    assert len(irv["rounds"]) == 1 and irv["winner"] == "Patel"
    text = run(runner, path, "--method", "plurality").output
    assert "Weights: not used (one practice, one vote)" in text and text.rstrip().endswith("Winner: Okafor")


def test_unweighted_irv_with_blanks_after_the_last_preference(runner, write):
    out = counted(runner, write(IRV), "--method", "irv")
    assert [r["tallies"] for r in out["rounds"]] == [{"Okafor": 2, "Patel": 2, "Quinn": 1},
                                                      {"Patel": 3, "Okafor": 2}]
    assert [r["eliminated"] for r in out["rounds"]] == ["Quinn", None]
    assert out["winner"] == "Patel" and out["exhausted"] == 0


def test_exhausted_ballots_and_listed_candidates(runner, write):
    path = write("pref1,pref2\nA,\nA,\nB,\nC,\nD,C\n")
    out = counted(runner, path, "--method", "irv", "--candidates", "A,B,C,D,E",
                  "--lots", "E,D,C,B,A", "--performed-by", "R. Officer", "--witness", "W. Itness")
    # round 1: A 2, B 1, C 1, D 1, E 0 of 5 -> E out (nobody voted for E, listed all the same)
    # round 2: B, C, D tie at 1: B drawn last of the three, out; its ballot is exhausted
    # round 3: A 2, C 1, D 1 of 4 -> C and D tie, C drawn after D: out; C's ballot exhausted
    # round 4: A 2, D 1 of 3 -> A has more than half
    assert [r["tallies"] for r in out["rounds"]] == [
        {"A": 2, "B": 1, "C": 1, "D": 1, "E": 0}, {"A": 2, "B": 1, "C": 1, "D": 1},
        {"A": 2, "C": 1, "D": 1}, {"A": 2, "D": 1}]
    assert [r["eliminated"] for r in out["rounds"]] == ["E", "B", "C", None]
    assert out["rounds"][1]["tie_break"]["tied"] == ["B", "C", "D"]
    assert out["rounds"][1]["tie_break"]["outcome"] == "B"
    assert out["winner"] == "A" and out["exhausted"] == 2
    text = run(runner, path, "--method", "irv", "--candidates", "A,B,C,D,E", "--lots", "E,D,C,B,A",
               "--performed-by", "R. Officer", "--witness", "W. Itness").output
    assert "exhausted  2" in text and "draw of lots (order E, D, C, B, A)" in text


def test_utf8_with_bom_and_non_ascii_names(runner, write):
    out = counted(runner, write("pref1,pref2\nSiân Ó Briain,Zoë\nZoë,\nSiân Ó Briain,\n", bom=True),
                  "--method", "plurality")
    assert out["rounds"][0]["tallies"] == {"Siân Ó Briain": 2, "Zoë": 1}
    assert out["winner"] == "Siân Ó Briain"


# --- ties ---------------------------------------------------------------------------------

TIE = "pref1,pref2\nA,\nB,A\nA,B\nB,\nC,B\n"          # plurality: A 2, B 2, C 1


def test_a_tie_without_a_rule_is_refused(runner, write):
    out = refused(runner, write(TIE), "--method", "plurality")
    assert "a tie needs --seed or --lots" in out and "fixed before the count" in out
    assert "A, B" in out


def test_a_tie_by_seed(runner, write):
    out = counted(runner, write(TIE), "--method", "plurality", "--seed", "LMC 2019")
    decision = out["rounds"][0]["tie_break"]
    # sha256("LMC 2019:1:A") = 3456f899… ranks before sha256("LMC 2019:1:B") = abb8d962…
    assert decision["method"] == "seeded_draw" and decision["tied"] == ["A", "B"]
    assert decision["outcome"] == "A" and decision["seed"] == "LMC 2019" and out["winner"] == "A"
    text = run(runner, write(TIE), "--method", "plurality", "--seed", "LMC 2019").output
    assert "tie for first place between A, B; by seeded draw" in text and "A wins" in text


def test_a_tie_by_lots(runner, write):
    out = counted(runner, write(TIE), "--method", "plurality", "--lots", "C,B,A",
                  "--performed-by", "R. Officer", "--witness", "W. Itness")
    decision = out["rounds"][0]["tie_break"]
    assert decision["method"] == "draw_of_lots" and decision["outcome"] == "B"
    assert decision["performed_by"] == "R. Officer" and decision["witness"] == "W. Itness"
    assert out["winner"] == "B"


@pytest.mark.parametrize("args,message", [
    (["--seed", "x", "--lots", "A,B,C", "--performed-by", "R", "--witness", "W"], "not both"),
    (["--lots", "A,B,C"], "--lots needs --performed-by and --witness"),
    (["--seed", "x", "--witness", "W"], "go with --lots"),
    (["--lots", "A,B,B", "--performed-by", "R", "--witness", "W"], "B named twice"),
    (["--candidates", "A,,B"], "none blank"),
])
def test_bad_tie_break_options(runner, write, args, message):
    result = run(runner, write(TIE), "--method", "plurality", *args)
    assert result.exit_code == 2 and message in result.output


def test_lots_must_name_every_candidate(runner, write):
    out = refused(runner, write(TIE), "--method", "plurality", "--lots", "A,B",
                  "--performed-by", "R. Officer", "--witness", "W. Itness")
    assert "must name every candidate" in out and "missing C" in out


# --- malformed files: refused with row and field (pcnreg.importers.ballots), exit status 1 --------------------------

@pytest.mark.parametrize("text,message", [
    ("", "the file is empty"),
    ("\n\n", "the file is empty"),
    ("pref1,pref2\n", "no ballots (only the header row)"),
    ("first,second\nA,B\n", "row 1, field column 1: 'first' is not a ballot column"),
    ("pref1,practice\nA,X\n", "row 1, field column 2: 'practice' is not a ballot column"),
    ("weight,votes\n1,A\n", "row 1, field column 2: 'votes' is not a ballot column"),
    ("weight\n1\n", "row 1: no pref1 column"),
    ("pref1,pref3\nA,B\n", "row 1: there is pref3 but no pref2"),
    ("pref1,pref1\nA,B\n", "row 1, field column 2: a second 'pref1' column"),
    ("pref1,,pref2\nA,,B\n", "row 1, field column 2: no column name"),
    ("pref1,pref2,pref3\nA,B,C\nB,C,\nA,B,\nC,,\nA,,B\n", "row 6, field pref3: pref2 is blank but pref3 is not"),
    ("pref1,pref2\nA,B\n,B\n", "row 3, field pref2: pref1 is blank but pref2 is not"),
    ("pref1,pref2\nA,B\n,\n", "row 3, field pref1: blank (an empty ballot)"),
    ("pref1,pref2,pref3\nA,B,A\n", "row 2, field pref3: 'A' again (already pref1)"),
    ("weight,pref1\n100,A\nlots,B\n", "row 3, field weight: 'lots' is not a positive whole number"),
    ("weight,pref1\n0,A\n", "row 2, field weight: '0' is not a positive whole number"),
    ("weight,pref1\n-5,A\n", "row 2, field weight: '-5' is not a positive whole number"),
    ("weight,pref1\n12.5,A\n", "row 2, field weight: '12.5' is not a positive whole number"),
    ("weight,pref1\n,A\n", "row 2, field weight: blank"),
    ("pref1,pref2\nA,B,C\n", "row 2: 3 values but the header has 2 columns"),
    ('pref1\n"A\n', "not valid CSV"),
])
def test_malformed_files_are_refused(runner, write, text, message):
    out = refused(runner, write(text), "--method", "irv", "--seed", "x")
    assert message in out


def test_not_utf8_is_refused(runner, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("pref1\nSiân\n".encode("latin-1"))
    assert "not UTF-8" in refused(runner, str(path), "--method", "irv")


def test_a_withdrawn_candidate_is_refused_with_the_row(runner, write):
    out = refused(runner, write("pref1,pref2\nA,B\nB,C\n"), "--method", "irv", "--candidates", "A,B")
    assert "row 3, field pref2: 'C' is not a candidate (candidates: A, B)" in out


def test_usage_errors(runner, write, tmp_path):
    assert run(runner, write(TIE)).exit_code == 2                                  # no --method
    assert run(runner, write(TIE), "--method", "stv").exit_code == 2
    assert run(runner, str(tmp_path / "missing.csv"), "--method", "irv").exit_code == 2


def test_every_problem_of_a_file_is_listed(runner, write):
    """Not only the first: each bad row, each bad field, in file order (nothing is counted)."""
    out = refused(runner, write("weight,pref1,pref2\n100,A,B\nlots,B,B\n5,,A\n7,C,D\n"), "--method", "irv",
                  "--candidates", "A,B,C")
    assert "ballots.csv: not counted (4 problems):" in out
    lines = [line.strip() for line in out.splitlines() if line.startswith("  row")]
    assert lines == [
        "row 3, field weight: 'lots' is not a positive whole number",
        "row 3, field pref2: 'B' again (already pref1)",
        "row 4, field pref2: pref1 is blank but pref2 is not",
        "row 5, field pref2: 'D' is not a candidate (candidates: A, B, C)",
    ]
