"""Changes through the pages: move (preview, then confirm), create, rename, merge, split, band
exceptions, compare and restore. Every invalid input gives 400 or 404 with a message and writes
nothing."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from test_pages import counts, demo, pcn_id, rid, visible  # noqa: F401  (fixtures)

from pcnreg.extensions import db as _db
from pcnreg.models import Membership, Place, Practice, SizeException

WHO = {"author": "Jo Bloggs", "reason": "Agreed at the committee of 23 May 2019"}


def _previewed_then_saved(client, url: str, data: dict):
    """A merge or split: the first POST shows the preview (200, nothing saved), the second, with
    the preview's token of the choice and ``confirm``, saves it."""
    before = counts()
    preview = client.post(url, data=data)
    assert preview.status_code == 200 and counts() == before, visible(preview)[:2000]
    previewed = re.search(r'name="previewed" value="([^"]*)"', preview.get_data(as_text=True)).group(1)
    return client.post(url, data={**data, "previewed": previewed, "confirm": "1"})


def _flash(client, response) -> str:
    assert response.status_code == 302, visible(response)[:2000]
    return visible(client.get(response.headers["Location"]))


# --- moving practices -----------------------------------------------------------------------------------

def test_move_preview_shows_both_pcns_before_and_after_and_writes_nothing(client, rid):
    before = counts()
    newark = pcn_id("Newark")
    response = client.get(f"/rounds/{rid}/move", query_string={"codes": ["C84693"], "to": newark})
    assert response.status_code == 200
    text = visible(response)
    assert "Bakersfield Medical Centre" in text and "5,553" in text
    # Nottingham City PCN 6 loses 5,553; Newark gains them
    assert "Nottingham City PCN 6" in text and "66,474" in text and "60,921" in text
    assert "Newark" in text and "75,817" in text and "81,370" in text
    assert "above band" in text
    assert "Nottingham City PCN 6 has 60,921 registered patients" in text   # a finding after the move
    assert counts() == before
    # the confirm form carries the choice
    body = response.get_data(as_text=True)
    assert '<input type="hidden" name="codes" value="C84693">' in body
    assert f'<input type="hidden" name="to" value="{newark}">' in body


def test_move_confirm_saves_a_version_and_changes_the_totals(client, rid):
    newark = pcn_id("Newark")
    versions_before, _ = counts()
    response = client.post(f"/rounds/{rid}/move", data={"codes": "C84693", "to": newark, **WHO})
    assert response.headers["Location"].endswith(f"/rounds/{rid}/pcns/{newark}")
    text = _flash(client, response)
    assert "Saved as version 2" in text
    assert "Moved 1 practice into Newark" in text
    assert counts()[0] == versions_before + 1
    assert "81,370 registered patients in 8 practices" in text
    dashboard = visible(client.get(f"/rounds/{rid}"))
    assert "Newark 8 81,370 above band" in dashboard
    assert "Nottingham City PCN 6 7 60,921 above band" in dashboard


def test_move_several_practices_from_the_pcn_page_form(client, rid):
    city7, city8 = pcn_id("Nottingham City PCN 7"), pcn_id("Nottingham City PCN 8")
    page = client.get(f"/rounds/{rid}/pcns/{city8}").get_data(as_text=True)
    assert f'action="/rounds/{rid}/move"' in page and 'name="codes"' in page and 'name="to"' in page
    codes = sorted(_db.session.scalars(select(Practice.code).join(Membership, Membership.practice_id == Practice.id)
                                       .where(Membership.pcn_id == city8)))[:2]
    assert all(f'value="{c}"' in page for c in codes)
    preview = client.get(f"/rounds/{rid}/move", query_string={"codes": codes, "to": city7})
    assert preview.status_code == 200
    assert "Nottingham City PCN 7" in visible(preview) and "Nottingham City PCN 8" in visible(preview)
    response = client.post(f"/rounds/{rid}/move", data={"codes": codes, "to": city7, **WHO})
    assert "Moved 2 practices into Nottingham City PCN 7" in _flash(client, response)


