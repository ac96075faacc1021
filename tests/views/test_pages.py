"""The pages, through the test client, on the 2019 Nottinghamshire demo (no geodata).

Reading pages here; changes (move, create, rename, merge, split, exception, restore) in
test_pages_edits.py; CSRF in test_pages_csrf.py.
"""
from __future__ import annotations

import csv
import html
import io
import re

import pytest
from sqlalchemy import func, select

from pcnreg.extensions import db as _db
from pcnreg.models import ConfigVersion, Membership, Pcn, Practice, RegistrationRound


def visible(response) -> str:
    """The text a reader sees: tags removed, entities decoded, spaces collapsed."""
    text = response.get_data(as_text=True)
    text = re.sub(r"<(script|style|svg)\b.*?</\1>", " ", text, flags=re.S)
    text = re.sub(r'<span class="nhsuk-table__heading" aria-hidden="true">.*?</span>', " ", text, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


def pcn_id(name: str) -> int:
    return _db.session.scalar(select(Pcn.id).where(Pcn.name == name))


def counts() -> tuple[int, int]:
    return (_db.session.scalar(select(func.count()).select_from(ConfigVersion)),
            _db.session.scalar(select(func.count()).select_from(Membership)))


@pytest.fixture
def demo(app, demo_round):
    return _db.session.scalar(select(RegistrationRound))


@pytest.fixture
def rid(demo) -> int:
    return demo.id


# --- the round's pages -------------------------------------------------------------------------------

def test_index_without_a_round_says_how_to_load_the_demo(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "No registration round yet" in visible(response)
    assert "pcnreg demo" in visible(response)


def test_index_is_the_administrators_home_with_the_rounds(client, rid):
    # issue #16: the home page is the user's tasks (tests/views/test_home.py), not a redirect
    response = client.get("/")
    assert response.status_code == 200
    assert "Your tasks" in visible(response) and f'href="/rounds/{rid}"' in response.get_data(as_text=True)


def test_dashboard_shows_the_summary_and_pcns_by_place(client, rid):
    response = client.get(f"/rounds/{rid}")
    assert response.status_code == 200
    text = visible(response)
    assert "Nottingham and Nottinghamshire 2019/20" in text
    # system summary: coverage, patients, PCNs in band / above, warnings, complete
    assert "135 of 135 open practices (100.0%)" in text
    assert "1,092,110 of 1,092,110 registered patients (100.0%)" in text
    assert "13 PCNs in band, 0 below band, 9 above band" in text
    assert "0 errors and 9 warnings" in text
    assert "grouping complete" in text and "not complete" not in text
    # each place and each commissioner
    for place in ("Mid Nottinghamshire", "Nottingham City", "South Nottinghamshire"):
        assert place in text
    assert "NHS Rushcliffe CCG 12 of 12 (100.0%) 127,873 of 127,873 (100.0%) 3 in band, 0 below, 0 above" in text
    # a PCN row: name links to its page, members, total with separators, band tag
    assert "Newark 7 75,817 above band 0 1" in text
    assert "Ashfield South 8 38,336 in band 0 0" in text
    body = response.get_data(as_text=True)
    assert f'href="/rounds/{rid}/pcns/{pcn_id("Newark")}"' in body
    assert 'nhsuk-tag nhsuk-tag--orange' in body
    # key dates and band
    assert "30,000 to 50,000 registered patients" in text
    assert "23 May 2019" in text and "1 July 2019" in text


def test_navigation_links_the_round_pages_and_marks_the_current_one(client, rid):
    body = client.get(f"/rounds/{rid}/findings").get_data(as_text=True)
    for path in ("", "/practices", "/findings", "/versions"):
        assert f'href="/rounds/{rid}{path}"' in body
    assert re.search(r'href="/rounds/\d+/findings"\s+aria-current="page"', body)
    assert 'href="/about"' in body
    if "imports.upload" in client.application.view_functions:     # the Import page, when it is there
        assert 'href="/import"' in body


@pytest.mark.parametrize("path", [
    "", "/practices", "/findings", "/versions", "/compare", "/pcns/new",
    "/pcns/{pcn}", "/pcns/{pcn}/rename", "/pcns/{pcn}/merge", "/pcns/{pcn}/split",
    "/move?codes=C84693&to={pcn}", "/versions/1/restore",
])
def test_every_page_renders(client, rid, path):
    url = f"/rounds/{rid}" + path.format(pcn=pcn_id("Newark"))
    response = client.get(url)
    assert response.status_code == 200, url
    assert "<h1" in response.get_data(as_text=True)


def test_about_gives_the_sources_and_attribution(client):
    text = visible(client.get("/about"))
    assert "Contains public sector information licensed under the Open Government Licence v3.0" in text
    assert "Source: Office for National Statistics licensed under the Open Government Licence v.3.0" in text
    assert "Contains OS data © Crown copyright and database right" in text
    assert "ICS Board paper of 9 May 2019, Paper H" in text


def test_pcn_page_shows_members_total_findings_and_dates(client, rid):
    response = client.get(f"/rounds/{rid}/pcns/{pcn_id('Nottingham City PCN 6')}")
    assert response.status_code == 200
    text = visible(response)
    assert "Nottingham City PCN 6" in text
    assert "66,474 registered patients in 8 practices" in text
    for code, name in (("C84693", "Bakersfield Medical Centre"), ("C84018", "Family Medical Centre"),
                       ("Y02847", "NEMS – Platform One Practice"), ("C84683", "Windmill Practice")):
        assert code in text and name in text
    assert "above band" in text
    assert "above the maximum of 50,000" in text          # its finding
    assert "Submission deadline 15 May 2019" in text
    assert "Reason for the exception" in text


def test_pages_escape_what_users_typed(client, rid):
    client.post(f"/rounds/{rid}/pcns/{pcn_id('Newark')}/rename", data={
        "name": "<script>alert(1)</script> Newark", "author": "A", "reason": "B"})
    body = client.get(f"/rounds/{rid}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Newark" in body


# --- practice list -------------------------------------------------------------------------------------

def _practice_codes(response) -> list[str]:
    return re.findall(r'name="codes" type="checkbox" value="([A-Z0-9]+)"', response.get_data(as_text=True))


def test_practice_list_lists_every_practice_50_to_a_page(client, rid):
    pages = [client.get(f"/rounds/{rid}/practices", query_string={"page": n}) for n in (1, 2, 3)]
    assert all(p.status_code == 200 for p in pages)
    codes = [c for p in pages for c in _practice_codes(p)]
    assert [len(_practice_codes(p)) for p in pages] == [50, 50, 35]
    assert len(set(codes)) == 135
    assert "Showing 1 to 50 of 135 practices" in visible(pages[0])
    assert "Showing 101 to 135 of 135 practices" in visible(pages[2])
    assert len(pages[0].data) < 150_000            # was 250 KB for all 135 rows
    # The move control comes before the list.
    text = pages[0].get_data(as_text=True)
    assert text.index("Preview the move") < text.index('name="codes"')


def test_practice_list_has_tick_boxes_only_for_someone_who_may_move_practices(app, client, rid):
    from conftest import make_user

    viewer = make_user("viewer.list@nhs.example", [("viewer", "all", None)])
    for _ in range(2):                    # the second time from the kept table
        seen = app.test_client(user=viewer).get(f"/rounds/{rid}/practices")
        assert seen.status_code == 200 and "C84067" in visible(seen)
        assert _practice_codes(seen) == [] and "Preview the move" not in visible(seen)
        assert "Choose" not in visible(seen)                    # no empty tick-box column
    admin = client.get(f"/rounds/{rid}/practices")
    assert len(_practice_codes(admin)) == 50 and "Preview the move" in visible(admin)


@pytest.mark.parametrize("page", ["0", "-3", "99", "abc", "9" * 40, ""])
def test_practice_list_pages_out_of_range_show_a_page(client, rid, page):
    response = client.get(f"/rounds/{rid}/practices", query_string={"page": page, "sort": "nope", "dir": "up"})
    assert response.status_code == 200 and _practice_codes(response)


@pytest.mark.parametrize("column", ["code", "name", "commissioner", "place", "list_size", "pcn", "status"])
def test_practice_list_sorts_by_every_column(client, rid, column):
    up = _practice_codes(client.get(f"/rounds/{rid}/practices", query_string={"sort": column, "dir": "asc",
                                                                               "pcn": pcn_id("Newark")}))
    down = _practice_codes(client.get(f"/rounds/{rid}/practices", query_string={"sort": column, "dir": "desc",
                                                                                 "pcn": pcn_id("Newark")}))
    assert sorted(up) == sorted(down) and len(up) == 7
    if column in ("code", "name", "list_size"):
        assert up != down


def test_practice_list_sorted_by_code_across_pages(client, rid):
    first = _practice_codes(client.get(f"/rounds/{rid}/practices", query_string={"sort": "code"}))
    second = _practice_codes(client.get(f"/rounds/{rid}/practices", query_string={"sort": "code", "page": 2}))
    assert first == sorted(first) and first[-1] < second[0]
    page = client.get(f"/rounds/{rid}/practices", query_string={"sort": "code"}).get_data(as_text=True)
    assert "sort=code&amp;dir=desc" in page and "page=2" in page


def test_practice_search_by_town(client, rid):
    mansfield = client.get(f"/rounds/{rid}/practices", query_string={"q": "mansfield"})
    codes = _practice_codes(mansfield)
    assert codes and "Showing" in visible(mansfield)
    from pcnreg.models import Practice
    postcodes = {p.code: p.postcode for p in _db.session.scalars(select(Practice))}
    assert all(postcodes[c].split()[0] in {"NG18", "NG19", "NG20", "NG21"} or "Mansfield" in visible(mansfield)
               for c in codes)
    assert {c for c, pc in postcodes.items() if pc and pc.split()[0] in {"NG18", "NG19"}} <= set(codes)
    by_district = _practice_codes(client.get(f"/rounds/{rid}/practices", query_string={"q": "ng18"}))
    assert by_district and set(by_district) <= set(codes)


def test_practice_filters_by_band_and_status(client, rid):
    below = _practice_codes(client.get(f"/rounds/{rid}/practices", query_string={"band": "below"}))
    within = _practice_codes(client.get(f"/rounds/{rid}/practices", query_string={"band": "in_band", "page": 9}))
    assert not set(below) & set(within)
    closed = client.get(f"/rounds/{rid}/practices", query_string={"status": "closed"})
    assert closed.status_code == 200
    assert client.get(f"/rounds/{rid}/practices", query_string={"band": "huge"}).status_code == 400
    assert client.get(f"/rounds/{rid}/practices", query_string={"status": "maybe"}).status_code == 400


def test_practice_search_by_name_fragment_and_by_code(client, rid):
    by_name = client.get(f"/rounds/{rid}/practices", query_string={"q": "mapperley"})
    assert sorted(_practice_codes(by_name)) == ["C84085", "C84602"]
    by_code = client.get(f"/rounds/{rid}/practices", query_string={"q": "c84693"})
    assert _practice_codes(by_code) == ["C84693"]
    assert "Bakersfield Medical Centre" in visible(by_code)
    nothing = client.get(f"/rounds/{rid}/practices", query_string={"q": "no such practice"})
    assert nothing.status_code == 200 and _practice_codes(nothing) == []
    assert "Showing 0 of 135" in visible(nothing)


def test_practice_filters(client, rid):
    newark = pcn_id("Newark")
    in_newark = client.get(f"/rounds/{rid}/practices", query_string={"pcn": newark})
    assert len(_practice_codes(in_newark)) == 7
    rushcliffe = client.get(f"/rounds/{rid}/practices", query_string={"commissioner": "04N"})
    assert len(_practice_codes(rushcliffe)) == 12
    city = client.get(f"/rounds/{rid}/practices", query_string={"place": "Nottingham City"})
    assert len(_practice_codes(city)) == 50 and "Showing 1 to 50 of 53 practices matching" in visible(city)
    unassigned = client.get(f"/rounds/{rid}/practices", query_string={"assignment": "unassigned"})
    assert _practice_codes(unassigned) == []


@pytest.mark.parametrize("query, message", [
    ({"place": "Atlantis"}, "Choose a place from the list"),
    ({"assignment": "sometimes"}, "Choose which practices to show"),
    ({"pcn": "999"}, "Choose a PCN from the list"),
    ({"q": "x" * 101}, "The search must be 100 characters or fewer"),
])
def test_practice_filters_refuse_bad_values(client, rid, query, message):
    response = client.get(f"/rounds/{rid}/practices", query_string=query)
    assert response.status_code == 400
    assert "There is a problem" in visible(response)
    assert message in visible(response)


def test_unassigned_practices_are_listed_first(client, rid):
    client.post(f"/rounds/{rid}/move", data={"codes": ["C84693"], "to": "none", "author": "A", "reason": "B"})
    response = client.get(f"/rounds/{rid}/practices")
    codes = _practice_codes(response)
    assert codes[0] == "C84693" and len(codes) == 50
    assert "not in a PCN" in visible(response)
    only = client.get(f"/rounds/{rid}/practices", query_string={"assignment": "unassigned"})
    assert _practice_codes(only) == ["C84693"]


# --- findings -------------------------------------------------------------------------------------------

def _finding_rows(response) -> int:
    return response.get_data(as_text=True).count('aria-hidden="true">Severity </span>')


def test_findings_page_filters_by_severity_rule_and_place(client, rid):
    everything = client.get(f"/rounds/{rid}/findings")
    assert everything.status_code == 200 and _finding_rows(everything) == 9
    assert _finding_rows(client.get(f"/rounds/{rid}/findings?severity=warning")) == 9
    assert _finding_rows(client.get(f"/rounds/{rid}/findings?severity=error")) == 0
    assert _finding_rows(client.get(f"/rounds/{rid}/findings?rule=list_size_band")) == 9
    assert _finding_rows(client.get(f"/rounds/{rid}/findings?rule=coverage")) == 0
    city = client.get(f"/rounds/{rid}/findings", query_string={"place": "Nottingham City"})
    assert _finding_rows(city) == 3
    assert "Nottingham City PCN 6 has 66,474 registered patients" in visible(city)
    assert "Newark" not in visible(city).split("Showing")[1]
    # after a move out, a coverage error for the practice appears under its place
    client.post(f"/rounds/{rid}/move", data={"codes": "C84693", "to": "none", "author": "A", "reason": "B"})
    coverage = client.get(f"/rounds/{rid}/findings",
                          query_string={"severity": "error", "rule": "coverage", "place": "Nottingham City"})
    assert _finding_rows(coverage) == 1
    assert "Bakersfield Medical Centre (C84693) is not in any PCN" in visible(coverage)


@pytest.mark.parametrize("query", ["severity=fatal", "rule=no_such_rule", "place=Atlantis"])
def test_findings_filters_refuse_bad_values(client, rid, query):
    response = client.get(f"/rounds/{rid}/findings?{query}")
    assert response.status_code == 400
    assert "There is a problem" in visible(response)
    assert client.get(f"/rounds/{rid}/findings.csv?{query}").status_code == 400


# --- CSV exports ------------------------------------------------------------------------------------------

def _csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_configuration_csv(client, rid):
    response = client.get(f"/rounds/{rid}/configuration.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert ".csv" in response.headers["Content-Disposition"]
    rows = _csv_rows(response)
    assert rows[0] == ["practice_code", "pcn_name", "place", "pcn_code", "practice_name", "list_size"]
    assert len(rows) == 136
    assert ["C84693", "Nottingham City PCN 6", "Nottingham City", "", "Bakersfield Medical Centre", "5553"] in rows


def test_findings_csv(client, rid):
    response = client.get(f"/rounds/{rid}/findings.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    rows = _csv_rows(response)
    assert rows[0] == ["rule", "severity", "subject_type", "subject_code", "subject_name", "message"]
    assert len(rows) == 10
    newark = next(r for r in rows if r[4] == "Newark")
    assert newark[:4] == ["list_size_band", "warning", "pcn", ""]
    assert "75,817" in newark[5]
    filtered = _csv_rows(client.get(f"/rounds/{rid}/findings.csv?place=Nottingham+City"))
    assert len(filtered) == 4


def test_csv_cells_are_neutralised(client, rid):
    practice = _db.session.scalar(select(Practice).where(Practice.code == "C84693"))
    practice.name = '=HYPERLINK("http://example.com")'
    _db.session.commit()
    client.post(f"/rounds/{rid}/move", data={"codes": "C84693", "to": "none", "author": "A", "reason": "B"})
    findings = _csv_rows(client.get(f"/rounds/{rid}/findings.csv?rule=coverage"))
    assert findings[1][4] == "'" + '=HYPERLINK("http://example.com")'
    assert findings[1][5].startswith("'=")
    config = _csv_rows(client.get(f"/rounds/{rid}/configuration.csv"))
    row = next(r for r in config if r[0] == "C84693")
    assert row[4].startswith("'=") and row[1] == ""


# --- errors ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/rounds/999", "/rounds/999/practices", "/rounds/999/findings.csv", "/rounds/abc", "/rounds/1/pcns/abc",
    "/rounds/{rid}/pcns/9999", "/rounds/{rid}/pcns/9999/rename", "/rounds/{rid}/pcns/9999/merge",
    "/rounds/{rid}/pcns/9999/split", "/rounds/{rid}/versions/99/restore", "/no/such/page",
])
def test_unknown_ids_give_the_404_page(client, rid, path):
    response = client.get(path.format(rid=rid))
    assert response.status_code == 404
    text = visible(response)
    assert "Page not found" in text
    assert "Traceback" not in text
    assert "Register primary care networks" in text         # the NHS layout, not a bare page


def test_wrong_method_gives_the_405_page(client, rid):
    response = client.post(f"/rounds/{rid}")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert "That action is not allowed here" in visible(response)


def test_pages_render_without_the_assets_folder(app, client, rid, tmp_path):
    app.config["ASSETS_PATH"] = tmp_path / "no-assets"
    assert client.get("/assets/nhsuk-frontend.min.css").status_code == 404
    for path in ("", "/practices", "/findings", "/versions", f"/pcns/{pcn_id('Newark')}"):
        assert client.get(f"/rounds/{rid}{path}").status_code == 200
    assert client.get("/about").status_code == 200


def test_reading_pages_write_nothing(client, rid):
    before = counts()
    for path in ("", "/practices", "/findings", "/versions", "/compare?a=1&b=1",
                 f"/move?codes=C84693&to={pcn_id('Newark')}", "/configuration.csv", "/findings.csv"):
        client.get(f"/rounds/{rid}{path}")
    assert counts() == before
