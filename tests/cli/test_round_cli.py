"""`pcnreg round status`: per PCN its state, deadline status and what is missing, at --as-of."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from workflow_helpers import complete_draft, submitted, uk

from pcnreg.services import registration as reg_svc
from pcnreg.services import rounds as rounds_svc


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def status(runner, *args) -> dict:
    result = runner.invoke(args=["round", "status", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def by_name(report: dict) -> dict:
    return {p["name"]: p for p in report["pcns"]}


def test_status_before_and_after_the_deadline(app, db, runner, demo_round):
    submitted(app, "Newark")                         # at 10 May 2019, in time
    before = by_name(status(runner, "--as-of", "2019-05-15T23:59:59"))     # UK local time
    assert len(before) == 22
    assert before["Newark"]["state"] == "submitted" and before["Newark"]["deadline_status"] == "none"
    assert before["Newark"]["missing"] == []
    sherwood = before["Sherwood"]
    assert sherwood["state"] == "draft" and sherwood["deadline_status"] == "due" and sherwood["days_left"] == 0
    items = {m["item"] for m in sherwood["missing"]}
    assert {"confirmation", "agreement_core", "payee", "clinical_director"} <= items
    after = by_name(status(runner, "--as-of", "2019-05-15T23:00:00Z"))    # the same deadline, in UTC
    assert after["Sherwood"]["deadline_status"] == "overdue"
    assert after["Newark"]["deadline_status"] == "none"


def test_a_late_submission_shows_as_late(app, db, runner, demo_round):
    rnd = rounds_svc.get_round(None)

    app.config["PCNREG_NOW"] = uk(2019, 5, 20, 10, 0)
    pcn = rounds_svc.get_pcn(rnd, "Sherwood")
    complete_draft(rnd, pcn, signed_on=dt.date(2019, 5, 18))
    reg_svc.allow_late(rnd, pcn, "Agreed by the CCG")
    reg_svc.submit(rnd, pcn)
    report = by_name(status(runner, "--round", rnd.name, "--as-of", "2019-05-21T09:00:00+01:00"))
    assert report["Sherwood"]["deadline_status"] == "late" and report["Sherwood"]["late_override"] is True


def test_text_output_and_bad_arguments(app, db, runner, demo_round):
    result = runner.invoke(args=["round", "status", "--as-of", "2019-05-01T12:00"])
    assert result.exit_code == 0 and "due in 14 days" in result.output and "missing: " in result.output
    bad = runner.invoke(args=["round", "status", "--as-of", "next tuesday"])
    assert bad.exit_code == 2 and "--as-of" in bad.output
    unknown = runner.invoke(args=["round", "status", "--round", "Nowhere 2030"])
    assert unknown.exit_code == 1 and "Nowhere 2030" in unknown.output


def test_membership_change_commands_refuse_before_go_live(app, db, runner, demo_round):
    result = runner.invoke(args=["round", "change-notice", "C84001", "--to", "Newark", "--reason", "closer"])
    assert result.exit_code == 1 and "has not gone live" in result.output
    assert runner.invoke(args=["round", "decide-change", "99", "--approve"]).exit_code == 1
    applied = runner.invoke(args=["round", "apply-changes"])
    assert applied.exit_code == 0 and "0 change(s) applied" in applied.output
