"""In-year membership changes from the pages: a practice's notice with the date it takes effect,
the commissioner's assignment of a practice no PCN will accept (after recording the LMC's
engagement), and what the changes page shows.

The checks are ``domain.change_requests`` (every problem at once, each on its field); the
notice itself, the decision and the application stay ``services.changes`` (called here, inside
this module's one transaction where a notice names a later date). A refusal raises
``ChangeRequestError`` and writes nothing.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from ..domain import change_requests as rules
from ..extensions import db
from ..models import Membership, MembershipChange, Pcn, Practice, RegistrationRound
from . import audit, changes, memberships
from .registration import actor
from .transactions import one_transaction

PENDING = ("notified", "approved")
MAX_ID = 2_147_483_647        # larger ids cannot exist (and overflow the integer columns)


class ChangeRequestError(Exception):
    """Refused: ``problems`` are (field, message) pairs (field "" for the summary)."""

    def __init__(self, problems: list[rules.Problem]):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems
        self.messages = [p.message for p in problems]


_commit = one_transaction(lambda: ChangeRequestError(
    [rules.Problem("", "Someone else changed this at the same moment: try again")]))


def today(rnd: RegistrationRound) -> dt.date:
    return changes._today(rnd)


def earliest_notice_date(rnd: RegistrationRound) -> dt.date:
    return rules.earliest_notice_date(today(rnd))


def last_applied(rnd: RegistrationRound) -> dt.date | None:
    return db.session.scalar(select(func.max(MembershipChange.effective_from)).where(
        MembershipChange.round_id == rnd.id, MembershipChange.state == "applied"))


def contract_year(rnd: RegistrationRound) -> tuple[dt.date, dt.date]:
    return rules.contract_year(rnd.contract_year, rnd.reference_date)


def closed(rnd: RegistrationRound) -> str | None:
    """Why the round takes no more notices or assignments (its contract year is over), or None."""
    return rules.closed_for_changes(contract_year(rnd), today(rnd))


def destinations(rnd: RegistrationRound, practice_code: str) -> list[Pcn]:
    """The PCNs a practice may give notice to join: every active PCN but its own."""
    current = _current_pcn(rnd, _practice(_code(practice_code))) if practice_code else None
    return [p for p in active_pcns(rnd) if current is None or p.id != current.id]


def _practice(code: str) -> Practice | None:
    return db.session.scalar(select(Practice).where(Practice.code == code)) if code else None


def _current_pcn(rnd: RegistrationRound, practice: Practice | None) -> Pcn | None:
    if practice is None:
        return None
    pcn_id = db.session.scalar(select(Membership.pcn_id).where(Membership.round_id == rnd.id,
                                                               Membership.practice_id == practice.id))
    return db.session.get(Pcn, pcn_id) if pcn_id is not None else None


def _target(rnd: RegistrationRound, to_pcn: str) -> Pcn | None:
    text = (to_pcn or "").strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 10 and 0 < int(text) <= MAX_ID):
        return None
    pcn = db.session.get(Pcn, int(text))
    return pcn if pcn is not None and pcn.round_id == rnd.id and pcn.active else None


def _facts(rnd: RegistrationRound, code: str, to_pcn: str) -> tuple[rules.Facts, Practice | None, Pcn | None]:
    from . import rounds as rounds_svc

    # a practice of this round's configuration (a national code of another system is not)
    practice = _practice(code) if code in rounds_svc.build_configuration(rnd).config.practices else None
    target = _target(rnd, to_pcn)
    current = _current_pcn(rnd, practice)
    pending = practice is not None and db.session.scalar(select(MembershipChange.id).where(
        MembershipChange.round_id == rnd.id, MembershipChange.practice_code == code,
        MembershipChange.state.in_(PENDING)).limit(1)) is not None
    live = changes._live(rnd)
    facts = rules.Facts(today=today(rnd), year=contract_year(rnd), year_name=rnd.contract_year or rnd.name,
                        round_name=rnd.name,
                        live=live, practice_known=practice is not None, practice_code=code,
                        current_pcn=current.name if current else None, target_pcn=target.name if target else None,
                        pending=pending, last_applied=last_applied(rnd),
                        practice_last_applied=memberships.last_applied_for(code) if practice is not None else None)
    return facts, practice, target


def _code(practice_code: str) -> str:
    return " ".join((practice_code or "").split()).upper()[:20]


@_commit
def give_notice(rnd: RegistrationRound, practice_code: str, to_pcn: str, reason: str,
                effective_from: dt.date | None = None) -> MembershipChange:
    """Record a practice's notice that it moves to the PCN with id ``to_pcn``, from
    ``effective_from`` (a quarter start; None: the earliest the rule gives)."""
    code = _code(practice_code)
    facts, _practice_row, target = _facts(rnd, code, to_pcn)
    problems = rules.notice_problems(facts, reason, effective_from)
    if problems:
        raise ChangeRequestError(problems)
    try:
        change = changes.give_notice.__wrapped__(rnd, code, str(target.id), reason)
    except changes.ChangeError as exc:
        raise ChangeRequestError([rules.Problem("", m) for m in exc.messages]) from exc
    if effective_from is not None and effective_from != change.effective_from:
        audit.record(action="membership_change.later_date", object_type="practice", object_id=code,
                     round_id=rnd.id, pcn_id=target.id,
                     before={"effective_from": change.effective_from}, after={"effective_from": effective_from})
        change.effective_from = effective_from
    return change


@_commit
def assign(rnd: RegistrationRound, practice_code: str, to_pcn: str, effective_from: dt.date | None,
           lmc_engaged_on: dt.date | None, lmc_engagement: str) -> MembershipChange:
    """The commissioner assigns a practice that no PCN will accept to ``to_pcn``, having engaged
    the LMC (its date and a summary are required). Recorded as an approved change: "Apply the
    changes that are due" applies it on its date, as any other."""
    code = _code(practice_code)
    facts, _practice_row, target = _facts(rnd, code, to_pcn)
    problems = rules.assignment_problems(facts, effective_from, lmc_engaged_on, lmc_engagement)
    if problems:
        raise ChangeRequestError(problems)
    current = _current_pcn(rnd, _practice_row)
    summary = lmc_engagement.strip()
    change = MembershipChange(
        round_id=rnd.id, practice_code=code, from_pcn_id=current.id if current else None, to_pcn_id=target.id,
        notice_given_on=facts.today, effective_from=effective_from, state="approved", kind="assignment",
        reason=f"Assigned by the commissioner after the LMC's engagement on {rules.long_date(lmc_engaged_on)}",
        recorded_by=actor(), decided_by=actor(), lmc_engaged_on=lmc_engaged_on, lmc_engagement=summary)
    db.session.add(change)
    db.session.flush()
    audit.record(action="membership_change.assigned", object_type="practice", object_id=code, round_id=rnd.id,
                 pcn_id=target.id, after={"to": target.name, "effective_from": effective_from,
                                          "lmc_engaged_on": lmc_engaged_on, "lmc_engagement": summary})
    return change


