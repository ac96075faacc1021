"""Authorisation: may this user do this action on this object? The one place that decides.

Every view, API endpoint and CLI command that reads a draft or changes data asks
``allowed(principal, action, target)``. Roles are scoped: a grant applies to everything
('all'), to one system, commissioner, PCN, practice or committee. ``ROLE_ACTIONS`` says which
actions each role may take within its scope; ``covers`` says whether a scope reaches a target.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["system_admin", "commissioner", "pcn_lead", "practice_rep", "returning_officer",
               "committee_member", "viewer"]
ScopeType = Literal["all", "system", "commissioner", "pcn", "practice", "committee"]

ROLES: tuple[str, ...] = ("system_admin", "commissioner", "pcn_lead", "practice_rep", "returning_officer",
                          "committee_member", "viewer")
ROLE_TITLES = {
    "system_admin": "System administrator", "commissioner": "Commissioner", "pcn_lead": "PCN lead",
    "practice_rep": "Practice representative", "returning_officer": "LMC returning officer",
    "committee_member": "Committee member", "viewer": "Viewer (read only)",
}
# Where each role may be scoped (the first is the usual one).
ROLE_SCOPES: dict[str, tuple[str, ...]] = {
    "system_admin": ("all",),
    "commissioner": ("commissioner", "system"),
    "pcn_lead": ("pcn",),
    "practice_rep": ("practice",),
    "returning_officer": ("system",),
    "committee_member": ("committee",),
    "viewer": ("system", "all"),
}

# Actions. Reading drafts needs a role in scope; changing needs the action in ROLE_ACTIONS.
VIEW = "view"                          # a round's configuration, findings, maps, versions (drafts)
EDIT_CONFIGURATION = "edit_configuration"   # create/rename/merge/split/move/restore, exceptions, areas
IMPORT_DATA = "import_data"            # national practice and list-size files, geodata
VIEW_AUDIT = "view_audit"
MANAGE_USERS = "manage_users"
# The registration workflow (pcnreg.domain.workflow):
PREPARE_REGISTRATION = "prepare_registration"   # a PCN's draft: confirmations, agreement, payee, CD,
                                                # exception requests; submit, withdraw, start again
MANAGE_ROUND = "manage_round"          # meetings and agendas, late overrides, conditions met,
                                       # confirmation of coverage, go-live
DECIDE = "decide"                      # a committee's decisions at its meetings
RUN_ELECTION = "run_election"          # the LMC's Clinical Director elections (pcnreg.domain.elections)
ACTIONS = (VIEW, EDIT_CONFIGURATION, IMPORT_DATA, VIEW_AUDIT, MANAGE_USERS, PREPARE_REGISTRATION, MANAGE_ROUND,
           DECIDE, RUN_ELECTION)

ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "system_admin": frozenset(ACTIONS),
    "commissioner": frozenset({VIEW, EDIT_CONFIGURATION, IMPORT_DATA, VIEW_AUDIT, PREPARE_REGISTRATION,
                               MANAGE_ROUND}),
    # A PCN lead prepares and submits its PCN's registration; a practice's representative
    # confirms its membership and signs the agreement for its own practice (a target about
    # that practice alone).
    "pcn_lead": frozenset({VIEW, PREPARE_REGISTRATION}),
    "practice_rep": frozenset({VIEW, PREPARE_REGISTRATION}),
    "returning_officer": frozenset({VIEW, RUN_ELECTION}),
    "committee_member": frozenset({VIEW, DECIDE}),
    "viewer": frozenset({VIEW}),
}


@dataclass(frozen=True)
class Grant:
    role: str
    scope_type: str = "all"
    scope_id: int | None = None
    system_id: int | None = None    # the system the scoped object belongs to (resolved by the service)


@dataclass(frozen=True)
class Principal:
    """Who is asking: a signed-in user's grants (anonymous: no grants)."""

    user_id: int | None = None
    grants: frozenset[Grant] = frozenset()

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None


