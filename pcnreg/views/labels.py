"""The template globals that name a state and colour its tag, registered once by the app factory
from the one home of state titles and colours (``domain.labels``).

``state_title(kind, state)`` — "Under review"; ``tag_colour(kind, state)`` — an NHS.UK tag colour
("purple"); ``kind`` is "registration", "election", "membership_change", "outcome",
"annual_return" or "participation" (taking part or opted out).
"""
from __future__ import annotations

from ..domain import labels

GLOBALS = {"state_title": labels.title, "tag_colour": labels.tag}


def init_app(app) -> None:
    app.jinja_env.globals.update(GLOBALS)
