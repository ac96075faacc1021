"""nhs_table and nhs_tag (views/nhs_table.py) write the NHS.UK macros' markup."""
from __future__ import annotations

import re

import pytest
from markupsafe import Markup

from pcnreg.views.nhs_table import nhs_date_input, nhs_select, nhs_table, nhs_tag


def normal(html: str) -> str:
    """Whitespace-insensitive form: runs of whitespace are one space; none between tags."""
    return re.sub(r">\s+<", "><", " ".join(str(html).split())).replace("> ", ">").replace(" <", "<")


def macro(app, name: str, params: dict) -> str:
    with app.test_request_context():
        module = app.jinja_env.get_template(f"nhsuk/components/{name}/macro.jinja").module
        return str(getattr(module, {"tables": "table", "date-input": "dateInput"}.get(name, name))(params))


TAG = Markup('<strong class="nhsuk-tag nhsuk-tag--red">\n  below band\n</strong>')
TABLES = [
    {"caption": "PCNs in Mid Notts & Bassetlaw", "captionSize": "s", "responsive": True,
     "head": [{"text": "PCN"}, {"text": "Members", "format": "numeric"}, {"text": "Band"}],
     "rows": [[{"text": "A & B", "href": "/rounds/1/pcns/2?x=1&y=2"}, {"text": "3", "format": "numeric"},
               {"html": TAG}],
              [{"text": "<script>"}, {"text": "0", "format": "numeric"}, {"html": Markup("<b>x</b>\n<i>y</i>")}]]},
    {"caption": "Practices", "captionSize": "m", "responsive": True,
     "head": [{"html": Markup('<span class="nhsuk-u-visually-hidden">Choose</span>')},
              {"html": Markup('<a href="?sort=code">ODS code</a>')}, {"text": "Patients", "format": "numeric"}],
     "rows": [[{"html": Markup("<input type=checkbox>")}, {"text": "C84001"}, {"text": "12,345"}]]},
    {"head": [{"text": "One"}], "rows": [[{"text": "1"}], [{"text": ""}]]},
    {"caption": "Not responsive", "head": [{"text": "A"}, {"text": "B", "format": "numeric"}],
     "rows": [[{"text": "x"}, {"text": "2"}]]},
    {"caption": "No rows", "responsive": True, "head": [{"text": "A"}], "rows": []},
]


@pytest.mark.parametrize("params", TABLES)
def test_nhs_table_writes_the_macros_markup(app, params):
    with app.test_request_context():
        fast = nhs_table(params)
    assert normal(fast) == normal(macro(app, "tables", params))


def test_other_parameters_go_to_the_macro(app):
    params = {"caption": "Sortable", "head": [{"text": "A", "sort": True}], "rows": [[{"text": "x"}]],
              "firstCellIsHeader": True}
    with app.test_request_context():
        assert str(nhs_table(params)) == macro(app, "tables", params)


@pytest.mark.parametrize("text,colour", [("in band", "green"), ("Error", "red"), ("closed", "grey"), ("x", None)])
def test_nhs_tag_is_the_macros_tag(app, text, colour):
    with app.test_request_context():
        assert str(nhs_tag(text, colour)) == macro(app, "tag", {"text": text, "colour": colour})


def test_the_dashboard_table_is_nhs_markup(client, app, db, demo_round):
    from pcnreg.services import rounds

    page = client.get(f"/rounds/{rounds.get_round().id}").get_data(as_text=True)
    assert 'class="nhsuk-table nhsuk-table--responsive" role="table"' in page
    assert '<span class="nhsuk-table__heading" aria-hidden="true">PCN </span><a class="nhsuk-link"' in page
    assert 'class="nhsuk-tag nhsuk-tag--' in page


