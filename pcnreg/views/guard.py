"""The guard: who is signed in, and may they use this endpoint on this object?

``init_app(app)`` installs Flask-Login (sessions in the signed Flask cookie; session protection
"strong": a session used from another address or browser is dropped), the cookie settings and
ONE check before every request. The check looks the request's endpoint up in ``ROUTE_RULES``:

- ``PUBLIC``: anyone (sign-in and invite pages, assets, about, the OpenAPI document, the API's
  JSON 404/405 catch-all);
- ``SIGNED_IN``: anyone signed in (their own account pages, the start page);
- ``needs(action, resolver)``: the resolver builds the ``policy.Target`` (or targets) from the
  URL and, for changes, from the form: the round's system, the PCNs involved with their lead
  commissioners, the practices with their commissioners. ``policy.allowed`` decides; reading a
  round (``view``) is ``policy.may_view_round``. A ``Somewhere`` target asks "may this user do
  the action on anything (in this system)?", for the empty forms a change starts from.

Not signed in: pages redirect to the sign-in page (``next`` = this page), /api/ answers JSON 401.
Signed in but refused: 403 (the NHS error page; JSON under /api/). An endpoint without a rule is
refused to everybody (fail closed), and tests/test_role_matrix.py fails until it gets one.
An unknown round or PCN makes the widest target (the whole instance; the whole system): only
who could reach any such object gets through, to the view's own 404, and nobody else learns
whether it exists.

Sessions end on the server: signing out rotates the user's ``session_key`` (part of the stamp
checked at every request), so a copy of the cookie kept from before no longer signs anyone in; an
administrator ends all of a user's sessions the same way (the user page, ``pcnreg users
end-sessions EMAIL``). A session also ends after ``SESSION_IDLE_MINUTES`` without a request
(``PCNREG_SESSION_IDLE_MINUTES``, 30) and ``SESSION_MAX_HOURS`` after signing in
(``PCNREG_SESSION_MAX_HOURS``, 12).

Cookies: the session cookie is HttpOnly and SameSite=Lax; it and the remember cookie are Secure
when ``PCNREG_SECURE_COOKIES`` is on (1/true/yes/on), which is the default unless the app runs in
debug or testing mode. Set ``PCNREG_SECURE_COOKIES=0`` only when serving over plain HTTP on a
trusted network (browsers keep Secure cookies on http://127.0.0.1 and http://localhost).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from collections.abc import Mapping
from dataclasses import dataclass, field

from flask import Flask, abort, g, jsonify, redirect, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user
from sqlalchemy import select

from ..domain import policy
from ..domain.policy import Principal, Target
from ..extensions import db
from ..models import Commissioner, Membership, Pcn, Practice, RegistrationRound, System, User
from ..services import accounts
from . import change_targets

login_manager = LoginManager()
login_manager.login_view = "auth.sign_in"
login_manager.session_protection = "strong"

STAMP_KEY = "_pcnreg_stamp"       # the session's password stamp (see accounts.session_stamp)
STARTED_KEY = "_pcnreg_started"   # when the session was signed in (UTC epoch seconds)
SEEN_KEY = "_pcnreg_seen"         # its last request (UTC epoch seconds), to SEEN_RESOLUTION
SEEN_RESOLUTION = 60              # seconds: the idle timeout is measured to the minute
NO_COMMISSIONER = -1              # stands for "a PCN without a lead commissioner" in a target


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

    return int(accounts.now().replace(tzinfo=dt.timezone.utc).timestamp())


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


# --- what is asked: the endpoint's URL values and form, explicitly ---------------------------------------

@dataclass(frozen=True)
class Ask:
    """What a rule's resolver reads: the URL's values, the method, the form (or query) fields and a
    JSON body. The guard builds it from the request (``from_request``); a page asking whether to
    show a button or form builds it from explicit arguments (``permitted``), with no request of its
    own."""

    view_args: Mapping[str, object] = field(default_factory=dict)
    method: str = "GET"
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    json: object = None

    @classmethod
    def from_request(cls) -> Ask:
        source = request.form if request.method == "POST" else request.args
        try:
            body = request.get_json(silent=True) if request.is_json else None
        except (RecursionError, ValueError):        # absurd bodies: the view answers 400
            body = None
        return cls(dict(request.view_args or {}), request.method,
                   {k: tuple(v for v in source.getlist(k) if v is not None) for k in source.keys()}, body)

    def arg(self, name: str) -> int:
        return int(self.view_args[name])

    def values(self, name: str) -> list[str]:
        return list(self.fields.get(name, ()))

    def first(self, name: str, default: str = "") -> str:
        found = self.fields.get(name, ())
        return found[0] if found else default


# --- rules --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Somewhere:
    """"May the principal do the action on anything (in ``system_id``, when given)?"."""

    system_id: int | None = None


@dataclass(frozen=True)
class AnySystem:
    """"May the principal do the action on some whole system?" (a new round is a system's)."""


Resolved = Target | Somewhere | AnySystem | list


@dataclass(frozen=True)
class Rule:
    kind: str                                     # "public", "signed_in" or "action"
    action: str | None = None
    resolve: Callable[[Ask], Resolved] | None = None

    @property
    def public(self) -> bool:
        return self.kind == "public"

    def permits(self, principal: Principal, ask: Ask | None = None) -> bool:
        """Whether ``principal`` may use the endpoint as ``ask`` describes (default: this request)."""
        if self.kind == "public":
            return True
        if not principal.authenticated:
            return False
        if self.kind == "signed_in":
            return True
        resolved = self.resolve(ask if ask is not None else Ask.from_request())
        targets = resolved if isinstance(resolved, list) else [resolved]
        return all(decide(principal, self.action, t) for t in targets)


def decide(principal: Principal, action: str, target: Target | Somewhere | AnySystem) -> bool:
    """The policy's answer for one target."""
    if isinstance(target, Somewhere):
        return _may_somewhere(principal, action, target.system_id)
    if isinstance(target, AnySystem):
        return any(policy.allowed(principal, action, Target(system_id=s))
                   for s in db.session.scalars(select(System.id).order_by(System.id)))
    if action == policy.VIEW and target.system_id is not None:
        return policy.may_view_round(principal, target.system_id)
    return policy.allowed(principal, action, target)


def permitted(principal: Principal, endpoint: str, view_args: Mapping[str, object] | None = None,
              form: Mapping[str, str | list[str]] | None = None, method: str | None = None) -> bool:
    """Whether ``principal`` may use ``endpoint`` with these URL values and form fields: the same
    rule and resolver the guard applies to the request, asked with explicit arguments (to decide
    which menu items, buttons and forms a page shows). Unknown objects: no."""
    from flask import current_app
    from werkzeug.exceptions import HTTPException

    rule = ROUTE_RULES.get(endpoint)
    if rule is None:
        return False
    if rule.public:
        return True
    if method is None:
        methods = {m for r in current_app.url_map.iter_rules(endpoint) for m in (r.methods or ())}
        method = "GET" if "GET" in methods else "POST"
    fields = {k: tuple(v) if isinstance(v, (list, tuple)) else (str(v),) for k, v in (form or {}).items()}
    try:
        return rule.permits(principal, Ask(dict(view_args or {}), method, fields))
    except (HTTPException, KeyError, ValueError):
        return False


def _may_somewhere(principal: Principal, action: str, system_id: int | None) -> bool:
    """Whether some object within reach of one of the principal's grants (in the system) allows
    the action: each grant's own scope is put to ``policy.allowed`` as the target."""
    for grant in principal.grants:
        if system_id is not None and grant.scope_type != "all" and grant.system_id != system_id:
            continue
        ids = frozenset({grant.scope_id}) if grant.scope_id is not None else frozenset()
        kind = grant.scope_type
        target = Target(
            system_id=grant.scope_id if kind == "system" else (system_id or grant.system_id),
            commissioner_ids=ids if kind == "commissioner" else frozenset(),
            pcn_ids=ids if kind == "pcn" else frozenset(),
            practice_ids=ids if kind == "practice" else frozenset(),
            committee_id=grant.scope_id if kind == "committee" else None)
        if policy.allowed(principal, action, target):
            return True
    return False


PUBLIC = Rule("public")
SIGNED_IN = Rule("signed_in")


def needs(action: str, resolve: Callable[[Ask], Resolved]) -> Rule:
    if action not in policy.ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    return Rule("action", action, resolve)


# --- resolvers: the target of this request --------------------------------------------------------------



MAX_ID = 2_147_483_647        # larger ids cannot exist (and overflow SQLite)


def _round(ask: Ask) -> RegistrationRound | None:
    round_id = ask.arg("round_id")
    return db.session.get(RegistrationRound, round_id) if 0 < round_id <= MAX_ID else None




def as_id(value) -> int | None:
    """``value`` as a possible row id (ASCII digits, 1..MAX_ID), else None: ``str.isdigit``
    alone lets "²" and 5,000-digit numbers through to ``int`` and the database."""
    text = str(value).strip()
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(MAX_ID))):
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def _ids(values: Iterable[str]) -> set[int]:
    return {n for n in map(as_id, values) if n is not None}


