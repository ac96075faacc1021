"""Each user's home: what they have to do in the current round, one section per role they hold.

``tasks(grants, now)`` reads the user's grants (``policy.Grant`` with their systems resolved) and
returns ``Section``s: a PCN lead's registration task list with days left; a practice
representative's confirmation and signature for their practice; a committee member's next
meeting and its agenda; a returning officer's elections and their next step; a commissioner's
chase summary and what blocks confirmation; a viewer's readable rounds. The state and deadline
words are the ones every page uses (``workflow.STATE_TITLES``, ``deadlines.DeadlineStatus.text``).
``public_results()`` lists the declared elections anyone may read.

The current round of a system is its round with the latest opening date (its id breaks a tie).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from ..domain import labels, policy
from ..extensions import db
from ..models import (
    Commissioner,
    Committee,
    Election,
    Invite,
    Meeting,
    Membership,
    Pcn,
    Practice,
    RegistrationRound,
    System,
    User,
    utcnow,
)
from . import clock
from . import elections as election_svc
from . import registration as reg_svc
from . import rounds as rounds_svc


@dataclass
class Item:
    """One line of a section: words, an optional link, an optional tag (state) and details."""

    text: str
    href: tuple[str, dict] | None = None          # (endpoint, values) for url_for
    tag: str | None = None
    tag_colour: str = "grey"
    details: list[str] = field(default_factory=list)


@dataclass
class Section:
    role: str
    title: str
    summary: str
    items: list[Item] = field(default_factory=list)
    action: tuple[str, str, dict] | None = None   # (button text, endpoint, values)


def current_round(system_id: int | None) -> RegistrationRound | None:
    query = select(RegistrationRound)
    if system_id is not None:
        query = query.where(RegistrationRound.system_id == system_id)
    rounds = list(db.session.scalars(query))
    if not rounds:
        return None
    return max(rounds, key=lambda r: (r.opens or dt.date.min, r.id))


def _tag(state: str) -> tuple[str, str]:
    return labels.title(labels.REGISTRATION, state), labels.tag(labels.REGISTRATION, state)


def _pcn_lead(pcn_id: int, now: dt.datetime) -> Section | None:
    pcn = db.session.get(Pcn, pcn_id)
    if pcn is None:
        return None
    rnd = db.session.get(RegistrationRound, pcn.round_id)
    data = rounds_svc.build_configuration(rnd)
    if str(pcn.id) not in data.pcns:
        return Section("pcn_lead", f"Registration of {pcn.name}", f"{pcn.name} is not in the current configuration "
                       f"of {rnd.name}.")
    status = reg_svc.status(data, pcn, now=now)
    title, colour = _tag(status.state)
    summary = f"{rnd.name}: submit by {rnd.submission_deadline:%-d %B %Y}." if rnd.submission_deadline else rnd.name
    items = []
    if status.state == "draft":
        items = [Item(m.message, ("registration.page", {"round_id": rnd.id, "pcn_id": pcn.id}))
                 for m in status.missing]
        if not status.missing:
            items.append(Item("Nothing is missing: submit the registration",
                              ("registration.page", {"round_id": rnd.id, "pcn_id": pcn.id})))
    section = Section("pcn_lead", f"Registration of {pcn.name}", summary, [Item(
        f"{pcn.name}: {status.deadline.text}", None, title, colour,
        [f"{len(status.missing)} item{'s' if len(status.missing) != 1 else ''} still missing"]
        if status.state == "draft" else [])] + items,
        ("Open the registration", "registration.page", {"round_id": rnd.id, "pcn_id": pcn.id}))
    return section


def _practice_rep(practice_id: int, now: dt.datetime) -> Section | None:
    practice = db.session.get(Practice, practice_id)
    if practice is None:
        return None
    system_id = practice.commissioner.system_id if practice.commissioner else None
    rnd = current_round(system_id)
    title = f"{practice.name} ({practice.code})"
    if rnd is None:
        return Section("practice_rep", title, "There is no registration round for your practice yet.")
    pcn_id = db.session.scalar(select(Membership.pcn_id).where(Membership.round_id == rnd.id,
                                                               Membership.practice_id == practice.id))
    pcn = db.session.get(Pcn, pcn_id) if pcn_id else None
    if pcn is None:
        return Section("practice_rep", title, f"Your practice is in no PCN of {rnd.name}: ask your commissioner.")
    status = reg_svc.status(rounds_svc.build_configuration(rnd), pcn, now=now)
    mine = [m for m in status.missing if m.practice == practice.code]
    schedule1 = [m for m in status.schedule1_missing if m.practice == practice.code]
    tag, colour = _tag(status.state)
    href = ("registration.page", {"round_id": rnd.id, "pcn_id": pcn.id})
    items = [Item(f"{pcn.name}: {status.deadline.text}", None, tag, colour)]
    if status.state == "draft":
        items += [Item(m.message, href) for m in mine]
    due = f" (due by {rnd.schedule1_deadline:%-d %B %Y})" if rnd.schedule1_deadline else ""
    items += [Item(f"{m.message}{due}", href) for m in schedule1]
    if not mine and not schedule1:
        items.append(Item(f"{practice.name} has confirmed and signed: nothing more is needed from your practice"))
    summary = (f"{rnd.name}: confirm your practice's membership of {pcn.name} and sign the Network Agreement "
               f"for it" + (f" by {rnd.submission_deadline:%-d %B %Y}." if rnd.submission_deadline else "."))
    action = "Confirm and sign for your practice" if mine or schedule1 else "View the registration"
    return Section("practice_rep", title, summary, items, (action, *href))


def _committee_member(committee_id: int, today: dt.date) -> Section | None:
    committee = db.session.get(Committee, committee_id)
    if committee is None:
        return None
    meeting = db.session.scalar(select(Meeting).where(Meeting.committee_id == committee.id,
                                                      Meeting.held_on >= today)
                                .order_by(Meeting.held_on, Meeting.id).limit(1))
    if meeting is None:
        return Section("committee_member", committee.name, "No meeting of your committee is planned.")
    rnd = db.session.get(RegistrationRound, meeting.round_id)
    states = {r.pcn_id: r.state for r in db.session.scalars(
        select(reg_svc.Registration).where(reg_svc.Registration.round_id == rnd.id))}
    items = []
    for item in meeting.items:
        pcn = db.session.get(Pcn, item.pcn_id)
        tag, colour = _tag(states.get(pcn.id, "draft"))
        items.append(Item(pcn.name, ("committee.review", {"round_id": rnd.id, "meeting_id": meeting.id,
                                                          "pcn_id": pcn.id}), tag, colour))
    count = len(items)
    summary = (f"Next meeting: {meeting.held_on:%-d %B %Y} ({rnd.name}), "
               f"{count} PCN{'s' if count != 1 else ''} on the agenda.")
    return Section("committee_member", committee.name, summary, items,
                   ("Open the agenda", "committee.meeting", {"round_id": rnd.id, "meeting_id": meeting.id}))


def next_step(e: Election, now: dt.datetime) -> str:
    """The election's next step, in words."""
    state = election_svc.state(e, now)
    tt = election_svc.timetable(e)
    if state == "draft":
        return f"Open nominations (from {tt.when(tt.nominations_open)})"
    if state == "nominations_open":
        return f"Nominations close at {tt.when(tt.nominations_close)}; then close nominations"
    if state == "nominations_closed":
        return "Start the panel assessment"
    if state == "panel":
        return "Record the panel's outcome for each candidate, then open voting or declare"
    if state == "voting_open":
        return f"Voting closes at {tt.when(tt.voting_close)}"
    if state == "voting_closed":
        return "Count the votes"
    if state == "counted":
        return "Declare the result"
    return "Nothing more to do"


