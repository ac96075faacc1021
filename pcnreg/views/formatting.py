"""Every date and time the pages show, in one place, registered once by the app factory.

The formats are ``pcnreg.domain.dates``'s: UK dates ("1 July 2019"), Europe/London times
("1 July 2019 at 13:00"; stored naive instants are UTC and are converted, BST in summer, GMT in
winter). No blueprint registers a date filter of its own.

Filters: ``longdate`` (a date, or a stored instant in UK time), ``uk_time`` / ``uktime`` (the
same, with an optional timezone name, e.g. the round's, and ``seconds=True`` for the audit
trail), ``iso_longdate`` (an ISO date string from a snapshot), ``thousands`` (numbers with a
thousands separator).
"""
from __future__ import annotations

import datetime as dt

from ..domain.dates import UK, local_time, uk_date, uk_time

__all__ = ["UK", "FILTERS", "init_app", "iso_longdate", "local_time", "longdate", "thousands", "uk_date", "uk_time"]


def longdate(value) -> str:
    """A date as "1 July 2019"; a stored instant as "1 July 2019 at 13:00" in UK time."""
    return uk_time(value, UK, missing="not set")


def iso_longdate(value) -> str:
    """An ISO date from a snapshot ("2019-05-01") as "1 May 2019"."""
    try:
        return uk_date(dt.date.fromisoformat(str(value)))
    except ValueError:
        return str(value or "not known")


def thousands(value) -> str:
    return "not known" if value is None else f"{value:,}"


FILTERS = {"longdate": longdate, "uk_time": uk_time, "uktime": uk_time, "iso_longdate": iso_longdate,
           "thousands": thousands}


def example_date(day: int = 15, month: int = 3) -> str:
    """A date-field hint's example in the form people type it ("15 3 2027"), in the coming year
    so that no form suggests a year long past."""
    from ..services.clock import now
    return f"For example, {day} {month} {now().year + 1}"


def init_app(app) -> None:
    """Register the filters, once, for every template (and the date hint's example)."""
    app.jinja_env.filters.update(FILTERS)
    app.jinja_env.globals["example_date"] = example_date
