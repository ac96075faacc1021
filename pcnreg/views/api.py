"""The JSON API under /api/v1, described by /api/v1/openapi.json: reading here; the workflow's
steps (a PCN's draft and submission, agendas, decisions, confirmation, go-live) in
``api_write.py``, on the same blueprint.

Views are thin: one service call each (``pcnreg.services.api``). Every error under /api/v1 is
JSON ``{"error": {"status": ..., "message": ...}}``: errors raised in these views by the
blueprint's handlers, unknown URLs and wrong methods by the catch-all route ``unknown`` (no
app-wide handlers, so the HTML pages keep their own).
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from ..extensions import csrf
from ..services import api, api_workflow, openapi
from ..services.rounds import NotFound as RoundNotFound

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# Endpoints that are not part of the documented API (the JSON 404/405 catch-all).
UNDOCUMENTED = {"api.unknown"}
_ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _error(status: int, message: str, headers: dict | None = None):
    return jsonify(api.error_body(status, message)), status, headers or {}


@bp.get("/rounds")
def rounds():
    return jsonify(api.rounds_list())


@bp.get("/rounds/<int:round_id>")
def round_detail(round_id: int):
    return jsonify(api.round_detail(round_id))


@bp.get("/rounds/<int:round_id>/pcns")
def round_pcns(round_id: int):
    return jsonify(api.pcn_list(round_id))


@bp.get("/rounds/<int:round_id>/findings")
def round_findings(round_id: int):
    return jsonify(api.round_findings(round_id, request.args))


@bp.get("/rounds/<int:round_id>/registrations")
def round_registrations(round_id: int):
    return jsonify(api_workflow.registrations(round_id))


@bp.get("/rounds/<int:round_id>/pcns/<int:pcn_id>/submissions")
def pcn_submissions(round_id: int, pcn_id: int):
    return jsonify(api_workflow.submissions(round_id, pcn_id))


@bp.get("/rounds/<int:round_id>/pcns/<int:pcn_id>/submissions/<int:number>")
def pcn_submission(round_id: int, pcn_id: int, number: int):
    return jsonify(api_workflow.submission(round_id, pcn_id, number))


@bp.get("/rounds/<int:round_id>/decisions")
def round_decisions(round_id: int):
    return jsonify(api_workflow.decisions(round_id))


@bp.get("/rounds/<int:round_id>/elections")
def round_elections(round_id: int):
    return jsonify(api_workflow.elections_of(round_id))


@bp.get("/practices")
def practices():
    return jsonify(api.practice_page(request.args))


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(openapi.document())


@bp.route("/", defaults={"anything": ""}, methods=_ANY_METHOD, strict_slashes=False)
@bp.route("/<path:anything>", methods=_ANY_METHOD)
@csrf.exempt
def unknown(anything: str):
    """No such API URL (404), or not with this method (405, with Allow).

    Exempt from CSRF because it only ever answers with an error and changes nothing: without
    the exemption a POST here would get "CSRF token missing" (400) instead of its 404/405.
    """
    allowed = _served_methods()
    if allowed:
        return _error(405, f"{request.method} is not allowed at {request.path}: use {', '.join(allowed)}",
                      {"Allow": ", ".join(allowed)})
    return _error(404, f"No API resource at {request.path}")


def _served_methods() -> list[str]:
    """The methods a real endpoint (not the catch-all) serves at the requested path."""
    adapter = current_app.create_url_adapter(request)
    out = []
    for method in _ANY_METHOD:
        try:
            endpoint, _ = adapter.match(request.path, method=method)
        except HTTPException:
            continue
        if endpoint not in UNDOCUMENTED:
            out.append(method)
    return out


@bp.errorhandler(api.ApiError)
def api_error(exc: api.ApiError):
    return _error(exc.status, exc.message)


@bp.errorhandler(RoundNotFound)
def round_not_found(exc: RoundNotFound):
    return _error(404, str(exc))


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    headers = None
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        headers = {"Allow": ", ".join(exc.valid_methods)}
    return _error(exc.code or 500, exc.description or exc.name, headers)


@bp.errorhandler(500)
def server_error(exc):
    return _error(500, "Internal server error")



from . import api_write  # noqa: E402,F401  (the write operations, on this blueprint)