def _returning_officer(system_id: int, now: dt.datetime) -> Section | None:
    rnd = current_round(system_id)
    if rnd is None:
        return None
    items = []
    for e in election_svc.for_round(rnd):
        state = election_svc.state(e, now)
        items.append(Item(f"{db.session.get(Pcn, e.pcn_id).name}: {next_step(e, now)}",
                          ("elections.election", {"round_id": rnd.id, "election_id": e.id}),
                          labels.title(labels.ELECTION, state), labels.tag(labels.ELECTION, state)))
    summary = (f"{rnd.name}: {len(items)} Clinical Director election{'s' if len(items) != 1 else ''}."
               if items else f"{rnd.name}: no Clinical Director election yet.")
    return Section("returning_officer", "Clinical Director elections", summary, items,
                   ("Open the elections", "elections.elections", {"round_id": rnd.id}))


def _commissioner(grant: policy.Grant, now: dt.datetime) -> Section | None:
    rnd = current_round(grant.system_id)
    if rnd is None:
        return None
    codes = None
    if grant.scope_type == "commissioner":
        c = db.session.get(Commissioner, grant.scope_id)
        codes = {c.code} if c else set()
    rows = [r for r in reg_svc.round_status(rnd, now=now) if codes is None or r.lead_commissioner in codes]
    drafts = [r for r in rows if r.state == "draft"]
    submitted = [r for r in rows if r.state == "submitted"]
    blockers = [b for v in reg_svc.confirmation_view(rnd, now=now) if codes is None or v.code in codes
                for b in v.blockers]
    items = [Item(f"{len(drafts)} PCN{'s' if len(drafts) != 1 else ''} not submitted yet",
                  ("registration.chase", {"round_id": rnd.id}), details=[f"{r.name}: {r.deadline.text}, "
                                                                         f"{len(r.missing)} missing"
                                                                         for r in drafts]),
             Item(f"{len(submitted)} submitted PCN{'s' if len(submitted) != 1 else ''} waiting for a committee agenda",
                  ("committee.meetings", {"round_id": rnd.id}), details=[r.name for r in submitted]),
             Item(f"{len(blockers)} thing{'s' if len(blockers) != 1 else ''} block{'' if len(blockers) != 1 else 's'} "
                  "confirmation of coverage", ("registration.confirmation", {"round_id": rnd.id}),
                  details=blockers[:8] + ([f"… and {len(blockers) - 8} more"] if len(blockers) > 8 else []))]
    from .change_requests import waiting  # in-year membership changes (views/changes.py)

    pending, due = waiting(rnd)
    if pending or due:
        items.append(Item(f"{pending} membership change notice{'s' if pending != 1 else ''} waiting for a decision, "
                          f"{due} approved change{'s' if due != 1 else ''} due to apply",
                          ("changes.page", {"round_id": rnd.id})))
    who = "" if codes is None else f" ({', '.join(sorted(codes))})"
    summary = (f"{rnd.name}{who}: submissions due by {rnd.submission_deadline:%-d %B %Y}."
               if rnd.submission_deadline else rnd.name)
    return Section("commissioner", "Chase and confirm", summary, items,
                   ("Open the chase list", "registration.chase", {"round_id": rnd.id}))


