"""Clinical Director elections run by the LMC: states, the timetable and one declarative table
of transitions on the domain's engine (``machine.py``, like ``workflow.py`` for registrations).

    draft → nominations_open → nominations_closed → panel → voting_open → voting_closed
          → counted → declared
    panel → declared                   (one eligible candidate: elected unopposed, no ballot)
    nominations_closed | panel → nominations_open   (no candidates: nominations reopened)
    nominations_closed | panel → interim            (no candidates: an interim lead recorded)
    voting_closed → interim                         (nobody voted: an interim lead recorded)
    draft | nominations_open | nominations_closed → appointed   (by agreement at a PCN meeting)
    any state before voting opens → cancelled (with the reason)

The timetable drives the clock-bound steps: nominations are taken only between their opening
and closing instants, votes only between voting's, and voting closes itself at its closing
instant (``effective_state``): nothing is accepted after it. Voting cannot be reopened; an
extension of the closing time, made while voting is open, is recorded with its reason.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from . import labels
from .machine import Machine, Refused, Transition

__all__ = ["Facts", "Timetable", "Refused", "Transition", "MACHINE", "STATES", "STATE_TITLES", "TRANSITIONS",
           "BY_NAME", "refusals", "perform", "effective_state", "may_vote", "may_nominate"]

STATES: tuple[str, ...] = ("draft", "nominations_open", "nominations_closed", "panel", "voting_open",
                           "voting_closed", "counted", "declared", "interim", "appointed", "cancelled")
STATE_TITLES = labels.TITLES[labels.ELECTION]
METHODS = {"plurality": "One practice, one vote", "weighted": "Votes weighted by registered list size",
           "irv": "Alternative vote (instant run-off)"}
TIE_BREAKS = {"lots": "Drawing of lots by the returning officer with a witness",
              "seed": "Seeded draw, the seed published before the count"}
BEFORE_VOTING = frozenset({"draft", "nominations_open", "nominations_closed", "panel"})

# Professional registration numbers: GMC 7 digits; NMC 2 digits, a letter, 4 digits, a letter
# (e.g. 12A3456E); HCPC two letters and 5 or 6 digits (e.g. PH123456); GPhC 7 digits.
REGISTRATION_FORMATS = {
    "GMC": re.compile(r"^[0-9]{7}$"),
    "NMC": re.compile(r"^[0-9]{2}[A-Z][0-9]{4}[A-Z]$"),
    "HCPC": re.compile(r"^[A-Z]{2}[0-9]{5,6}$"),
    "GPhC": re.compile(r"^[0-9]{7}$"),
}


def registration_problem(body: str, number: str) -> str | None:
    """Why a professional registration number is not in its register's format (None: it is)."""
    pattern = REGISTRATION_FORMATS.get(body)
    if pattern is None:
        return f"Choose the professional register ({', '.join(REGISTRATION_FORMATS)})"
    if not pattern.match((number or "").strip().upper()):
        examples = {"GMC": "7 digits, e.g. 1234567", "NMC": "e.g. 12A3456E", "HCPC": "e.g. PH123456",
                    "GPhC": "7 digits, e.g. 2012345"}
        return f"{number!r} is not a {body} registration number ({examples[body]})"
    return None


@dataclass(frozen=True)
class Timetable:
    """The election's dates as instants (timezone-aware)."""

    nominations_open: dt.datetime
    nominations_close: dt.datetime
    voting_open: dt.datetime
    voting_close: dt.datetime
    panel_from: dt.date | None = None
    panel_to: dt.date | None = None
    count_on: dt.date | None = None
    declare_by: dt.date | None = None
    timezone: str = "Europe/London"      # the round's: how instants are shown to people

    def when(self, moment: dt.datetime) -> str:
        """An instant as people read it: "17:00 on 3 May 2019 (UK time)"."""
        local = moment.astimezone(ZoneInfo(self.timezone))
        zone = " (UK time)" if self.timezone == "Europe/London" else f" ({self.timezone})"
        return f"{local:%H:%M} on {local.day} {local:%B %Y}{zone}"

    def problems(self) -> list[str]:
        out = []
        if not self.nominations_open < self.nominations_close:
            out.append("Nominations must close after they open")
        if not self.nominations_close <= self.voting_open:
            out.append("Voting must open after nominations close")
        if not self.voting_open < self.voting_close:
            out.append("Voting must close after it opens")
        return out


@dataclass(frozen=True)
class Facts:
    state: str
    now: dt.datetime
    timetable: Timetable
    candidates: int = 0                  # nominated and not withdrawn
    shortlisted: int = 0                 # eligible after the panel
    undecided: int = 0                   # candidates the panel has not assessed yet
    electorate: int = 0                  # member practices (when voting would open)
    reason: str = ""
    minutes_complete: bool = False       # agreement: date, practices present and outcome minuted
    interim_named: bool = False
    ballots: int = 0                     # ballots cast (only their number)


def effective_state(state: str, timetable: Timetable, now: dt.datetime) -> str:
    """The state the clock has put the election in: voting closes itself at its closing time."""
    if state == "voting_open" and now >= timetable.voting_close:
        return "voting_closed"
    return state


Check = Callable[[Facts], "str | None"]


def _at_or_after(attr: str, what: str) -> Check:
    def check(f: Facts) -> str | None:
        moment = getattr(f.timetable, attr)
        return None if f.now >= moment else f"{what} not before {f.timetable.when(moment)}"
    return check


def _before(attr: str, what: str) -> Check:
    def check(f: Facts) -> str | None:
        moment = getattr(f.timetable, attr)
        return None if f.now < moment else f"{what}: the timetable closed it at {f.timetable.when(moment)}"
    return check


