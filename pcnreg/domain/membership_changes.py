"""Membership changes after go-live: one declarative table of transitions on the domain's engine.

    (notice given) notified → approved → applied     (from its effective date, as a configuration version)
                   notified → refused                 (with the commissioner's reason)

A practice's notice starts a change in ``notified``; it takes effect from the start of the next
quarter after 28 days' notice (``domain.deadlines.change_takes_effect``). The commissioner
approves or refuses it; a refusal needs its reason. An approved change is applied once its
effective date has come (the round's calendar day). Refused and applied are final.
``notice_problems`` says why a notice cannot be recorded.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from . import labels, policy
from .machine import Machine, Refused, Transition

__all__ = ["Facts", "Refused", "MACHINE", "STATES", "STATE_TITLES", "TRANSITIONS", "notice_problems",
           "refusals", "perform"]

STATES: tuple[str, ...] = ("notified", "approved", "refused", "applied")
STATE_TITLES = labels.TITLES[labels.MEMBERSHIP_CHANGE]
FINAL = frozenset({"refused", "applied"})


@dataclass(frozen=True)
class Facts:
    state: str
    today: dt.date                   # the round's calendar day
    effective_from: dt.date
    note: str = ""                   # the commissioner's note (a refusal's reason)


def has_note(f: Facts) -> str | None:
    return None if f.note.strip() else "Enter why the change is refused"


def effective_date_reached(f: Facts) -> str | None:
    if f.today < f.effective_from:
        return f"The change takes effect from {f.effective_from.day} {f.effective_from:%B %Y}, not before"
    return None


MANAGE = policy.MANAGE_ROUND

TRANSITIONS: tuple[Transition, ...] = (
    Transition("approve", "Approve the change", frozenset({"notified"}), "approved", MANAGE),
    Transition("refuse", "Refuse the change", frozenset({"notified"}), "refused", MANAGE, (has_note,)),
    Transition("apply", "Apply the change", frozenset({"approved"}), "applied", MANAGE, (effective_date_reached,)),
)
MACHINE = Machine("membership change", STATES, STATE_TITLES, TRANSITIONS)
refusals = MACHINE.refusals
perform = MACHINE.perform


def notice_problems(*, round_name: str, live: bool, practice_code: str = "", in_target: bool = False,
                    target_name: str = "", reason: str = "") -> list[str]:
    """Why a practice's notice of a move to ``target_name`` cannot be recorded (empty: it can).
    Before go-live the grouping is changed directly, not by notice (and nothing else is asked)."""
    if not live:
        return [f"{round_name} has not gone live: change the grouping directly"]
    problems = []
    if in_target:
        problems.append(f"{practice_code} is already in {target_name}")
    if not (reason or "").strip():
        problems.append("Enter the reason for the change")
    return problems
