"""The JSON API's write operations (POST): a PCN's registration from draft to live, committee
meetings, agendas and decisions, confirmation of coverage and go-live. Access rules: the guard's
route table (``api.*`` endpoints).

Each view parses the JSON body with its request model of ``schemas``, finds the URL's objects,
calls the SAME service function the pages call, and answers with a response model. No workflow
logic lives here: what may happen, and why not, is for ``services.registration`` and
``services.committee`` to say.

- the body must be sent as ``Content-Type: application/json`` (anything else: 415; no body and no
  content type at all: 400). That is the API's CSRF defence (the views are exempt from the form
  token): a cross-site HTML form cannot send that type without a CORS preflight, which pcnreg
  never answers;
- the body is one JSON object with exactly the model's fields: an unknown or missing field, or a
  value of the wrong type, is a 400 naming the field;
- unknown objects in the URL are 404; a ``RegistrationError`` (the service refused: nothing was
  written) is a 409 whose message gives the service's reasons.
"""
from __future__ import annotations

import json
from collections.abc import Callable

from flask import jsonify, request

from ..extensions import csrf
from ..models import Pcn, RegistrationRound
from ..services import committee, pages, published, registration
from ..services import rounds as rounds_service
from . import bp
from . import schemas as s
from .errors import ApiError
from .read import get_round