def test_move_out_of_any_pcn(client, rid):
    response = client.post(f"/rounds/{rid}/move", data={"codes": "C84693", "to": "none", **WHO})
    assert "assignment=unassigned" in response.headers["Location"]
    text = _flash(client, response)
    assert "Moved 1 practice out of any PCN" in text
    assert "Bakersfield Medical Centre" in text
    dashboard = visible(client.get(f"/rounds/{rid}"))
    assert "134 of 135 open practices" in dashboard
    assert "grouping not complete" in dashboard


@pytest.mark.parametrize("data, message", [
    ({"codes": "C84693", "to": "NEWARK", "author": "A"}, "Enter the reason for the change"),
    ({"to": "NEWARK", **WHO}, "Choose at least one practice to move"),
    ({"codes": "C84693", **WHO}, "Choose where to move the practices"),
    ({"codes": "C84693", "to": "9999", **WHO}, "That PCN does not exist in this round"),
    ({"codes": "C84693", "to": "abc", **WHO}, "Choose a PCN of this round, or no PCN"),
    ({"codes": "ZZZ999", "to": "NEWARK", **WHO}, "Unknown practice code ZZZ999"),
    ({"codes": "<b>", "to": "NEWARK", **WHO}, "is not a practice ODS code"),
    ({"codes": "C84009", "to": "NEWARK", **WHO}, "The practices are already there"),
])
def test_move_confirm_refuses_invalid_input_and_writes_nothing(client, rid, data, message):
    data = {k: (str(pcn_id("Newark")) if v == "NEWARK" else v) for k, v in data.items()}
    before = counts()
    response = client.post(f"/rounds/{rid}/move", data=data)
    assert response.status_code == 400
    text = visible(response)
    assert "There is a problem" in text
    assert message in text
    assert counts() == before


def test_move_preview_refuses_invalid_choices(client, rid):
    for query, message in (({"to": "none"}, "Choose at least one practice to move"),
                           ({"codes": "C84693"}, "Choose where to move the practices"),
                           ({"codes": "C84693", "to": "12345"}, "That PCN does not exist in this round"),
                           ({"codes": "C84693", "to": "x"}, "Choose a PCN of this round, or no PCN")):
        response = client.get(f"/rounds/{rid}/move", query_string=query)
        assert response.status_code == 400
        assert message in visible(response)


# --- create, rename, merge, split ----------------------------------------------------------------------------

def _place_id(name: str) -> int:
    return _db.session.scalar(select(Place.id).where(Place.name == name))


def test_create_pcn(client, rid):
    before = counts()
    response = client.post(f"/rounds/{rid}/pcns/new", data={
        "name": "  Newark   North ", "place": _place_id("Mid Nottinghamshire"), "lead_commissioner": "", **WHO})
    text = _flash(client, response)
    assert "Saved as version 2: created Newark North" in text
    assert "0 registered patients in 0 practices" in text
    assert "Newark North has no member practices" in text      # the empty_pcn finding
    assert counts()[0] == before[0] + 1
    dashboard = visible(client.get(f"/rounds/{rid}"))
    assert "Newark North 0 0 below band 1 0" in dashboard


