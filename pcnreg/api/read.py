"""The JSON API's read operations (GET): rounds, PCNs, findings, practices, and the registration
workflow's state, submissions, decisions and elections.

Each view parses its query with a model of ``schemas``, calls the services, and answers with a
response model of ``schemas``: the shapes the OpenAPI document describes, since it is generated
from the same models. Paging of practices: ``limit`` from 0 to ``MAX_LIMIT`` (default
``DEFAULT_LIMIT``), ``offset`` from 0 to ``MAX_OFFSET``; anything else is a 400, never clamped.
"""
from __future__ import annotations

from flask import jsonify, request

from ..domain.elections import STATE_TITLES
from ..models import Practice, RegistrationRound, Submission
from ..services import clock, elections, published, registration
from ..services import rounds as rounds_service
from . import bp
from . import schemas as s
from .errors import ApiError


def get_round(round_id: int) -> RegistrationRound:
    """The URL's round, or ``rounds.NotFound`` (a 404)."""
    if not 0 < round_id <= s.MAX_ID:
        raise rounds_service.NotFound(f"No registration round {round_id}")
    return rounds_service.get_round(round_id)


def _query(model: type[s.Query]) -> s.Query:
    """The request's query parameters as ``model``; an empty value means the parameter's default."""
    return s.parse(model, {name: value for name, value in request.args.items() if value != ""})


def _round_ref(rnd: RegistrationRound) -> s.RoundRef:
    return s.RoundRef(id=rnd.id, name=rnd.name)


def round_shape(data: rounds_service.RoundData) -> s.Round:
    rnd = data.round
    return s.Round(
        id=rnd.id, name=rnd.name, system=s.CodeName(code=rnd.system.code, name=rnd.system.name),
        reference_date=rnd.reference_date, band=s.Band(min=rnd.band_min, max=rnd.band_max),
        dates=s.RoundDates(**{key: getattr(rnd, key) for key in s.RoundDates.model_fields}),
        head_version=rnd.head_version.number if rnd.head_version else None,
        summary=s.RoundSummary.model_validate(data.summary.as_dict()))


@bp.get("/rounds")
def rounds():
    """Every round, most recent first. Each costs a rules run (for its summary)."""
    return jsonify(s.dump([round_shape(rounds_service.build_configuration(rnd))
                           for rnd in rounds_service.list_rounds()]))


@bp.get("/rounds/<int:round_id>")
def round_detail(round_id: int):
    return jsonify(s.dump(round_shape(rounds_service.build_configuration(get_round(round_id)))))


@bp.get("/rounds/<int:round_id>/pcns")
def round_pcns(round_id: int):
    """The round's PCNs (head version) with members, totals, band status and findings."""
    data = rounds_service.build_configuration(get_round(round_id))
    out = []
    for pcn in data.config.pcns:
        members = [data.config.practices[code] for code in pcn.members]  # every member is loaded
        out.append(s.Pcn(
            key=pcn.key, name=pcn.name, code=pcn.code, place=pcn.place, lead_commissioner=pcn.lead_commissioner,
            members=[s.Member(code=m.code, name=m.name, list_size=m.list_size, list_size_date=m.list_size_date,
                              commissioner=m.commissioner, status=m.status) for m in members],
            member_count=len(members), total=data.pcn_total(pcn.key), band_status=data.band(pcn.key),
            findings=[s.Finding.model_validate(f.as_dict()) for f in data.findings_for_pcn(pcn.key)]))
    return jsonify(s.dump(out))


@bp.get("/rounds/<int:round_id>/findings")
def round_findings(round_id: int):
    """The round's findings, filtered by ``severity``, ``rule`` and ``place`` (empty = any).
    The summary is of the whole round, whatever the filters."""
    query = _query(s.FindingsQuery)
    rnd = get_round(round_id)
    data = rounds_service.build_configuration(rnd)
    findings = rounds_service.filter_findings(data.findings, severity=query.severity, rule=query.rule,
                                              place=query.place, config=data.config)
    return jsonify(s.dump(s.FindingsReport(
        round=_round_ref(rnd), summary=s.RoundSummary.model_validate(data.summary.as_dict()),
        findings=[s.Finding.model_validate(f.as_dict()) for f in findings])))


# --- practices ------------------------------------------------------------------------------------------

def practice_shape(practice: Practice) -> s.Practice:
    la = practice.local_authority
    return s.Practice(
        code=practice.code, name=practice.name, postcode=practice.postcode,
        commissioner=s.CodeName(code=practice.commissioner.code, name=practice.commissioner.name),
        status=practice.status, ods_status_code=practice.ods_status_code, latitude=practice.latitude,
        longitude=practice.longitude, local_authority=s.LocalAuthority(code=la.code, name=la.name) if la else None,
        list_sizes=[s.ListSize(as_of=ls.as_of, size=ls.size, source=ls.source) for ls in practice.list_sizes])


