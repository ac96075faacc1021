"""Where a round stands on a given day, from its dates (plain Python).

A round is "being set up" before it opens, "open for submissions" until its deadline, "in review"
until go-live, "live" from go-live on, and "ended" after the last day of its contract year (the
configuration of a past year, kept as its record). A date the round does not have (not set) moves it
on to the next phase it has; a round with no dates at all stays "being set up".
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

PHASES = ("setting_up", "open", "in_review", "live", "ended")
PHASE_TITLES = {"setting_up": "Being set up", "open": "Open for submissions", "in_review": "In review",
                "live": "Live", "ended": "Year ended"}
PHASE_COLOURS = {"setting_up": "grey", "open": "blue", "in_review": "yellow", "live": "green", "ended": "purple"}


@dataclass(frozen=True)
class RoundDates:
    opens: dt.date | None
    submission_deadline: dt.date | None
    go_live: dt.date | None
    year_ends: dt.date | None = None     # the contract year's last day


def phase(dates: RoundDates, today: dt.date) -> str:
    if dates.year_ends and today > dates.year_ends:
        return "ended"
    if dates.go_live and today >= dates.go_live:
        return "live"
    if dates.submission_deadline and today > dates.submission_deadline:
        return "in_review"
    if dates.opens and today >= dates.opens:
        return "open"
    if dates.opens is None and dates.submission_deadline and today <= dates.submission_deadline:
        return "open"
    return "setting_up"