@pytest.mark.parametrize("data, status, message", [
    ({"name": "", "place": "MID", **WHO}, 400, "Enter a name for the PCN"),
    ({"name": "   ", "place": "MID", **WHO}, 400, "Enter a name for the PCN"),
    ({"name": "newark", "place": "MID", **WHO}, 400, "A PCN called Newark already exists in this round"),
    ({"name": "=SUM(A1)", "place": "MID", **WHO}, 400, "PCN name must not start with =, +, - or @"),
    ({"name": "N" * 201, "place": "MID", **WHO}, 400, "The PCN name must be 200 characters or fewer"),
    ({"name": "Newark North", "place": "", **WHO}, 400, "Choose the place of the PCN"),
    ({"name": "Newark North", "place": "99999", **WHO}, 400, "Choose the place of the PCN"),
    ({"name": "Newark North", "place": "abc", **WHO}, 400, "Choose the place of the PCN"),
    ({"name": "Newark North", "place": "MID", "lead_commissioner": "x", **WHO}, 400, "Choose the lead commissioner"),
    ({"name": "Newark North", "place": "MID", "author": "Jo"}, 400, "Enter the reason for the change"),
])
def test_create_pcn_refuses_invalid_input(client, rid, data, status, message):
    data = {k: (str(_place_id("Mid Nottinghamshire")) if v == "MID" else v) for k, v in data.items()}
    before = counts()
    pcns = visible(client.get(f"/rounds/{rid}"))
    response = client.post(f"/rounds/{rid}/pcns/new", data=data)
    assert response.status_code == status
    text = visible(response)
    assert "There is a problem" in text and message in text
    assert "Error:" in text                                      # the field's own error message
    assert counts() == before
    assert visible(client.get(f"/rounds/{rid}")) == pcns


def test_rename_pcn(client, rid):
    newark = pcn_id("Newark")
    form = client.get(f"/rounds/{rid}/pcns/{newark}/rename").get_data(as_text=True)
    assert 'value="Newark"' in form
    text = _flash(client, client.post(f"/rounds/{rid}/pcns/{newark}/rename", data={"name": "Newark and Collingham", **WHO}))
    assert "Saved as version 2: renamed Newark to Newark and Collingham" in text
    dashboard = visible(client.get(f"/rounds/{rid}"))
    assert "Newark and Collingham 7 75,817" in dashboard


@pytest.mark.parametrize("name, message", [
    ("", "Enter a name for the PCN"),
    ("Newark", "The new name is the same as the current name"),
    ("Sherwood", "A PCN called Sherwood already exists in this round"),
])
def test_rename_refuses_invalid_names(client, rid, name, message):
    before = counts()
    response = client.post(f"/rounds/{rid}/pcns/{pcn_id('Newark')}/rename", data={"name": name, **WHO})
    assert response.status_code == 400
    assert message in visible(response)
    assert counts() == before


def test_merge_pcns(client, rid):
    city7, city8 = pcn_id("Nottingham City PCN 7"), pcn_id("Nottingham City PCN 8")
    response = _previewed_then_saved(client, f"/rounds/{rid}/pcns/{city8}/merge",
                                     {"others": [str(city7)], "name": "", **WHO})
    text = _flash(client, response)
    assert "Saved as version 2: merged Nottingham City PCN 7 into Nottingham City PCN 8" in text
    assert "68,052 registered patients in 9 practices" in text
    assert client.get(f"/rounds/{rid}/pcns/{city7}").status_code == 404
    dashboard = visible(client.get(f"/rounds/{rid}"))
    assert "Nottingham City PCN 7" not in dashboard
    assert "21 PCNs" in dashboard


def test_merge_with_a_new_name(client, rid):
    city7, city8 = pcn_id("Nottingham City PCN 7"), pcn_id("Nottingham City PCN 8")
    text = _flash(client, _previewed_then_saved(client, f"/rounds/{rid}/pcns/{city8}/merge",
                                                {"others": [str(city7)], "name": "City North East", **WHO}))
    assert "City North East" in text and "68,052" in text


@pytest.mark.parametrize("others, name, message", [
    ([], "", "Choose at least one PCN to merge into this one"),
    (["99999"], "", "Choose PCNs from the list"),
    (["SELF"], "", "Choose PCNs from the list"),
    (["CITY7"], "Sherwood", "A PCN called Sherwood already exists in this round"),
])
def test_merge_refuses_invalid_input(client, rid, others, name, message):
    city8 = pcn_id("Nottingham City PCN 8")
    others = [str(pcn_id("Nottingham City PCN 7")) if o == "CITY7" else str(city8) if o == "SELF" else o
              for o in others]
    before = counts()
    response = client.post(f"/rounds/{rid}/pcns/{city8}/merge", data={"others": others, "name": name, **WHO})
    assert response.status_code == 400
    assert message in visible(response)
    assert counts() == before


