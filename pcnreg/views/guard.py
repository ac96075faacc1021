"""The guard: who is signed in, and may they use this endpoint on this object?

``init_app(app)`` installs Flask-Login (sessions in the signed Flask cookie; session protection
"strong": a session used from another address or browser is dropped), the cookie settings and
ONE check before every request, ``check_request``: the request's endpoint is looked up in the
route table (views/routes.py, ``ROUTE_RULES``), its resolver (services/access.py) is asked with
the request's URL values and form (``ask_from_request``), and the policy (domain/policy.py)
decides.

Not signed in: pages redirect to the sign-in page (``next`` = this page), /api/ answers JSON 401.
Signed in but refused: 403 (the NHS error page; JSON under /api/). An endpoint without a rule is
refused to everybody (fail closed). The check runs before the CSRF check (the app factory
installs the guard first), so that nobody learns more than "sign in" or "not allowed".

Sessions end on the server: signing out rotates the user's ``session_key`` (part of the stamp
checked at every request), so a copy of the cookie kept from before no longer signs anyone in; an
administrator ends all of a user's sessions the same way (the user page, ``pcnreg users
end-sessions EMAIL``). A session also ends after ``SESSION_IDLE_MINUTES`` without a request
and ``SESSION_MAX_HOURS`` after signing in (config.py).

Cookies: the session cookie is HttpOnly and SameSite=Lax; it and the remember cookie are Secure
when the ``SECURE_COOKIES`` setting is on (``PCNREG_SECURE_COOKIES``, config.py), which is the
default unless the app runs in debug or testing mode.

The names pages use to ask the guard's question themselves are re-exported here
(``permitted``, ``decide``, ``current_principal``, ``as_id``, ``MAX_ID``, ``ROUTE_RULES``).
"""
from __future__ import annotations

from flask import Flask, abort, g, jsonify, redirect, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user
from sqlalchemy.orm import joinedload

from ..domain import policy
from ..domain.policy import AnyOf, Principal, Somewhere, Target  # noqa: F401  (re-exported)
from ..extensions import db
from ..models import RegistrationRound, User
from ..services import accounts
from ..services.access import MAX_ID, NO_COMMISSIONER, Ask, as_id, decide  # noqa: F401  (re-exported)
from .routes import PUBLIC, ROUTE_RULES, SIGNED_IN, Rule, needs, permitted, rule_for  # noqa: F401  (re-exported)

login_manager = LoginManager()
login_manager.login_view = "auth.sign_in"
login_manager.session_protection = "strong"

STAMP_KEY = "_pcnreg_stamp"       # the session's password stamp (see accounts.session_stamp)
STARTED_KEY = "_pcnreg_started"   # when the session was signed in (UTC epoch seconds)
SEEN_KEY = "_pcnreg_seen"         # its last request (UTC epoch seconds), to SEEN_RESOLUTION
SEEN_RESOLUTION = 60              # seconds: the idle timeout is measured to the minute


class CurrentUser(UserMixin):
    """The signed-in user as Flask-Login and the audit trail see them, with their principal."""

    def __init__(self, user: User):
        self.id = user.id
        self.email = user.email
        self.name = user.name
        self.roles = list(user.roles)
        self._active = user.active
        self.principal = accounts.principal(user)

    @property
    def is_active(self) -> bool:
        return self._active

    def get_id(self) -> str:
        return str(self.id)

    @property
    def may_manage_users(self) -> bool:
        return policy.allowed(self.principal, policy.MANAGE_USERS, Target())


def _epoch() -> int:
    """accounts.now() (naive UTC; tests move it) as epoch seconds."""
    import datetime as dt

    return int(accounts.now().replace(tzinfo=dt.UTC).timestamp())


def session_expired(now: int | None = None) -> bool:
    """Whether this session has been idle longer than ``SESSION_IDLE_MINUTES`` or has lasted longer
    than ``SESSION_MAX_HOURS`` since it was signed in (a session without those times: expired)."""
    from flask import current_app

    now = _epoch() if now is None else now
    started, seen = session.get(STARTED_KEY), session.get(SEEN_KEY)
    if not isinstance(started, int) or not isinstance(seen, int):
        return True
    idle = current_app.config.get("SESSION_IDLE_MINUTES", 30) * 60
    longest = current_app.config.get("SESSION_MAX_HOURS", 12) * 3600
    return now - seen > idle or now - started > longest or seen > now + 300


