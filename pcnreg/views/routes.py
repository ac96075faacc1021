"""The route table: every endpoint's access rule, in one place.

- ``PUBLIC``: anyone (sign-in and invite pages, assets, about, the OpenAPI document, the API's
  JSON 404/405 catch-all, the public ballot and declaration);
- ``SIGNED_IN``: anyone signed in (their own account pages, the list of rounds);
- ``needs(action, resolver)``: the resolver (services/access.py) builds the policy's question
  from the URL's values and, for changes, from the form; ``policy.decide`` answers it.

An endpoint without a rule is refused to everybody (fail closed: views/guard.py), and
tests/test_role_matrix.py fails until it gets one. ``permitted`` asks the same rule with explicit
arguments, for a page deciding which menu items, buttons and forms to show.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..domain import policy
from ..domain.policy import Principal
from ..services.access import (
    Ask,
    Resolved,
    assign_target,
    block_move_target,
    commissioner_target,
    create_target,
    decide_target,
    every_round,
    import_target,
    json_member_target,
    meeting_target,
    member_target,
    member_targets,
    merge_target,
    move_target,
    new_round_target,
    notice_target,
    notice_targets,
    round_target,
    split_target,
    system_target,
    this_pcn,
    whole_instance,
)


@dataclass(frozen=True)
class Rule:
    kind: str                                     # "public", "signed_in" or "action"
    action: str | None = None
    resolve: Callable[[Ask], Resolved] | None = None

    @property
    def public(self) -> bool:
        return self.kind == "public"

    def permits(self, principal: Principal, ask: Ask | None = None) -> bool:
        """Whether ``principal`` may use the endpoint as ``ask`` describes (None: as the request
        being served asks, ``guard.ask_from_request``)."""
        if self.kind == "public":
            return True
        if not principal.authenticated:
            return False
        if self.kind == "signed_in":
            return True
        if ask is None:
            from .guard import ask_from_request

            ask = ask_from_request()
        return policy.decide_all(principal, self.action, self.resolve(ask))


PUBLIC = Rule("public")
SIGNED_IN = Rule("signed_in")


def needs(action: str, resolve: Callable[[Ask], Resolved]) -> Rule:
    if action not in policy.ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    return Rule("action", action, resolve)


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
    "rounds.system_configuration": needs(VIEW, system_target),    # dated memberships: the system's data
    "rounds.practice_history": needs(VIEW, system_target),
    "rounds.settings": needs(VIEW, round_target),
    "rounds.save_settings": needs(ROUND, round_target),
    "rounds.add_place": needs(EDIT, system_target),        # places and committees: the system's data
    "rounds.place": needs(EDIT, system_target),
    "rounds.add_committee": needs(EDIT, system_target),
    "onboarding.start": needs(IMPORT, whole_instance),     # systems are set up by a system administrator
    "onboarding.choose": needs(IMPORT, whole_instance),
    "onboarding.job": needs(IMPORT, whole_instance),
    "onboarding.job_list": needs(IMPORT, whole_instance),
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
    "neighbourhoods.group": needs(EDIT, round_target),            # the grouping form: for those who may change it
    "neighbourhoods.save_group": needs(EDIT, round_target),
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
    "registration.remind": needs(ROUND, commissioner_target),   # e-mail the practices the chase list names
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
    "elections.letters": needs(ELECT, round_target),      # the print view of the unused ballot letters
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
    # in-year membership changes (views/changes.py; resolvers in services/access.py)
    "changes.page": needs(VIEW, round_target),
    "changes.notice": needs(PREPARE, notice_target),
    "changes.decide": needs(ROUND, decide_target),
    "changes.apply": needs(ROUND, round_target),
    "changes.assign": needs(ROUND, assign_target),
    "changes.instruction_csv": needs(ROUND, round_target),   # the ODS change instruction: the commissioner's
    "payment.own_account": needs(PREPARE, this_pcn),         # paid into its own account (from 2023/24)
    # the yearly cycle (views/cycle.py): opt-out window, annual returns, the year-end check
    "cycle.page": needs(VIEW, round_target),
    "cycle.settings": needs(ROUND, round_target),            # dates no contract-year file gives
    "cycle.opt_out": needs(PREPARE, notice_target),          # the practice's own (its form names it)
    "cycle.withdraw_opt_out": needs(PREPARE, notice_target),  # likewise, inside the window
    "cycle.annual_return": needs(VIEW, round_target),
    "cycle.add_change": needs(PREPARE, this_pcn),
    "cycle.submit_return": needs(PREPARE, this_pcn),
    "cycle.review_return": needs(ROUND, this_pcn),           # the commissioner over the PCN
    "cycle.year_end": needs(VIEW, round_target),
    "cycle.year_end_csv": needs(VIEW, round_target),
    # users
    "auth.users": needs(MANAGE, whole_instance),
    "auth.new_user": needs(MANAGE, whole_instance),
    "auth.user": needs(MANAGE, whole_instance),
}


def rule_for(endpoint: str) -> Rule | None:
    return ROUTE_RULES.get(endpoint)


def permitted(principal: Principal, endpoint: str, view_args: Mapping[str, object] | None = None,
              form: Mapping[str, str | list[str]] | None = None, method: str | None = None) -> bool:
    """Whether ``principal`` may use ``endpoint`` with these URL values and form fields: the rule
    and resolver the guard applies to a request, asked with explicit arguments (no request
    needed; the app's URL map gives the method when none is named). Unknown objects: no."""
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
    try:
        return rule.permits(principal, Ask.of(view_args, form, method))
    except (HTTPException, KeyError, ValueError):
        return False


# Resolvers with a version that answers for many values of one field at once (field, bulk resolver):
# the same targets, read together (a page showing a link per practice asks once, not per practice).
_BULK: dict[Callable, tuple[str, Callable]] = {notice_target: ("practice", notice_targets),
                                                member_target: ("practice", member_targets)}


def permitted_each(principal: Principal, endpoint: str, field: str, values: list[str],
                   view_args: Mapping[str, object] | None = None, method: str | None = None) -> dict[str, bool]:
    """``permitted`` for each of ``values`` as the form field ``field`` (value -> allowed): one
    bulk read when the endpoint's resolver has one for that field, else value by value."""
    from flask import current_app
    from werkzeug.exceptions import HTTPException

    rule = ROUTE_RULES.get(endpoint)
    bulk = _BULK.get(rule.resolve) if rule is not None and rule.resolve is not None else None
    if bulk is None or bulk[0] != field or not principal.authenticated:
        return {v: permitted(principal, endpoint, view_args, {field: v}, method) for v in values}
    if method is None:
        methods = {m for r in current_app.url_map.iter_rules(endpoint) for m in (r.methods or ())}
        method = "GET" if "GET" in methods else "POST"
    try:
        targets = bulk[1](Ask.of(view_args, None, method), values)
    except (HTTPException, KeyError, ValueError):
        return dict.fromkeys(values, False)
    return {v: policy.decide_all(principal, rule.action, targets[v]) for v in values}
