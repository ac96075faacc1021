"""The OpenAPI 3.1 document of the JSON API (served at /api/v1/openapi.json), generated from the
models of ``api.schemas``: their JSON Schemas (2020-12, as OpenAPI 3.1 uses) are the document's
``components/schemas``, and the query parameters are the fields of the query models. What is
written here is only what a model cannot say: the paths, their operations, summaries and statuses.

Every object lists its ``required`` properties and forbids others (``additionalProperties: false``),
nullable values say so with a ``null`` alternative, so ``tests/test_api.py`` catches any drift
between this document and the real responses.
"""
from __future__ import annotations

import copy
from functools import cache

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from . import schemas as s

VERSION = "1.0.0"
REF = "#/components/schemas/{model}"


def _ref(name: str) -> dict:
    return {"$ref": REF.format(model=name)}


@cache
def _schemas() -> dict:
    """Every model's schema, by model name (nested models included), plus the document's own."""
    pairs = [(m, "serialization") for m in s.RESPONSES] + [(m, "validation") for m in s.REQUESTS]
    _, top = models_json_schema(pairs, ref_template=REF)
    schemas = dict(sorted(top["$defs"].items()))
    schemas["OpenApiDocument"] = {"type": "object", "required": ["openapi", "info", "paths"],
                                  "description": "This document."}
    return schemas


def _query_parameters(model: type[BaseModel]) -> list[dict]:
    """The query model's fields as OpenAPI parameters (optional; a blank value means the default)."""
    out = []
    for name, prop in model.model_json_schema(ref_template=REF)["properties"].items():
        schema = {k: v for k, v in prop.items() if k not in ("title", "description")}
        if "anyOf" in schema:           # X | None: the null is "not given", not a value to send
            (schema,) = [alt for alt in schema.pop("anyOf") if alt != {"type": "null"}]
            schema = {**schema, **({"default": prop["default"]} if prop.get("default") is not None else {})}
        if schema.get("default", 0) is None:
            del schema["default"]
        out.append({"name": name, "in": "query", "required": False,
                    "description": prop.get("description", ""), "schema": schema})
    return out


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
    """The write operations: a PCN's registration from draft to live (``api.write``)."""
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
                parameters=[ROUND_ID, *_query_parameters(s.FindingsQuery)],
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
                description=(f"`limit` out of 0–{s.MAX_LIMIT} or `offset` out of 0–{s.MAX_OFFSET} is a 400, "
                             "never clamped."),
                parameters=_query_parameters(s.PracticesQuery),
                errors={"400": ERROR_400, "401": ERROR_401}),
            "/openapi.json": _get(
                "getOpenApiDocument", "This OpenAPI document",
                _json(_ref("OpenApiDocument"), "The OpenAPI 3.1 document.")),
            **write_paths(),
        },
        "components": {"schemas": copy.deepcopy(_schemas())},
    }
