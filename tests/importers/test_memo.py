"""importers.memo: national files parsed once per content, each caller with its own containers."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from pcnreg.importers import memo
from pcnreg.importers.csvio import ImportFailed, ImportProblem
from pcnreg.importers.epraccur import parse_epraccur
from pcnreg.importers.organisations import read_areas


@pytest.fixture(autouse=True)
def _forget():
    memo.forget()
    yield
    memo.forget()


@dataclass
class Parsed:
    name: str
    rows: dict[str, int] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)


def _counting():
    calls = []

    @memo.by_content
    def parse(text: str) -> Parsed:
        calls.append(text)
        if text.startswith("bad"):
            raise ImportFailed([ImportProblem(1, "name", "bad file")])
        return Parsed(text, {text: 1}, [text])

    return parse, calls


def test_the_same_text_is_parsed_once_and_another_text_again():
    parse, calls = _counting()
    assert parse("a") == parse("a") == Parsed("a", {"a": 1}, ["a"])
    parse("b")
    assert calls == ["a", "b"]


def test_what_a_caller_does_to_its_result_does_not_reach_the_next():
    parse, _ = _counting()
    first = parse("a")
    first.rows["x"] = 2
    first.order.append("y")
    assert parse("a") == Parsed("a", {"a": 1}, ["a"])


def test_a_file_with_problems_is_parsed_and_refused_each_time():
    parse, calls = _counting()
    for _ in range(2):
        with pytest.raises(ImportFailed):
            parse("bad")
    assert calls == ["bad", "bad"]


def test_only_the_last_results_are_kept():
    parse, calls = _counting()
    texts = [str(n) for n in range(memo.KEPT + 1)]
    for text in texts:
        parse(text)
    parse(texts[-1])                 # kept
    parse(texts[0])                  # the oldest was dropped: parsed again
    assert calls == [*texts, texts[0]]


def test_epraccur_parsed_again_gives_the_same_records_in_a_new_list(geodata):
    text = (geodata / "epraccur-2019-12.csv").read_text(encoding="utf-8")
    first, second = parse_epraccur(text), parse_epraccur(text)
    assert first is not second and first == second == parse_epraccur.uncached(text)
    assert all(a is b for a, b in zip(first, second, strict=True))      # not parsed again
    first.clear()
    assert parse_epraccur(text) == second


def test_an_areas_lookup_gives_each_caller_its_own_dicts():
    text = ("LSOA11CD,LSOA11NM,CCG19CD,CCG19CDH,CCG19NM,LAD19CD,LAD19NM\n"
            "E01000001,City of London 001A,E38000255,07L,NHS City,E09000001,City of London\n")
    first = read_areas(text)
    first.lsoas.clear()
    first.local_authorities["X"] = "changed"
    again = read_areas(text)
    assert again.lsoas == {"E01000001": ("07L", "E09000001")} and "X" not in again.local_authorities