def _codes(values: Iterable[str]) -> list[str]:
    from .forms import split_codes

    return split_codes(list(values))


def _pcn_target(rnd: RegistrationRound, pcn_ids: Iterable[int], practice_codes: Iterable[str] = ()) -> Target:
    """The round's system, the PCNs (of this round) with their lead commissioners, and the
    practices with their commissioners and the PCNs they are in now. Ids and codes that are
    not in the round are left out (the view refuses them; nothing is written for them)."""
    pcn_ids = set(pcn_ids)
    practices = list(db.session.execute(
        select(Practice.id, Practice.commissioner_id).where(Practice.code.in_(list(practice_codes))))) \
        if practice_codes else []
    practice_ids = {p.id for p in practices}
    if practice_ids:
        pcn_ids |= set(db.session.scalars(select(Membership.pcn_id).where(
            Membership.round_id == rnd.id, Membership.practice_id.in_(practice_ids))))
    pcns = list(db.session.execute(select(Pcn.id, Pcn.lead_commissioner_id).where(
        Pcn.round_id == rnd.id, Pcn.id.in_(pcn_ids)))) if pcn_ids else []
    commissioners = {p.commissioner_id for p in practices}
    commissioners |= {p.lead_commissioner_id if p.lead_commissioner_id is not None else NO_COMMISSIONER
                      for p in pcns}
    return Target(system_id=rnd.system_id, commissioner_ids=frozenset(commissioners),
                  pcn_ids=frozenset(p.id for p in pcns), practice_ids=frozenset(practice_ids))


