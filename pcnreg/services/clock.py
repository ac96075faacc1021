"""The clock the workflow reads: the real time, or an injected one.

Deadlines are decided against ``now()``. Tests (and a rehearsal of a past round) set
``app.config["PCNREG_NOW"]`` to a timezone-aware datetime, an ISO 8601 string with its offset,
or a callable returning one; the CLI's ``--as-of`` passes its own instant instead.
"""
from __future__ import annotations

import datetime as dt

from flask import current_app, has_app_context


def parse_instant(text: str) -> dt.datetime:
    """An ISO 8601 instant; without an offset it is taken as UK local time (Europe/London)."""
    from zoneinfo import ZoneInfo

    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("Europe/London"))
    return value


def now() -> dt.datetime:
    """The current instant, timezone-aware (UTC unless injected)."""
    injected = current_app.config.get("PCNREG_NOW") if has_app_context() else None
    if callable(injected):
        injected = injected()
    if isinstance(injected, str):
        injected = parse_instant(injected)
    if isinstance(injected, dt.datetime):
        if injected.tzinfo is None:
            raise ValueError("PCNREG_NOW must carry its time zone")
        return injected
    return dt.datetime.now(dt.UTC)


def to_utc_naive(moment: dt.datetime) -> dt.datetime:
    """How instants are stored: UTC without tzinfo."""
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def from_utc_naive(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC)
