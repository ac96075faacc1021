"""Membership changes after go-live: a practice's notice to move to another PCN, the
commissioner's approval, and its application as a configuration version from the start of the
next quarter after 28 days' notice (``domain.deadlines.change_takes_effect``). The states and
what each step needs are the domain's table (``domain.membership_changes``); this module gathers
the facts and writes. Each step is one transaction with its audit event; a refusal raises
``ChangeError`` and writes nothing."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ..domain import change_requests as requests_dom
from ..domain import edits
from ..domain import membership_changes as dom
from ..domain.deadlines import change_takes_effect
from ..extensions import db
from ..models import Membership, MembershipChange, Pcn, Practice, Registration, RegistrationRound
from . import audit, clock, memberships
from . import configuration as config_svc
from .errors import ServiceError
from .registration import actor
from .transactions import one_transaction


class ChangeError(ServiceError):
    """A membership change that cannot be made, with a message for the user."""


_commit = one_transaction(lambda: ChangeError("Someone else changed this at the same moment: try again"))


def _today(rnd: RegistrationRound) -> dt.date:
    return clock.now().astimezone(ZoneInfo(rnd.timezone)).date()


def _live(rnd: RegistrationRound) -> bool:
    return db.session.scalar(select(Registration.id).where(Registration.round_id == rnd.id,
                                                           Registration.state == "live").limit(1)) is not None


def _facts(rnd: RegistrationRound, change: MembershipChange, note: str = "",
           today: dt.date | None = None) -> dom.Facts:
    return dom.Facts(state=change.state, today=today or _today(rnd), effective_from=change.effective_from,
                     note=note)


def changes(rnd: RegistrationRound) -> list[MembershipChange]:
    return list(db.session.scalars(select(MembershipChange).where(MembershipChange.round_id == rnd.id)
                                   .order_by(MembershipChange.effective_from, MembershipChange.id)))


@_commit
def give_notice(rnd: RegistrationRound, practice_code: str, to_pcn: str, reason: str,
                effective_from: dt.date | None = None) -> MembershipChange:
    """Record a practice's notice (today, UK time) that it moves to ``to_pcn`` (id or name), from
    the earliest date the notice rule gives, or from ``effective_from`` (a later quarter start,
    after the practice's last applied change: ``domain.change_requests``)."""
    if not _live(rnd):
        raise ChangeError(dom.notice_problems(round_name=rnd.name, live=False))
    code = (practice_code or "").strip().upper()
    practice = db.session.scalar(select(Practice).where(Practice.code == code))
    if practice is None:
        raise ChangeError(f"{code or 'That'} is not a known practice")
    try:
        target = config_svc.rounds_svc.get_pcn(rnd, to_pcn)
    except config_svc.rounds_svc.NotFound as exc:
        raise ChangeError(str(exc)) from exc
    current = db.session.scalar(select(Membership.pcn_id).where(Membership.round_id == rnd.id,
                                                                 Membership.practice_id == practice.id))
    problems = dom.notice_problems(round_name=rnd.name, live=True, practice_code=code,
                                   in_target=current == target.id, target_name=target.name, reason=reason)
    if problems:
        raise ChangeError(problems)
    today = _today(rnd)
    earliest = change_takes_effect(today)
    effective = effective_from or earliest
    date_problems = []
    if effective < earliest:
        date_problems.append(f"The change cannot take effect before {requests_dom.long_date(earliest)}")
    elif not requests_dom.is_quarter_start(effective):
        date_problems.append("A change takes effect on the first day of a quarter (1 January, April, July or October)")
    last = memberships.last_applied_for(code)
    if last is not None and effective <= last:
        date_problems.append(requests_dom.before_last_applied(code, effective, last))
    if date_problems:
        raise ChangeError(date_problems)
    change = MembershipChange(round_id=rnd.id, practice_code=code, from_pcn_id=current, to_pcn_id=target.id,
                              notice_given_on=today, effective_from=effective,
                              reason=reason.strip(), state=dom.STATES[0], recorded_by=actor())
    db.session.add(change)
    db.session.flush()
    audit.record(action="membership_change.notice", object_type="practice", object_id=code, round_id=rnd.id,
                 pcn_id=target.id, after={"to": target.name, "effective_from": change.effective_from,
                                          "reason": change.reason})
    return change


@_commit
def decide(rnd: RegistrationRound, change_id: int, *, approve: bool, note: str = "") -> MembershipChange:
    """The commissioner approves or refuses a notified change."""
    change = db.session.get(MembershipChange, change_id)
    if change is None or change.round_id != rnd.id:
        raise ChangeError(f"There is no membership change {change_id} in {rnd.name}")
    note = (note or "").strip()
    try:
        change.state = dom.perform("approve" if approve else "refuse", _facts(rnd, change, note))
    except dom.Refused as exc:
        raise ChangeError(exc.reasons) from exc
    change.decided_by, change.decision_note = actor(), note or None
    audit.record(action=f"membership_change.{change.state}", object_type="practice", object_id=change.practice_code,
                 round_id=rnd.id, pcn_id=change.to_pcn_id, after={"note": change.decision_note})
    return change


@_commit
def apply_due(rnd: RegistrationRound) -> list[MembershipChange]:
    """Apply every approved change whose date has come, as one configuration version."""
    today = _today(rnd)
    due = [c for c in changes(rnd) if not dom.refusals("apply", _facts(rnd, c, today=today))]
    if not due:
        return []
    state = config_svc.head_state(rnd)
    for c in due:
        state = edits.move(state, [c.practice_code], str(c.to_pcn_id))
    names = ", ".join(f"{c.practice_code} → {db.session.get(Pcn, c.to_pcn_id).name}" for c in due)
    version = config_svc._save(rnd, state, kind="scheduled", author=actor(),
                               reason=f"Approved membership changes from {due[0].effective_from}: {names}")
    for c in due:
        c.state, c.applied_version_id = dom.perform("apply", _facts(rnd, c, today=today)), version.id
        memberships.record_change(rnd, c)
    return due