def _rounds(principal: policy.Principal, role: str) -> Section:
    readable = [r for r in rounds_svc.list_rounds()
                if policy.decide(principal, policy.VIEW, policy.Target(system_id=r.system_id))]
    items = [Item(f"{r.name}", ("main.dashboard", {"round_id": r.id})) for r in readable[:10]]
    return Section(role, "Rounds you can read", f"{len(readable)} round{'s' if len(readable) != 1 else ''}.",
                   items, ("See all rounds", "rounds.index", {}))


def _system_admin() -> Section:
    """The administrator's work: people's accounts and setting systems up from the national files."""
    from . import jobs

    users = db.session.scalar(select(func.count()).select_from(User).where(User.active.is_(True)))
    pending = db.session.scalar(select(func.count()).select_from(Invite).where(
        Invite.used_at.is_(None), Invite.expires_at > utcnow()))
    items = [Item(f"Users: {users} active" + (f", {pending} invitation{'s' if pending != 1 else ''} not used yet"
                                                   if pending else ""), ("auth.users", {})),
             Item("Set up systems from the national files", ("onboarding.start", {}))]
    latest = jobs.recent(3)
    if latest:
        items.append(Item("Set-up jobs", ("onboarding.job_list", {}),
                          details=[f"Job {j.id}: {j.state}, started by {j.created_by}" for j in latest]))
    return Section("system_admin", "Run the service", "Accounts, and systems set up from the national files.",
                   items, ("Manage users", "auth.users", {}))


def tasks(principal: policy.Principal, now: dt.datetime | None = None) -> list[Section]:
    now = now or clock.now()
    today = now.astimezone(ZoneInfo("Europe/London")).date()
    sections: list[Section] = []
    rounds_shown = False
    for g in sorted(principal.grants, key=lambda g: (policy.ROLES.index(g.role) if g.role in policy.ROLES else 99,
                                                     g.scope_id or 0)):
        section = None
        if g.role == "pcn_lead" and g.scope_id:
            section = _pcn_lead(g.scope_id, now)
        elif g.role == "practice_rep" and g.scope_id:
            section = _practice_rep(g.scope_id, now)
        elif g.role == "committee_member" and g.scope_id:
            section = _committee_member(g.scope_id, today)
        elif g.role == "returning_officer":
            section = _returning_officer(g.system_id if g.scope_type != "system" else g.scope_id, now)
        elif g.role == "commissioner":
            section = _commissioner(g, now)
        elif g.role in ("viewer", "system_admin") and not rounds_shown:
            section, rounds_shown = _rounds(principal, g.role), True
            if g.role == "system_admin":
                sections.append(_system_admin())
        if section is not None:
            sections.append(section)
    return sections


@dataclass
class PublicResult:
    election_id: int
    pcn: str
    round: str
    elected: str | None


def public_results() -> list[PublicResult]:
    """Declared Clinical Director elections: their results are public."""
    out = []
    for e in db.session.scalars(select(Election).where(Election.state == "declared").order_by(Election.id.desc())):
        elected = next((c.name for c in e.candidates if c.id == e.elected_candidate_id), None)
        out.append(PublicResult(e.id, db.session.get(Pcn, e.pcn_id).name,
                                db.session.get(RegistrationRound, e.round_id).name, elected))
    return out


__all__ = ["Section", "Item", "tasks", "public_results", "current_round", "System"]
