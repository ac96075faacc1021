"""Security headers, a request id per request and one structured log line per request.

``init_app(app)`` installs:

- a request id (``g.request_id``): the incoming ``X-Request-Id`` when it is a safe token
  (1-64 characters of ``A-Z a-z 0-9 . _ -``), else a new uuid4 hex. It is sent back as the
  ``X-Request-Id`` response header, is in every log line about the request and is shown on the
  error pages (template variable ``request_id``).
- a per-request CSP nonce (``g.csp_nonce``, template variable ``cspNonce``, which the NHS.UK
  page template puts on its one inline script).
- security headers on every response. Pages get ``PAGE_CSP`` (this host only; no inline script
  except the nonce; no inline style: the templates use no ``style`` attributes). A response
  that already has a Content-Security-Policy (the folium map documents set their own, which
  allows their inline scripts) keeps it.
- a JSON line per request on the ``pcnreg.request`` logger: request id, method, path (without
  the query string, which may carry personal data), endpoint, status, duration and the
  signed-in user's id (never a name or e-mail address). Paths that carry a secret (a ballot token
  in ``/ballot/<token>``, an invite token in ``/invite/<token>``) are logged redacted
  (``log_path``); the redacted path is also put in the WSGI environ as ``pcnreg.log_path`` for
  the server's access log (gunicorn: ``%({pcnreg.log_path}e)s``, see the README).
"""
from __future__ import annotations

import json
import logging
import re
import secrets
import time
import uuid

from flask import Flask, abort, g, has_request_context, request
from flask.wrappers import Response

REQUEST_ID_HEADER = "X-Request-Id"
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

_ENV_REQUEST_ID = "pcnreg.request_id"
_ENV_NONCE = "pcnreg.csp_nonce"

request_log = logging.getLogger("pcnreg.request")

#: Path prefixes whose next segment is a secret (a one-time token): logged as "[redacted]".
SECRET_PATHS = ("/ballot/", "/invite/")
ENV_LOG_PATH = "pcnreg.log_path"


def log_path(path: str) -> str:
    """``path`` with the secret segment of ``SECRET_PATHS`` replaced by ``[redacted]``."""
    for prefix in SECRET_PATHS:
        if path.startswith(prefix) and len(path) > len(prefix):
            rest = path[len(prefix):]
            tail = rest[rest.find("/"):] if "/" in rest else ""
            return f"{prefix}[redacted]{tail}"
    return path


def page_csp(nonce: str) -> str:
    """The Content-Security-Policy of the pages: assets from this host only."""
    return ("default-src 'self'; "
            f"script-src 'self' 'nonce-{nonce}'; "
            "style-src 'self'; "
            "img-src 'self' data:; "
            "font-src 'self'; "
            "connect-src 'self'; "
            "frame-src 'self'; "
            "form-action 'self'; "
            "base-uri 'self'; "
            "frame-ancestors 'self'; "
            "object-src 'none'")


STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "SAMEORIGIN",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
HSTS = "max-age=31536000; includeSubDomains"


def request_id() -> str:
    """The current request's id, made on first use (outside a request: '-').

    Kept in the request's WSGI environ (``g`` may outlive a request when an application context
    was pushed around several, as in tests) and mirrored to ``g.request_id``."""
    if not has_request_context():
        return "-"
    value = request.environ.get(_ENV_REQUEST_ID)
    if value is None:
        value = request.environ[_ENV_REQUEST_ID] = _incoming_request_id()
    g.request_id = value
    return value


def csp_nonce() -> str:
    """The current request's CSP nonce, made on first use (mirrored to ``g.csp_nonce``)."""
    value = request.environ.get(_ENV_NONCE)
    if value is None:
        value = request.environ[_ENV_NONCE] = secrets.token_urlsafe(16)
    g.csp_nonce = value
    return value


def _incoming_request_id() -> str:
    try:
        value = request.headers.get(REQUEST_ID_HEADER, "")
    except RuntimeError:
        value = ""
    if _SAFE_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def _user_id():
    """The signed-in user's id when this request has already read who is signed in (the guard
    does for every page it protects, as does a page that shows who is signed in), else None. A
    static file or a public page is logged without one: asking Flask-Login here would read the
    user from the database for every stylesheet, script and image."""
    user = g.get("_login_user")
    if user is not None and getattr(user, "is_authenticated", False):
        return user.get_id()
    return None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, plus the record's ``fields``
    (and the request id when the record was logged during a request)."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        rid = getattr(record, "request_id", None)
        if rid and "request_id" not in out:
            out["request_id"] = rid
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


