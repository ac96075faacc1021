"""The registration workflow in the read-only API: each PCN's state, its submissions (with
their frozen snapshots) and the committees' decisions. Shapes are documented in
``services.openapi``; tests/test_api_workflow.py validates responses against them."""
from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..models import Decision, Meeting, Pcn, Submission
from . import registration
from .api import ApiError, MAX_ID, _get_round, _round_ref


def _pcn(rnd, pcn_id: int) -> Pcn:
    pcn = db.session.get(Pcn, pcn_id) if 0 < pcn_id <= MAX_ID else None
    if pcn is None or pcn.round_id != rnd.id:
        raise ApiError(404, f"No PCN {pcn_id} in round {rnd.id}")
    return pcn


def registrations(round_id: int) -> dict:
    rnd = _get_round(round_id)
    from . import clock

    now = clock.now()
    return {"round": _round_ref(rnd), "as_of": now.isoformat(),
            "pcns": [r.as_dict() for r in registration.round_status(rnd, now=now)]}


def _submission_dict(sub: Submission) -> dict:
    return {"number": sub.number, "submitted_at": sub.submitted_at.isoformat() + "Z",
            "submitted_by": sub.submitted_by, "late": sub.late,
            "config_version": sub.config_version.number if sub.config_version else None,
            "sha256": sub.snapshot_sha256}


def submissions(round_id: int, pcn_id: int) -> list[dict]:
    rnd = _get_round(round_id)
    return [_submission_dict(s) for s in registration.submissions(rnd, _pcn(rnd, pcn_id))]


def submission(round_id: int, pcn_id: int, number: int) -> dict:
    rnd = _get_round(round_id)
    pcn = _pcn(rnd, pcn_id)
    sub = registration.get_submission(rnd, pcn, number) if 0 < number <= MAX_ID else None
    if sub is None:
        raise ApiError(404, f"PCN {pcn_id} has no submission {number}")
    return {**_submission_dict(sub), "snapshot": registration.snapshot_of(sub)}


def decisions(round_id: int) -> list[dict]:
    rnd = _get_round(round_id)
    rows = db.session.execute(
        select(Decision, Meeting, Pcn, Submission)
        .join(Meeting, Meeting.id == Decision.meeting_id).join(Pcn, Pcn.id == Decision.pcn_id)
        .join(Submission, Submission.id == Decision.submission_id)
        .where(Meeting.round_id == rnd.id).order_by(Meeting.held_on, Decision.id)).all()
    return [{
        "meeting": {"id": m.id, "held_on": m.held_on.isoformat(), "committee": m.committee.name},
        "pcn_id": p.id, "pcn_name": p.name, "submission": s.number,
        "subject": "exception" if d.exception_request_id else "registration",
        "exception_request_id": d.exception_request_id,
        "outcome": d.outcome, "rationale": d.rationale, "decided_by": d.decided_by,
        "decided_at": d.decided_at.isoformat() + "Z",
        "conditions": [{"text": c.text, "due_on": c.due_on.isoformat(),
                        "met_on": c.met_on.isoformat() if c.met_on else None} for c in d.conditions],
    } for d, m, p, s in rows]


# --- Clinical Director elections (never an individual ballot) -------------------------------------------

def _election_dict(e) -> dict:
    from ..domain.elections import STATE_TITLES
    from . import elections

    t = elections.timetable(e)
    turnout = elections.turnout(e)
    return {
        "id": e.id, "pcn_id": e.pcn_id, "pcn_name": e.pcn.name, "state": elections.state(e),
        "state_title": STATE_TITLES[elections.state(e)], "method": e.method, "tie_break": e.tie_break,
        "tie_break_seed": e.tie_break_seed,
        "timetable": {"nominations_open": t.nominations_open.isoformat(), "nominations_close": t.nominations_close.isoformat(),
                      "voting_open": t.voting_open.isoformat(), "voting_close": t.voting_close.isoformat()},
        "candidates": [{"id": c.id, "name": c.name, "practice": c.practice_code, "status": c.status}
                       for c in e.candidates],
        "turnout": {"voted": turnout.voted, "electorate": turnout.electorate},
        "result": elections.result(e),
    }


def elections_of(round_id: int) -> list[dict]:
    from . import elections

    rnd = _get_round(round_id)
    return [_election_dict(e) for e in elections.for_round(rnd)]