def test_split_pcn(client, rid):
    newark = pcn_id("Newark")
    response = _previewed_then_saved(client, f"/rounds/{rid}/pcns/{newark}/split", {
        "members": ["C84029", "C84049"], "new_name": "Newark South", **WHO})
    text = _flash(client, response)
    assert "Saved as version 2: split 2 practices from Newark into the new PCN Newark South" in text
    assert "30,884 registered patients in 2 practices" in text      # 18,537 + 12,347
    assert "Lombard Medical Centre" in text
    dashboard = visible(client.get(f"/rounds/{rid}"))
    assert "Newark 5 44,933 in band" in dashboard
    assert "Newark South 2 30,884 in band" in dashboard


@pytest.mark.parametrize("members, new_name, message", [
    (["C84009", "C84019", "C84029", "C84045", "C84049", "C84660", "Y05369"], "Newark All",
     "Leave at least one practice in the PCN being split"),
    ([], "Newark South", "Choose the practices that form the new PCN"),
    (["C84693"], "Newark South", "Choose practices from the members of this PCN"),
    (["C84029"], "", "Enter a name for the PCN"),
    (["C84029"], "Sherwood", "A PCN called Sherwood already exists in this round"),
])
def test_split_refuses_invalid_input(client, rid, members, new_name, message):
    before = counts()
    response = client.post(f"/rounds/{rid}/pcns/{pcn_id('Newark')}/split",
                           data={"members": members, "new_name": new_name, **WHO})
    assert response.status_code == 400
    assert message in visible(response)
    assert counts() == before


@pytest.mark.parametrize("path", ["/pcns/9999/rename", "/pcns/9999/merge", "/pcns/9999/split",
                                  "/pcns/9999/exception", "/pcns/abc/rename", "/versions/abc/restore",
                                  "/versions/99/restore"])
def test_changes_to_unknown_ids_give_404_and_write_nothing(client, rid, path):
    before = counts()
    response = client.post(f"/rounds/{rid}{path}", data={"name": "X", "reason": "R", "recorded_by": "Y", **WHO})
    assert response.status_code == 404
    assert "Page not found" in visible(response)
    assert counts() == before
    assert client.post("/rounds/999/move", data={"codes": "C84693", "to": "none", **WHO}).status_code == 404


def test_retired_pcn_cannot_be_edited(client, rid):
    city7, city8 = pcn_id("Nottingham City PCN 7"), pcn_id("Nottingham City PCN 8")
    _previewed_then_saved(client, f"/rounds/{rid}/pcns/{city8}/merge", {"others": [str(city7)], **WHO})
    before = counts()
    for action in ("rename", "merge", "split"):
        assert client.post(f"/rounds/{rid}/pcns/{city7}/{action}", data={"name": "Z", **WHO}).status_code == 404
    response = client.post(f"/rounds/{rid}/move", data={"codes": "C84693", "to": str(city7), **WHO})
    assert response.status_code == 400
    exception = client.post(f"/rounds/{rid}/pcns/{city7}/exception", data={"reason": "R", "recorded_by": "Jo"})
    assert exception.status_code == 404
    assert counts() == before
    assert _db.session.scalar(select(SizeException)) is None


# --- band exceptions ------------------------------------------------------------------------------------------------

def test_record_a_band_exception(client, rid):
    newark = pcn_id("Newark")
    response = client.post(f"/rounds/{rid}/pcns/{newark}/exception", data={
        "reason": "Rural practices, agreed by the committee", "recorded_by": "Jo Bloggs, head of primary care"})
    text = _flash(client, response)
    assert "The band exception was recorded" in text
    assert "recorded by Jo Bloggs, head of primary care" in text
    assert "Info" in text                                   # the finding is now information
    findings = visible(client.get(f"/rounds/{rid}/findings?severity=info"))
    assert "Newark has 75,817 registered patients" in findings
    assert "Exception recorded by Jo Bloggs" in findings