SELECTS = [
    {"label": {"text": "Move the chosen practices to"}, "id": "to", "name": "to",
     "items": [{"value": "", "text": "Choose a PCN"}, {"value": "none", "text": "No PCN & <none>", "selected": True},
               {"value": 5, "text": "Ashfield North", "selected": False}]},
    {"label": {"text": "PCN"}, "hint": {"text": "A hint"}, "id": "pcn", "name": "pcn",
     "items": [{"value": "", "text": "Any"}, {"value": "7", "text": "Newark", "selected": True}],
     "errorMessage": {"text": "Choose a PCN"}},
    {"label": {"text": "Empty"}, "id": "e", "name": "e", "items": []},
    {"label": {"text": "By value"}, "id": "v", "name": "v", "value": "b",
     "items": [{"value": "a", "text": "A"}, {"value": "b", "text": "B"}]},
]


@pytest.mark.parametrize("params", SELECTS)
def test_nhs_select_writes_the_macros_markup(app, params):
    with app.test_request_context():
        fast = nhs_select(params)
    assert normal(fast) == normal(macro(app, "select", params))


def test_the_round_facts_follow_the_rounds_dates(client, app, db, demo_round):
    import datetime as dt

    from pcnreg.services import rounds

    rnd = rounds.get_round()
    assert "1 July 2019" in client.get(f"/rounds/{rnd.id}").get_data(as_text=True)
    rnd.go_live = dt.date(2019, 8, 1)
    db.session.commit()
    page = client.get(f"/rounds/{rnd.id}").get_data(as_text=True)
    assert "1 August 2019" in page and "1 July 2019" not in page


@pytest.mark.parametrize("summary, inner", [
    ("3 missing", '\n  <ul class="nhsuk-list">\n    <li>A &amp; B</li>\n  </ul>\n'),
    ("2 missing, 1 Schedule 1 signatures", "<p>x</p>"),
    ("<b>not bold</b> & more", ""),
    ("  padded  ", "\n<ul><li>one</li></ul>\n   "),
])
def test_nhs_details_writes_the_macros_markup(app, summary, inner):
    """The registrations table's details (views/nhs_table.nhs_details): exactly what the NHS.UK
    details macro writes around the same caller block."""
    from pcnreg.views.nhs_table import nhs_details

    with app.test_request_context():
        expected = app.jinja_env.from_string(
            '{% from "nhsuk/components/details/macro.jinja" import details %}'
            '{% call details({"summary": summary}) %}{{ inner }}{% endcall %}').render(summary=summary, inner=Markup(inner))
        assert str(nhs_details(summary, Markup(inner))) == expected


def test_pages_write_their_tables_with_nhs_table():
    """Every template writes its tables through ``nhs_table`` (which hands what it does not
    support to the NHS.UK macro): the macro's per-cell rendering took most of a page's time."""
    from pathlib import Path

    templates = Path(__file__).resolve().parents[2] / "templates"
    direct = [str(p.relative_to(templates)) for p in sorted(templates.rglob("*.html"))
              if "nhsuk/components/tables/macro.jinja" in p.read_text(encoding="utf-8")]
    assert direct == []


@pytest.mark.parametrize("args", [
    ("starts_on", "starts_on", "Nominations open", "For example, 15 3 2026", {"day": "", "month": "", "year": ""}, None),
    ("ends", "ends", "Voting closes", "For example, 15 3 2026", {"day": "4", "month": "12", "year": "2026"}, None),
    ("d", "d", "When <b>?</b> & how", "Hint & <i>", {"day": "<x>", "month": "\"", "year": "99999"},
     "Enter a real date & <b>day</b>"),
    ("m", "meeting[date]", Markup("<strong>Held on</strong>"), "", None, "Enter the date"),
])
def test_nhs_date_input_is_the_macros_date_input(app, args):
    """Byte for byte what the date_field macro (templates/_macros.html) wrote through the NHS.UK
    macro, for any legend, hint, values and error; the second call is the first one's markup."""
    field_id, name, legend, hint, values, error = args
    params = {"id": field_id, "namePrefix": name, "fieldset": {"legend": {"text": legend, "size": "s"}},
              "hint": {"text": hint}, "values": values or {"day": "", "month": "", "year": ""},
              "errorMessage": {"text": error} if error else False}
    with app.test_request_context():
        first, second = nhs_date_input(*args), nhs_date_input(*args)
    assert str(first) == macro(app, "date-input", params)
    assert second is first
