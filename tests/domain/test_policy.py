"""The authorisation policy (domain core): roles, scopes and actions."""
from __future__ import annotations

import pytest

from pcnreg.domain import policy
from pcnreg.domain.policy import ANONYMOUS, Grant, Principal, Target

SYSTEM = 1
T_SYSTEM = Target(system_id=SYSTEM)
T_PCN_OF_04K = Target(system_id=SYSTEM, commissioner_ids=frozenset({10}), pcn_ids=frozenset({5}))
T_MOVE_ACROSS = Target(system_id=SYSTEM, commissioner_ids=frozenset({10, 11}), pcn_ids=frozenset({5, 6}))


def who(*grants: Grant) -> Principal:
    return Principal(1, frozenset(grants))


def test_anonymous_may_do_nothing():
    for action in policy.ACTIONS:
        assert not policy.allowed(ANONYMOUS, action, T_SYSTEM)
    assert not policy.may_view_round(ANONYMOUS, SYSTEM)


def test_system_admin_may_do_everything():
    admin = who(Grant("system_admin"))
    assert all(policy.allowed(admin, a, T_MOVE_ACROSS) for a in policy.ACTIONS)


def test_commissioner_scoped_to_a_ccg_edits_only_its_own_pcns():
    ccg = who(Grant("commissioner", "commissioner", 10, SYSTEM))
    assert policy.allowed(ccg, policy.EDIT_CONFIGURATION, T_PCN_OF_04K)
    assert not policy.allowed(ccg, policy.EDIT_CONFIGURATION, T_MOVE_ACROSS)   # another CCG involved
    assert not policy.allowed(ccg, policy.MANAGE_USERS, Target())
    assert policy.may_view_round(ccg, SYSTEM) and not policy.may_view_round(ccg, 2)
    system_wide = who(Grant("commissioner", "system", SYSTEM, SYSTEM))
    assert policy.allowed(system_wide, policy.EDIT_CONFIGURATION, T_MOVE_ACROSS)
    assert not policy.allowed(system_wide, policy.EDIT_CONFIGURATION, Target(system_id=2))


@pytest.mark.parametrize("role,scope", [("viewer", "system"), ("pcn_lead", "pcn"), ("practice_rep", "practice"),
                                        ("returning_officer", "system"), ("committee_member", "committee")])
def test_read_only_roles_see_the_round_and_change_nothing(role, scope):
    p = who(Grant(role, scope, SYSTEM if scope == "system" else 5, SYSTEM))
    assert policy.may_view_round(p, SYSTEM)
    for action in (policy.EDIT_CONFIGURATION, policy.IMPORT_DATA, policy.MANAGE_USERS):
        assert not policy.allowed(p, action, T_PCN_OF_04K)


def test_several_roles_combine():
    p = who(Grant("viewer", "system", SYSTEM, SYSTEM), Grant("commissioner", "commissioner", 10, SYSTEM))
    assert policy.allowed(p, policy.EDIT_CONFIGURATION, T_PCN_OF_04K)


def test_unknown_action_is_a_programming_error():
    with pytest.raises(ValueError):
        policy.allowed(ANONYMOUS, "delete_everything", T_SYSTEM)


def test_every_role_has_actions_scopes_and_a_title():
    assert set(policy.ROLE_ACTIONS) == set(policy.ROLES) == set(policy.ROLE_SCOPES) == set(policy.ROLE_TITLES)