def round_target(ask: Ask) -> Target:
    rnd = _round(ask)
    return Target(system_id=rnd.system_id) if rnd else Target()


def _with_pcn(ask: Ask, more_pcns: Iterable[int] = (), practice_codes: Iterable[str] = ()) -> Target:
    """The URL's PCN (and others) in the URL's round; an unknown one: the whole system."""
    rnd = _round(ask)
    if rnd is None:
        return Target()
    pcn_id = ask.arg("pcn_id")
    known = pcn_id <= MAX_ID and db.session.scalar(
        select(Pcn.id).where(Pcn.id == pcn_id, Pcn.round_id == rnd.id)) is not None
    if not known:
        return Target(system_id=rnd.system_id, commissioner_ids=frozenset({NO_COMMISSIONER}))
    return _pcn_target(rnd, {pcn_id, *more_pcns}, practice_codes)


def this_pcn(ask: Ask) -> Target:
    return _with_pcn(ask)


def merge_target(ask: Ask) -> Target:
    return _with_pcn(ask, _ids(ask.values("others")))


def split_target(ask: Ask) -> Target:
    return _with_pcn(ask, practice_codes=_codes(ask.values("members")))


def block_move_target(ask: Ask) -> Target:
    return _with_pcn(ask, _ids(ask.values("to")))


def create_target(ask: Ask) -> Target | Somewhere:
    rnd = _round(ask)
    if rnd is None:
        return Target()
    if ask.method != "POST":
        return Somewhere(rnd.system_id)
    lead = _ids(ask.values("lead_commissioner"))
    return Target(system_id=rnd.system_id, commissioner_ids=frozenset(lead or {NO_COMMISSIONER}))


