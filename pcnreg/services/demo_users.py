"""The demo's users: one per role, each with a fresh one-time sign-in link.

``create_demo_users(base_url)`` needs the demo round (``services.demo.load_demo``) and is
idempotent: users that exist keep their account and roles (missing roles are added) and get a
new link, which voids their earlier one. Links expire after ``accounts.INVITE_HOURS`` (72) hours.
No demo user has a password until they set one through their link.
"""
from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..models import Commissioner, Committee, Pcn, Practice, RegistrationRound, System
from . import accounts

DEMO_SYSTEM = "E54000014"
DEMO_ROUND = "Nottingham and Nottinghamshire 2019/20"
CURRENT_ROUND = "Nottingham and Nottinghamshire 2026/27"     # services.demo_story: the PCN lead's work
CREATED_BY = "pcnreg demo"

# (e-mail, name, role, scope type, what the scope is: code, PCN name or committee id)
DEMO_USERS = [
    ("admin@demo.pcnreg.example", "Demo System Administrator", "system_admin", "all", None),
    ("commissioner.04k@demo.pcnreg.example", "Demo Commissioner (Nottingham City CCG)", "commissioner",
     "commissioner", "04K"),
    ("commissioner.system@demo.pcnreg.example", "Demo Commissioner (whole system)", "commissioner", "system",
     DEMO_SYSTEM),
    ("pcn.lead@demo.pcnreg.example", "Demo PCN Lead (Newark)", "pcn_lead", "pcn", "Newark"),
    ("practice.rep@demo.pcnreg.example", "Demo Practice Representative (C84067)", "practice_rep", "practice",
     "C84067"),
    ("returning.officer@demo.pcnreg.example", "Demo LMC Returning Officer", "returning_officer", "system",
     DEMO_SYSTEM),
    ("committee.member@demo.pcnreg.example", "Demo Committee Member", "committee_member", "committee",
     "Nottingham and Nottinghamshire Primary Care Commissioning Committees (meeting in common)"),
    ("viewer@demo.pcnreg.example", "Demo Viewer", "viewer", "system", DEMO_SYSTEM),
]


class DemoNotLoaded(LookupError):
    pass


def _scope_id(scope_type: str, ref) -> int | None:
    if scope_type == "all":
        return None
    if scope_type == "committee":
        found = db.session.scalar(select(Committee.id).where(Committee.name == ref))
    elif scope_type == "pcn":       # the PCN of the current round when there is one (its work is there)
        found = None
        for round_name in (CURRENT_ROUND, DEMO_ROUND):
            found = found or db.session.scalar(
                select(Pcn.id).join(RegistrationRound, Pcn.round_id == RegistrationRound.id)
                .where(RegistrationRound.name == round_name, Pcn.name == ref, Pcn.active.is_(True)))
    else:
        model = {"system": System, "commissioner": Commissioner, "practice": Practice}[scope_type]
        found = db.session.scalar(select(model.id).where(model.code == ref))
    if found is None:
        raise DemoNotLoaded(f"The demo round is not loaded (no {scope_type} {ref}): run `pcnreg demo` first")
    return found


def create_demo_users(base_url: str = "http://127.0.0.1:5000") -> list[tuple[str, str, str, str]]:
    """(e-mail, role, scope in words, one-time link) for each demo user. Committed."""
    out = []
    for email, name, role, scope_type, ref in DEMO_USERS:
        grant = (role, scope_type, _scope_id(scope_type, ref))
        user = accounts.find_user(email)
        if user is None:
            user = accounts.create_user(email, name, [grant], created_by=CREATED_BY)
        else:
            accounts.grant_roles(user, [grant])
            if not user.active:
                accounts.set_active(user, True)
        token = accounts.invite(user, created_by=CREATED_BY)
        out.append((email, role, accounts.scope_text(grant[1], grant[2]),
                    f"{base_url.rstrip('/')}/invite/{token}"))
    return out
