"""Reminders from the chase list (issue #16 item 10): e-mail the practices the chase list names
(a member practice that has not confirmed its membership or signed the agreement) through the
configured SMTP server (``mailer``), one message per practice to its representatives' addresses
(the users holding the practice representative role for it).

Each message sent is recorded as its own audit event (``reminder.sent``: the practice, its PCN,
the addresses and what it was reminded of), committed at once, so a failure part-way keeps the
record of what was sent. A practice with no representative's address is reported, not e-mailed;
a message that cannot be sent is reported with the server's reason and nothing is recorded for it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from ..extensions import db
from ..models import (
    AuditEvent,
    Commissioner,
    Practice,
    RegistrationRound,
    RoleAssignment,
    User,
)
from . import audit, mailer
from . import registration as reg_svc


class ReminderError(Exception):
    pass


@dataclass
class PracticeReminder:
    """One practice the chase list names, with what it still has to do."""

    code: str
    name: str
    pcn_id: int
    pcn_name: str
    deadline: str
    items: list[str]
    addresses: list[str] = field(default_factory=list)


@dataclass
class Report:
    sent: list[PracticeReminder] = field(default_factory=list)
    no_address: list[PracticeReminder] = field(default_factory=list)
    failed: list[tuple[PracticeReminder, str]] = field(default_factory=list)


def _addresses(practice_ids: dict[str, int]) -> dict[str, list[str]]:
    """Practice code -> the e-mail addresses of its active representatives."""
    by_id = {v: k for k, v in practice_ids.items()}
    out: dict[str, list[str]] = {code: [] for code in practice_ids}
    if not by_id:
        return out
    rows = db.session.execute(
        select(RoleAssignment.scope_id, User.email).join(User, User.id == RoleAssignment.user_id)
        .where(RoleAssignment.role == "practice_rep", RoleAssignment.scope_type == "practice",
               RoleAssignment.scope_id.in_(list(by_id)), User.active.is_(True))
        .order_by(User.email))
    for scope_id, email in rows:
        out[by_id[scope_id]].append(email)
    return out


def due(rnd: RegistrationRound, commissioner: Commissioner) -> list[PracticeReminder]:
    """The practices the commissioner's part of the chase list names, by PCN then practice name."""
    group = next((g for g in reg_svc.chase_list(rnd) if g.commissioner_code == commissioner.code), None)
    if group is None:
        return []
    found: dict[str, PracticeReminder] = {}
    for pcn in group.pcns:
        for item in [*pcn.missing, *pcn.schedule1_missing]:
            if not item.practice:
                continue
            reminder = found.get(item.practice)
            if reminder is None:
                reminder = found[item.practice] = PracticeReminder(item.practice, item.practice, int(pcn.key),
                                                                   pcn.name, pcn.deadline.text, [])
            reminder.items.append(item.message)
    ids = dict(db.session.execute(select(Practice.code, Practice.id).where(Practice.code.in_(list(found)))).all()) \
        if found else {}
    names = dict(db.session.execute(select(Practice.code, Practice.name).where(Practice.code.in_(list(found)))
                                    ).all()) if found else {}
    addresses = _addresses(ids)
    for code, reminder in found.items():
        reminder.name = names.get(code, code)
        reminder.addresses = addresses.get(code, [])
    return sorted(found.values(), key=lambda r: (r.pcn_name, r.name))


def message(rnd: RegistrationRound, reminder: PracticeReminder) -> tuple[str, str]:
    """(subject, body) of a practice's reminder."""
    lines = "\n".join(f"- {item}" for item in reminder.items)
    subject = f"Reminder: {reminder.pcn_name} registration, {rnd.name}"
    body = (f"{reminder.name} ({reminder.code}) is a member practice of {reminder.pcn_name}. The network's "
            f"registration for {rnd.name} still needs from your practice:\n\n{lines}\n\n"
            f"Deadline: {reminder.deadline}.\n\nSign in to the PCN registration service to do this. If you "
            "think this is wrong, reply to your commissioner.\n")
    return subject, body


def send(rnd: RegistrationRound, commissioner: Commissioner) -> Report:
    """E-mail each practice the commissioner's chase list names; each send its own recorded step."""
    if not mailer.configured():
        raise ReminderError("This service has no e-mail server set up: no reminder can be sent")
    if commissioner.system_id != rnd.system_id:
        raise ReminderError(f"{commissioner.name} is not a commissioner of this round's system")
    report = Report()
    for reminder in due(rnd, commissioner):
        if not reminder.addresses:
            report.no_address.append(reminder)
            continue
        subject, body = message(rnd, reminder)
        try:
            mailer.send(", ".join(reminder.addresses), subject, body)
        except mailer.MailError as exc:
            report.failed.append((reminder, str(exc)))
            continue
        try:
            audit.record(action="reminder.sent", object_type="practice", object_id=reminder.code,
                         after={"practice": reminder.code, "name": reminder.name, "pcn": reminder.pcn_name,
                                "to": reminder.addresses, "items": reminder.items,
                                "commissioner": commissioner.code},
                         round_id=rnd.id, pcn_id=reminder.pcn_id)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        report.sent.append(reminder)
    return report


def last_sent(rnd: RegistrationRound) -> dict[str, object]:
    """Practice code -> when its last reminder of the round was sent (UTC, as stored)."""
    rows = db.session.execute(select(AuditEvent.object_id, AuditEvent.at)
                              .where(AuditEvent.round_id == rnd.id, AuditEvent.action == "reminder.sent")
                              .order_by(AuditEvent.seq))
    return {code: at for code, at in rows}


def commissioner_of(rnd: RegistrationRound, commissioner_id: int) -> Commissioner | None:
    c = db.session.get(Commissioner, commissioner_id) if 0 < commissioner_id <= 2_147_483_647 else None
    return c if c is not None and c.system_id == rnd.system_id else None



def commissioner_ids(rnd: RegistrationRound) -> dict[str, int]:
    """Commissioner code -> id, for the system's commissioners (the chase page's buttons)."""
    return dict(db.session.execute(select(Commissioner.code, Commissioner.id)
                                   .where(Commissioner.system_id == rnd.system_id)).all())