def move_target(ask: Ask) -> Target | Somewhere:
    rnd = _round(ask)
    if rnd is None:
        return Target()
    codes, to = _codes(ask.values("codes")), _ids(ask.values("to"))
    if not codes and not to:
        return Somewhere(rnd.system_id)
    return _pcn_target(rnd, to, codes)


def import_target(ask: Ask) -> Target | Somewhere:
    if ask.method != "POST":
        return Somewhere()
    kind = ask.first("kind")
    if kind == "configuration":
        round_id = ask.first("round")
        rnd = db.session.get(RegistrationRound, as_id(round_id)) if as_id(round_id) else None
        return Target(system_id=rnd.system_id) if rnd else Target()
    if kind == "practices":
        codes = ask.first("commissioners").upper().split()
        if codes:
            rows = list(db.session.execute(select(Commissioner.id, Commissioner.system_id)
                                           .where(Commissioner.code.in_(codes))))
            systems = {r.system_id for r in rows}
            ids = {r.id for r in rows} | ({NO_COMMISSIONER} if len(rows) < len(set(codes)) else set())
            return Target(system_id=systems.pop() if len(systems) == 1 else None, commissioner_ids=frozenset(ids))
    return Target()          # national files (every commissioner): the whole instance


def system_target(ask: Ask) -> Target:
    """The URL's system (an unknown one: the whole instance)."""
    system_id = ask.arg("system_id")
    return Target(system_id=system_id) if system_id <= MAX_ID else Target()


def new_round_target(ask: Ask) -> Target | AnySystem:
    """A new round is a whole system's: on POST the system chosen; otherwise any system."""
    system_id = _ids(ask.values("system"))
    if ask.method == "POST" and len(system_id) == 1:
        return Target(system_id=next(iter(system_id)))
    return AnySystem()


def every_round(ask: Ask) -> list[Target]:
    """Each system that has a round (a list of rounds is readable by who may read them all)."""
    return [Target(system_id=s) for s in db.session.scalars(select(RegistrationRound.system_id).distinct())]


def whole_instance(ask: Ask) -> Target:
    return Target()


# --- resolvers of the registration workflow (views/registration.py) ---------------------------------
# -- registration resolvers --
def member_target(ask: Ask) -> Target:
    """The URL's PCN and the practice(s) named in the form's "practice" field: a practice
    representative's grant covers the confirmation and signature of its own practice only."""
    return _with_pcn(ask, practice_codes=_codes(ask.values("practice")))


def json_member_target(ask: Ask) -> Target:
    """As ``member_target``, for the JSON API: the practice named in the body's "practice"."""
    from ..domain.codes import is_practice_code

    body = ask.json
    practice = body.get("practice") if isinstance(body, dict) else None
    code = practice.strip().upper() if isinstance(practice, str) else ""
    return _with_pcn(ask, practice_codes=[code] if is_practice_code(code) else [])


def commissioner_target(ask: Ask) -> Target:
    """The URL's commissioner within the URL's round's system; an unknown one (or one of another
    system): the whole system."""
    rnd = _round(ask)
    if rnd is None:
        return Target()
    commissioner_id = ask.arg("commissioner_id")
    known = commissioner_id <= MAX_ID and db.session.scalar(select(Commissioner.id).where(
        Commissioner.id == commissioner_id, Commissioner.system_id == rnd.system_id)) is not None
    return Target(system_id=rnd.system_id,
                  commissioner_ids=frozenset({commissioner_id if known else NO_COMMISSIONER}))


# --- resolvers of committee meetings (views/committee.py) ------------------------------------------------
# -- committee resolvers --


def meeting_target(ask: Ask) -> Target:
    """A decision at a meeting is its committee's: the round's system and the meeting's
    committee. An unknown meeting (or one of another round): the system alone, so only
    system-wide grants pass, to the view's 404."""
    from ..models import Meeting

    rnd = _round(ask)
    if rnd is None:
        return Target()
    meeting_id = ask.arg("meeting_id")
    committee_id = db.session.scalar(select(Meeting.committee_id).where(
        Meeting.id == meeting_id, Meeting.round_id == rnd.id)) if 0 < meeting_id <= MAX_ID else None
    return Target(system_id=rnd.system_id, committee_id=committee_id)


