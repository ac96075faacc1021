"""The registration workflow's write operations in the JSON API: parse and check the JSON body,
find the URL's objects, call the SAME service function the pages call, and describe the result.

No workflow logic lives here: what may happen, and why not, is for ``services.registration``
and ``services.committee`` to say. This module only turns a request into their arguments and
their answers into JSON:

- the body must be sent as ``Content-Type: application/json`` (anything else: 415; no body and
  no content type at all: 400). That is the API's CSRF defence: a cross-site HTML form cannot
  send that type without a CORS preflight, which pcnreg never answers;
- the body is one JSON object with exactly the documented fields: an unknown or missing field,
  or a value of the wrong type, is a 400 naming the field (texts are bounded, single-line where
  the page's field is, without control characters, and encodable as UTF-8);
- unknown objects in the URL are 404; a ``RegistrationError`` (the service refused: nothing was
  written) is a 409 whose message gives the service's reasons.

Every error is ``api.ApiError(status, message)``; the blueprint renders it as JSON.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Callable

from ..domain import registration as reg
from ..domain import workflow
from ..extensions import db
from ..models import Commissioner, Pcn, RegistrationRound
from . import committee, pages, registration
from . import rounds as rounds_service
from .api import MAX_ID, ApiError, _get_round

JSON = "application/json"
MAX_NAME = 200              # names (Clinical Director, signatory, members present)
MAX_CODE = 10               # an ODS code (the service checks membership)
MAX_SHORT = 100             # profession, payee reference, file name (cut to 255 by the service)
MAX_TEXT = committee.MAX_TEXT   # rationales, reasons, details, conditions
MAX_MEMBERS_PRESENT = 50
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# --- the body -------------------------------------------------------------------------------------------

def parse_body(mimetype: str, raw: bytes) -> dict:
    """The request's JSON object, or ApiError 415 (not JSON) / 400 (no body, not an object)."""
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
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


Parser = Callable[[object, str], object]


def fields(body: dict, spec: dict[str, Parser]) -> dict:
    """``body``'s fields, each parsed by its parser: exactly those of ``spec``, all required."""
    unknown = sorted(set(body) - set(spec))
    if unknown:
        raise ApiError(400, f"Unknown field {unknown[0][:60]!r}: the fields are "
                            f"{', '.join(spec) if spec else 'none (send {})'}")
    missing = [name for name in spec if name not in body]
    if missing:
        raise ApiError(400, f"Missing field {missing[0]!r}")
    return {name: parse(body[name], name) for name, parse in spec.items()}


