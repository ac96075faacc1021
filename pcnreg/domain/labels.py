"""What people read of a state, in one place: its title and its NHS.UK tag colour, for every
kind of workflow (registrations, elections, membership changes, committee outcomes), and the
fill colours of the committee's map of registration states.

The state machines take their titles from here (``domain.workflow``, ``domain.elections``,
``domain.membership_changes``); the pages use ``title`` and ``tag`` (the template globals
``state_title`` and ``state_tag``); the map uses ``MAP_FILLS``.
"""
from __future__ import annotations

REGISTRATION = "registration"
ELECTION = "election"
MEMBERSHIP_CHANGE = "membership_change"
OUTCOME = "outcome"
ANNUAL_RETURN = "annual_return"
PARTICIPATION = "participation"

TITLES: dict[str, dict[str, str]] = {
    REGISTRATION: {
        "draft": "Draft", "submitted": "Submitted", "under_review": "Under review", "approved": "Approved",
        "approved_with_conditions": "Approved with conditions", "deferred": "Deferred", "rejected": "Rejected",
        "confirmed": "Confirmed", "live": "Live",
    },
    ELECTION: {
        "draft": "Draft", "nominations_open": "Nominations open", "nominations_closed": "Nominations closed",
        "panel": "Panel assessment", "voting_open": "Voting open", "voting_closed": "Voting closed",
        "counted": "Counted", "declared": "Declared", "interim": "Interim lead recorded",
        "appointed": "Appointed by agreement", "cancelled": "Cancelled",
    },
    MEMBERSHIP_CHANGE: {
        "notified": "Notice given", "approved": "Approved", "refused": "Refused", "applied": "Applied",
    },
    OUTCOME: {
        "approved": "Approved", "approved_with_conditions": "Approved with conditions", "deferred": "Deferred",
        "rejected": "Rejected", "agreed": "Agreed", "refused": "Refused",
    },
    ANNUAL_RETURN: {
        "not_started": "Not started", "draft": "Draft", "submitted": "Made, waiting for review",
        "accepted": "Accepted", "changes_requested": "Changes asked for",
    },
    PARTICIPATION: {"taking_part": "Taking part", "opted_out": "Opted out"},
}

# NHS.UK tag colours (nhsuk-tag--<colour>); the committee map's fills follow the same families.
TAGS: dict[str, dict[str, str]] = {
    REGISTRATION: {
        "draft": "grey", "submitted": "blue", "under_review": "purple", "approved": "green",
        "approved_with_conditions": "aqua-green", "deferred": "orange", "rejected": "red",
        "confirmed": "green", "live": "white",
    },
    ELECTION: {
        "draft": "grey", "nominations_open": "blue", "nominations_closed": "aqua-green", "panel": "purple",
        "voting_open": "green", "voting_closed": "orange", "counted": "yellow", "declared": "green",
        "interim": "orange", "appointed": "green", "cancelled": "red",
    },
    MEMBERSHIP_CHANGE: {"notified": "blue", "approved": "green", "refused": "red", "applied": "white"},
    OUTCOME: {
        "approved": "green", "approved_with_conditions": "aqua-green", "deferred": "orange", "rejected": "red",
        "agreed": "green", "refused": "red",
    },
    ANNUAL_RETURN: {"not_started": "grey", "draft": "grey", "submitted": "blue", "accepted": "green",
                    "changes_requested": "orange"},
    PARTICIPATION: {"taking_part": "green", "opted_out": "red"},
}

# Map fills per registration state, after the tag colours above (grey, blue, purple, green,
# aqua green, orange, red); confirmed is a darker green than approved and live a pale green, so
# that every state has its own colour on the map.
MAP_FILLS: dict[str, str] = {
    "draft": "#aeb7bd", "submitted": "#005eb8", "under_review": "#330072", "approved": "#009639",
    "approved_with_conditions": "#00a499", "deferred": "#ed8b00", "rejected": "#d5281b",
    "confirmed": "#006747", "live": "#78be20",
}


def title(kind: str, state: str) -> str:
    """The state's title ("Under review"); an unknown state reads as itself."""
    return TITLES.get(kind, {}).get(state, state)


def tag(kind: str, state: str) -> str:
    """The state's NHS.UK tag colour; an unknown state is grey."""
    return TAGS.get(kind, {}).get(state, "grey")


def map_fill(state: str) -> str:
    return MAP_FILLS.get(state, MAP_FILLS["draft"])