# --- resolvers of the LMC's elections (views/elections.py) ----------------------------------------------
# -- election resolvers --
# None of their own: an election is its round's (the view answers 404 for one of another round);
# the returning officer's grant is a system's, so ``round_target`` is the target of every change.


VIEW, EDIT, IMPORT = policy.VIEW, policy.EDIT_CONFIGURATION, policy.IMPORT_DATA
MANAGE, AUDIT = policy.MANAGE_USERS, policy.VIEW_AUDIT
PREPARE, ROUND, DECIDE = policy.PREPARE_REGISTRATION, policy.MANAGE_ROUND, policy.DECIDE
ELECT = policy.RUN_ELECTION

ROUTE_RULES: dict[str, Rule] = {
    # public: assets, information, signing in
    "static": PUBLIC,
    "assets.asset": PUBLIC,
    "assets.leaflet": PUBLIC,
    "main.about": PUBLIC,
    "api.openapi_document": PUBLIC,
    "api.unknown": PUBLIC,                      # answers 404/405 only
    "auth.sign_in": PUBLIC,
    "auth.invite": PUBLIC,
    "main.index": PUBLIC,                       # a visitor's home (sign in, public results) or your tasks
    # any signed-in user
    "auth.sign_out": SIGNED_IN,
    "auth.password": SIGNED_IN,
    "api.practices": SIGNED_IN,                 # the national practice reference data
    # reading a round (drafts)
    "rounds.index": SIGNED_IN,                  # lists only the rounds the user may read
    "rounds.new": needs(ROUND, new_round_target),
    "rounds.system": needs(VIEW, system_target),
    "rounds.places": needs(VIEW, system_target),
    "rounds.settings": needs(VIEW, round_target),
    "rounds.save_settings": needs(ROUND, round_target),
    "rounds.add_place": needs(EDIT, system_target),        # places and committees: the system's data
    "rounds.place": needs(EDIT, system_target),
    "rounds.add_committee": needs(EDIT, system_target),
    "onboarding.start": needs(IMPORT, whole_instance),     # systems are set up by a system administrator
    "onboarding.choose": needs(IMPORT, whole_instance),
    "onboarding.job": needs(IMPORT, whole_instance),
    "main.dashboard": needs(VIEW, round_target),
    "main.practices": needs(VIEW, round_target),
    "main.findings": needs(VIEW, round_target),
    "main.pcn": needs(VIEW, round_target),
    "main.versions": needs(VIEW, round_target),
    "main.compare": needs(VIEW, round_target),
    "main.configuration_csv": needs(VIEW, round_target),
    "main.findings_csv": needs(VIEW, round_target),
    "maps.configuration": needs(VIEW, round_target),
    "maps.configuration_document": needs(VIEW, round_target),
    "maps.pcn": needs(VIEW, round_target),
    "maps.pcn_document": needs(VIEW, round_target),
    "maps.areas_geojson": needs(VIEW, round_target),
    "maps.areas_gpkg": needs(VIEW, round_target),
    "maps.map_png": needs(VIEW, round_target),
    "api.rounds": needs(VIEW, every_round),
    "api.round_detail": needs(VIEW, round_target),
    "api.round_pcns": needs(VIEW, round_target),
    "api.round_findings": needs(VIEW, round_target),
    "api.round_registrations": needs(VIEW, round_target),
    "api.pcn_submissions": needs(VIEW, round_target),
    "api.pcn_submission": needs(VIEW, round_target),
    "api.round_decisions": needs(VIEW, round_target),
    "api.round_elections": needs(VIEW, round_target),
    "api.confirm_member": needs(PREPARE, json_member_target),  # the JSON API's workflow steps (api_write)
    "api.sign_agreement": needs(PREPARE, json_member_target),
    "api.set_payee": needs(PREPARE, this_pcn),
    "api.set_clinical_director": needs(PREPARE, this_pcn),
    "api.request_exception": needs(PREPARE, this_pcn),
    "api.submit": needs(PREPARE, this_pcn),
    "api.withdraw": needs(PREPARE, this_pcn),
    "api.reopen": needs(PREPARE, this_pcn),
    "api.create_meeting": needs(ROUND, round_target),
    "api.add_to_agenda": needs(ROUND, round_target),
    "api.decide": needs(DECIDE, meeting_target),
    "api.confirm_coverage": needs(ROUND, commissioner_target),
    "api.go_live": needs(ROUND, round_target),
    # changing a round's configuration (the forms too: they lead to nothing else)
    "main.record_exception": needs(EDIT, this_pcn),
    "main.create_pcn": needs(EDIT, create_target),
    "main.rename_pcn": needs(EDIT, this_pcn),
    "main.merge_pcn": needs(EDIT, merge_target),
    "main.split_pcn": needs(EDIT, split_target),
    "main.move": needs(EDIT, move_target),
    "main.restore": needs(EDIT, round_target),
    "maps.move_block": needs(EDIT, block_move_target),
    "maps.upload_area": needs(EDIT, this_pcn),
    "maps.revert_area": needs(EDIT, this_pcn),
    "maps.record_adjacent": needs(EDIT, round_target),     # a pair of blocks is the system's
    # catchments and neighbourhoods (issue #14): a whole round's
    "neighbourhoods.page": needs(VIEW, round_target),
    "neighbourhoods.map_document": needs(VIEW, round_target),
    "neighbourhoods.catchments_geojson": needs(VIEW, round_target),
    "neighbourhoods.upload_registrations": needs(EDIT, round_target),
    "neighbourhoods.upload_neighbourhoods": needs(EDIT, round_target),
    "neighbourhoods.settings": needs(EDIT, round_target),
    "epcn.workbook_xlsx": needs(VIEW, round_target),        # ePCN downloads are reading the round
    "epcn.sheet_csv": needs(VIEW, round_target),
    "epcn.import_workbook": needs(EDIT, round_target),      # a whole-system grouping
    # the registration workflow: a PCN's registration, round status, chase list, confirmation
    # -- registration rules --
    "registration.page": needs(VIEW, round_target),
    "registration.submission": needs(VIEW, round_target),
    "registration.agreement_file": needs(VIEW, round_target),
    "registration.round_status": needs(VIEW, round_target),
    "registration.chase": needs(VIEW, round_target),
    "registration.chase_csv": needs(VIEW, round_target),
    "registration.confirmation": needs(VIEW, round_target),
    "registration.funding": needs(VIEW, round_target),
    "registration.confirm": needs(PREPARE, member_target),
    "registration.sign": needs(PREPARE, member_target),
    "registration.payee": needs(PREPARE, this_pcn),
    "registration.clinical_director": needs(PREPARE, this_pcn),
    "registration.exception_request": needs(PREPARE, this_pcn),
    "registration.submit": needs(PREPARE, this_pcn),
    "registration.withdraw": needs(PREPARE, this_pcn),
    "registration.reopen": needs(PREPARE, this_pcn),
    "registration.allow_late": needs(ROUND, this_pcn),
    "registration.confirm_coverage": needs(ROUND, commissioner_target),
    "registration.go_live": needs(ROUND, round_target),
    # committee meetings: agenda, review, decisions, the pack
    # -- committee rules --
    "committee.meetings": needs(VIEW, round_target),
    "committee.meeting": needs(VIEW, round_target),
    "committee.meeting_map": needs(VIEW, round_target),
    "committee.review": needs(VIEW, round_target),
    "committee.pack": needs(VIEW, round_target),
    "committee.pack_css": PUBLIC,                           # print styles, no data
    "committee.create_meeting": needs(ROUND, round_target),
    "committee.add_to_agenda": needs(ROUND, round_target),
    "committee.condition_met": needs(ROUND, round_target),
    "committee.decide": needs(DECIDE, meeting_target),
    "committee.decide_exception": needs(DECIDE, meeting_target),
    # Clinical Director elections run by the LMC; the ballot and the declaration are public
    # -- election rules --
    "elections.elections": needs(VIEW, round_target),
    "elections.election": needs(VIEW, round_target),
    "elections.ballots_csv": needs(VIEW, round_target),
    "elections.create": needs(ELECT, round_target),
    "elections.step": needs(ELECT, round_target),
    "elections.nominate": needs(ELECT, round_target),
    "elections.withdraw": needs(ELECT, round_target),
    "elections.assess": needs(ELECT, round_target),
    "elections.open_voting": needs(ELECT, round_target),
    "elections.reissue": needs(ELECT, round_target),
    "elections.count": needs(ELECT, round_target),
    "elections.declare": needs(ELECT, round_target),
    "elections.declare_unopposed": needs(ELECT, round_target),
    "elections.agreement": needs(ELECT, round_target),
    "elections.interim": needs(ELECT, round_target),
    "elections.ballot": PUBLIC,                             # the one-time code is the credential
    "elections.ballot_link_page": PUBLIC,                   # old links: the token moves to the fragment
    "elections.result": PUBLIC,                             # the declaration (no tally before the count)
    "elections.public_ballots_csv": PUBLIC,                 # anonymised, after the count only
    # imports
    "imports.upload": needs(IMPORT, import_target),
    # the audit trail
    "audit.round_audit": needs(AUDIT, round_target),
    "audit.round_audit_csv": needs(AUDIT, round_target),
    "audit.pcn_audit": needs(AUDIT, this_pcn),
    "audit.pcn_audit_csv": needs(AUDIT, this_pcn),
    "audit.user_audit": needs(AUDIT, whole_instance),
    "audit.user_audit_csv": needs(AUDIT, whole_instance),
    # in-year membership changes (views/changes.py, resolvers in views/change_targets.py)
    # -- membership change rules --
    "changes.page": needs(VIEW, round_target),
    "changes.notice": needs(PREPARE, change_targets.notice_target),
    "changes.decide": needs(ROUND, change_targets.decide_target),
    "changes.apply": needs(ROUND, round_target),
    "changes.assign": needs(ROUND, change_targets.assign_target),
    "changes.instruction_csv": needs(ROUND, round_target),   # the ODS change instruction: the commissioner's
    "payment.own_account": needs(PREPARE, this_pcn),         # paid into its own account (from 2023/24)
    # users
    "auth.users": needs(MANAGE, whole_instance),
    "auth.new_user": needs(MANAGE, whole_instance),
    "auth.user": needs(MANAGE, whole_instance),
}

