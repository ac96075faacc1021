"""Dates and times as people in England read them (plain Python: no Flask, no database).

UK dates ("1 July 2019": day without a leading zero, month in full) and Europe/London times
("1 July 2019 at 13:00"). The database stores instants as naive UTC datetimes: a naive datetime
is UTC and is converted to UK time (BST in summer, GMT in winter) before it is shown; an aware
one is converted too. A date alone is a calendar date and is not converted.

The pages get these as Jinja filters registered once by the app factory
(``pcnreg.views.formatting``); services and the domain use them for their messages.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UK = "Europe/London"


def zone(timezone: str | None) -> ZoneInfo:
    """The named zone; no name, or one that is not a zone: UK time."""
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
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(zone(timezone))


def uk_date(value: dt.date) -> str:
    return f"{value.day} {value:%B %Y}"


def uk_time(value, timezone: str | None = UK, missing: str = "not known", seconds: bool = False) -> str:
    """"10 May 2019 at 13:00" in UK local time (``seconds``: "at 13:00:05"); a date alone (or
    "2019-05-10"): "10 May 2019"."""
    if isinstance(value, str) and len(value) == 10:
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return uk_date(value)
    moment = local_time(value, timezone)
    if moment is None:
        return missing
    return f"{uk_date(moment)} at {moment:%H:%M:%S}" if seconds else f"{uk_date(moment)} at {moment:%H:%M}"
