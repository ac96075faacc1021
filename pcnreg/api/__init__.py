"""The JSON API under /api/v1, described by /api/v1/openapi.json.

- ``schemas``: every request and response shape, once, as pydantic models;
- ``read``: the GET operations; ``write``: the workflow's POST operations;
- ``openapi``: the OpenAPI document, generated from the models;
- ``errors``: ``ApiError`` and the error body.

HTTP lives here; the work is the services' (``pcnreg.services``). Every error under /api/v1 is
JSON ``{"error": {"status": ..., "message": ...}}``: errors raised in these views by the
blueprint's handlers, unknown URLs and wrong methods by the catch-all route ``unknown`` (no
app-wide handlers, so the HTML pages keep their own).
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from ..extensions import csrf
from ..services.rounds import NotFound as RoundNotFound
from .errors import ApiError, error_body

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# Endpoints that are not part of the documented API (the JSON 404/405 catch-all).
UNDOCUMENTED = {"api.unknown"}
_ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _error(status: int, message: str, headers: dict | None = None):
    return jsonify(error_body(status, message)), status, headers or {}


@bp.get("/openapi.json")
def openapi_document():
    from .openapi import document

    return jsonify(document())


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


@bp.errorhandler(ApiError)
def api_error(exc: ApiError):
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


from . import read, write  # noqa: E402,F401  (the operations, on this blueprint)