@pytest.mark.parametrize("data, message", [
    ({"recorded_by": "Jo"}, "Enter the reason for the exception"),
    ({"reason": "Rural"}, "Enter who agreed the exception"),
])
def test_band_exception_needs_reason_and_who(client, rid, data, message):
    response = client.post(f"/rounds/{rid}/pcns/{pcn_id('Newark')}/exception", data=data)
    assert response.status_code == 400
    assert message in visible(response)
    assert "Newark" in visible(response)                    # the PCN page again
    assert _db.session.scalar(select(SizeException)) is None


# --- versions: history, compare, restore ------------------------------------------------------------------------------

def test_version_history_compare_and_restore(client, rid):
    newark = pcn_id("Newark")
    # with one version there is nothing to compare
    assert "Compare two versions" not in visible(client.get(f"/rounds/{rid}/versions"))
    client.post(f"/rounds/{rid}/move", data={"codes": "C84693", "to": str(newark), **WHO})

    history = visible(client.get(f"/rounds/{rid}/versions"))
    # who did it is the signed-in user (issue #16), not the "author" typed in a form
    assert "2 current move Moved 1 practice into Newark Test Administrator" in history
    assert "Jo Bloggs" not in history
    assert "Compare two versions" in history and "Time (UK)" in history
    assert "Agreed at the committee of 23 May 2019 1" in history        # reason, then the parent
    assert "1 import Created 22 PCNs; placed 135 practices in 22 PCNs pcnreg demo" in history
    body = client.get(f"/rounds/{rid}/versions").get_data(as_text=True)
    assert f'href="/rounds/{rid}/compare?a=1&amp;b=2"' in body            # compare with parent
    assert f'href="/rounds/{rid}/versions/1/restore"' in body

    compare = client.get(f"/rounds/{rid}/compare", query_string={"a": 1, "b": 2})
    assert compare.status_code == 200
    text = visible(compare)
    assert "C84693 Bakersfield Medical Centre Nottingham City PCN 6 Newark" in text
    assert "Newark Newark 7 → 8 75,817 81,370 +5,553" in text
    assert "Nottingham City PCN 6 Nottingham City PCN 6 8 → 7 66,474 60,921 -5,553" in text

    restore_page = visible(client.get(f"/rounds/{rid}/versions/1/restore"))
    assert "Restore version 1" in restore_page and "Bakersfield Medical Centre" in restore_page
    response = client.post(f"/rounds/{rid}/versions/1/restore", data=WHO)
    assert "Saved as version 3: restored the configuration of version 1" in _flash(client, response)
    dashboard = visible(client.get(f"/rounds/{rid}"))
    assert "Newark 7 75,817" in dashboard and "Nottingham City PCN 6 8 66,474" in dashboard
    assert "3 current undo" in visible(client.get(f"/rounds/{rid}/versions"))


def test_restore_refuses_invalid_input(client, rid):
    client.post(f"/rounds/{rid}/move", data={"codes": "C84693", "to": "none", **WHO})
    before = counts()
    missing = client.post(f"/rounds/{rid}/versions/1/restore", data={"author": "Jo"})
    assert missing.status_code == 400 and "Enter the reason for the change" in visible(missing)
    current = client.post(f"/rounds/{rid}/versions/2/restore", data=WHO)
    assert current.status_code == 400 and "Version 2 is the current version" in visible(current)
    assert client.post(f"/rounds/{rid}/versions/7/restore", data=WHO).status_code == 404
    assert counts() == before


@pytest.mark.parametrize("query, status", [
    ({"a": "1", "b": "99"}, 400), ({"a": "x", "b": "1"}, 400), ({"a": "1"}, 400), ({"a": "1.5", "b": "1"}, 400),
])
def test_compare_refuses_invalid_versions(client, rid, query, status):
    response = client.get(f"/rounds/{rid}/compare", query_string=query)
    assert response.status_code == status
    assert "There is a problem" in visible(response)