@login_manager.user_loader
def load_user(user_id: str) -> CurrentUser | None:
    """The session's user, when the session is still valid: the stamp matches (same password, not
    signed out since, sessions not ended by an administrator) and neither timeout has passed."""
    if not user_id.isdigit() or len(user_id) > 10:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or session.get(STAMP_KEY) != accounts.session_stamp(user):
        return None
    now = _epoch()
    if session_expired(now):
        session.clear()
        return None
    if now - session.get(SEEN_KEY, 0) >= SEEN_RESOLUTION:
        # Written at most once a minute: the session lives in the cookie, and a response that
        # rewrites it can overwrite what a concurrent request stored there (a flash message).
        session[SEEN_KEY] = now
    return CurrentUser(user)


def sign_in_session(user: User) -> None:
    """Start a fresh session for ``user`` (called after the password or invite was checked)."""
    from flask_login import login_user

    session.clear()
    session[STAMP_KEY] = accounts.session_stamp(user)
    session[STARTED_KEY] = session[SEEN_KEY] = _epoch()
    login_user(CurrentUser(user))


def current_principal() -> Principal:
    if "principal" not in g:
        g.principal = current_user.principal if current_user.is_authenticated else policy.ANONYMOUS
    return g.principal


# --- what is asked: the request's URL values, method, fields and body -----------------------------------

def ask_from_request() -> Ask:
    """The ``Ask`` of the request being served: the form's fields on POST, else the query's."""
    source = request.form if request.method == "POST" else request.args
    try:
        body = request.get_json(silent=True) if request.is_json else None
    except (RecursionError, ValueError):        # absurd bodies: the view answers 400
        body = None
    return Ask(dict(request.view_args or {}), request.method,
               {k: tuple(v for v in source.getlist(k) if v is not None) for k in source.keys()}, body)


# --- the check before every request ---------------------------------------------------------------------

REFUSED = ("Your account does not allow this. If you need it, ask a system administrator to give you a role "
           "that covers it.")
NO_RULE = "This page has no access rule, so nobody may use it."
SIGN_IN_API = "Sign in to use this part of the API."


def _is_api() -> bool:
    return request.path.startswith("/api/")


def _json(status: int, message: str):
    from ..api.errors import error_body

    return jsonify(error_body(status, message)), status


def check_request():
    """The one check before every request (see the module docstring)."""
    # Who is signed in is read from this request's session: nothing is carried over from an
    # app context that outlives a request (as in the test suite).
    g.pop("_login_user", None)
    g.pop("principal", None)
    if request.routing_exception is not None or request.endpoint is None:
        return None                                  # 404/405: nothing to guard
    rule = ROUTE_RULES.get(request.endpoint)
    if rule is None:
        if _is_api():
            return _json(403, NO_RULE)
        abort(403, description=NO_RULE)
    if rule.public:
        return None
    principal = current_principal()
    if not principal.authenticated:
        if _is_api():
            return _json(401, SIGN_IN_API)
        target = request.full_path if request.method == "GET" and request.query_string else request.path
        return redirect(url_for("auth.sign_in", next=target))
    # The URL's round, held for the request: the resolver and then the view read it, and the
    # session's identity map keeps a row only while something refers to it (one query, not two).
    round_id = as_id((request.view_args or {}).get("round_id", ""))
    if round_id is not None:
        g.pcnreg_round = db.session.get(RegistrationRound, round_id,
                                        options=[joinedload(RegistrationRound.system)])   # the state key reads it
    if not rule.permits(principal, ask_from_request()):
        if _is_api():
            return _json(403, REFUSED)
        abort(403, description=REFUSED)
    return None


def _forget_round(exc=None) -> None:
    g.pop("pcnreg_round", None)


# --- installation -----------------------------------------------------------------------------------------

def init_app(app: Flask) -> None:
    """Sessions, cookies and the check. Call it before ``csrf.init_app``: before-request
    functions run in the order they were added, and the guard's must come first."""
    secure = app.config.get("SECURE_COOKIES")
    if secure is None:
        secure = not (app.debug or app.testing)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
    )
    login_manager.init_app(app)
    app.before_request(check_request)
    app.teardown_request(_forget_round)
