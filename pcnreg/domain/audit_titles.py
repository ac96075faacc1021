"""What people read of an audit event: its action, the kind of object it changed and the role of
whoever made it (the trail stores codes: "registration.submit", "config_version", "system_admin").

An action code is "<subject>.<verb>". It reads as "<Subject>: <what happened>": the verbs of the
workflows are their transitions' titles (the state machines in ``domain.workflow``,
``domain.elections``, ``domain.cycle``), a membership change's is the title of the state it
reached (``domain.membership_changes``), the others are written below. A code nobody wrote a title
for still reads as words ("Neighbourhoods: group lsoas"), never as an error. The CSV export keeps
the codes.
"""
from __future__ import annotations

from . import cycle, elections, membership_changes, policy, workflow

SUBJECTS: dict[str, str] = {
    "annual_return": "Annual return", "area": "PCN area", "committee": "Committee", "configuration": "Configuration",
    "cycle": "Yearly cycle", "demo": "Demo", "election": "Election", "geodata": "Geodata", "import": "Import",
    "membership_change": "Membership change", "neighbourhoods": "Neighbourhoods", "organisation": "Organisation",
    "place": "Place", "registration": "Registration", "reminder": "Reminder", "round": "Round",
    "size_exception": "Size exception", "user": "User account",
}

VERBS: dict[str, str] = {
    "annual_return.change": "change added", "annual_return.remove_change": "change removed",
    "area.upload": "area uploaded", "area.revert": "area put back to its blocks", "area.move_block": "block moved",
    "area.adjacent_pair": "blocks recorded as adjacent",
    "committee.create": "committee set up", "committee.meeting": "meeting arranged",
    "committee.agenda": "agenda changed", "committee.decision": "decision recorded",
    "committee.exception_decision": "size exception decided", "committee.condition_met": "condition met",
    "configuration.create": "PCN created", "configuration.rename": "PCN renamed", "configuration.merge": "PCNs merged",
    "configuration.split": "PCN split", "configuration.move": "practices moved", "configuration.undo": "version restored",
    "configuration.import": "configuration imported", "configuration.onboard": "configuration onboarded",
    "configuration.assignment": "practice assigned", "configuration.scheduled": "scheduled change applied",
    "cycle.dates": "dates set", "cycle.opt_out": "practice opted out", "cycle.opt_out_withdrawn": "opt-out withdrawn",
    "demo.load": "demo loaded",
    "election.create": "election set up", "election.nominate": "candidate nominated",
    "election.withdraw": "candidate withdrawn", "election.assess": "candidate assessed",
    "election.electorate": "electorate set", "election.letters_printed": "ballot letters printed",
    "election.reissue": "voting code reissued", "election.extend_voting": "voting extended",
    "election.close_voting": "voting closed", "election.count_result": "votes counted",
    "election.declared": "result declared", "election.interim": "interim lead recorded",
    "election.agreement": "appointment by agreement recorded",
    "geodata.install": "boundaries installed",
    "import.practices": "practices imported", "import.list_sizes": "list sizes imported",
    "membership_change.notice": "notice given", "membership_change.later_date": "moved to a later date",
    "membership_change.assigned": "practice assigned",
    "neighbourhoods.settings": "settings changed", "neighbourhoods.import": "neighbourhoods imported",
    "neighbourhoods.import_lsoa_registrations": "patients' LSOAs imported", "neighbourhoods.group": "grouped",
    "organisation.update": "details changed", "organisation.lineage": "lineage recorded",
    "place.create": "place added", "place.update": "place changed", "place.remove": "place removed",
    "registration.snapshot": "snapshot kept", "registration.sign_agreement": "Network Agreement signed",
    "registration.payee": "payee set", "registration.own_account": "paid into its own account",
    "registration.exception_request": "size exception requested", "registration.confirm_member": "membership confirmed",
    "registration.allow_late": "late submission allowed", "registration.clinical_director": "Clinical Director named",
    "reminder.sent": "sent",
    "round.create": "round created", "round.settings": "settings changed", "round.confirm_coverage": "coverage confirmed",
    "size_exception.record": "recorded",
    "user.create": "account created", "user.invite": "invitation sent", "user.invite_accept": "invitation accepted",
    "user.activate": "activated", "user.lock": "locked", "user.password_change": "password changed",
    "user.roles_grant": "roles granted", "user.roles_revoke": "roles revoked", "user.end_sessions": "signed out everywhere",
}

# The workflows' own words: a transition's title, a membership change's state.
for _subject, _machine in (("registration", workflow.MACHINE), ("election", elections.MACHINE),
                           ("annual_return", cycle.MACHINE)):
    for _t in _machine.transitions:
        VERBS.setdefault(f"{_subject}.{_t.name}", _t.title[:1].lower() + _t.title[1:])
for _state, _title in membership_changes.MACHINE.titles.items():
    VERBS.setdefault(f"membership_change.{_state}", _title.lower())

OBJECTS: dict[str, str] = {
    "block": "Block", "commissioner": "Commissioner", "committee": "Committee", "config_version": "Configuration version",
    "decision_condition": "Condition", "election": "Election", "exception_request": "Size exception request",
    "geodata_load": "Geodata load", "import": "Import", "lineage": "Lineage", "meeting": "Meeting", "pcn": "PCN",
    "place": "Place", "practice": "Practice", "round": "Round", "submission": "Submission", "user": "User",
}


def _words(code: str) -> str:
    return code.replace("_", " ").strip()


def action_title(code: str) -> str:
    """"registration.submit" → "Registration: submit the registration"."""
    subject, _, verb = (code or "").partition(".")
    name = SUBJECTS.get(subject) or _words(subject).capitalize() or "Event"
    return f"{name}: {VERBS.get(code) or _words(verb) or 'changed'}"


def object_title(object_type: str) -> str:
    """"config_version" → "Configuration version"."""
    return OBJECTS.get(object_type) or _words(object_type or "").capitalize()


# Who acts without a role of the policy: a command run on the server (services.audit.current_actor).
OTHER_ROLES = {"operator": "Command line"}


def role_title(role: str | None) -> str:
    """"system_admin" → "System administrator"; no role, nothing."""
    return policy.ROLE_TITLES.get(role or "") or OTHER_ROLES.get(role or "") or _words(role or "")