def no_candidates(f: Facts) -> str | None:
    return None if f.candidates == 0 and f.shortlisted == 0 else "There are candidates: this is for an election without any"


def nobody_to_elect(f: Facts) -> str | None:
    """Before voting: no candidates; after voting closed: no ballot was cast."""
    if effective_state(f.state, f.timetable, f.now) == "voting_closed":
        return None if f.ballots == 0 else "Ballots were cast: count them"
    return no_candidates(f)


def panel_done(f: Facts) -> str | None:
    return f"The panel has not assessed {f.undecided} candidate(s)" if f.undecided else None


def contested(f: Facts) -> str | None:
    if f.shortlisted < 2:
        return "Voting needs at least two eligible candidates (one: declare them elected unopposed)"
    if f.electorate < 1:
        return "The PCN has no member practices to vote"
    return None


def one_eligible(f: Facts) -> str | None:
    return None if f.shortlisted == 1 else f"Elected unopposed needs exactly one eligible candidate, not {f.shortlisted}"


def has_reason(f: Facts) -> str | None:
    return None if f.reason.strip() else "Enter the reason"


def minuted(f: Facts) -> str | None:
    return None if f.minutes_complete else "Enter the meeting date, the practices present and the outcome"


def interim_named(f: Facts) -> str | None:
    return None if f.interim_named else "Enter the interim lead's name"


TRANSITIONS: tuple[Transition, ...] = (
    Transition("open_nominations", "Open nominations", frozenset({"draft"}), "nominations_open",
               checks=(_at_or_after("nominations_open", "Nominations open"),)),
    Transition("close_nominations", "Close nominations", frozenset({"nominations_open"}), "nominations_closed",
               checks=(_at_or_after("nominations_close", "Nominations close"),)),
    Transition("start_panel", "Start the panel assessment", frozenset({"nominations_closed"}), "panel"),
    Transition("open_voting", "Open voting", frozenset({"panel"}), "voting_open",
               checks=(panel_done, contested, _at_or_after("voting_open", "Voting opens"),
                      _before("voting_close", "Voting cannot open"))),
    Transition("close_voting", "Close voting", frozenset({"voting_open"}), "voting_closed",
               checks=(_at_or_after("voting_close", "Voting closes"),)),
    Transition("count", "Count the votes", frozenset({"voting_closed"}), "counted"),
    Transition("declare", "Declare the result", frozenset({"counted"}), "declared"),
    Transition("declare_unopposed", "Declare elected unopposed", frozenset({"panel"}), "declared",
               checks=(panel_done, one_eligible)),
    Transition("reopen_nominations", "Reopen nominations", frozenset({"nominations_closed", "panel"}),
               "nominations_open", checks=(no_candidates, has_reason)),
    Transition("record_interim", "Record an interim lead", frozenset({"nominations_closed", "panel", "voting_closed"}),
               "interim", checks=(nobody_to_elect, interim_named)),
    Transition("record_agreement", "Record an appointment by agreement",
               frozenset({"draft", "nominations_open", "nominations_closed"}), "appointed", checks=(minuted,)),
    Transition("cancel", "Cancel the election", BEFORE_VOTING, "cancelled", checks=(has_reason,)),
)


def _current(f: Facts) -> tuple[str, ...]:
    """The state the clock has made first (what people read), then the recorded one: a step may
    start from either."""
    return (effective_state(f.state, f.timetable, f.now), f.state)


MACHINE = Machine("election", STATES, STATE_TITLES, TRANSITIONS, current=_current)
BY_NAME = MACHINE.by_name
refusals = MACHINE.refusals
perform = MACHINE.perform


def may_vote(state: str, timetable: Timetable, now: dt.datetime) -> str | None:
    """Why no vote is taken now (None: it is). One second either side counts. A stored close
    stays closed whatever the clock says."""
    if state in ("voting_closed", "counted", "declared"):
        return f"Voting closed at {timetable.when(timetable.voting_close)}: no vote is taken after it"
    if state != "voting_open":
        return f"Voting is not open (the election is {STATE_TITLES.get(state, state).lower()})"
    if now < timetable.voting_open:
        return f"Voting opens at {timetable.when(timetable.voting_open)}"
    if now >= timetable.voting_close:
        return f"Voting closed at {timetable.when(timetable.voting_close)}: no vote is taken after it"
    return None


def may_nominate(state: str, timetable: Timetable, now: dt.datetime) -> str | None:
    if state != "nominations_open":
        return f"Nominations are not open (the election is {STATE_TITLES.get(state, state).lower()})"
    if not timetable.nominations_open <= now < timetable.nominations_close:
        return (f"Nominations are taken from {timetable.when(timetable.nominations_open)} to "
                f"{timetable.when(timetable.nominations_close)}")
    return None


def check_preferences(preferences: list[str], candidates: set[str], method: str) -> list[str]:
    """Problems with a ballot's preferences (candidate keys in order; blanks are "")."""
    problems = []
    filled = [p for p in preferences if p]
    if not filled:
        return ["Choose a candidate"]
    if method != "irv" and len(filled) > 1:
        problems.append("Choose one candidate only")
    last = max(i for i, p in enumerate(preferences) if p)
    if any(not p for p in preferences[:last]):
        problems.append("Preferences must be numbered 1, 2, 3… without gaps")
    if len(set(filled)) != len(filled):
        problems.append("A candidate can be given only one preference")
    unknown = [p for p in filled if p not in candidates]
    if unknown:
        problems.append("The ballot names a candidate who is not standing")
    return problems