ANONYMOUS = Principal()


@dataclass(frozen=True)
class Target:
    """What an action is about. Empty sets mean "not about such objects"; a target with no
    system is a whole-instance object (users, national imports)."""

    system_id: int | None = None
    commissioner_ids: frozenset[int] = field(default_factory=frozenset)
    pcn_ids: frozenset[int] = field(default_factory=frozenset)
    practice_ids: frozenset[int] = field(default_factory=frozenset)
    committee_id: int | None = None
    # PCNs and practices under a commissioner are reached by a commissioner's grant: the caller
    # puts the lead commissioners of the PCNs and the commissioners of the practices in
    # ``commissioner_ids``.


def covers(grant: Grant, target: Target) -> bool:
    """Whether a grant's scope reaches everything the target is about."""
    kind, sid = grant.scope_type, grant.scope_id
    if kind == "all":
        return True
    if kind == "system":
        return target.system_id is not None and target.system_id == sid
    if kind == "commissioner":
        return bool(target.commissioner_ids) and target.commissioner_ids <= {sid}
    if kind == "pcn":
        return bool(target.pcn_ids) and target.pcn_ids <= {sid}
    if kind == "practice":
        return bool(target.practice_ids) and target.practice_ids <= {sid}
    if kind == "committee":
        return target.committee_id is not None and target.committee_id == sid
    return False


def allowed(principal: Principal, action: str, target: Target) -> bool:
    """May ``principal`` do ``action`` on ``target``? Anonymous principals may do nothing here:
    public pages (published configurations, declared results) do not ask."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    return any(action in ROLE_ACTIONS.get(g.role, frozenset()) and covers(g, target) for g in principal.grants)


def may_view_round(principal: Principal, system_id: int) -> bool:
    """Reading a round's drafts: any role whose scope lies inside the round's system. Narrower
    grants (a commissioner, PCN, practice, committee of the system) see the round too, since
    their object is part of it."""
    return any(VIEW in ROLE_ACTIONS.get(g.role, frozenset())
               and (g.scope_type == "all" or g.system_id == system_id) for g in principal.grants)


# --- questions about more than one object --------------------------------------------------------------

@dataclass(frozen=True)
class Somewhere:
    """"May the principal do the action on anything (in ``system_id``, when given)?": the empty
    forms a change starts from ask this, before the objects are chosen."""

    system_id: int | None = None


@dataclass(frozen=True)
class AnyOf:
    """"May the principal do the action on at least one of ``targets``?" (a new round: on some
    whole system; the caller lists the systems there are)."""

    targets: tuple[Target, ...] = ()


Question = Target | Somewhere | AnyOf


def may_somewhere(principal: Principal, action: str, system_id: int | None = None) -> bool:
    """Whether some object within reach of one of the principal's grants (in the system, when
    given) allows the action: each grant's own scope is put to ``allowed`` as the target."""
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
        if allowed(principal, action, target):
            return True
    return False


def decide(principal: Principal, action: str, question: Question) -> bool:
    """The answer to one question: reading a round (``VIEW`` on a system's target) is
    ``may_view_round``; ``Somewhere`` is ``may_somewhere``; ``AnyOf`` needs one target allowed;
    any other target is ``allowed``."""
    if isinstance(question, Somewhere):
        return may_somewhere(principal, action, question.system_id)
    if isinstance(question, AnyOf):
        return any(allowed(principal, action, t) for t in question.targets)
    if action == VIEW and question.system_id is not None:
        return may_view_round(principal, question.system_id)
    return allowed(principal, action, question)


def decide_all(principal: Principal, action: str, questions: Question | list[Question]) -> bool:
    """Every question answered yes (a resolver may return one question or a list)."""
    listed = questions if isinstance(questions, list) else [questions]
    return all(decide(principal, action, q) for q in listed)
