"""The OpenAPI 3.1 document of the JSON API (served at /api/v1/openapi.json).

Schemas are plain JSON Schema 2020-12 (OpenAPI 3.1): every object lists its ``required``
properties and forbids others (``additionalProperties: false``), nullable values say so with a
``null`` type, so ``tests/test_api.py`` catches any drift between this document and the real
responses. The only free-form object is a finding's ``figures`` (rule-specific numbers).
"""
from __future__ import annotations

import copy

from ..domain.rules import RULE_TITLES, RULES
from ..domain.types import SEVERITIES
from ..domain.workflow import STATES
from ..models import DECISION_OUTCOMES, ELECTION_STATES
from ..domain.registration import CD_PROCESSES, STAGES
from ..domain.workflow import DECISIONS
from .api import DEFAULT_LIMIT, MAX_ID, MAX_LIMIT, MAX_OFFSET, MAX_QUERY_LENGTH
from .api_actions import MAX_CODE, MAX_MEMBERS_PRESENT, MAX_NAME, MAX_SHORT, MAX_TEXT
from .committee import MAX_CONDITIONS
from .registration import MAX_AGREEMENT_BYTES

VERSION = "1.0.0"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(properties: dict, description: str | None = None) -> dict:
    """An object whose properties are all required and which admits no others."""
    schema = {"type": "object", "required": list(properties), "properties": properties,
              "additionalProperties": False}
    if description:
        schema["description"] = description
    return schema


def _nullable(schema: dict) -> dict:
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    return {**schema, "type": [schema["type"], "null"]}


STRING = {"type": "string"}
DATE = {"type": "string", "format": "date"}
COUNT = {"type": "integer", "minimum": 0}
ODS_CODE = {"type": "string", "pattern": "^[A-Z0-9]{3,6}$"}
GSS_CODE = {"type": "string", "pattern": "^[EWSN][0-9]{8}$"}
CODE_NAME = _obj({"code": STRING, "name": STRING})


def _text(max_length: int) -> dict:
    return {"type": "string", "maxLength": max_length}


WRITE_CODE = {**_text(MAX_CODE), "description": "An ODS code of a member practice."}
BAND_STATUS = {"type": "string", "enum": ["in_band", "below", "above"]}

