"""The membership-change table (pcnreg.domain.membership_changes), written from the rules:
after go-live a practice gives notice (the change is "notified"); the commissioner approves it
or refuses it with a reason; an approved change is applied from its effective date (the start
of a quarter), not before; refused and applied changes are final."""
from __future__ import annotations

import datetime as dt

import pytest

from pcnreg.domain import membership_changes as dom
from pcnreg.domain import policy

OCT_1 = dt.date(2019, 10, 1)

# (state, step) -> the state after it; every other pair is refused.
EXPECTED = {
    ("notified", "approve"): "approved",
    ("notified", "refuse"): "refused",
    ("approved", "apply"): "applied",
}
STEPS = ("approve", "refuse", "apply")


def facts(state: str, *, today: dt.date = OCT_1, note: str = "Too far from the hub") -> dom.Facts:
    return dom.Facts(state=state, today=today, effective_from=OCT_1, note=note)


@pytest.mark.parametrize("state", ["notified", "approved", "refused", "applied"])
@pytest.mark.parametrize("step", STEPS)
def test_each_step_from_each_state(state, step):
    if (state, step) in EXPECTED:
        assert dom.perform(step, facts(state)) == EXPECTED[(state, step)]
    else:
        with pytest.raises(dom.Refused, match="cannot be taken through"):
            dom.perform(step, facts(state))


def test_refused_and_applied_are_final():
    for state in ("refused", "applied"):
        assert all(dom.refusals(step, facts(state)) for step in STEPS)


def test_a_refusal_needs_its_reason_an_approval_does_not():
    assert dom.refusals("refuse", facts("notified", note="   ")) == ["Enter why the change is refused"]
    assert dom.refusals("approve", facts("notified", note="")) == []


def test_an_approved_change_is_applied_from_its_date_not_the_day_before():
    assert dom.refusals("apply", facts("approved", today=OCT_1)) == []
    assert dom.refusals("apply", facts("approved", today=OCT_1 + dt.timedelta(days=40))) == []
    reasons = dom.refusals("apply", facts("approved", today=dt.date(2019, 9, 30)))
    assert reasons == ["The change takes effect from 1 October 2019, not before"]


def test_the_commissioner_performs_every_step():
    assert {t.action for t in dom.TRANSITIONS} == {policy.MANAGE_ROUND}


def test_a_notice_needs_a_live_round_another_pcn_and_a_reason():
    assert dom.notice_problems(round_name="2019/20", live=False, practice_code="C84001", target_name="Newark",
                               reason="x") == ["2019/20 has not gone live: change the grouping directly"]
    assert dom.notice_problems(round_name="2019/20", live=True, practice_code="C84001", in_target=True,
                               target_name="Newark", reason=" ") == [
        "C84001 is already in Newark", "Enter the reason for the change"]
    assert dom.notice_problems(round_name="2019/20", live=True, practice_code="C84001", in_target=False,
                               target_name="Newark", reason="Closer to home") == []
