"""The close of voting is stored: the first request after the closing time, or `pcnreg election
tick`, records it, and a clock moved back never reopens voting (issue #12, item 8)."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from test_elections import at, city, contested  # noqa: F401  (fixtures)
from workflow_helpers import uk

from pcnreg.extensions import db as _db
from pcnreg.models import AuditEvent, Election
from pcnreg.services import elections as el


def _state(e) -> str:
    _db.session.expire_all()
    return _db.session.get(Election, e.id).state


def test_the_first_request_after_the_close_stores_it_and_the_clock_moving_back_does_not_reopen(app, city, anon_client):  # noqa: F811
    rnd, pcn = city
    e, (ada, bo, _), tokens = contested(app, rnd, pcn)
    codes = sorted(tokens)
    el.cast(tokens[codes[0]], [str(ada.id)])
    at(app, uk(2019, 4, 30, 12, 0))
    assert anon_client.get("/about").status_code == 200
    assert _state(e) == "voting_open"                       # not yet due
    at(app, uk(2019, 5, 3, 17, 0, 1))
    assert anon_client.get("/about").status_code == 200     # any request, signed in or not
    assert _state(e) == "voting_closed"
    at(app, uk(2019, 5, 1, 12, 0))                          # the clock moves back
    e = _db.session.get(Election, e.id)
    assert el.state(e) == "voting_closed"
    with pytest.raises(el.ElectionError, match="Voting closed"):
        el.cast(tokens[codes[1]], [str(bo.id)])
    anon_client.get("/about")
    assert _state(e) == "voting_closed"
    events = [ev for ev in _db.session.scalars(select(AuditEvent).where(AuditEvent.action == "election.close_voting"))]
    assert len(events) == 1 and json.loads(events[0].after)["ballots"] == 1


def test_tick_closes_due_elections(app, city, runner):  # noqa: F811
    rnd, pcn = city
    e, (ada, _, _), tokens = contested(app, rnd, pcn)
    el.cast(tokens[sorted(tokens)[0]], [str(ada.id)])
    result = runner.invoke(args=["election", "tick"])
    assert result.exit_code == 0 and "0 election" in result.output
    assert _state(e) == "voting_open"
    at(app, uk(2019, 5, 3, 17, 0))
    result = runner.invoke(args=["election", "tick"])
    assert result.exit_code == 0, result.output
    assert f"Closed voting in 1 election(s): {e.id}" in result.output
    assert _state(e) == "voting_closed"
    again = runner.invoke(args=["election", "tick"])
    assert "0 election" in again.output
    at(app, uk(2019, 4, 26, 9, 0))
    with pytest.raises(el.ElectionError):
        el.extend_voting(_db.session.get(Election, e.id), uk(2019, 5, 10, 17, 0), "more time")
    at(app, uk(2019, 5, 4, 10, 0))
    assert el.count(_db.session.get(Election, e.id))["turnout"] == {"voted": 1, "electorate": 12}
