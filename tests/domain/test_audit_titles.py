"""domain.audit_titles: every action the application records reads as words on the audit page."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from pcnreg.domain import audit_titles
from pcnreg.domain.audit_titles import action_title, object_title, role_title

PACKAGE = Path(audit_titles.__file__).resolve().parents[1]


def _recorded_codes() -> set[str]:
    """The action codes written literally in the services (``action="x.y"``) and those they build
    from a literal verb: elections' ``_audit(e, "verb")``, places' ``_record("verb")``, the
    configuration's ``kind="verb"`` and the imports' kinds."""
    codes: set[str] = set()
    for path in (PACKAGE / "services").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        codes |= set(re.findall(r'action="([a-z_]+\.[a-z_]+)"', text))
        if path.name == "elections.py":
            codes |= {f"election.{v}" for v in re.findall(r'_audit\(e, "([a-z_]+)"', text)}
        if path.name == "places.py":
            codes |= {f"place.{v}" for v in re.findall(r'_record\("([a-z_]+)"', text)}
        if path.name == "configuration.py":
            codes |= {f"configuration.{v}" for v in re.findall(r'kind="([a-z_]+)"', text)}
        if path.name == "imports.py":
            codes |= {"import." + v.replace(" ", "_") for v in re.findall(r'ImportSummary\("([a-z ]+)"', text)}
    return codes


def test_the_scan_finds_the_codes_of_every_kind():
    codes = _recorded_codes()
    for expected in ("registration.sign_agreement", "election.nominate", "place.remove", "configuration.merge",
                     "import.list_sizes", "user.roles_revoke", "cycle.opt_out"):
        assert expected in codes
    assert len(codes) > 70


def test_every_recorded_action_has_a_written_title():
    untitled = sorted(c for c in _recorded_codes() if c not in audit_titles.VERBS or c.split(".")[0] not in audit_titles.SUBJECTS)
    assert not untitled, untitled


@pytest.mark.parametrize(("code", "title"), [
    ("registration.submit", "Registration: submit the registration"),          # a transition's title
    ("registration.confirm_member", "Registration: membership confirmed"),
    ("election.declare_unopposed", "Election: declare elected unopposed"),
    ("annual_return.ask_changes", "Annual return: ask for changes"),
    ("membership_change.approved", "Membership change: approved"),             # the state reached
    ("configuration.undo", "Configuration: version restored"),
    ("user.end_sessions", "User account: signed out everywhere"),
    ("neighbourhoods.group_lsoas", "Neighbourhoods: group lsoas"),             # no title written: its words
    ("something_new.done_it", "Something new: done it"),
    ("", "Event: changed"),
])
def test_action_titles(code, title):
    assert action_title(code) == title


def test_object_and_role_titles():
    assert object_title("config_version") == "Configuration version"
    assert object_title("pcn") == "PCN"
    assert object_title("a_new_thing") == "A new thing"
    assert role_title("system_admin") == "System administrator"
    assert role_title("returning_officer") == "LMC returning officer"
    assert role_title("operator") == "Command line"
    assert role_title("a_new_role") == "a new role" and role_title(None) == ""
