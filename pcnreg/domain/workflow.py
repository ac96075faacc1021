"""The registration workflow of a PCN: one declarative table of transitions.

    draft → submitted → under_review → approved | approved_with_conditions | deferred | rejected
    submitted → draft (withdrawn before review); deferred | rejected → draft (resubmission)
    approved | approved_with_conditions → confirmed (commissioner confirms coverage) → live

Each transition says who may perform it (an action of ``pcnreg.domain.policy``, decided against
the PCN by the policy) and what must hold: small checks over ``Facts`` that return the reason
they fail. The table runs on the domain's one engine (``domain.machine``): ``refusals`` lists
every reason a transition cannot happen now; ``perform`` returns the new state or raises
``Refused`` with them. The services gather the facts and write. Titles and tag colours of the
states live in ``domain.labels``.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from . import labels, policy
from .dates import uk_date
from .machine import Machine, Refused, Transition
from .registration import Missing

__all__ = ["Facts", "Condition", "Refused", "Transition", "MACHINE", "STATES", "STATE_TITLES", "STATE_TAGS",
           "TRANSITIONS", "BY_NAME", "refusals", "perform", "available", "transition"]

STATES: tuple[str, ...] = ("draft", "submitted", "under_review", "approved", "approved_with_conditions",
                           "deferred", "rejected", "confirmed", "live")
STATE_TITLES = labels.TITLES[labels.REGISTRATION]
STATE_TAGS = labels.TAGS[labels.REGISTRATION]
DECISIONS = ("approved", "approved_with_conditions", "deferred", "rejected")
EXCEPTION_OUTCOMES = ("agreed", "refused")        # a committee's decision on a list-size exception request
OUTCOMES = DECISIONS + EXCEPTION_OUTCOMES
EDITABLE = frozenset({"draft", "submitted", "deferred", "rejected"})    # the PCN's draft may still change
APPROVED = frozenset({"approved", "approved_with_conditions"})         # decided, awaiting confirmation
DONE = frozenset({"confirmed", "live"})                                # confirmed by the commissioner


@dataclass(frozen=True)
class Condition:
    text: str
    due_on: dt.date | None


@dataclass(frozen=True)
class Facts:
    """What the checks read about one PCN at one moment (instants are timezone-aware)."""

    state: str
    now: dt.datetime
    deadline_closes: dt.datetime | None = None      # submission deadline (end of its day, local)
    go_live_starts: dt.datetime | None = None       # start of the go-live day, local
    late_override: bool = False                     # a commissioner allowed a late submission
    missing: tuple[Missing, ...] = ()               # what the draft lacks (domain.registration)
    on_agenda: bool = False                         # its current submission is on this meeting's agenda
    rationale: str = ""
    conditions: tuple[Condition, ...] = ()
    coverage_blockers: tuple[str, ...] = ()         # what blocks the commissioner's confirmation


Check = Callable[[Facts], "str | None"]


def before_go_live(f: Facts) -> str | None:
    if f.go_live_starts is not None and f.now >= f.go_live_starts:
        return ("The round went live on "
                f"{uk_date(f.go_live_starts)}: registrations can no longer be submitted or changed; after "
                "go-live a membership change needs 28 days' notice and the commissioner's approval")
    return None


def in_time_or_override(f: Facts) -> str | None:
    if f.deadline_closes is not None and f.now >= f.deadline_closes and not f.late_override:
        return (f"The submission deadline has passed ({uk_date(f.deadline_closes - dt.timedelta(seconds=1))}): "
                "a late submission needs the commissioner to record an override first")
    return None


def nothing_missing(f: Facts) -> str | None:
    if f.missing:
        return "The registration is not complete: " + "; ".join(m.message for m in f.missing)
    return None


def has_rationale(f: Facts) -> str | None:
    return None if f.rationale.strip() else "Enter the rationale for the decision"


def has_conditions(f: Facts) -> str | None:
    if not f.conditions:
        return "Enter at least one condition with its due date"
    if any(not c.text.strip() or c.due_on is None for c in f.conditions):
        return "Every condition needs its text and a due date"
    return None


def on_agenda(f: Facts) -> str | None:
    return None if f.on_agenda else "This PCN is not on the agenda of this meeting"


def coverage_complete(f: Facts) -> str | None:
    if f.coverage_blockers:
        return "Confirmation is blocked: " + "; ".join(f.coverage_blockers)
    return None


def go_live_reached(f: Facts) -> str | None:
    if f.go_live_starts is None:
        return "The round has no go-live date"
    if f.now < f.go_live_starts:
        return f"The round goes live on {uk_date(f.go_live_starts)}, not before"
    return None


PREPARE, DECIDE, MANAGE = policy.PREPARE_REGISTRATION, policy.DECIDE, policy.MANAGE_ROUND

TRANSITIONS: tuple[Transition, ...] = (
    Transition("submit", "Submit the registration", frozenset({"draft"}), "submitted", PREPARE,
               (before_go_live, in_time_or_override, nothing_missing)),
    Transition("withdraw", "Withdraw the submission", frozenset({"submitted"}), "draft", PREPARE,
               (before_go_live,)),
    Transition("table", "Put on a committee agenda", frozenset({"submitted"}), "under_review", MANAGE,
               (before_go_live,)),
    Transition("approve", "Approve", frozenset({"under_review"}), "approved", DECIDE,
               (on_agenda, has_rationale)),
    Transition("approve_with_conditions", "Approve with conditions", frozenset({"under_review"}),
               "approved_with_conditions", DECIDE, (on_agenda, has_rationale, has_conditions)),
    Transition("defer", "Defer", frozenset({"under_review"}), "deferred", DECIDE, (on_agenda, has_rationale)),
    Transition("reject", "Reject", frozenset({"under_review"}), "rejected", DECIDE, (on_agenda, has_rationale)),
    Transition("reopen", "Start a new draft", frozenset({"deferred", "rejected"}), "draft", PREPARE,
               (before_go_live,)),
    Transition("confirm", "Confirm the registration", frozenset({"approved", "approved_with_conditions"}),
               "confirmed", MANAGE, (coverage_complete,)),
    Transition("go_live", "Mark live", frozenset({"confirmed"}), "live", MANAGE, (go_live_reached,)),
)
MACHINE = Machine("registration", STATES, STATE_TITLES, TRANSITIONS)
BY_NAME: dict[str, Transition] = MACHINE.by_name
DECISION_TRANSITION = {"approved": "approve", "approved_with_conditions": "approve_with_conditions",
                       "deferred": "defer", "rejected": "reject"}


transition = MACHINE.transition
refusals = MACHINE.refusals
perform = MACHINE.perform
available = MACHINE.available