JsonFormatter.converter = time.gmtime


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record logged during a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id()
        return True


#: The loggers that write JSON lines: one line per request, and the server errors.
JSON_LOGGERS = ("pcnreg.request", "pcnreg.errors")


def configure_logging(app: Flask) -> None:
    """JSON lines on stderr for ``JSON_LOGGERS`` (once per process)."""
    for name in JSON_LOGGERS:
        logger = logging.getLogger(name)
        if any(getattr(h, "_pcnreg_json", False) for h in logger.handlers):
            continue
        handler = logging.StreamHandler()
        handler._pcnreg_json = True  # type: ignore[attr-defined]
        handler.setFormatter(JsonFormatter())
        handler.addFilter(RequestIdFilter())
        logger.addHandler(handler)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
        logger.propagate = False


def refuse_nul_characters() -> None:
    """No text a person types contains a NUL character, and PostgreSQL cannot store one: refuse
    the request (400, naming the field) before any view or the database sees it."""
    for source in (request.args, request.form):
        for name, value in source.items(multi=True):
            if "\x00" in str(name or "") or "\x00" in str(value or ""):
                shown = str(name or "").replace("\x00", "") or "a field"
                abort(400, description=f"The field {shown!r} contains a NUL character: remove it and try again.")


def install_proxy_fix(app: Flask) -> None:
    """Behind ``TRUSTED_PROXIES`` reverse proxies (``PCNREG_TRUSTED_PROXIES``), take the client's
    address, scheme, host and port from the X-Forwarded-* headers the proxies add (werkzeug's
    ProxyFix, trusting that many hops and no more): the per-address sign-in limit then sees the
    real address, and a request that reached the proxy over HTTPS is secure (HSTS, Secure
    cookies). With 0 (the default) those headers are ignored: a client cannot forge its address."""
    hops = int(app.config.get("TRUSTED_PROXIES") or 0)
    if hops > 0 and not getattr(app.wsgi_app, "_pcnreg_proxy_fix", False):
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
        app.wsgi_app._pcnreg_proxy_fix = True  # type: ignore[attr-defined]


def init_app(app: Flask) -> None:
    install_proxy_fix(app)
    app.config.setdefault("SECURITY_HEADERS", True)
    app.config.setdefault("REQUEST_LOG_JSON", not app.testing)
    if app.config["REQUEST_LOG_JSON"]:
        configure_logging(app)

    @app.before_request
    def _start() -> None:
        request.environ["pcnreg.started"] = time.perf_counter()
        request.environ[ENV_LOG_PATH] = log_path(request.path)
        request_id()
        csp_nonce()
        refuse_nul_characters()

    @app.context_processor
    def _template_values() -> dict:
        if not has_request_context():
            return {}
        return {"request_id": request_id(), "cspNonce": csp_nonce()}

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = request_id()
        if app.config["SECURITY_HEADERS"]:
            for name, value in STATIC_HEADERS.items():
                response.headers.setdefault(name, value)
            if "Content-Security-Policy" not in response.headers:
                response.headers["Content-Security-Policy"] = page_csp(csp_nonce())
            if request.is_secure:
                response.headers.setdefault("Strict-Transport-Security", HSTS)
        _log_request(response)
        return response


def _log_request(response: Response) -> None:
    started = request.environ.get("pcnreg.started")
    path = log_path(request.path)
    request.environ[ENV_LOG_PATH] = path
    fields = {
        "request_id": request_id(),
        "method": request.method,
        "path": path,                  # never the query string (personal data), never a token
        "endpoint": request.endpoint,
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
    }
    uid = _user_id()
    if uid is not None:
        fields["user_id"] = uid
    level = logging.WARNING if response.status_code >= 500 else logging.INFO
    request_log.log(level, "%s %s %s", request.method, path, response.status_code,
                    extra={"fields": fields})
