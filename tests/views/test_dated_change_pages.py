"""Applied in-year changes as dated memberships (the practice's open period ends the day before,
a new one starts on the effective date: the configuration on a date and the practice's history
page show both), and a notice dated on or before the practice's last applied change refused on
the browser form and by `pcnreg round change-notice`, with nothing written."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from test_change_pages import counts, date_fields, live  # noqa: F401 - the live demo round fixture
from workflow_helpers import uk

from pcnreg.extensions import db as _db
from pcnreg.models import MembershipPeriod
from pcnreg.services import change_requests as req_svc
from pcnreg.services import memberships


def _applied(app, rnd, member, to, day: dt.date):
    change = req_svc.give_notice(rnd, member, str(to.id), "Closer", day)
    req_svc.changes.decide(rnd, change.id, approve=True)
    app.config["PCNREG_NOW"] = uk(day.year, day.month, day.day, 9, 0)
    assert [c.id for c in req_svc.changes.apply_due(rnd)] == [change.id]
    return change


def test_an_applied_change_is_recorded_as_periods(app, live, client_as):  # noqa: F811
    rnd, newark, sherwood, member = live
    change = _applied(app, rnd, member, sherwood, dt.date(2020, 1, 1))
    periods = [(p.pcn_name, p.start_date, p.end_date, p.change_id) for p in _db.session.scalars(
        select(MembershipPeriod).where(MembershipPeriod.practice_code == member).order_by(MembershipPeriod.id))]
    # the demo round records no dated relationship: the PCN left ends the day before, start not recorded
    assert periods == [("Newark", None, dt.date(2019, 12, 31), None), ("Sherwood", dt.date(2020, 1, 1), None, change.id)]
    system = rnd.system
    on = {p.practice: p.pcn_name for p in memberships.configuration_on(system, dt.date(2019, 12, 31))}
    assert on[member] == "Newark"
    assert {p.practice: p.pcn_name for p in memberships.configuration_on(system, dt.date(2020, 1, 1))}[member] == "Sherwood"
    viewer = client_as("viewer", "system:E54000014")
    page = viewer.get(f"/systems/{system.id}/configuration?date=2020-01-01")
    assert page.status_code == 200 and member in page.text and "Sherwood" in page.text
    assert "Newark" not in page.text.split("<table", 1)[1]
    history = viewer.get(f"/systems/{system.id}/practices/{member}/history")
    assert history.status_code == 200 and "31 December 2019" in history.text and "1 January 2020" in history.text
    bad = viewer.get(f"/systems/{system.id}/configuration?date=1+Jan+2020")
    assert bad.status_code == 400 and "is not a date" in bad.text


def test_a_notice_on_or_before_the_last_applied_change_is_refused(app, live, client_as):  # noqa: F811
    rnd, newark, sherwood, member = live
    _applied(app, rnd, member, sherwood, dt.date(2020, 1, 1))
    app.config["PCNREG_NOW"] = uk(2019, 8, 1, 10, 0)       # a clock set back: 1 October and 1 January are open
    before = counts()
    commissioner = client_as("commissioner", "system:E54000014")
    response = commissioner.post(f"/rounds/{rnd.id}/changes/notice", data={
        "practice": member, "to_pcn": str(newark.id), "reason": "Back again",
        **date_fields("effective_from", dt.date(2020, 1, 1))})
    assert response.status_code == 400
    assert f"{member}&#39;s last applied change took effect on 1 January 2020" in response.text
    assert counts() == before
    for day in ("2020-01-01", "2019-10-01"):
        result = app.test_cli_runner().invoke(args=[
            "round", "change-notice", member, "--to", "Newark", "--reason", "Back again", "--effective-from", day])
        assert result.exit_code == 1, result.output
        assert f"{member}'s last applied change took effect on 1 January 2020" in result.output
        assert counts() == before
    # a later quarter is accepted
    result = app.test_cli_runner().invoke(args=[
        "round", "change-notice", member, "--to", "Newark", "--reason", "Back again", "--effective-from", "2020-04-01"])
    assert result.exit_code == 0 and "takes effect from 2020-04-01" in result.output