# --- reading ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ChangeRow:
    change: MembershipChange
    practice_name: str
    from_name: str | None
    to_name: str
    due: bool                   # approved and its date has come


def rows(rnd: RegistrationRound) -> list[ChangeRow]:
    """The round's changes, in date order, with the names the page shows."""
    found = changes.changes(rnd)
    codes = {c.practice_code for c in found}
    names = dict(db.session.execute(select(Practice.code, Practice.name).where(Practice.code.in_(codes))).all()) \
        if codes else {}
    pcn_ids = {c.to_pcn_id for c in found} | {c.from_pcn_id for c in found if c.from_pcn_id}
    pcn_names = dict(db.session.execute(select(Pcn.id, Pcn.name).where(Pcn.id.in_(pcn_ids))).all()) if pcn_ids else {}
    day = today(rnd)
    return [ChangeRow(c, names.get(c.practice_code, c.practice_code), pcn_names.get(c.from_pcn_id),
                      pcn_names.get(c.to_pcn_id, str(c.to_pcn_id)), c.state == "approved" and c.effective_from <= day)
            for c in found]


def active_pcns(rnd: RegistrationRound) -> list[Pcn]:
    return list(db.session.scalars(select(Pcn).where(Pcn.round_id == rnd.id, Pcn.active.is_(True))
                                   .order_by(Pcn.name)))


def unplaced_practices(rnd: RegistrationRound) -> list[tuple[str, str]]:
    """(code, name) of the round's practices in no PCN, and of those whose last notice was refused:
    the practices an assignment is for."""
    from . import rounds as rounds_svc

    config = rounds_svc.build_configuration(rnd).config
    codes = set(config.practices) - config.assigned_codes()
    codes |= set(db.session.scalars(select(MembershipChange.practice_code).where(
        MembershipChange.round_id == rnd.id, MembershipChange.state == "refused")))
    if not codes:
        return []
    return list(db.session.execute(select(Practice.code, Practice.name).where(Practice.code.in_(codes))
                                   .order_by(Practice.name)).tuples())


def live(rnd: RegistrationRound) -> bool:
    return changes._live(rnd)


def waiting(rnd: RegistrationRound) -> tuple[int, int]:
    """(notices waiting for a decision, approved changes whose date has come) in the round."""
    day = today(rnd)
    found = db.session.execute(select(MembershipChange.state, MembershipChange.effective_from).where(
        MembershipChange.round_id == rnd.id, MembershipChange.state.in_(PENDING))).all()
    return (sum(1 for state, _ in found if state == "notified"),
            sum(1 for state, when in found if state == "approved" and when <= day))
