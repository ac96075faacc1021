"""The domain core of the registration round: the transition table, deadlines in UK local time,
what a draft is missing, and funding. Plain data, no database."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pcnreg.domain import deadlines, funding, policy, workflow
from pcnreg.domain import registration as reg
from pcnreg.domain.types import Finding, Subject

UK = ZoneInfo("Europe/London")
UTC = dt.UTC
DEADLINE = dt.date(2019, 5, 15)
GO_LIVE = dt.date(2019, 7, 1)
CLOSES = deadlines.closes_at(DEADLINE, "Europe/London")
LIVE = deadlines.starts_at(GO_LIVE, "Europe/London")
BEFORE = dt.datetime(2019, 5, 10, 12, tzinfo=UK)


def good_facts(state: str, **changes) -> workflow.Facts:
    """Facts under which every check of every transition holds (then changed by ``changes``)."""
    values = dict(state=state, now=BEFORE, deadline_closes=CLOSES, go_live_starts=LIVE, on_agenda=True,
                  rationale="Meets every requirement",
                  conditions=(workflow.Condition("Schedule 1 signed", dt.date(2019, 6, 30)),))
    values.update(changes)
    return workflow.Facts(**values)


# --- the transition table ------------------------------------------------------------------------

EXPECTED = {   # the issue's state diagram, written out independently of the table
    ("draft", "submit"): "submitted", ("submitted", "withdraw"): "draft",
    ("submitted", "table"): "under_review",
    ("under_review", "approve"): "approved", ("under_review", "approve_with_conditions"): "approved_with_conditions",
    ("under_review", "defer"): "deferred", ("under_review", "reject"): "rejected",
    ("deferred", "reopen"): "draft", ("rejected", "reopen"): "draft",
    ("approved", "confirm"): "confirmed", ("approved_with_conditions", "confirm"): "confirmed",
    ("confirmed", "go_live"): "live",
}
LATE_STEPS = {"confirm", "go_live"}     # need a later clock than the others


@pytest.mark.parametrize("state", workflow.STATES)
@pytest.mark.parametrize("name", list(workflow.BY_NAME))
def test_every_transition_from_every_state(state, name):
    now = LIVE + dt.timedelta(seconds=1) if name in LATE_STEPS else BEFORE
    facts = good_facts(state, now=now)
    if (state, name) in EXPECTED:
        assert workflow.refusals(name, facts) == []
        assert workflow.perform(name, facts) == EXPECTED[(state, name)]
    else:
        with pytest.raises(workflow.Refused) as refused:
            workflow.perform(name, facts)
        assert "cannot be taken through" in refused.value.reasons[0]


def test_the_table_has_only_the_issue_transitions_and_known_states():
    table = {(s, t.name): t.target for t in workflow.TRANSITIONS for s in t.sources}
    assert table == EXPECTED
    assert {t.target for t in workflow.TRANSITIONS} <= set(workflow.STATES)
    assert all(t.action in policy.ACTIONS for t in workflow.TRANSITIONS)


def test_who_performs_each_transition():
    by_action = {t.name: t.action for t in workflow.TRANSITIONS}
    assert {n for n, a in by_action.items() if a == policy.DECIDE} == {
        "approve", "approve_with_conditions", "defer", "reject"}
    assert {n for n, a in by_action.items() if a == policy.PREPARE_REGISTRATION} == {"submit", "withdraw", "reopen"}
    assert {n for n, a in by_action.items() if a == policy.MANAGE_ROUND} == {"table", "confirm", "go_live"}
    lead = policy.Principal(1, frozenset({policy.Grant("pcn_lead", "pcn", 7, 1)}))
    member = policy.Principal(2, frozenset({policy.Grant("committee_member", "committee", 3, 1)}))
    pcn7 = policy.Target(system_id=1, commissioner_ids=frozenset({5}), pcn_ids=frozenset({7}))
    committee3 = policy.Target(system_id=1, committee_id=3)
    assert policy.allowed(lead, policy.PREPARE_REGISTRATION, pcn7)
    assert not policy.allowed(lead, policy.DECIDE, committee3)
    assert policy.allowed(member, policy.DECIDE, committee3)
    assert not policy.allowed(member, policy.PREPARE_REGISTRATION, pcn7)
    assert not policy.allowed(lead, policy.MANAGE_ROUND, pcn7)


def test_submit_needs_a_complete_draft_in_time_and_before_go_live():
    missing = (reg.Missing("payee", "No nominated payee"),)
    reasons = workflow.refusals("submit", good_facts("draft", missing=missing))
    assert reasons == ["The registration is not complete: No nominated payee"]
    late = good_facts("draft", now=CLOSES)
    assert "deadline has passed" in workflow.refusals("submit", late)[0]
    assert workflow.refusals("submit", good_facts("draft", now=CLOSES, late_override=True)) == []
    after_live = good_facts("draft", now=LIVE, late_override=True)
    assert "went live" in workflow.refusals("submit", after_live)[0]


def test_decisions_need_the_agenda_a_rationale_and_dated_conditions():
    assert workflow.refusals("approve", good_facts("under_review", on_agenda=False)) == [
        "This PCN is not on the agenda of this meeting"]
    assert workflow.refusals("defer", good_facts("under_review", rationale="  ")) == [
        "Enter the rationale for the decision"]
    assert workflow.refusals("approve_with_conditions", good_facts("under_review", conditions=())) == [
        "Enter at least one condition with its due date"]
    undated = (workflow.Condition("Schedule 1 signed", None),)
    assert workflow.refusals("approve_with_conditions", good_facts("under_review", conditions=undated)) == [
        "Every condition needs its text and a due date"]


def test_confirmation_lists_its_blockers_and_go_live_waits_for_its_day():
    blocked = good_facts("approved", coverage_blockers=("C84001 is not in any PCN",))
    assert workflow.refusals("confirm", blocked) == ["Confirmation is blocked: C84001 is not in any PCN"]
    assert "not before" in workflow.refusals("go_live", good_facts("confirmed", now=LIVE - dt.timedelta(seconds=1)))[0]
    assert workflow.refusals("go_live", good_facts("confirmed", now=LIVE)) == []


# --- deadlines ------------------------------------------------------------------------------------

def test_deadline_is_the_end_of_the_day_in_uk_local_time():
    # 15 May 2019 is in British Summer Time: the deadline closes at 23:00 UTC.
    assert CLOSES == dt.datetime(2019, 5, 15, 23, 0, tzinfo=UTC)
    one_second_before = dt.datetime(2019, 5, 15, 22, 59, 59, tzinfo=UTC)
    assert not deadlines.is_late(one_second_before, DEADLINE, "Europe/London")
    assert deadlines.is_late(dt.datetime(2019, 5, 15, 23, 0, 0, tzinfo=UTC), DEADLINE, "Europe/London")
    assert deadlines.is_late(dt.datetime(2019, 5, 16, 0, 0, 1, tzinfo=UK), DEADLINE, "Europe/London")
    # In winter (GMT) local midnight is UTC midnight.
    winter = dt.date(2019, 12, 2)
    assert deadlines.closes_at(winter, "Europe/London") == dt.datetime(2019, 12, 3, 0, 0, tzinfo=UTC)
    # Another time zone is the round's data, not a constant.
    assert deadlines.closes_at(DEADLINE, "UTC") == dt.datetime(2019, 5, 16, tzinfo=UTC)


def test_naive_instants_are_refused():
    with pytest.raises(ValueError):
        deadlines.is_late(dt.datetime(2019, 5, 15, 12), DEADLINE, "Europe/London")


def _status(state, now, submitted=None, override=False):
    return deadlines.status(state, now=now, deadline=DEADLINE, timezone="Europe/London",
                            last_submitted_at=submitted, late_override=override)


def test_deadline_status_due_overdue_late_none():
    assert _status("draft", dt.datetime(2019, 5, 10, 9, tzinfo=UK)) == deadlines.DeadlineStatus("due", 5, "due in 5 days")
    assert _status("draft", dt.datetime(2019, 5, 14, 23, 30, tzinfo=UK)).text == "due tomorrow"
    assert _status("draft", CLOSES - dt.timedelta(seconds=1)).text == "due today"
    assert _status("draft", CLOSES).kind == "overdue"
    assert "allowed" in _status("draft", CLOSES, override=True).text
    assert _status("submitted", CLOSES, submitted=CLOSES - dt.timedelta(seconds=1)).kind == "none"
    assert _status("approved", CLOSES + dt.timedelta(days=9), submitted=CLOSES).kind == "late"
    no_deadline = deadlines.status("draft", now=BEFORE, deadline=None, timezone="Europe/London",
                                   last_submitted_at=None)
    assert no_deadline.kind == "none"


@pytest.mark.parametrize("notice, effective", [
    (dt.date(2019, 8, 1), dt.date(2019, 10, 1)),     # 28 days: 29 Aug, next quarter 1 Oct
    (dt.date(2019, 9, 3), dt.date(2019, 10, 1)),     # exactly 28 days before a quarter day
    (dt.date(2019, 9, 4), dt.date(2020, 1, 1)),      # one day too late for October
    (dt.date(2019, 12, 20), dt.date(2020, 4, 1)),    # across the year end
])
def test_membership_change_after_go_live_takes_effect_next_quarter(notice, effective):
    assert deadlines.change_takes_effect(notice) == effective


@given(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2090, 1, 1)))
def test_membership_change_date_properties(notice):
    effective = deadlines.change_takes_effect(notice)
    assert effective.day == 1 and effective.month in (1, 4, 7, 10)
    assert effective >= notice + dt.timedelta(days=28)
    assert effective - dt.timedelta(days=92) < notice + dt.timedelta(days=28)   # the first such quarter day


# --- what a draft is missing ---------------------------------------------------------------------

def _error(rule="list_size_band", key="7") -> Finding:
    return Finding(rule, "error", Subject("pcn", None, "Small PCN", key), "Below the band: needs an exception")


def test_an_empty_draft_misses_everything():
    draft = reg.Draft("7", "Small PCN", ("C84001", "C84002"), blocking=(_error(),))
    items = [(m.item, m.practice) for m in reg.missing(draft)]
    assert items == [("confirmation", "C84001"), ("confirmation", "C84002"), ("agreement_core", "C84001"),
                     ("agreement_core", "C84002"), ("payee", None), ("clinical_director", None),
                     ("exception_request", None)]


def test_a_complete_draft_misses_nothing_and_schedule1_is_separate():
    sign = {(c, "core"): reg.Signature(c, "core", dt.date(2019, 5, 1), "Dr X", "a.pdf")
            for c in ("C84001", "C84002")}
    draft = reg.Draft("7", "Small PCN", ("C84001", "C84002"), frozenset({"C84001", "C84002"}), sign, "C84002",
                      reg.ClinicalDirector("Dr Y", "C84001", "GP", "agreement"), blocking=(_error(),),
                      requested=frozenset({reg.finding_key(_error())}))
    assert reg.missing(draft) == []
    assert [m.item for m in reg.missing(draft, stages=("schedule1",))] == ["agreement_schedule1"] * 2


def test_payee_and_cd_must_belong_to_the_network():
    draft = reg.Draft("7", "Small PCN", ("C84001",), frozenset({"C84001"}),
                      {("C84001", "core"): reg.Signature("C84001", "core", dt.date(2019, 5, 1), "X", "a.pdf")},
                      payee="Y99999", clinical_director=reg.ClinicalDirector("Dr Y", "Y99999", None, "vote"))
    messages = [m.message for m in reg.missing(draft)]
    assert "The nominated payee Y99999 is not a member practice" in messages
    assert "The Clinical Director must practise at a member practice of the network" in messages
    assert "Say how the Clinical Director was chosen (election or agreement)" in messages
    assert reg.check_payee("Y99999", ("C84001",)).startswith("Y99999 is not a member practice")
    assert reg.check_payee("C84001", ("C84001",)) is None


# --- funding --------------------------------------------------------------------------------------

CORE = funding.Rate("core_pcn_funding", "Core PCN funding", Decimal("1.50"), "year", dt.date(2019, 7, 1),
                    dt.date(2020, 3, 31))
CD = funding.Rate("clinical_director", "Clinical Director contribution", Decimal("0.514"), "period",
                  dt.date(2019, 7, 1), dt.date(2020, 3, 31))


def test_2019_20_funding_for_a_50000_patient_pcn():
    assert funding.whole_months(dt.date(2019, 7, 1), dt.date(2020, 3, 31)) == 9
    assert funding.entitlement(50_000, CORE, GO_LIVE) == Decimal("56250.00")      # £1.50 × 9/12 × 50,000
    assert funding.annual(50_000, CORE) == Decimal("75000.00")
    assert funding.entitlement(50_000, CD, GO_LIVE) == Decimal("25700.00")        # £0.514 × 50,000
    assert funding.annual(50_000, CD) is None
    assert funding.cd_wte(50_000) == Decimal("0.25")
    assert funding.entitlement(31_337, CD, GO_LIVE) == Decimal("16107.22")        # 16,107.218 rounded half up
    assert funding.applicable([CORE, CD], dt.date(2020, 7, 1)) == []


def test_missing_names_practices_beside_their_codes():
    draft = reg.Draft(pcn_key="1", pcn_name="Newark", members=("C84009", "C84010"), payee="Y99999",
                      names={"C84009": "Balderton Surgery"})
    messages = [m.message for m in reg.missing(draft)]
    assert "Balderton Surgery (C84009) has not confirmed its membership" in messages
    assert "C84010 has not confirmed its membership" in messages          # no name known: the code alone
    assert any(m.startswith("Balderton Surgery (C84009) has not signed") for m in messages)
