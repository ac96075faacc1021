"""Deadlines in UK local time, deadline status, and when a membership change takes effect.

A deadline date means the end of that day where the round is run: "submit by 15 May 2019" is
open until 23:59:59.999… on 15 May in Europe/London (British Summer Time then, UTC+1), i.e.
it closes at 2019-05-15T23:00:00Z. Instants are timezone-aware; naive datetimes are refused,
so that nobody compares a UTC clock with a local date by accident.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from .dates import uk_date

DeadlineKind = Literal["due", "late", "overdue", "none"]
NOT_SUBMITTED = frozenset({"draft"})          # states in which a PCN has not (re)submitted


def _aware(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a naive datetime: give instants with their time zone")
    return moment


def closes_at(day: dt.date, timezone: str) -> dt.datetime:
    """The instant a deadline of ``day`` closes: the start of the next day, local time."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), ZoneInfo(timezone))


def starts_at(day: dt.date, timezone: str) -> dt.datetime:
    """The instant ``day`` begins, local time (go-live is from the start of its day)."""
    return dt.datetime.combine(day, dt.time(0), ZoneInfo(timezone))


def is_late(submitted_at: dt.datetime, deadline: dt.date | None, timezone: str) -> bool:
    return deadline is not None and _aware(submitted_at) >= closes_at(deadline, timezone)


@dataclass(frozen=True)
class DeadlineStatus:
    kind: DeadlineKind
    days_left: int | None = None        # for "due": whole local days until the deadline day (0 = today)
    text: str = ""


def status(state: str, *, now: dt.datetime, deadline: dt.date | None, timezone: str,
           last_submitted_at: dt.datetime | None, late_override: bool = False) -> DeadlineStatus:
    """Where a PCN stands against the submission deadline.

    - ``due``: not submitted and the deadline has not passed ("due in N days");
    - ``overdue``: not submitted and the deadline has passed;
    - ``late``: its latest submission came after the deadline (accepted with an override);
    - ``none``: submitted in time, or the round has no deadline.
    """
    now = _aware(now)
    if deadline is None:
        return DeadlineStatus("none", text="no deadline")
    closing = closes_at(deadline, timezone)
    if state in NOT_SUBMITTED:
        if now < closing:
            days = (deadline - now.astimezone(ZoneInfo(timezone)).date()).days
            when = "today" if days == 0 else ("tomorrow" if days == 1 else f"in {days} days")
            return DeadlineStatus("due", days, f"due {when}")
        suffix = " (late submission allowed by the commissioner)" if late_override else ""
        return DeadlineStatus("overdue", text=f"overdue: the deadline was {uk_date(deadline)}{suffix}")
    if last_submitted_at is not None and is_late(last_submitted_at, deadline, timezone):
        return DeadlineStatus("late", text="submitted after the deadline")
    return DeadlineStatus("none", text="submitted in time")


NOTICE_DAYS = 28
QUARTER_STARTS = (1, 4, 7, 10)


def change_takes_effect(notice_given: dt.date, notice_days: int = NOTICE_DAYS) -> dt.date:
    """After go-live a membership change needs ``notice_days`` of notice and takes effect from
    the start of the next quarter after the notice has run (1 January, April, July, October)."""
    earliest = notice_given + dt.timedelta(days=notice_days)
    year, month = earliest.year, earliest.month
    if earliest.day == 1 and month in QUARTER_STARTS:
        return earliest
    for start in QUARTER_STARTS:
        if start > month:
            return dt.date(year, start, 1)
    return dt.date(year + 1, 1, 1)