def text(max_length: int, *, multiline: bool = False) -> Parser:
    def parse(value, name):
        if not isinstance(value, str):
            raise ApiError(400, f"{name} must be a string")
        if len(value) > max_length:
            raise ApiError(400, f"{name} must be {max_length:,} characters or fewer")
        if (_CONTROL_MULTILINE if multiline else _CONTROL).search(value):
            raise ApiError(400, f"{name} contains control characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ApiError(400, f"{name} is not valid Unicode text") from None
        return value
    return parse


def choice(*allowed: str) -> Parser:
    def parse(value, name):
        if not isinstance(value, str) or value not in allowed:
            raise ApiError(400, f"{name} must be one of {', '.join(allowed)}")
        return value
    return parse


def date(value, name) -> dt.date:
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ApiError(400, f"{name} must be a date as YYYY-MM-DD")


def identifier(value, name) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise ApiError(400, f"{name} must be a whole number from 1 to {MAX_ID}")
    return value


def file_content(value, name) -> bytes:
    """Strict base64 (RFC 4648 alphabet with padding), at most the service's size once decoded."""
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string")
    limit = registration.MAX_AGREEMENT_BYTES
    if len(value) > (limit + 2) // 3 * 4:
        raise ApiError(400, f"{name} is larger than {limit // (1024 * 1024)} MB once decoded")
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise ApiError(400, f"{name} is not valid base64") from None


def members_present(value, name) -> str:
    if not isinstance(value, list) or not value or len(value) > MAX_MEMBERS_PRESENT:
        raise ApiError(400, f"{name} must be a list of 1 to {MAX_MEMBERS_PRESENT} names")
    line = text(MAX_NAME)
    return "\n".join(line(item, f"{name}[{i}]") for i, item in enumerate(value))


def conditions(value, name) -> list[tuple[str, dt.date]]:
    if not isinstance(value, list) or len(value) > committee.MAX_CONDITIONS:
        raise ApiError(400, f"{name} must be a list of at most {committee.MAX_CONDITIONS} conditions")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise ApiError(400, f"{name}[{i}] must be an object with text and due_on")
        try:
            parsed = fields(item, {"text": text(MAX_TEXT, multiline=True), "due_on": date})
        except ApiError as exc:
            raise ApiError(400, f"{name}[{i}]: {exc.message}") from None
        out.append((parsed["text"], parsed["due_on"]))
    return out


EMPTY: dict[str, Parser] = {}
BODIES: dict[str, dict[str, Parser]] = {
    "confirmation": {"practice": text(MAX_CODE)},
    "signature": {"practice": text(MAX_CODE), "stage": choice(*reg.STAGES), "signed_on": date,
                  "signatory": text(MAX_NAME), "file_name": text(MAX_SHORT), "file_base64": file_content},
    "payee": {"practice": text(MAX_CODE), "reference": text(MAX_SHORT)},
    "clinical_director": {"name": text(MAX_NAME), "practice": text(MAX_CODE), "profession": text(MAX_SHORT),
                          "process": choice(*reg.CD_PROCESSES), "details": text(MAX_TEXT, multiline=True),
                          "deputy_name": text(MAX_NAME), "deputy_practice": text(MAX_CODE)},
    "exception_request": {"finding": text(MAX_SHORT), "reason": text(MAX_TEXT, multiline=True)},
    "meeting": {"committee_id": identifier, "held_on": date, "members_present": members_present},
    "agenda": {"pcn_id": identifier},
    "decision": {"pcn_id": identifier, "outcome": choice(*workflow.DECISIONS),
                 "rationale": text(MAX_TEXT, multiline=True), "conditions": conditions},
}


# --- the URL's objects ----------------------------------------------------------------------------------

def _active_pcn(rnd: RegistrationRound, pcn_id: int, field: str | None = None) -> Pcn:
    pcn = pages.active_pcn(rnd, pcn_id) if 0 < pcn_id <= MAX_ID else None
    if pcn is None:
        message = f"No PCN {pcn_id} in the current configuration of round {rnd.id}"
        raise ApiError(400, f"{field}: {message}") if field else ApiError(404, message)
    return pcn


def _meeting(rnd: RegistrationRound, meeting_id: int):
    meeting = committee.get_meeting(rnd, meeting_id) if 0 < meeting_id <= MAX_ID else None
    if meeting is None:
        raise ApiError(404, f"No meeting {meeting_id} in round {rnd.id}")
    return meeting


def _commissioner(rnd: RegistrationRound, commissioner_id: int) -> Commissioner:
    found = db.session.get(Commissioner, commissioner_id) if 0 < commissioner_id <= MAX_ID else None
    if found is None or found.system_id != rnd.system_id:
        raise ApiError(404, f"No commissioner {commissioner_id} in the system of round {rnd.id}")
    return found


def _refused(call: Callable[[], object]):
    """The service's answer, or its refusal as a 409 with the reasons (nothing was written)."""
    try:
        return call()
    except registration.RegistrationError as exc:
        raise ApiError(409, "Refused: " + " ".join(m if m.endswith((".", ":")) else m + "."
                                                   for m in exc.messages)) from None


def pcn_status(rnd: RegistrationRound, pcn: Pcn) -> dict:
    return registration.status(rounds_service.build_configuration(rnd), pcn).as_dict()


# --- a PCN's registration -------------------------------------------------------------------------------

def _pcn_change(round_id: int, pcn_id: int, body: dict, kind: str | None, call) -> dict:
    """The shape of every change to a PCN's registration: parse, find, call, the PCN's status."""
    values = fields(body, BODIES[kind] if kind else EMPTY)
    rnd = _get_round(round_id)
    pcn = _active_pcn(rnd, pcn_id)
    _refused(lambda: call(rnd, pcn, values))
    return pcn_status(rnd, pcn)


def confirm_member(round_id: int, pcn_id: int, body: dict) -> dict:
    return _pcn_change(round_id, pcn_id, body, "confirmation",
                       lambda rnd, pcn, v: registration.confirm_member(rnd, pcn, v["practice"]))


def sign_agreement(round_id: int, pcn_id: int, body: dict) -> dict:
    return _pcn_change(round_id, pcn_id, body, "signature", lambda rnd, pcn, v: registration.sign_agreement(
        rnd, pcn, v["practice"], stage=v["stage"], signed_on=v["signed_on"], signatory=v["signatory"],
        file_name=v["file_name"] or "agreement", content=v["file_base64"]))


def set_payee(round_id: int, pcn_id: int, body: dict) -> dict:
    return _pcn_change(round_id, pcn_id, body, "payee",
                       lambda rnd, pcn, v: registration.set_payee(rnd, pcn, v["practice"], v["reference"]))


def set_clinical_director(round_id: int, pcn_id: int, body: dict) -> dict:
    return _pcn_change(round_id, pcn_id, body, "clinical_director", lambda rnd, pcn, v: (
        registration.set_clinical_director(
            rnd, pcn, name=v["name"], practice_code=v["practice"], profession=v["profession"],
            process=v["process"], process_details=v["details"], deputy_name=v["deputy_name"],
            deputy_practice_code=v["deputy_practice"])))


def request_exception(round_id: int, pcn_id: int, body: dict) -> dict:
    return _pcn_change(round_id, pcn_id, body, "exception_request",
                       lambda rnd, pcn, v: registration.request_exception(rnd, pcn, v["finding"], v["reason"]))


STEPS = {"submit": registration.submit, "withdraw": registration.withdraw, "reopen": registration.reopen}


def step(name: str, round_id: int, pcn_id: int, body: dict) -> dict:
    return _pcn_change(round_id, pcn_id, body, None, lambda rnd, pcn, v: STEPS[name](rnd, pcn))


# --- committee meetings ---------------------------------------------------------------------------------

def create_meeting(round_id: int, body: dict) -> dict:
    values = fields(body, BODIES["meeting"])
    rnd = _get_round(round_id)
    meeting = _refused(lambda: committee.create_meeting(rnd, values["committee_id"], values["held_on"],
                                                        values["members_present"]))
    return {"id": meeting.id, "round_id": rnd.id,
            "committee": {"id": meeting.committee.id, "name": meeting.committee.name},
            "held_on": meeting.held_on.isoformat(), "members_present": committee.members_present(meeting)}


def add_to_agenda(round_id: int, meeting_id: int, body: dict) -> dict:
    values = fields(body, BODIES["agenda"])
    rnd = _get_round(round_id)
    meeting = _meeting(rnd, meeting_id)
    pcn = _active_pcn(rnd, values["pcn_id"], "pcn_id")
    _refused(lambda: committee.add_to_agenda(rnd, meeting, pcn))
    return pcn_status(rnd, pcn)


def decide(round_id: int, meeting_id: int, body: dict) -> dict:
    values = fields(body, BODIES["decision"])
    rnd = _get_round(round_id)
    meeting = _meeting(rnd, meeting_id)
    pcn = _active_pcn(rnd, values["pcn_id"], "pcn_id")
    _refused(lambda: committee.decide(rnd, meeting, pcn, values["outcome"], values["rationale"],
                                      values["conditions"]))
    return pcn_status(rnd, pcn)


# --- the round: confirmation of coverage and go-live ----------------------------------------------------

def confirm_coverage(round_id: int, commissioner_id: int, body: dict) -> dict:
    fields(body, EMPTY)
    rnd = _get_round(round_id)
    commissioner = _commissioner(rnd, commissioner_id)
    row = _refused(lambda: registration.confirm_coverage(rnd, commissioner))
    return {"commissioner": {"id": commissioner.id, "code": commissioner.code, "name": commissioner.name},
            "confirmed_by": row.confirmed_by, "confirmed_at": row.confirmed_at.isoformat() + "Z"}


def go_live(round_id: int, body: dict) -> dict:
    fields(body, EMPTY)
    rnd = _get_round(round_id)
    result = _refused(lambda: registration.go_live(rnd))
    return {"live": result.live, "not_live": result.not_live}