@bp.get("/practices")
def practices():
    """Practices by code, filtered by ``commissioner`` (ODS code) and ``q`` (part of the name or
    code, any case), ``limit`` at a time from ``offset``; ``total`` counts every match."""
    query = _query(s.PracticesQuery)
    total, found = published.practice_page(commissioner=query.commissioner, q=query.q, limit=query.limit,
                                           offset=query.offset)
    return jsonify(s.dump(s.PracticePage(total=total, limit=query.limit, offset=query.offset,
                                         items=[practice_shape(p) for p in found])))


# --- the registration workflow --------------------------------------------------------------------------

def _pcn(rnd: RegistrationRound, pcn_id: int):
    pcn = published.round_pcn(rnd, pcn_id) if 0 < pcn_id <= s.MAX_ID else None
    if pcn is None:
        raise ApiError(404, f"No PCN {pcn_id} in round {rnd.id}")
    return pcn


@bp.get("/rounds/<int:round_id>/registrations")
def round_registrations(round_id: int):
    rnd = get_round(round_id)
    now = clock.now()
    return jsonify(s.dump(s.Registrations(
        round=_round_ref(rnd), as_of=now,
        pcns=[s.RegistrationStatus.model_validate(r.as_dict()) for r in registration.round_status(rnd, now=now)])))


def _submission_fields(sub: Submission) -> dict:
    return {"number": sub.number, "submitted_at": sub.submitted_at, "submitted_by": sub.submitted_by,
            "late": sub.late, "config_version": sub.config_version.number if sub.config_version else None,
            "sha256": sub.snapshot_sha256}


@bp.get("/rounds/<int:round_id>/pcns/<int:pcn_id>/submissions")
def pcn_submissions(round_id: int, pcn_id: int):
    rnd = get_round(round_id)
    return jsonify(s.dump([s.SubmissionSummary(**_submission_fields(sub))
                           for sub in registration.submissions(rnd, _pcn(rnd, pcn_id))]))


@bp.get("/rounds/<int:round_id>/pcns/<int:pcn_id>/submissions/<int:number>")
def pcn_submission(round_id: int, pcn_id: int, number: int):
    rnd = get_round(round_id)
    pcn = _pcn(rnd, pcn_id)
    sub = registration.get_submission(rnd, pcn, number) if 0 < number <= s.MAX_ID else None
    if sub is None:
        raise ApiError(404, f"PCN {pcn_id} has no submission {number}")
    return jsonify(s.dump(s.Submission(**_submission_fields(sub), snapshot=registration.snapshot_of(sub))))


@bp.get("/rounds/<int:round_id>/decisions")
def round_decisions(round_id: int):
    rnd = get_round(round_id)
    return jsonify(s.dump([s.Decision(
        meeting=s.DecisionMeeting(id=m.id, held_on=m.held_on, committee=m.committee.name),
        pcn_id=p.id, pcn_name=p.name, submission=sub.number,
        subject="exception" if d.exception_request_id else "registration",
        exception_request_id=d.exception_request_id, outcome=d.outcome, rationale=d.rationale,
        decided_by=d.decided_by, decided_at=d.decided_at,
        conditions=[s.Condition(text=c.text, due_on=c.due_on, met_on=c.met_on) for c in d.conditions],
    ) for d, m, p, sub in published.round_decisions(rnd)]))


def _election_shape(e) -> s.Election:
    t = elections.timetable(e)
    turnout = elections.turnout(e)
    state = elections.state(e)
    return s.Election(
        id=e.id, pcn_id=e.pcn_id, pcn_name=e.pcn.name, state=state, state_title=STATE_TITLES[state],
        method=e.method, tie_break=e.tie_break, tie_break_seed=e.tie_break_seed,
        timetable=s.Timetable(nominations_open=t.nominations_open, nominations_close=t.nominations_close,
                              voting_open=t.voting_open, voting_close=t.voting_close),
        candidates=[s.Candidate(id=c.id, name=c.name, practice=c.practice_code, status=c.status)
                    for c in e.candidates],
        turnout=s.Turnout(voted=turnout.voted, electorate=turnout.electorate),
        result=elections.result(e))


@bp.get("/rounds/<int:round_id>/elections")
def round_elections(round_id: int):
    """The round's Clinical Director elections (never an individual ballot)."""
    return jsonify(s.dump([_election_shape(e) for e in elections.for_round(get_round(round_id))]))