# --- previews of merge and split (issue #16 item 5) ------------------------------------------------------------

def test_merge_preview_shows_every_pcn_touched_before_and_after(client, rid):
    city7, city8 = pcn_id("Nottingham City PCN 7"), pcn_id("Nottingham City PCN 8")
    before = counts()
    response = client.post(f"/rounds/{rid}/pcns/{city8}/merge", data={"others": [str(city7)], "name": "", **WHO})
    assert response.status_code == 200 and counts() == before
    text = visible(response)
    assert "Nothing has been saved yet" in text
    assert "Nottingham City PCN 8 before and after" in text and "Nottingham City PCN 7 before and after" in text
    assert "68,052" in text and "merged away" in text                  # 8 gains 7's patients; 7 is gone
    assert "Across places" not in text                                 # both in Nottingham City
    # a changed choice is previewed again, not saved
    previewed = re.search(r'name="previewed" value="([^"]*)"', response.get_data(as_text=True)).group(1)
    other = pcn_id("Nottingham City PCN 6")
    again = client.post(f"/rounds/{rid}/pcns/{city8}/merge",
                        data={"others": [str(other)], "previewed": previewed, "confirm": "1", **WHO})
    assert again.status_code == 200 and counts() == before and "Nottingham City PCN 6 before and after" in visible(again)


def test_merge_offers_the_same_place_first_and_warns_across_places(client, rid):
    city8, newark = pcn_id("Nottingham City PCN 8"), pcn_id("Newark")
    page = client.get(f"/rounds/{rid}/pcns/{city8}/merge").get_data(as_text=True)
    offered = re.findall(r'name="others" type="checkbox" value="([0-9]+)"', page)
    cities = {str(k) for n in range(1, 12) if (k := pcn_id(f"Nottingham City PCN {n}")) and k != city8}
    assert set(offered[:len(cities)]) == cities                       # the city's PCNs first
    assert "Another place (" in page
    response = client.post(f"/rounds/{rid}/pcns/{city8}/merge", data={"others": [str(newark)], **WHO})
    text = visible(response)
    assert response.status_code == 200 and "Across places" in text and "Newark is in" in text


def test_split_preview_shows_both_pcns_and_writes_nothing(client, rid):
    newark = pcn_id("Newark")
    before = counts()
    response = client.post(f"/rounds/{rid}/pcns/{newark}/split",
                           data={"members": ["C84029", "C84049"], "new_name": "Newark South", **WHO})
    assert response.status_code == 200 and counts() == before
    text = visible(response)
    assert "Newark before and after" in text and "Newark South before and after" in text
    assert "75,817" in text and "44,933" in text and "30,884" in text   # Newark before, after; the new PCN
    assert "does not exist" in text
    assert "spans more than one place" not in text                     # the new PCN keeps Newark's place


def test_split_preview_of_a_small_new_pcn_names_its_findings_without_a_link(client, rid):
    newark = pcn_id("Newark")
    response = client.post(f"/rounds/{rid}/pcns/{newark}/split",
                           data={"members": ["Y05369"], "new_name": "Newark Tiny", **WHO})
    assert response.status_code == 200, visible(response)[:1500]
    text = visible(response)
    assert "Newark Tiny before and after" in text and "below" in text.lower()


def test_a_preview_needs_no_reason_and_a_save_does(client, rid):
    newark = pcn_id("Newark")
    url = f"/rounds/{rid}/pcns/{newark}/split"
    before = counts()
    data = {"members": ["C84029"], "new_name": "Newark East"}
    preview = client.post(url, data=data)
    assert preview.status_code == 200 and "Newark East before and after" in visible(preview)
    assert "Enter the reason" not in visible(preview)
    previewed = re.search(r'name="previewed" value="([^"]*)"', preview.get_data(as_text=True)).group(1)
    refused = client.post(url, data={**data, "previewed": previewed, "confirm": "1"})
    assert refused.status_code == 400 and counts() == before
    assert "Newark East before and after" in visible(refused) and "reason" in visible(refused).lower()
