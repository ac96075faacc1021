"""The error pages: 400, 403, 404, 405, 413 and 500 in NHS.UK style (``templates/error.html``).

Every error page shows the request id (also in the ``X-Request-Id`` header and in the log
lines about the request) so that a user can quote it; a 500 page shows only a generic message
and that id, never the exception or a traceback. The exception is logged once, with the request
id, on the ``pcnreg.errors`` logger.

Paths under /api/ get JSON ``{"error": {"status": ..., "message": ..., "request_id": ...}}``
instead (the api blueprint's own handlers answer first for errors raised in its views). Under
/api/v1/ the body is ``{"error": {"status": ..., "message": ...}}`` as the OpenAPI document
describes, and the request id is in the ``X-Request-Id`` header only.
"""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.exceptions import NotFound as WerkzeugNotFound

from ..security import log_path, request_id

bp = Blueprint("errors", __name__)

error_log = logging.getLogger("pcnreg.errors")

# The documented API's error schema (pcnreg/api/openapi.py, from api/schemas.py) allows status and message only: its
# errors carry the request id in the X-Request-Id header alone.
DOCUMENTED_API = "/api/v1/"

ERROR_TITLES = {
    400: "There is a problem with your request",
    403: "You do not have permission to see this page",
    404: "Page not found",
    405: "That action is not allowed here",
    413: "The file is too large",
    500: "Sorry, there is a problem with the service",
}

CSRF_MESSAGE = ("The form could not be sent because its security token was missing or had expired. "
                "Go back, reload the page and try again. Nothing was changed.")
NOT_FOUND_MESSAGE = ("If you typed the web address, check it is correct. If you pasted it, check you "
                     "copied all of it.")
FORBIDDEN_MESSAGE = ("Your account does not allow this. If you think it should, ask an administrator "
                     "of this service.")
SERVER_ERROR_MESSAGE = ("Something went wrong on our side and your request was not completed. Try again "
                        "later. If the problem continues, contact the service team and quote the request "
                        "id below.")


def _max_upload_mb() -> str:
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    mb = limit / (1024 * 1024)
    return f"{mb:g}"


def _message(exc: HTTPException, code: int) -> str:
    if isinstance(exc, CSRFError):
        return CSRF_MESSAGE
    if code == 404 and exc.description == WerkzeugNotFound.description:
        return NOT_FOUND_MESSAGE
    if code == 403 and exc.description == type(exc).description:
        return FORBIDDEN_MESSAGE
    if code == 413:
        return (f"The file is too large: the limit is {_max_upload_mb()} MB. Choose a smaller file, "
                "or split it, and try again.")
    if code >= 500:
        return SERVER_ERROR_MESSAGE
    return exc.description or exc.name


def _wants_json() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def _respond(code: int, heading: str, message: str, headers: dict | None = None):
    headers = dict(headers or {})
    if _wants_json():
        body = {"error": {"status": code, "message": message}}
        if not request.path.startswith(DOCUMENTED_API):
            body["error"]["request_id"] = request_id()
        return jsonify(body), code, headers
    try:
        html = render_template("error.html", code=code, heading=heading, message=message)
    except Exception:  # noqa: BLE001 - the page about an error must not fail in turn
        error_log.exception("error page %s could not be rendered", code)
        html = (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{heading}</title>"
                f"</head><body><h1>{heading}</h1><p>{message}</p><p>Request id: <code>{request_id()}"
                "</code></p></body></html>")
    return html, code, headers


def http_error(exc: HTTPException):
    code = exc.code or 500
    headers = {}
    if code == 405 and getattr(exc, "valid_methods", None):
        headers["Allow"] = ", ".join(exc.valid_methods)
    return _respond(code, ERROR_TITLES.get(code, exc.name), _message(exc, code), headers)


def server_error(exc: InternalServerError):
    """A 500: the cause was logged by ``log_exception`` (with the request id); the page shows a
    generic message and the request id only."""
    try:
        from ..extensions import db

        db.session.rollback()
    except Exception:  # noqa: BLE001
        pass
    return _respond(500, ERROR_TITLES[500], SERVER_ERROR_MESSAGE)


def log_exception(exc_info) -> None:
    """Replaces ``Flask.log_exception``: one record with the request id, method and path (no
    query string) on the ``pcnreg.errors`` logger."""
    error_log.error("unhandled exception in %s %s (request id %s)", request.method, log_path(request.path), request_id(),
                    exc_info=exc_info,
                    extra={"fields": {"request_id": request_id(), "method": request.method,
                                      "path": log_path(request.path), "endpoint": request.endpoint}})


for _code in (400, 403, 404, 405, 413):
    bp.app_errorhandler(_code)(http_error)
bp.app_errorhandler(500)(server_error)


@bp.record_once
def _install(state) -> None:
    state.app.log_exception = log_exception