JSON = "application/json"
PCN = "/rounds/<int:round_id>/pcns/<int:pcn_id>/registration"


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def body(model: type[s.Body]) -> s.Body:
    """The request's JSON object as ``model``, or ApiError 415 (not JSON) / 400 (no body, not an
    object, not the model's fields)."""
    mimetype, raw = request.mimetype, request.get_data(cache=False)
    if not mimetype and not raw:
        raise ApiError(400, f"Send a JSON object as the request body, with Content-Type: {JSON}")
    if mimetype != JSON:
        raise ApiError(415, f"Send the request body as JSON, with Content-Type: {JSON} "
                            f"(not {mimetype[:60] or 'no content type'})")
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise ApiError(400, "The request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise ApiError(400, "The request body must be a JSON object")
    return s.parse(model, value)


# --- the URL's objects ----------------------------------------------------------------------------------

def _active_pcn(rnd: RegistrationRound, pcn_id: int, field: str | None = None) -> Pcn:
    pcn = pages.active_pcn(rnd, pcn_id) if 0 < pcn_id <= s.MAX_ID else None
    if pcn is None:
        message = f"No PCN {pcn_id} in the current configuration of round {rnd.id}"
        raise ApiError(400, f"{field}: {message}") if field else ApiError(404, message)
    return pcn


def _meeting(rnd: RegistrationRound, meeting_id: int):
    meeting = committee.get_meeting(rnd, meeting_id) if 0 < meeting_id <= s.MAX_ID else None
    if meeting is None:
        raise ApiError(404, f"No meeting {meeting_id} in round {rnd.id}")
    return meeting


def _refused(call: Callable[[], object]):
    """The service's answer, or its refusal as a 409 with the reasons (nothing was written)."""
    try:
        return call()
    except registration.RegistrationError as exc:
        raise ApiError(409, "Refused: " + " ".join(m if m.endswith((".", ":")) else m + "."
                                                   for m in exc.messages)) from None


def _status(rnd: RegistrationRound, pcn: Pcn):
    status = registration.status(rounds_service.build_configuration(rnd), pcn)
    return jsonify(s.dump(s.RegistrationStatus.model_validate(status.as_dict())))


def _pcn_change(round_id: int, pcn_id: int, model: type[s.Body], call):
    """Every change to a PCN's registration: parse, find, call, answer the PCN's status."""
    values = body(model)
    rnd = get_round(round_id)
    pcn = _active_pcn(rnd, pcn_id)
    _refused(lambda: call(rnd, pcn, values))
    return _status(rnd, pcn)


# --- a PCN's registration -------------------------------------------------------------------------------

@bp.post(f"{PCN}/confirmations")
@csrf.exempt
def confirm_member(round_id: int, pcn_id: int):
    return _pcn_change(round_id, pcn_id, s.ConfirmationRequest,
                       lambda rnd, pcn, v: registration.confirm_member(rnd, pcn, v.practice))


@bp.post(f"{PCN}/signatures")
@csrf.exempt
def sign_agreement(round_id: int, pcn_id: int):
    return _pcn_change(round_id, pcn_id, s.SignatureRequest, lambda rnd, pcn, v: registration.sign_agreement(
        rnd, pcn, v.practice, stage=v.stage, signed_on=v.signed_on, signatory=v.signatory,
        file_name=v.file_name or "agreement", content=v.file_base64))


@bp.post(f"{PCN}/payee")
@csrf.exempt
def set_payee(round_id: int, pcn_id: int):
    return _pcn_change(round_id, pcn_id, s.PayeeRequest,
                       lambda rnd, pcn, v: registration.set_payee(rnd, pcn, v.practice, v.reference))


@bp.post(f"{PCN}/clinical-director")
@csrf.exempt
def set_clinical_director(round_id: int, pcn_id: int):
    return _pcn_change(round_id, pcn_id, s.ClinicalDirectorRequest, lambda rnd, pcn, v: (
        registration.set_clinical_director(
            rnd, pcn, name=v.name, practice_code=v.practice, profession=v.profession, process=v.process,
            process_details=v.details, deputy_name=v.deputy_name, deputy_practice_code=v.deputy_practice)))


@bp.post(f"{PCN}/exception-requests")
@csrf.exempt
def request_exception(round_id: int, pcn_id: int):
    return _pcn_change(round_id, pcn_id, s.ExceptionRequestRequest,
                       lambda rnd, pcn, v: registration.request_exception(rnd, pcn, v.finding, v.reason))


@bp.post(f"{PCN}/submit")
@csrf.exempt
def submit(round_id: int, pcn_id: int):
    return _pcn_change(round_id, pcn_id, s.Empty, lambda rnd, pcn, v: registration.submit(rnd, pcn))


@bp.post(f"{PCN}/withdraw")
@csrf.exempt
def withdraw(round_id: int, pcn_id: int):
    return _pcn_change(round_id, pcn_id, s.Empty, lambda rnd, pcn, v: registration.withdraw(rnd, pcn))


@bp.post(f"{PCN}/reopen")
@csrf.exempt
def reopen(round_id: int, pcn_id: int):
    return _pcn_change(round_id, pcn_id, s.Empty, lambda rnd, pcn, v: registration.reopen(rnd, pcn))


# --- committee meetings ---------------------------------------------------------------------------------

@bp.post("/rounds/<int:round_id>/meetings")
@csrf.exempt
def create_meeting(round_id: int):
    values = body(s.MeetingRequest)
    rnd = get_round(round_id)
    meeting = _refused(lambda: committee.create_meeting(rnd, values.committee_id, values.held_on,
                                                        "\n".join(values.members_present)))
    return jsonify(s.dump(s.Meeting(
        id=meeting.id, round_id=rnd.id, committee=s.CommitteeRef(id=meeting.committee.id, name=meeting.committee.name),
        held_on=meeting.held_on, members_present=committee.members_present(meeting)))), 201


@bp.post("/rounds/<int:round_id>/meetings/<int:meeting_id>/agenda")
@csrf.exempt
def add_to_agenda(round_id: int, meeting_id: int):
    values = body(s.AgendaRequest)
    rnd = get_round(round_id)
    meeting = _meeting(rnd, meeting_id)
    pcn = _active_pcn(rnd, values.pcn_id, "pcn_id")
    _refused(lambda: committee.add_to_agenda(rnd, meeting, pcn))
    return _status(rnd, pcn)


@bp.post("/rounds/<int:round_id>/meetings/<int:meeting_id>/decisions")
@csrf.exempt
def decide(round_id: int, meeting_id: int):
    values = body(s.DecisionRequest)
    rnd = get_round(round_id)
    meeting = _meeting(rnd, meeting_id)
    pcn = _active_pcn(rnd, values.pcn_id, "pcn_id")
    conditions = [(c.text, c.due_on) for c in values.conditions]
    _refused(lambda: committee.decide(rnd, meeting, pcn, values.outcome, values.rationale, conditions))
    return _status(rnd, pcn)


# --- the round: confirmation of coverage and go-live ----------------------------------------------------

@bp.post("/rounds/<int:round_id>/confirmations/<int:commissioner_id>")
@csrf.exempt
def confirm_coverage(round_id: int, commissioner_id: int):
    body(s.Empty)
    rnd = get_round(round_id)
    found = published.system_commissioner(rnd, commissioner_id) if 0 < commissioner_id <= s.MAX_ID else None
    if found is None:
        raise ApiError(404, f"No commissioner {commissioner_id} in the system of round {rnd.id}")
    row = _refused(lambda: registration.confirm_coverage(rnd, found))
    return jsonify(s.dump(s.CoverageConfirmation(
        commissioner=s.CommissionerRef(id=found.id, code=found.code, name=found.name),
        confirmed_by=row.confirmed_by, confirmed_at=row.confirmed_at)))


@bp.post("/rounds/<int:round_id>/go-live")
@csrf.exempt
def go_live(round_id: int):
    body(s.Empty)
    rnd = get_round(round_id)
    result = _refused(lambda: registration.go_live(rnd))
    return jsonify(s.dump(s.GoLiveResult(live=result.live, not_live=result.not_live)))
