"""Access asked with explicit arguments (issue #15 item 1, #16 item 3): the route table's rule and
resolver answer outside any request, as a page asks them to decide which buttons to show; the
policy's questions about "anything" and "one of"; the guard's check before the CSRF check."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
from flask import has_request_context
from sqlalchemy import select

from pcnreg.domain import policy
from pcnreg.domain.policy import AnyOf, Grant, Principal, Somewhere, Target
from pcnreg.models import Membership, Pcn, Practice, RegistrationRound
from pcnreg.services import accounts
from pcnreg.services.demo import load_demo
from pcnreg.services.demo_users import create_demo_users
from pcnreg.views.routes import permitted


@pytest.fixture
def demo(app, db):
    load_demo(None)
    create_demo_users("http://localhost")
    rnd = db.session.scalar(select(RegistrationRound).order_by(RegistrationRound.id))
    pcns = {p.name: p for p in db.session.scalars(select(Pcn).where(Pcn.round_id == rnd.id))}
    members = {name: sorted(db.session.scalars(select(Practice.code).join(Membership).where(
        Membership.pcn_id == pcn.id))) for name, pcn in pcns.items()}
    principals = {email.split("@")[0]: accounts.principal(accounts.find_user(email))
                  for email in ("admin@demo.pcnreg.example", "pcn.lead@demo.pcnreg.example",
                                "practice.rep@demo.pcnreg.example", "viewer@demo.pcnreg.example",
                                "commissioner.04k@demo.pcnreg.example")}
    return rnd, pcns, members, principals


def test_permitted_answers_outside_a_request(app, demo):
    rnd, pcns, members, who = demo
    assert not has_request_context()
    newark = {"round_id": rnd.id, "pcn_id": pcns["Newark"].id}
    rep_pcn = next(name for name, codes in members.items() if "C84067" in codes)
    assert rep_pcn != "Newark"
    rep = {"round_id": rnd.id, "pcn_id": pcns[rep_pcn].id}
    other_member = next(c for c in members[rep_pcn] if c != "C84067")

    # Newark's PCN lead prepares Newark's registration, not another PCN's.
    assert permitted(who["pcn.lead"], "registration.payee", newark)
    assert not permitted(who["pcn.lead"], "registration.payee", rep)
    # A practice's representative confirms for its own practice only (the form's "practice").
    assert permitted(who["practice.rep"], "registration.confirm", rep, {"practice": "C84067"})
    assert not permitted(who["practice.rep"], "registration.confirm", rep, {"practice": other_member})
    assert not permitted(who["practice.rep"], "registration.payee", rep)
    # Changing the configuration: the administrator yes, a viewer no; reading: both.
    assert permitted(who["admin"], "main.rename_pcn", newark)
    assert not permitted(who["viewer"], "main.rename_pcn", newark)
    assert permitted(who["viewer"], "main.dashboard", {"round_id": rnd.id})
    # The new-PCN form (GET) asks "anything in the system": a commissioner of one CCG may.
    assert permitted(who["commissioner.04k"], "main.create_pcn", {"round_id": rnd.id})
    assert not permitted(who["viewer"], "main.create_pcn", {"round_id": rnd.id})
    # Public and signed-in rules; nobody at all.
    assert permitted(policy.ANONYMOUS, "auth.sign_in")
    assert not permitted(policy.ANONYMOUS, "main.dashboard", {"round_id": rnd.id})
    assert permitted(who["viewer"], "auth.password")
    # Unknown endpoints, objects and malformed arguments: no (and no exception).
    assert not permitted(who["admin"], "no.such_endpoint")
    assert not permitted(who["pcn.lead"], "registration.payee", {"round_id": rnd.id, "pcn_id": 2_000_000_000})
    assert not permitted(who["pcn.lead"], "registration.payee", {"round_id": "x", "pcn_id": pcns["Newark"].id})
    assert not permitted(who["pcn.lead"], "registration.payee", {"round_id": rnd.id})


def test_resolvers_read_no_flask_globals():
    source = Path(__file__).resolve().parents[2] / "pcnreg" / "services" / "access.py"
    tree = ast.parse(source.read_text())
    imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not any(m == "flask" or m.startswith(("flask.", "flask_")) for m in imported), imported


def test_somewhere_any_of_and_lists():
    lead = Principal(1, frozenset({Grant("pcn_lead", "pcn", 7, system_id=3)}))
    viewer = Principal(2, frozenset({Grant("viewer", "system", 3, system_id=3)}))
    assert policy.decide(lead, policy.PREPARE_REGISTRATION, Somewhere())
    assert policy.decide(lead, policy.PREPARE_REGISTRATION, Somewhere(3))
    assert not policy.decide(lead, policy.PREPARE_REGISTRATION, Somewhere(4))
    assert not policy.decide(viewer, policy.PREPARE_REGISTRATION, Somewhere(3))
    assert not policy.decide(lead, policy.EDIT_CONFIGURATION, Somewhere())
    # Reading a round: any role inside the round's system.
    assert policy.decide(lead, policy.VIEW, Target(system_id=3))
    assert not policy.decide(lead, policy.VIEW, Target(system_id=4))
    # One of: a system's viewer may view one of systems 3 and 4, not one of 4 and 5, not of none.
    assert policy.decide(viewer, policy.VIEW, AnyOf((Target(system_id=4), Target(system_id=3))))
    assert not policy.decide(viewer, policy.VIEW, AnyOf((Target(system_id=4), Target(system_id=5))))
    assert not policy.decide(viewer, policy.VIEW, AnyOf())
    # A list: every one.
    assert policy.decide_all(lead, policy.PREPARE_REGISTRATION, [Target(system_id=3, pcn_ids=frozenset({7}))])
    assert not policy.decide_all(lead, policy.PREPARE_REGISTRATION,
                                 [Target(system_id=3, pcn_ids=frozenset({7})), Target(system_id=3, pcn_ids=frozenset({8}))])


def test_the_guard_runs_before_the_csrf_check(app):
    names = [getattr(f, "__name__", "") for f in app.before_request_funcs[None]]
    assert "check_request" in names and "csrf_protect" in names
    assert names.index("check_request") < names.index("csrf_protect")


def test_notice_targets_read_together_equal_the_resolver_asked_code_by_code(app, demo):
    """The PCN page asks once for every member's notice link (``access.notice_targets``): the same
    targets as ``notice_target`` asked per practice, and so the same answers for every role, for
    members, practices in no PCN, codes typed in lower case or with spaces, and unknown codes."""
    from pcnreg.services.access import Ask, notice_target, notice_targets
    from pcnreg.views.routes import permitted_each

    rnd, pcns, members, who = demo
    in_pcns = {c for codes in members.values() for c in codes}
    others = sorted(set(app.extensions["sqlalchemy"].session.scalars(select(Practice.code))) - in_pcns)[:3]
    codes = [*members["Newark"], *others, members["Newark"][0].lower(), f" {members['Newark'][1]} ",
             "ZZ9999", "", "C84067"]
    ask = Ask.of({"round_id": rnd.id})
    together = notice_targets(ask, codes)
    one_by_one = {c: notice_target(Ask.of({"round_id": rnd.id}, {"practice": c})) for c in codes}
    assert together == one_by_one
    assert isinstance(together["ZZ9999"], Somewhere) and isinstance(together[codes[0]], Target)
    for principal in who.values():
        expected = {c: permitted(principal, "changes.notice", {"round_id": rnd.id}, {"practice": c}) for c in codes}
        assert permitted_each(principal, "changes.notice", "practice", codes, {"round_id": rnd.id}) == expected
    assert notice_targets(Ask.of({"round_id": 2_000_000_000}), ["C84067"]) == {"C84067": Target()}


def test_member_targets_read_together_equal_the_resolver_asked_value_by_value(app, demo):
    """The registration page asks once whether each member may be confirmed and signed for
    (``access.member_targets``): the same targets as ``member_target`` per value, and so the same
    answers for every role, for the PCN's members, other PCNs' members, practices in no PCN,
    several codes in one value, lower case, spaces and unknown codes; and for an unknown PCN."""
    from pcnreg.services.access import Ask, member_target, member_targets
    from pcnreg.views.routes import permitted_each

    rnd, pcns, members, who = demo
    in_pcns = {c for codes in members.values() for c in codes}
    others = sorted(set(app.extensions["sqlalchemy"].session.scalars(select(Practice.code))) - in_pcns)[:2]
    values = [*members["Newark"], members["Ashfield North"][0], *others, members["Newark"][0].lower(),
              f" {members['Newark'][1]} ", f"{members['Newark'][0]} {members['Ashfield North'][0]}", "ZZ9999", ""]
    for pcn_id in (pcns["Newark"].id, 2_000_000_000):
        view_args = {"round_id": rnd.id, "pcn_id": pcn_id}
        together = member_targets(Ask.of(view_args), values)
        assert together == {v: member_target(Ask.of(view_args, {"practice": v})) for v in values}
        for principal in who.values():
            for endpoint in ("registration.confirm", "registration.sign"):
                expected = {v: permitted(principal, endpoint, view_args, {"practice": v}) for v in values}
                assert permitted_each(principal, endpoint, "practice", values, view_args) == expected
    assert member_targets(Ask.of({"round_id": 2_000_000_000, "pcn_id": 1}), ["C84067"]) == {"C84067": Target()}
