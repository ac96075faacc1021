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


# --- by_file: a reader given a path and options (the boundary layers) ------------------------------------

def _counting_reader():
    calls = []

    @memo.by_file
    def read(path, options: dict) -> Parsed:
        text = path.read_text(encoding="utf-8")
        calls.append((path.name, text))
        if text.startswith("bad"):
            raise ImportFailed([ImportProblem(None, None, "bad file")], source=path.name)
        return Parsed(text, {path.name: len(options)}, sorted(options))

    return read, calls


def test_a_file_is_read_once_per_content_name_and_options(tmp_path):
    read, calls = _counting_reader()
    a = tmp_path / "a.geojson"
    a.write_text("one", encoding="utf-8")
    options = {"layer": "blocks", "keep": {"E01000001", "E01000002"}, "columns": {"code": "X", "name": "Y"}}
    first = read(a, options)
    # equal options in another order, and the path as text: kept
    assert read(str(a), {"columns": {"name": "Y", "code": "X"}, "keep": {"E01000002", "E01000001"},
                         "layer": "blocks"}) == first
    assert calls == [("a.geojson", "one")]
    read(a, {**options, "keep": {"E01000001"}})                      # other options
    (tmp_path / "b.geojson").write_text("one", encoding="utf-8")
    read(tmp_path / "b.geojson", options)                           # same bytes, another name
    a.write_text("two", encoding="utf-8")
    assert read(a, options).name == "two"                           # the file changed
    assert calls == [("a.geojson", "one"), ("a.geojson", "one"), ("b.geojson", "one"), ("a.geojson", "two")]


def test_a_file_with_problems_is_read_and_refused_each_time_and_a_missing_one_is_not_kept(tmp_path):
    read, calls = _counting_reader()
    bad = tmp_path / "bad.geojson"
    bad.write_text("bad", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(ImportFailed):
            read(bad, {})
    assert calls == [("bad.geojson", "bad"), ("bad.geojson", "bad")]
    for _ in range(2):
        with pytest.raises(FileNotFoundError):
            read(tmp_path / "missing.geojson", {})


def test_by_file_gives_each_caller_a_copy_and_keeps_at_most_kept(tmp_path):
    read, calls = _counting_reader()
    paths = []
    for n in range(memo.KEPT + 1):
        paths.append(tmp_path / f"{n}.geojson")
        paths[-1].write_text(str(n), encoding="utf-8")
    first = read(paths[0], {"x": 1})
    first.order.append("changed")
    assert read(paths[0], {"x": 1}).order == ["x"]
    for path in paths[1:]:
        read(path, {"x": 1})
    read(paths[0], {"x": 1})                                        # the oldest was dropped
    assert [name for name, _ in calls] == [p.name for p in paths] + [paths[0].name]


def test_a_boundary_layer_read_again_is_a_copy_of_the_kept_frame(geodata):
    from pcnreg.importers.geodata import read_layer

    path = geodata / "lad19-nottinghamshire.geojson"
    source = {"layer": "local_authorities", "format": "geojson", "columns": {"code": "LAD19CD", "name": "LAD19NM"}}
    first = read_layer(path, source)
    first["name"] = "changed"
    first.attrs.setdefault("notes", []).append("a caller's note")
    again = read_layer(path, dict(source))
    fresh_read = read_layer.uncached(path, source)
    assert again is not first and list(again["name"]) == list(fresh_read["name"]) != ["changed"] * len(again)
    assert again.attrs == fresh_read.attrs and "a caller's note" not in again.attrs.get("notes", [])
    assert again.crs == fresh_read.crs and list(again["code"]) == list(fresh_read["code"])
    assert all(a.equals(b) for a, b in zip(again.geometry.values, fresh_read.geometry.values, strict=True))
    # kept, not read again: the geometries are the very objects of the first read
    assert all(a is b for a, b in zip(again.geometry.values, read_layer(path, source).geometry.values, strict=True))
