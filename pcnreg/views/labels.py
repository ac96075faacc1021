"""The template globals that name a state and colour its tag, registered once by the app factory
from the one home of state titles and colours (``domain.labels``).

``state_title(kind, state)`` — "Under review"; ``tag_colour(kind, state)`` — an NHS.UK tag colour
("purple"); ``kind`` is "registration", "election", "membership_change", "outcome",
"annual_return" or "participation" (taking part or opted out). ``action_title(code)``,
``object_title(code)`` and ``role_title(code)`` name an audit event's action, object and role
(``domain.audit_titles``).
"""
from __future__ import annotations

from ..domain import audit_titles, labels

GLOBALS = {"state_title": labels.title, "tag_colour": labels.tag, "action_title": audit_titles.action_title,
           "object_title": audit_titles.object_title, "role_title": audit_titles.role_title}


def init_app(app) -> None:
    app.jinja_env.globals.update(GLOBALS)
