"""One date and time module for every page (pcnreg/views/formatting.py)."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from pcnreg.views import formatting as f


def test_uk_dates_have_no_leading_zero():
    assert f.longdate(dt.date(2019, 7, 1)) == "1 July 2019"
    assert f.longdate(None) == "not set"
    assert f.iso_longdate("2019-05-01") == "1 May 2019"
    assert f.iso_longdate("not a date") == "not a date"
    assert f.uk_time("2019-05-15") == "15 May 2019"


def test_naive_utc_in_summer_is_shown_in_bst():
    # 11:30 UTC on 15 May 2019 is 12:30 British Summer Time.
    assert f.longdate(dt.datetime(2019, 5, 15, 11, 30)) == "15 May 2019 at 12:30"
    assert f.uk_time(dt.datetime(2019, 5, 15, 23, 30)) == "16 May 2019 at 00:30"   # the UK date, not UTC's


def test_naive_utc_in_winter_is_shown_in_gmt():
    assert f.longdate(dt.datetime(2019, 12, 3, 9, 5)) == "3 December 2019 at 09:05"
    assert f.FILTERS["uktime"](dt.datetime(2020, 1, 1, 0, 0)) == "1 January 2020 at 00:00"


def test_aware_times_and_strings_are_converted():
    moment = dt.datetime(2019, 7, 1, 9, 0, tzinfo=ZoneInfo("America/New_York"))    # 14:00 in London (BST)
    assert f.uk_time(moment) == "1 July 2019 at 14:00"
    assert f.uk_time("2019-07-01T08:00:00+00:00") == "1 July 2019 at 09:00"
    assert f.uk_time("rubbish") == "not known" and f.uk_time(None) == "not known"
    assert f.uk_time(dt.datetime(2019, 7, 1, 8, 0), "No/Such_Zone") == "1 July 2019 at 09:00"


def test_the_clocks_change_on_the_right_days():
    # BST 2019: 31 March 01:00 UTC to 27 October 01:00 UTC.
    assert f.uk_time(dt.datetime(2019, 3, 31, 0, 59)) == "31 March 2019 at 00:59"
    assert f.uk_time(dt.datetime(2019, 3, 31, 1, 0)) == "31 March 2019 at 02:00"
    assert f.uk_time(dt.datetime(2019, 10, 27, 0, 59)) == "27 October 2019 at 01:59"
    assert f.uk_time(dt.datetime(2019, 10, 27, 1, 0)) == "27 October 2019 at 01:00"


def test_one_registration_for_every_template(app):
    for name in ("longdate", "uk_time", "uktime", "iso_longdate", "thousands"):
        assert app.jinja_env.filters[name] is f.FILTERS[name]
    assert app.jinja_env.from_string("{{ d | longdate }}").render(d=dt.datetime(2019, 6, 30, 23, 0)) == \
        "1 July 2019 at 00:00"
    assert f.thousands(1092110) == "1,092,110" and f.thousands(None) == "not known"


# --- every page and message uses the one module ------------------------------------------------------

def test_seconds_for_the_audit_trail_in_summer_and_winter():
    assert f.uk_time(dt.datetime(2019, 7, 1, 8, 0, 5), seconds=True) == "1 July 2019 at 09:00:05"      # BST
    assert f.uk_time(dt.datetime(2019, 12, 3, 9, 5, 59), seconds=True) == "3 December 2019 at 09:05:59"  # GMT


def test_no_template_formats_a_time_by_itself():
    from pathlib import Path

    templates = Path(__file__).resolve().parents[2] / "templates"
    assert len(list(templates.rglob("*.html"))) > 50      # the top-level templates/ folder, found
    offenders = [str(p.relative_to(templates)) for p in templates.rglob("*.html") if "strftime" in p.read_text()]
    assert offenders == []


def test_no_blueprint_registers_a_filter_of_its_own(app):
    from pcnreg.views import labels

    assert {n: app.jinja_env.filters[n] for n in f.FILTERS} == f.FILTERS
    for name, function in labels.GLOBALS.items():
        assert app.jinja_env.globals[name] is function


def test_the_audit_page_shows_stored_utc_in_uk_time(app, client):
    from pcnreg.extensions import db
    from pcnreg.models import AuditEvent
    from pcnreg.services import rounds
    from pcnreg.services.demo import load_demo

    load_demo(None)
    rnd = rounds.get_round()
    events = list(db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.seq)))
    assert events, "the demo load is audited"
    events[0].at = dt.datetime(2019, 7, 1, 8, 0, 5)          # summer: BST is UTC + 1
    db.session.commit()
    page = client.get(f"/rounds/{rnd.id}/audit").get_data(as_text=True)
    assert "1 July 2019 at 09:00:05" in page
    events[0].at = dt.datetime(2019, 12, 3, 9, 5, 0)         # winter: GMT is UTC
    db.session.commit()
    page = client.get(f"/rounds/{rnd.id}/audit").get_data(as_text=True)
    assert "3 December 2019 at 09:05:00" in page


def test_a_locked_account_is_told_the_uk_time_in_summer_and_winter():
    from pcnreg.services import accounts

    assert accounts._when(dt.datetime(2024, 7, 1, 8, 15)) == "09:15 on 1 July 2024 (UK time)"
    assert accounts._when(dt.datetime(2024, 3, 1, 9, 15)) == "09:15 on 1 March 2024 (UK time)"


def test_date_hints_give_an_example_in_the_coming_year(csrf_app):
    # the election form's date fields and the default hint follow the clock, not 2019
    csrf_app.config["PCNREG_NOW"] = "2026-12-04T10:00:00+00:00"
    with csrf_app.app_context():
        assert f.example_date() == "For example, 15 3 2027"
        assert f.example_date(22, 4) == "For example, 22 4 2027"
        csrf_app.config["PCNREG_NOW"] = "2031-01-02T10:00:00+00:00"
        assert f.example_date() == "For example, 15 3 2032"
        template = csrf_app.jinja_env.from_string(
            '{% from "_macros.html" import date_field %}{{ date_field(field) }}')
        field = type("F", (), {"id": "d", "name": "d", "label": type("L", (), {"text": "Day"})(),
                               "parts": {}, "errors": []})()
        html = template.render(field=field)
        assert "For example, 15 3 2032" in html and "2019" not in html
