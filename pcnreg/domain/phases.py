"""Where a round stands on a given day, from its dates (plain Python).

A round is "being set up" before it opens, "open for submissions" until its deadline, "in review"
until go-live and "live" from go-live on. A date the round does not have (not set) moves it on to
the next phase it has; a round with no dates at all stays "being set up".
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

PHASES = ("setting_up", "open", "in_review", "live")
PHASE_TITLES = {"setting_up": "Being set up", "open": "Open for submissions", "in_review": "In review",
                "live": "Live"}
PHASE_COLOURS = {"setting_up": "grey", "open": "blue", "in_review": "yellow", "live": "green"}


@dataclass(frozen=True)
class RoundDates:
    opens: dt.date | None
    submission_deadline: dt.date | None
    go_live: dt.date | None


def phase(dates: RoundDates, today: dt.date) -> str:
    if dates.go_live and today >= dates.go_live:
        return "live"
    if dates.submission_deadline and today > dates.submission_deadline:
        return "in_review"
    if dates.opens and today >= dates.opens:
        return "open"
    if dates.opens is None and dates.submission_deadline and today <= dates.submission_deadline:
        return "open"
    return "setting_up"