REFUSED = ("Your account does not allow this. If you need it, ask a system administrator to give you a role "
           "that covers it.")
NO_RULE = "This page has no access rule, so nobody may use it."
SIGN_IN_API = "Sign in to use this part of the API."


def _is_api() -> bool:
    return request.path.startswith("/api/")


def _json(status: int, message: str):
    from ..services.api import error_body

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
    if not rule.permits(principal):
        if _is_api():
            return _json(403, REFUSED)
        abort(403, description=REFUSED)
    return None


# --- the header's account links ----------------------------------------------------------------------

def account_nav() -> dict:
    """The ``account`` parameter of the NHS.UK header."""
    if current_user.is_authenticated:
        items = [{"text": current_user.name, "icon": True}]
        if current_user.may_manage_users:
            items.append({"href": url_for("auth.users"), "text": "Users"})
        items += [{"href": url_for("auth.password"), "text": "Change password"},
                  {"href": url_for("auth.sign_out"), "text": "Sign out"}]
    else:
        items = [{"href": url_for("auth.sign_in"), "text": "Sign in"}]
    return {"items": items}


# --- installation -----------------------------------------------------------------------------------------

def _flag(value: str) -> bool | None:
    value = value.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    return None


def init_app(app: Flask) -> None:
    secure = _flag(os.environ.get("PCNREG_SECURE_COOKIES", ""))
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
    # Before the CSRF check, so that nobody learns more than "sign in" or "not allowed".
    funcs = app.before_request_funcs.setdefault(None, [])
    at = next((i for i, f in enumerate(funcs) if getattr(f, "__name__", "") == "csrf_protect"), len(funcs))
    funcs.insert(at, check_request)
    app.context_processor(lambda: {"account_nav": account_nav})


def rule_for(endpoint: str) -> Rule | None:
    return ROUTE_RULES.get(endpoint)