SCHEMAS: dict = {
    "Error": _obj({"error": _obj({
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "message": STRING,
    })}, "Every error of the API: its HTTP status and a message naming what was wrong."),
    "Summary": _obj({
        "scope": {"type": "string", "enum": ["system", "place", "commissioner"]},
        "name": STRING,
        "practices": {**COUNT, "description": "Open practices in scope."},
        "practices_covered": {**COUNT, "description": "Open practices in scope that are in a PCN."},
        "patients": {**COUNT, "description": "Registered patients of the open practices in scope."},
        "patients_covered": COUNT,
        "pcns": COUNT,
        "pcns_in_band": COUNT,
        "pcns_below": COUNT,
        "pcns_above": COUNT,
        "errors": COUNT,
        "warnings": COUNT,
        "infos": COUNT,
        "coverage_pct": {"type": "number", "minimum": 0, "maximum": 100},
        "patients_covered_pct": {"type": "number", "minimum": 0, "maximum": 100},
        "complete": {"type": "boolean", "description": "Every open practice covered and no errors."},
    }, "Counts for one scope: the system, a place (ICP) or a commissioner (ODS code)."),
    "RoundSummary": _obj({
        "complete": {"type": "boolean"},
        "system": _ref("Summary"),
        "places": {"type": "array", "items": _ref("Summary")},
        "commissioners": {"type": "array", "items": _ref("Summary")},
    }),
    "Round": _obj({
        "id": {"type": "integer", "minimum": 1},
        "name": STRING,
        "system": CODE_NAME,
        "reference_date": {**DATE, "description": "List sizes on or after this date count."},
        "band": _obj({"min": COUNT, "max": COUNT}, "The list-size band (both bounds inclusive)."),
        "dates": _obj({key: _nullable(DATE) for key in (
            "opens", "submission_deadline", "committee_date", "confirmation_date", "go_live")}),
        "head_version": {"type": ["integer", "null"], "minimum": 1,
                         "description": "Number of the configuration version in force."},
        "summary": _ref("RoundSummary"),
    }, "A registration round with the summary of its head configuration."),
    "Subject": _obj({
        "type": {"type": "string", "enum": ["pcn", "practice", "round"]},
        "code": {"type": ["string", "null"]},
        "name": STRING,
        "key": {"type": ["string", "null"], "description": "The PCN key where type is pcn."},
    }),
    "Finding": _obj({
        "rule": {"type": "string", "enum": list(RULES),
                 "description": "; ".join(f"{k}: {v}" for k, v in RULE_TITLES.items())},
        "severity": {"type": "string", "enum": list(SEVERITIES)},
        "subject": _ref("Subject"),
        "message": STRING,
        "figures": {"type": "object", "description": "The rule's figures (free-form, per rule)."},
    }),
    "Member": _obj({
        "code": ODS_CODE,
        "name": STRING,
        "list_size": {"type": ["integer", "null"], "minimum": 0,
                      "description": "The list size that counts for the round."},
        "list_size_date": _nullable(DATE),
        "commissioner": {**ODS_CODE, "description": "Commissioner ODS code."},
        "status": {"type": "string", "enum": ["open", "closed"]},
    }),
    "Pcn": _obj({
        "key": {"type": "string", "pattern": "^[0-9]+$",
                "description": "Stable identifier of the PCN within the round."},
        "name": STRING,
        "code": {"type": ["string", "null"], "description": "PCN ODS code, when known."},
        "place": {"type": ["string", "null"]},
        "lead_commissioner": {"type": ["string", "null"], "description": "Commissioner ODS code."},
        "members": {"type": "array", "items": _ref("Member")},
        "member_count": COUNT,
        "total": {**COUNT, "description": "Sum of the members' list sizes (missing counts 0)."},
        "band_status": BAND_STATUS,
        "findings": {"type": "array", "items": _ref("Finding"),
                     "description": "Findings about the PCN and its member practices."},
    }),
    "FindingsReport": _obj({
        "round": _obj({"id": {"type": "integer", "minimum": 1}, "name": STRING}),
        "summary": _ref("RoundSummary"),
        "findings": {"type": "array", "items": _ref("Finding")},
    }),
    "ListSize": _obj({"as_of": DATE, "size": COUNT, "source": STRING}),
    "Practice": _obj({
        "code": ODS_CODE,
        "name": STRING,
        "postcode": {"type": ["string", "null"]},
        "commissioner": CODE_NAME,
        "status": {"type": "string", "enum": ["open", "closed"]},
        "ods_status_code": {"type": ["string", "null"], "description": "A, C, D or P as published."},
        "latitude": {"type": ["number", "null"], "minimum": -90, "maximum": 90},
        "longitude": {"type": ["number", "null"], "minimum": -180, "maximum": 180},
        "local_authority": {"anyOf": [_obj({"code": GSS_CODE, "name": STRING}), {"type": "null"}]},
        "list_sizes": {"type": "array", "items": _ref("ListSize"),
                       "description": "Every recorded list size, oldest first."},
    }),
    "PracticePage": _obj({
        "total": {**COUNT, "description": "Practices matching the filters, on every page."},
        "limit": {"type": "integer", "minimum": 0, "maximum": MAX_LIMIT},
        "offset": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
        "items": {"type": "array", "items": _ref("Practice")},
    }),
    "Missing": _obj({
        "item": {"type": "string", "enum": ["members", "confirmation", "agreement_core", "agreement_schedule1",
                                            "payee", "clinical_director", "exception_request"]},
        "practice": {"type": ["string", "null"], "description": "The practice it concerns, if one."},
        "message": STRING,
    }, "Something a PCN's registration still lacks."),
    "RegistrationStatus": _obj({
        "pcn_id": {"type": "integer", "minimum": 1},
        "name": STRING,
        "code": {"type": ["string", "null"]},
        "lead_commissioner": {"type": ["string", "null"]},
        "state": {"type": "string", "enum": list(STATES)},
        "deadline_status": {"type": "string", "enum": ["due", "late", "overdue", "none"],
                            "description": "due: not submitted, deadline ahead; overdue: not submitted, "
                                           "deadline passed; late: submitted after the deadline; none: "
                                           "submitted in time or no deadline."},
        "deadline_text": STRING,
        "days_left": {"type": ["integer", "null"], "minimum": 0},
        "list_size": COUNT,
        "band": BAND_STATUS,
        "submissions": COUNT,
        "last_submitted_at": {"type": ["string", "null"], "format": "date-time"},
        "late_override": {"type": "boolean"},
        "missing": {"type": "array", "items": _ref("Missing"),
                    "description": "What the draft lacks for submission (empty once submitted)."},
    }),
    "Registrations": _obj({
        "round": _obj({"id": {"type": "integer", "minimum": 1}, "name": STRING}),
        "as_of": {"type": "string", "format": "date-time"},
        "pcns": {"type": "array", "items": _ref("RegistrationStatus")},
    }),
    "SubmissionSummary": _obj(SUBMISSION := {
        "number": {"type": "integer", "minimum": 1},
        "submitted_at": {"type": "string", "format": "date-time"},
        "submitted_by": STRING,
        "late": {"type": "boolean"},
        "config_version": {"type": ["integer", "null"], "minimum": 1},
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    }),
    "Submission": _obj({**SUBMISSION, "snapshot": {
        "type": "object", "required": ["schema", "round", "pcn", "members", "list_size", "band", "agreement",
                                       "payee", "clinical_director", "findings", "exception_requests",
                                       "submitted"],
        "description": "The frozen registration: members with list sizes and confirmations, total and band, "
                       "area (GeoJSON, EPSG:4326, or null without geodata), Network Agreement signatures "
                       "(file names and SHA-256), payee, Clinical Director and deputy, findings and exception "
                       "requests at that moment, and the configuration version it was made from."}}),
    "Decision": _obj({
        "meeting": _obj({"id": {"type": "integer", "minimum": 1}, "held_on": DATE, "committee": STRING}),
        "pcn_id": {"type": "integer", "minimum": 1},
        "pcn_name": STRING,
        "submission": {"type": "integer", "minimum": 1},
        "subject": {"type": "string", "enum": ["registration", "exception"]},
        "exception_request_id": {"type": ["integer", "null"]},
        "outcome": {"type": "string", "enum": list(DECISION_OUTCOMES)},
        "rationale": STRING,
        "decided_by": STRING,
        "decided_at": {"type": "string", "format": "date-time"},
        "conditions": {"type": "array", "items": _obj({"text": STRING, "due_on": DATE, "met_on": _nullable(DATE)})},
    }),
    "Election": _obj({
        "id": {"type": "integer", "minimum": 1},
        "pcn_id": {"type": "integer", "minimum": 1},
        "pcn_name": STRING,
        "state": {"type": "string", "enum": list(ELECTION_STATES)},
        "state_title": STRING,
        "method": {"type": "string", "enum": ["plurality", "weighted", "irv"]},
        "tie_break": {"type": "string", "enum": ["lots", "seed"]},
        "tie_break_seed": {"type": ["string", "null"], "description": "Published before any vote."},
        "timetable": _obj({k: {"type": "string", "format": "date-time"} for k in (
            "nominations_open", "nominations_close", "voting_open", "voting_close")}),
        "candidates": {"type": "array", "items": _obj({
            "id": {"type": "integer", "minimum": 1}, "name": STRING, "practice": ODS_CODE,
            "status": {"type": "string", "enum": ["nominated", "shortlisted", "not_shortlisted", "withdrawn"]}})},
        "turnout": _obj({"voted": COUNT, "electorate": COUNT}, "How many member practices have voted, never how."),
        "result": {"type": ["object", "null"],
                   "description": "The count once voting has closed and the votes are counted: every round's "
                                  "tallies (candidate ids), eliminations and tie-break decisions, the winner, "
                                  "exhausted ballots and turnout. Null before: nobody sees a tally earlier."},
    }, "A Clinical Director election run by the LMC. Individual ballots are never served."),
    # -- the write operations' bodies and results (services.api_actions) --
    "ConfirmationRequest": _obj({"practice": {**WRITE_CODE, "description": "The member practice confirming."}}),
    "SignatureRequest": _obj({
        "practice": {**WRITE_CODE, "description": "The member practice that signed."},
        "stage": {"type": "string", "enum": list(STAGES)},
        "signed_on": DATE,
        "signatory": _text(MAX_NAME),
        "file_name": _text(MAX_SHORT),
        "file_base64": {"type": "string", "contentEncoding": "base64",
                        "maxLength": (MAX_AGREEMENT_BYTES + 2) // 3 * 4,
                        "description": "The signed agreement (PDF, PNG or JPEG, at most "
                                       f"{MAX_AGREEMENT_BYTES // (1024 * 1024)} MB), standard base64 with padding."},
    }),
    "PayeeRequest": _obj({"practice": WRITE_CODE,
                          "reference": {**_text(MAX_SHORT), "description": "A name for the payment, never bank details."}}),
    "ClinicalDirectorRequest": _obj({
        "name": _text(MAX_NAME), "practice": WRITE_CODE, "profession": _text(MAX_SHORT),
        "process": {"type": "string", "enum": list(CD_PROCESSES)},
        "details": {**_text(MAX_TEXT), "description": "How the Clinical Director was chosen (may be empty)."},
        "deputy_name": {**_text(MAX_NAME), "description": "Empty: no deputy."},
        "deputy_practice": {**_text(MAX_CODE), "description": "The deputy's member practice (empty: none)."},
    }),
    "ExceptionRequestRequest": _obj({
        "finding": {**_text(MAX_SHORT), "description": "The blocking finding: `<rule>|pcn:<pcn key>` or "
                                                       "`<rule>|practice:<ODS code>`."},
        "reason": _text(MAX_TEXT),
    }),
    "Empty": {"type": "object", "properties": {}, "required": [], "additionalProperties": False,
              "description": "An empty JSON object: {}"},
    "MeetingRequest": _obj({
        "committee_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        "held_on": DATE,
        "members_present": {"type": "array", "minItems": 1, "maxItems": MAX_MEMBERS_PRESENT,
                            "items": _text(MAX_NAME)},
    }),
    "Meeting": _obj({
        "id": {"type": "integer", "minimum": 1},
        "round_id": {"type": "integer", "minimum": 1},
        "committee": _obj({"id": {"type": "integer", "minimum": 1}, "name": STRING}),
        "held_on": DATE,
        "members_present": {"type": "array", "items": STRING},
    }),
    "AgendaRequest": _obj({"pcn_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}),
    "DecisionRequest": _obj({
        "pcn_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        "outcome": {"type": "string", "enum": list(DECISIONS)},
        "rationale": _text(MAX_TEXT),
        "conditions": {"type": "array", "maxItems": MAX_CONDITIONS,
                       "items": _obj({"text": _text(MAX_TEXT), "due_on": DATE}),
                       "description": "Only with approved_with_conditions (then at least one)."},
    }),
    "CoverageConfirmation": _obj({
        "commissioner": _obj({"id": {"type": "integer", "minimum": 1}, "code": STRING, "name": STRING}),
        "confirmed_by": STRING,
        "confirmed_at": {"type": "string", "format": "date-time"},
    }),
    "GoLiveResult": _obj({
        "live": {"type": "array", "items": STRING, "description": "The PCNs that went live now."},
        "not_live": {"type": "array", "items": STRING, "description": "Others, as `<PCN>: <state>`."},
    }),
    "OpenApiDocument": {"type": "object", "required": ["openapi", "info", "paths"],
                        "description": "This document."},
}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERROR_400 = _json(_ref("Error"), "A query parameter is not valid (the message names it).")
ERROR_404 = _json(_ref("Error"), "No such round.")
ERROR_401 = _json(_ref("Error"), "Not signed in: drafts are readable only after signing in.")
ERROR_403 = _json(_ref("Error"), "Signed in, but no role gives access to this object.")
VIEW_ERRORS = {"401": ERROR_401, "403": ERROR_403}   # drafts: readable by roles of the round's system

ROUND_ID = {"name": "round_id", "in": "path", "required": True,
            "description": "The round's id (see /rounds).",
            "schema": {"type": "integer", "minimum": 1}}


PCN_ID = {"name": "pcn_id", "in": "path", "required": True, "description": "The PCN's id (key) in the round.",
          "schema": {"type": "integer", "minimum": 1}}


def _query(name: str, description: str, schema: dict) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def _get(operation_id: str, summary: str, ok: dict, *, parameters: list | None = None,
         errors: dict | None = None, description: str | None = None) -> dict:
    op = {"operationId": operation_id, "summary": summary, "responses": {"200": ok, **(errors or {})}}
    if description:
        op["description"] = description
    if parameters:
        op["parameters"] = parameters
    return {"get": op}


WRITE_400 = _json(_ref("Error"), "The body is not a JSON object with exactly the documented fields, of their "
                                 "types (the message names the field).")
WRITE_401 = _json(_ref("Error"), "Not signed in.")
WRITE_403 = _json(_ref("Error"), "Signed in, but no role allows this change to this object.")
WRITE_404 = _json(_ref("Error"), "No such round, or no such object of the round in the URL.")
WRITE_409 = _json(_ref("Error"), "Refused by the registration workflow (the message gives the reasons): "
                                 "nothing was written.")
WRITE_415 = _json(_ref("Error"), "The body was not sent as `Content-Type: application/json`.")
WRITE_ERRORS = {"400": WRITE_400, "401": WRITE_401, "403": WRITE_403, "404": WRITE_404, "409": WRITE_409,
                "415": WRITE_415}
PCN_STATUS = _json(_ref("RegistrationStatus"), "The PCN's registration after the change.")
MEETING_ID = {"name": "meeting_id", "in": "path", "required": True, "description": "The meeting's id.",
              "schema": {"type": "integer", "minimum": 1}}
COMMISSIONER_ID = {"name": "commissioner_id", "in": "path", "required": True,
                   "description": "The commissioner's id (one of the round's system).",
                   "schema": {"type": "integer", "minimum": 1}}


def _post(operation_id: str, summary: str, body: str, ok: dict, *, parameters: list,
          description: str | None = None, status: str = "200", errors: dict | None = None) -> dict:
    op = {"operationId": operation_id, "summary": summary, "parameters": parameters,
          "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(body)}}},
          "responses": {status: ok, **(errors or WRITE_ERRORS)}}
    if description:
        op["description"] = description
    return {"post": op}


def _pcn_post(operation_id: str, summary: str, body: str, description: str | None = None, **more) -> dict:
    return _post(operation_id, summary, body, PCN_STATUS, parameters=[ROUND_ID, PCN_ID],
                 description=description, **more)


def write_paths() -> dict:
    """The write operations: a PCN's registration from draft to live (``views.api_write``)."""
    pcn = "/rounds/{round_id}/pcns/{pcn_id}/registration"
    steps = {"submit": ("submitPcnRegistration", "Submit the registration: its snapshot is frozen"),
             "withdraw": ("withdrawPcnRegistration", "Withdraw a submission not yet reviewed: a draft again"),
             "reopen": ("reopenPcnRegistration", "Start a new draft after a deferral or rejection")}
    return {
        f"{pcn}/confirmations": _pcn_post(
            "confirmPcnMember", "A member practice confirms its membership of the PCN", "ConfirmationRequest"),
        f"{pcn}/signatures": _pcn_post(
            "signPcnAgreement", "Record a member's signature of the Network Agreement, with the signed file",
            "SignatureRequest", errors={**WRITE_ERRORS, "413": _json(
                _ref("Error"), "The request is larger than the server accepts.")}),
        f"{pcn}/payee": _pcn_post("setPcnPayee", "Nominate the member practice that is paid", "PayeeRequest"),
        f"{pcn}/clinical-director": _pcn_post(
            "setPcnClinicalDirector", "Record the Clinical Director (and deputy)", "ClinicalDirectorRequest",
            "An elected Clinical Director (process `election`) needs the LMC's declared election."),
        f"{pcn}/exception-requests": _pcn_post(
            "requestPcnException", "Ask for an exception to one of the PCN's blocking errors",
            "ExceptionRequestRequest"),
        **{f"{pcn}/{name}": _pcn_post(op_id, summary, "Empty") for name, (op_id, summary) in steps.items()},
        "/rounds/{round_id}/meetings": _post(
            "createMeeting", "Record a meeting of one of the system's committees", "MeetingRequest",
            _json(_ref("Meeting"), "The meeting."), parameters=[ROUND_ID], status="201"),
        "/rounds/{round_id}/meetings/{meeting_id}/agenda": _post(
            "addToMeetingAgenda", "Put a submitted PCN on the meeting's agenda: under review", "AgendaRequest",
            PCN_STATUS, parameters=[ROUND_ID, MEETING_ID],
            description="`pcn_id` naming no PCN of the round's current configuration is a 400."),
        "/rounds/{round_id}/meetings/{meeting_id}/decisions": _post(
            "decideAtMeeting", "The committee's decision on a PCN on the meeting's agenda", "DecisionRequest",
            PCN_STATUS, parameters=[ROUND_ID, MEETING_ID],
            description="Needs the decide role of the meeting's committee. A rationale is required."),
        "/rounds/{round_id}/confirmations/{commissioner_id}": _post(
            "confirmCoverage", "The commissioner confirms 100% coverage: its approved PCNs are confirmed",
            "Empty", _json(_ref("CoverageConfirmation"), "The confirmation."),
            parameters=[ROUND_ID, COMMISSIONER_ID]),
        "/rounds/{round_id}/go-live": _post(
            "goLive", "On or after the go-live date: every confirmed PCN becomes live", "Empty",
            _json(_ref("GoLiveResult"), "Which PCNs went live."), parameters=[ROUND_ID]),
    }


def document() -> dict:
    """The OpenAPI document (a fresh dict each call)."""
    text = {"type": "string", "maxLength": MAX_QUERY_LENGTH}
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "pcnreg API",
            "version": VERSION,
            "summary": "Primary Care Network registration rounds, and each PCN's registration from draft to live.",
            "description": (
                "Rounds, their PCNs (members, totals, band status, findings), the findings of the "
                "configuration rules and the practices on record (GET); and the registration workflow's "
                "steps (POST): a PCN's member confirmations, Network Agreement signatures, payee, Clinical "
                "Director, exception requests, submission; committee meetings, agendas and decisions; "
                "commissioners' confirmation of coverage and go-live. Each step calls the same service as "
                "the web pages, with the same checks and audit trail.\n\n"
                "Authentication: the signed-in session (the web sign-in cookie): 401 without one, 403 "
                "without a role in scope.\n\n"
                "Writing: every POST takes a JSON object, sent with `Content-Type: application/json` "
                "(415 otherwise; 400 with no body at all). This is the API's protection against "
                "cross-site request forgery, instead of the pages' form token: an HTML form on another "
                "site cannot send that content type without a CORS preflight, and pcnreg answers no "
                "CORS requests. The object has exactly the documented fields (an unknown or missing field, "
                "or a wrong type, is a 400 naming it). A step the workflow refuses is a 409 with the "
                "reasons, and nothing is written.\n\n"
                "Every error is an `Error` object. Unknown URLs under /api/v1 "
                "answer 404 and other methods 405, both as `Error`."),
        },
        "servers": [{"url": "/api/v1"}],
        "paths": {
            "/rounds": _get(
                "listRounds", "Every registration round, most recent first",
                _json({"type": "array", "items": _ref("Round")}, "The rounds."), errors=VIEW_ERRORS),
            "/rounds/{round_id}": _get(
                "getRound", "One registration round",
                _json(_ref("Round"), "The round."),
                parameters=[ROUND_ID], errors={"404": ERROR_404, **VIEW_ERRORS}),
            "/rounds/{round_id}/pcns": _get(
                "listRoundPcns", "The PCNs of a round's head configuration",
                _json({"type": "array", "items": _ref("Pcn")}, "The PCNs, by name."),
                parameters=[ROUND_ID], errors={"404": ERROR_404, **VIEW_ERRORS}),
            "/rounds/{round_id}/findings": _get(
                "listRoundFindings", "The findings of a round's configuration rules",
                _json(_ref("FindingsReport"), "The findings (errors first) and the round's summary."),
                description="Filters combine; an empty value means any. The summary is of the whole "
                            "round whatever the filters.",
                parameters=[
                    ROUND_ID,
                    _query("severity", "Only findings of this severity (unknown: 400).",
                           {"type": "string", "enum": list(SEVERITIES)}),
                    _query("rule", "Only findings of this rule (unknown: 400).",
                           {"type": "string", "enum": list(RULES)}),
                    _query("place", "Only findings about a PCN or practice of this place (ICP), by name.",
                           text),
                ],
                errors={"400": ERROR_400, "404": ERROR_404, **VIEW_ERRORS}),
            "/rounds/{round_id}/registrations": _get(
                "listRoundRegistrations", "Each PCN's registration state, deadline status and what it lacks",
                _json(_ref("Registrations"), "Every PCN of the head configuration, by name."),
                description="Deadlines are the end of their day in UK local time, judged at `as_of`.",
                parameters=[ROUND_ID], errors={"404": ERROR_404, **VIEW_ERRORS}),
            "/rounds/{round_id}/pcns/{pcn_id}/submissions": _get(
                "listPcnSubmissions", "A PCN's submissions, newest first",
                _json({"type": "array", "items": _ref("SubmissionSummary")}, "The submissions."),
                parameters=[ROUND_ID, PCN_ID], errors={"404": ERROR_404, **VIEW_ERRORS}),
            "/rounds/{round_id}/pcns/{pcn_id}/submissions/{number}": _get(
                "getPcnSubmission", "One submission with its immutable snapshot",
                _json(_ref("Submission"), "The submission."),
                parameters=[ROUND_ID, PCN_ID, {"name": "number", "in": "path", "required": True,
                                               "schema": {"type": "integer", "minimum": 1}}],
                errors={"404": ERROR_404, **VIEW_ERRORS}),
            "/rounds/{round_id}/decisions": _get(
                "listRoundDecisions", "The committees' decisions of a round, by meeting date",
                _json({"type": "array", "items": _ref("Decision")}, "The decisions."),
                parameters=[ROUND_ID], errors={"404": ERROR_404, **VIEW_ERRORS}),
            "/rounds/{round_id}/elections": _get(
                "listRoundElections", "The round's Clinical Director elections",
                _json({"type": "array", "items": _ref("Election")}, "The elections, oldest first."),
                parameters=[ROUND_ID], errors={"404": ERROR_404, **VIEW_ERRORS}),
            "/practices": _get(
                "listPractices", "Practices on record, by code, a page at a time",
                _json(_ref("PracticePage"), "One page of practices and the total matching."),
                description=(f"`limit` out of 0–{MAX_LIMIT} or `offset` out of 0–{MAX_OFFSET} is a 400, "
                             "never clamped."),
                parameters=[
                    _query("commissioner", "Only practices of this commissioner (ODS code, e.g. 04K).", text),
                    _query("q", "Part of the practice's name or ODS code, any case.", text),
                    _query("limit", f"Practices per page (default {DEFAULT_LIMIT}).",
                           {"type": "integer", "minimum": 0, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}),
                    _query("offset", "Practices to skip.",
                           {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}),
                ],
                errors={"400": ERROR_400, "401": ERROR_401}),
            "/openapi.json": _get(
                "getOpenApiDocument", "This OpenAPI document",
                _json(_ref("OpenApiDocument"), "The OpenAPI 3.1 document.")),
            **write_paths(),
        },
        "components": {"schemas": copy.deepcopy(SCHEMAS)},
    }
