"""Every date and time the pages show, in one place, registered once by the app factory.

UK dates ("1 July 2019": day without a leading zero, month in full) and Europe/London times
("1 July 2019 at 13:00"). The database stores instants as naive UTC datetimes: a naive datetime
is UTC and is converted to UK time (BST in summer, GMT in winter) before it is shown; an aware
one is converted too. A date alone is a calendar date and is not converted.

Filters: ``longdate`` (a date, or a stored instant in UK time), ``uk_time`` / ``uktime`` (the
same, with an optional timezone name, e.g. the round's), ``iso_longdate`` (an ISO date string
from a snapshot), ``thousands`` (numbers with a thousands separator).
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UK = "Europe/London"


def _zone(timezone: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(timezone or UK)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(UK)


def local_time(value, timezone: str | None = UK) -> dt.datetime | None:
    """An instant (naive = UTC, or aware, or an ISO string) in UK (or ``timezone``) local time."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, dt.datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(_zone(timezone))


def uk_date(value: dt.date) -> str:
    return f"{value.day} {value:%B %Y}"


def uk_time(value, timezone: str | None = UK, missing: str = "not known") -> str:
    """"10 May 2019 at 13:00" in UK local time; a date alone (or "2019-05-10"): "10 May 2019"."""
    if isinstance(value, str) and len(value) == 10:
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return uk_date(value)
    moment = local_time(value, timezone)
    return missing if moment is None else f"{uk_date(moment)} at {moment:%H:%M}"


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


def init_app(app) -> None:
    """Register the filters, once, for every template."""
    app.jinja_env.filters.update(FILTERS)
