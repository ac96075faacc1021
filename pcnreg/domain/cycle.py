"""The yearly cycle of the Network Contract DES (from 2020/21), as plain data and rules.

- **Participation (opt-out) window**: practices take part by default; a practice may opt out, with
  its reason, only between the window's first and last day (inclusive, the round's calendar day).
- **Annual return** of each PCN: its lead confirms "no change" or notifies changes (a practice
  joining or leaving, the payee or own account, the Clinical Director, the network area) before
  the year's deadline; the commissioner accepts it or asks for changes, with the reason. The
  states and transitions are one table on the domain's engine (``domain.machine``):

      draft → submitted → accepted
                        → changes_requested → submitted (resubmitted, before the deadline)

The dates come from the contract-year file's ``cycle`` object (each with its source); a date no
source gives is "not set" and the commissioner may set it on the round.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from . import labels, policy
from .contract_years import Sourced
from .dates import uk_date
from .machine import Machine, Refused, Transition

__all__ = ["CYCLE_FIELDS", "FIELD_TITLES", "CycleError", "Refused", "MACHINE", "STATES", "parse_cycle",
           "applies", "opt_out_refusal", "change_problems", "CHANGE_KINDS"]

CYCLE_FIELDS = ("opt_out_opens", "opt_out_closes", "return_deadline")
FIELD_TITLES = {"opt_out_opens": "Opt-out window opens", "opt_out_closes": "Opt-out window closes",
                "return_deadline": "Annual return due by"}
FIRST_CYCLE_YEAR = 2020          # 2019/20 was a one-off registration


class CycleError(ValueError):
    pass


def parse_cycle(data: object, where: str) -> dict[str, Sourced]:
    """The ``cycle`` object of a contract-year file (absent: every date "not set")."""
    if data is None:
        return {name: Sourced(None, None) for name in CYCLE_FIELDS}
    if not isinstance(data, dict):
        raise CycleError(f"{where}: cycle must be an object of {', '.join(CYCLE_FIELDS)}")
    out, problems = {}, []
    for name in data:
        if name not in CYCLE_FIELDS:
            problems.append(f"{where}: cycle.{name} is not a date of the cycle (known: {', '.join(CYCLE_FIELDS)})")
    for name in CYCLE_FIELDS:
        item = data.get(name) or {}
        if not isinstance(item, dict):
            problems.append(f"{where}: cycle.{name} must be an object with value and source")
            continue
        value, source = item.get("value"), item.get("source")
        day = None
        if value is not None:
            try:
                day = dt.date.fromisoformat(str(value))
            except ValueError:
                problems.append(f"{where}: cycle.{name}: {str(value)[:40]!r} is not a date (YYYY-MM-DD)")
        out[name] = Sourced(day, source.strip() if isinstance(source, str) and source.strip() else None)
    opens, closes = out.get("opt_out_opens"), out.get("opt_out_closes")
    if opens and closes and opens.value and closes.value and opens.value > closes.value:
        problems.append(f"{where}: cycle.opt_out_opens is after cycle.opt_out_closes")
    if problems:
        raise CycleError("; ".join(problems))
    return out


def applies(contract_year: str | None) -> bool:
    """Whether a round of this contract year runs the yearly cycle (2020/21 and later)."""
    return bool(contract_year) and int(contract_year[:4]) >= FIRST_CYCLE_YEAR


def window_problems(opens: dt.date | None, closes: dt.date | None) -> str | None:
    if opens and closes and opens > closes:
        return "The opt-out window cannot close before it opens"
    return None


def opt_out_refusal(today: dt.date, opens: dt.date | None, closes: dt.date | None, year: str) -> str | None:
    """Why a practice cannot opt out today (None: it can)."""
    if opens is None or closes is None:
        return (f"The {year} opt-out window is not set: the commissioner sets its dates on the round before a "
                "practice can opt out")
    if today < opens:
        return f"The {year} opt-out window opens on {uk_date(opens)}: a practice cannot opt out before then"
    if today > closes:
        return (f"The {year} opt-out window closed on {uk_date(closes)}: a practice can no longer opt out this "
                "year (it takes part)")
    return None


# --- the annual return ---------------------------------------------------------------------------------

STATES: tuple[str, ...] = ("draft", "submitted", "accepted", "changes_requested")
STATE_TITLES = labels.TITLES[labels.ANNUAL_RETURN]
#: join / leave: a practice joins or leaves the PCN; payee: the nominated payee or own account;
#: clinical_director: a new Clinical Director; area: the network area.
CHANGE_KINDS = ("join", "leave", "payee", "own_account", "clinical_director", "area")
CHANGE_TITLES = {"join": "A practice joins the PCN", "leave": "A practice leaves the PCN",
                 "payee": "A new nominated payee practice", "own_account": "Paid into the PCN's own account",
                 "clinical_director": "A new Clinical Director", "area": "A change to the network area"}


@dataclass(frozen=True)
class ReturnFacts:
    state: str
    today: dt.date
    deadline: dt.date | None
    no_change: bool = False
    changes: int = 0
    note: str = ""                   # the commissioner's reason for asking for changes
    year: str = ""


def deadline_set(f: ReturnFacts) -> str | None:
    if f.deadline is None:
        return (f"The {f.year} annual return deadline is not set: the commissioner sets it on the round before "
                "a return can be made")
    return None


def before_deadline(f: ReturnFacts) -> str | None:
    if f.deadline is not None and f.today > f.deadline:
        return f"The annual return was due by {uk_date(f.deadline)}: it can no longer be made this year"
    return None


def says_something(f: ReturnFacts) -> str | None:
    if f.no_change and f.changes:
        return "A return confirms “no change” or notifies changes, not both: remove the changes or untick “no change”"
    if not f.no_change and not f.changes:
        return "Confirm “no change” or add the changes the PCN notifies"
    return None


def has_note(f: ReturnFacts) -> str | None:
    return None if f.note.strip() else "Enter what the PCN must change in its return"


TRANSITIONS: tuple[Transition, ...] = (
    Transition("submit", "Make the annual return", frozenset({"draft", "changes_requested"}), "submitted",
               policy.PREPARE_REGISTRATION, (deadline_set, before_deadline, says_something)),
    Transition("accept", "Accept the return", frozenset({"submitted"}), "accepted", policy.MANAGE_ROUND),
    Transition("ask_changes", "Ask for changes", frozenset({"submitted"}), "changes_requested",
               policy.MANAGE_ROUND, (has_note,)),
)
MACHINE = Machine("annual return", STATES, STATE_TITLES, TRANSITIONS)
EDITABLE = frozenset({"draft", "changes_requested"})


def change_problems(kind: str, *, practice: str, details: str, effective: dt.date | None, members: set[str],
                    known_practice: bool, year_start: dt.date, year_end: dt.date,
                    own_account_allowed: bool) -> list[tuple[str | None, str]]:
    """Why a change cannot be added to a return: (field, message) pairs (empty: it can)."""
    out: list[tuple[str | None, str]] = []
    if kind not in CHANGE_KINDS:
        return [("kind", "Choose the kind of change")]
    if effective is None:
        out.append(("effective", "Enter the date the change takes effect"))
    elif not year_start <= effective <= year_end:
        out.append(("effective", f"The change must take effect within the contract year ({uk_date(year_start)} "
                                 f"to {uk_date(year_end)})"))
    needs_practice = kind in ("join", "leave", "payee")
    if needs_practice and not practice:
        out.append(("practice", "Enter the practice's ODS code"))
    elif needs_practice and not known_practice:
        out.append(("practice", f"There is no practice {practice[:10]} in this round"))
    elif kind == "join" and practice in members:
        out.append(("practice", f"{practice} is already a member of the PCN"))
    elif kind in ("leave", "payee") and practice not in members:
        out.append(("practice", f"{practice} is not a member of the PCN"))
    if kind == "own_account" and not own_account_allowed:
        out.append(("kind", "This contract year a PCN is paid through a nominated payee practice"))
    if kind in ("clinical_director", "area") and not details:
        out.append(("details", "Enter the new Clinical Director's name" if kind == "clinical_director"
                    else "Describe the change to the network area"))
    if len(details) > 2000:
        out.append(("details", "The details must be 2,000 characters or fewer"))
    return out
