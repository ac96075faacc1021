"""Clinical Director elections: set-up, nominations, panel, the secret ballot, count and
declaration. The states and checks are ``domain.elections``; the count is ``domain.counting``.

Secrecy. The "has voted" register (``Elector``) and the ballot box (``BallotPaper``) are separate
tables with nothing that re-links them: an elector row has no time, a ballot has a random id, no
time and no practice; casting a vote flips the elector's ``voted`` and voids its token in the
same transaction that drops the ballot in the box and rewrites the box (``shuffle_box``: new
random ids, rows in id order, so the physical order says nothing of the arrival order). No
audit event is written per vote (its time would line up with the request log); the close
records the number of ballots. The token never travels in a URL path (the link carries it in
the fragment; the page posts it) and the request log redacts any that arrives in one. Tokens
are stored as SHA-256 hashes; a re-issue replaces the hash (the old link stops working) and is
recorded. No tally exists before voting closes: the only way to the numbers is ``count``,
which the transition table allows only after the close.

Voting closes at its closing time, to the second (``effective_state``), and the close is stored:
the first request after it (``close_due``, a hook of every request) or `pcnreg election tick` (for
a scheduler) records it, after which a clock moved back never reopens voting.

Every change is one transaction with its audit event; a refusal raises ``ElectionError`` and
writes nothing. A token votes once even when two browsers use it at the same moment: the
register update is conditional (``voted = false AND token_hash = h``) and exactly one succeeds.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from ..domain import elections as dom
from ..extensions import db
from ..models import (
    BallotPaper,
    Candidate,
    Election,
    Elector,
    Membership,
    Pcn,
    Practice,
    RegistrationRound,
    TokenIssue,
)
from . import audit, clock
from . import registration as reg_svc
from . import rounds as rounds_svc
from .errors import ServiceError
from .transactions import one_transaction

CONCURRENT = "Someone else changed this election at the same moment: nothing was saved. Reload and try again."
BAD_TOKEN = ("This ballot link cannot be used: it has already been used to vote, or it was replaced by a new "
             "link, or it is mistyped. Ask the LMC's returning officer for a new link if you have not voted.")


class ElectionError(ServiceError):
    """A refused step of an election, with messages for the user."""


class LotsNeeded(ElectionError):
    """The count met a tie and the election's tie-break is a drawing of lots: record the draw
    (``tied``: the names of the candidates tied) and count again. Nothing was stored."""

    def __init__(self, tied: list[str]):
        self.tied = tied
        super().__init__(f"The count met a tie between {' and '.join(tied)}: draw lots for the order of the "
                         "candidates in front of a witness, record the draw, and count again")


_commit = one_transaction(lambda: ElectionError(CONCURRENT))


def _utc(moment: dt.datetime) -> dt.datetime:
    return clock.to_utc_naive(moment)


def timetable(e: Election) -> dom.Timetable:
    aware = clock.from_utc_naive
    rnd = db.session.get(RegistrationRound, e.round_id)
    return dom.Timetable(aware(e.nominations_open_at), aware(e.nominations_close_at), aware(e.voting_open_at),
                         aware(e.voting_close_at), e.panel_from, e.panel_to, e.count_on, e.declare_by,
                         rnd.timezone if rnd else "Europe/London")


def state(e: Election, now: dt.datetime | None = None) -> str:
    """The election's state as the clock has it (voting closes itself at its closing time)."""
    return dom.effective_state(e.state, timetable(e), now or clock.now())


def _audit(e: Election, action: str, after: dict | None = None, before: dict | None = None) -> None:
    audit.record(action=f"election.{action}", object_type="election", object_id=str(e.id), before=before,
                 after=after, round_id=e.round_id, pcn_id=e.pcn_id)


def members(e: Election) -> list[str]:
    return sorted(db.session.scalars(select(Practice.code).join(Membership, Membership.practice_id == Practice.id)
                                     .where(Membership.round_id == e.round_id, Membership.pcn_id == e.pcn_id)))


def _active(e: Election) -> list[Candidate]:
    return [c for c in e.candidates if c.status != "withdrawn"]


def facts(e: Election, now: dt.datetime, **more) -> dom.Facts:
    live = _active(e)
    return dom.Facts(state=e.state, now=now, timetable=timetable(e), candidates=len(live),
                     shortlisted=sum(c.status == "shortlisted" for c in live),
                     undecided=sum(c.status == "nominated" for c in live), electorate=len(members(e)), **more)


def waiting_steps(e: Election, names: list[str], now: dt.datetime) -> dict[str, str]:
    """Why each of these steps cannot be taken yet (e.g. nominations close later), for the page
    to say instead of offering a button that would be refused; the reason a step asks for is
    taken as given (the form asks for it)."""
    f = facts(e, now, reason="given")
    return {name: "; ".join(reasons) for name in names if (reasons := dom.MACHINE.refusals(name, f))}


def _move(e: Election, name: str, now: dt.datetime, **more) -> None:
    before = state(e, now)
    try:
        e.state = dom.perform(name, facts(e, now, **more))
    except dom.Refused as exc:
        raise ElectionError(exc.reasons) from exc
    _audit(e, name, before={"state": before}, after={"state": e.state})
    db.session.flush()


# --- set-up ---------------------------------------------------------------------------------------

def get(election_id: int) -> Election | None:
    return db.session.get(Election, election_id) if 0 < election_id <= 2_147_483_647 else None


def for_round(rnd: RegistrationRound) -> list[Election]:
    return list(db.session.scalars(select(Election).where(Election.round_id == rnd.id).order_by(Election.id)))


@_commit
def create(rnd: RegistrationRound, pcn: Pcn, *, method: str, tie_break: str, seed: str = "", eligibility: str,
           tt: dom.Timetable, returning_officer: str | None = None) -> Election:
    problems = tt.problems()
    if method not in dom.METHODS:
        problems.append("Choose the voting method the PCN's network agreement sets")
    if tie_break not in dom.TIE_BREAKS:
        problems.append("Choose how a tie will be broken")
    elif tie_break == "seed" and not seed.strip():
        problems.append("Enter the seed of the draw: it is published now, before any vote")
    if not eligibility.strip():
        problems.append("Enter who is eligible to stand")
    if pcn.round_id != rnd.id:
        problems.append("That PCN is not in this round")
    running = db.session.scalar(select(Election.id).where(Election.pcn_id == pcn.id, Election.round_id == rnd.id,
                                                          Election.state.notin_(("cancelled",))))
    if running is not None:
        problems.append(f"{pcn.name} already has an election in this round")
    if problems:
        raise ElectionError(problems)
    e = Election(round_id=rnd.id, pcn_id=pcn.id, state="draft", method=method, tie_break=tie_break,
                 tie_break_seed=seed.strip() or None, eligibility=eligibility.strip(),
                 nominations_open_at=_utc(tt.nominations_open), nominations_close_at=_utc(tt.nominations_close),
                 voting_open_at=_utc(tt.voting_open), voting_close_at=_utc(tt.voting_close),
                 panel_from=tt.panel_from, panel_to=tt.panel_to, count_on=tt.count_on, declare_by=tt.declare_by,
                 returning_officer=returning_officer or reg_svc.actor())
    db.session.add(e)
    db.session.flush()
    _audit(e, "create", after={"pcn": pcn.name, "method": method, "tie_break": tie_break,
                               "seed": e.tie_break_seed, "voting_close": e.voting_close_at})
    return e


@_commit
def step(e: Election, name: str, *, reason: str = "") -> str:
    """A transition with nothing more to record: open/close nominations, start the panel,
    close voting, reopen nominations (reason), cancel (reason)."""
    if name not in {"open_nominations", "close_nominations", "start_panel", "close_voting", "reopen_nominations",
                    "cancel"}:
        raise ElectionError(f"There is no step called {name!r} here")
    if name == "close_voting":
        now = clock.now()
        if state(e, now) == "voting_closed" and e.state == "voting_open":
            _close_voting(e, now)
            return e.state
    _move(e, name, clock.now(), reason=reason)
    if reason.strip():
        e.reason = reason.strip()
    return e.state


# --- candidates and panel ------------------------------------------------------------------------------

@_commit
def nominate(e: Election, *, name: str, register: str, number: str, practice_code: str, role: str,
             statement: str, conflicts: str = "") -> Candidate:
    now = clock.now()
    problems = []
    why = dom.may_nominate(state(e, now), timetable(e), now)
    if why:
        problems.append(why)
    name = " ".join((name or "").split())
    if not name:
        problems.append("Enter the candidate's name")
    register = (register or "").strip()
    problem = dom.registration_problem(register, number)
    if problem:
        problems.append(problem)
    code = (practice_code or "").strip().upper()
    if code not in members(e):
        problems.append(f"{code or 'The practice'} is not a member practice of the PCN: the candidate must "
                        "practise at one (eligibility: " + e.eligibility + ")")
    if not (role or "").strip():
        problems.append("Enter the candidate's role (e.g. GP partner)")
    if not (statement or "").strip():
        problems.append("Enter the candidate's statement")
    if any(c.name.casefold() == name.casefold() for c in e.candidates):
        problems.append(f"{name} is already nominated")
    if problems:
        raise ElectionError(problems)
    c = Candidate(election_id=e.id, name=name[:200], register=register, registration_number=number.strip().upper(),
                  practice_code=code, role=role.strip()[:100], statement=statement.strip(),
                  conflicts=(conflicts or "").strip(), status="nominated")
    db.session.add(c)
    db.session.flush()
    _audit(e, "nominate", after={"candidate": c.id, "name": c.name, "practice": code})
    return c


def _candidate(e: Election, candidate_id: int) -> Candidate:
    c = next((c for c in e.candidates if c.id == candidate_id), None)
    if c is None:
        raise ElectionError("That candidate is not standing in this election")
    return c


@_commit
def withdraw(e: Election, candidate_id: int, reason: str) -> Candidate:
    c = _candidate(e, candidate_id)
    if state(e) not in dom.BEFORE_VOTING:
        raise ElectionError("A candidate may withdraw only until voting opens")
    if not (reason or "").strip():
        raise ElectionError("Enter the reason for the withdrawal")
    before = c.status
    c.status, c.withdrawn_reason = "withdrawn", reason.strip()
    _audit(e, "withdraw", before={"candidate": c.id, "status": before}, after={"status": "withdrawn",
                                                                              "reason": c.withdrawn_reason})
    return c


@_commit
def assess(e: Election, candidate_id: int, *, shortlisted: bool, reason: str, panel_members: str) -> Candidate:
    """The panel's outcome for a candidate (shortlisted or not, with the reasons) and its members."""
    if state(e) != "panel":
        raise ElectionError("The panel assesses candidates during the panel assessment only")
    c = _candidate(e, candidate_id)
    if c.status == "withdrawn":
        raise ElectionError(f"{c.name} has withdrawn")
    if not (reason or "").strip():
        raise ElectionError("Enter the panel's reasons")
    if not (panel_members or "").strip():
        raise ElectionError("Enter the members of the panel")
    c.status, c.panel_reason = ("shortlisted" if shortlisted else "not_shortlisted"), reason.strip()
    e.panel_members = panel_members.strip()
    _audit(e, "assess", after={"candidate": c.id, "status": c.status, "reason": c.panel_reason,
                               "panel": e.panel_members})
    return c


# --- the ballot -----------------------------------------------------------------------------------

def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _derive(election_id: int, issue: TokenIssue) -> str:
    """The ballot token of one issue: an HMAC, under the application's secret key, of the
    election, the elector and the issue's id. Only its SHA-256 hash is stored (the secret key is
    not in the database), and the returning officer's print view can print a practice's unused
    letter again (``letters``); whoever holds the secret key could forge a session anyway."""
    import base64
    import hmac

    from flask import current_app

    key = str(current_app.config.get("SECRET_KEY") or "").encode("utf-8")
    message = f"pcnreg-ballot:{election_id}:{issue.elector_id}:{issue.id}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode("ascii")


def _issue(e: Election, elector: Elector, channel: str, address: str | None, now: dt.datetime) -> str:
    """Record an issue of the elector's token and set its hash; returns the token."""
    issue = TokenIssue(elector_id=elector.id, channel=channel, address=address or None, issued_by=reg_svc.actor(),
                       issued_at=_utc(now))
    db.session.add(issue)
    db.session.flush()
    token = _derive(e.id, issue)
    elector.token_hash = _hash(token)
    return token


def _weights(e: Election, codes: list[str]) -> dict[str, int]:
    if e.method != "weighted":
        return {c: 1 for c in codes}
    rnd = db.session.get(RegistrationRound, e.round_id)
    out = {}
    for p in db.session.scalars(select(Practice).where(Practice.code.in_(codes))):
        size = rounds_svc.select_list_size(list(p.list_sizes), rnd.reference_date)
        out[p.code] = size.size if size else 0
    return out


@dataclass
class IssuedToken:
    practice_code: str
    token: str


@_commit
def open_voting(e: Election) -> list[IssuedToken]:
    """Open voting: freeze the electorate (the member practices now, with their weights) and the
    candidates; issue one single-use token per practice (printed as letters here; the caller may
    e-mail them). Returns the tokens: they are shown once and stored only as hashes."""
    now = clock.now()
    _move(e, "open_voting", now)
    codes = members(e)
    weights = _weights(e, codes)
    zero = [c for c, w in weights.items() if w <= 0]
    if zero:
        raise ElectionError(f"No registered list size for {', '.join(zero)}: a weighted vote needs one")
    issued = []
    for code in codes:
        elector = Elector(election_id=e.id, practice_code=code, weight=weights[code],
                          token_hash=_hash(secrets.token_urlsafe(24)))
        db.session.add(elector)
        db.session.flush()
        issued.append(IssuedToken(code, _issue(e, elector, "letter", None, now)))
    _audit(e, "electorate", after={"practices": {c: weights[c] for c in codes},
                                   "candidates": [c.name for c in e.candidates if c.status == "shortlisted"]})
    return issued


@_commit
def reissue(e: Election, practice_code: str, *, channel: str = "letter", address: str = "") -> IssuedToken:
    """A new token for a practice that has not voted; the earlier one stops working."""
    now = clock.now()
    if state(e, now) != "voting_open":
        raise ElectionError("Ballot links are re-issued only while voting is open")
    elector = db.session.scalar(select(Elector).where(Elector.election_id == e.id,
                                                      Elector.practice_code == (practice_code or "").upper()))
    if elector is None:
        raise ElectionError(f"{practice_code} is not in this election's electorate")
    if elector.voted:
        raise ElectionError(f"{practice_code} has already voted")
    if channel not in ("letter", "email"):
        raise ElectionError("Choose letter or e-mail")
    for issue in db.session.scalars(select(TokenIssue).where(TokenIssue.elector_id == elector.id,
                                                             TokenIssue.voided_at.is_(None))):
        issue.voided_at = _utc(now)
    token = _issue(e, elector, channel, address, now)
    _audit(e, "reissue", after={"practice": elector.practice_code, "channel": channel})
    return IssuedToken(elector.practice_code, token)


def letters(e: Election) -> list[IssuedToken]:
    """The ballot letters to print again (the returning officer's print view): while voting is
    open, the current token of every practice that has not voted (derived again from its issue,
    ``_derive``). A practice whose stored hash no longer matches (the secret key changed) is left
    out: re-issue its link. Recorded in the audit (who printed, how many letters)."""
    if state(e) != "voting_open":
        raise ElectionError("Ballot letters are printed again only while voting is open: "
                            "a letter is of no use after the close")
    out = []
    electors = db.session.scalars(select(Elector).where(Elector.election_id == e.id, Elector.voted.is_(False))
                                  .order_by(Elector.practice_code))
    for elector in electors:
        issue = db.session.scalar(select(TokenIssue).where(TokenIssue.elector_id == elector.id,
                                                           TokenIssue.voided_at.is_(None))
                                  .order_by(TokenIssue.id.desc()).limit(1))
        if issue is None:
            continue
        token = _derive(e.id, issue)
        if _hash(token) == elector.token_hash:
            out.append(IssuedToken(elector.practice_code, token))
    return out


@_commit
def record_letters_printed(e: Election, how_many: int) -> None:
    """The audit event of a print view of the letters (not which tokens)."""
    _audit(e, "letters_printed", after={"letters": how_many})


def ballot_email(e: Election, practice_code: str, link: str) -> tuple[str, str]:
    """(subject, body) of the e-mail that carries a practice's ballot link."""
    pcn = db.session.get(Pcn, e.pcn_id)
    closes = timetable(e).voting_close.astimezone(ZoneInfo("Europe/London"))
    return (f"Your ballot: Clinical Director election, {pcn.name}",
            f"Practice {practice_code} is a member of {pcn.name}. The Local Medical Committee is running the "
            f"election of the network's Clinical Director.\n\nVote here (this link works once, for your practice "
            f"only; do not forward it):\n{link}\n\nVoting closes at {closes:%H:%M} on {closes.day} {closes:%B %Y} (UK time). "
            "If you did not expect this e-mail, contact the LMC's returning officer.\n")


@_commit
def email_ballot(e: Election, practice_code: str, address: str, link_for) -> None:
    """Re-issue a practice's ballot link and e-mail it, as one step: if the message cannot be
    sent, nothing is issued (the earlier link keeps working). ``link_for(token)`` builds the URL."""
    from . import mailer

    address = (address or "").strip()
    if "@" not in address or any(ch.isspace() for ch in address):
        raise ElectionError("Enter the practice's e-mail address")
    issued = reissue.__wrapped__(e, practice_code, channel="email", address=address)
    subject, body = ballot_email(e, issued.practice_code, link_for(issued.token))
    try:
        mailer.send(address, subject, body)
    except mailer.MailError as exc:
        raise ElectionError(f"{exc}. Nothing was issued: the practice's earlier link still works.") from exc


def ballot_for(token: str) -> tuple[Election, list[Candidate]] | None:
    """The election and its candidates for a ballot link still usable (None: not usable)."""
    elector = db.session.scalar(select(Elector).where(Elector.token_hash == _hash(token or ""),
                                                      Elector.voted.is_(False)))
    if elector is None:
        return None
    e = db.session.get(Election, elector.election_id)
    return e, [c for c in e.candidates if c.status == "shortlisted"]


@one_transaction(lambda: ElectionError(BAD_TOKEN))
def cast(token: str, preferences: list[str]) -> str:
    """Cast the ballot of ``token``: ``preferences`` are candidate ids (as text) in order, blanks
    "" allowed after the last. Returns the receipt code. One transaction."""
    now = clock.now()
    h = _hash(token or "")
    elector = db.session.scalar(select(Elector).where(Elector.token_hash == h, Elector.voted.is_(False)))
    if elector is None:
        raise ElectionError(BAD_TOKEN)
    e = db.session.get(Election, elector.election_id)
    # One vote at a time per election (PostgreSQL; SQLite's write lock does the same): the box
    # is rewritten below and must not miss a concurrent ballot.
    db.session.execute(select(Election.id).where(Election.id == e.id).with_for_update())
    why = dom.may_vote(e.state, timetable(e), now)     # the time decides, to the second
    if why:
        raise ElectionError(why)
    standing = {str(c.id) for c in e.candidates if c.status == "shortlisted"}
    prefs = [(p or "").strip() for p in preferences]
    problems = dom.check_preferences(prefs, standing, e.method)
    if problems:
        raise ElectionError(problems)
    done = db.session.execute(update(Elector).where(Elector.id == elector.id, Elector.voted.is_(False),
                                                    Elector.token_hash == h)
                              .values(voted=True, token_hash=None))
    if done.rowcount != 1:
        raise ElectionError(BAD_TOKEN)
    receipt = secrets.token_hex(5).upper()
    db.session.add(BallotPaper(id=secrets.token_hex(16), election_id=e.id,
                               preferences=json.dumps([p for p in prefs if p]), weight=elector.weight,
                               receipt=receipt))
    db.session.flush()
    shuffle_box(e)                     # the new ballot's row is not the last one
    # No audit event per vote (its time would order the ballots): the close records the count.
    return receipt


# --- the close of voting --------------------------------------------------------------------------------

def _close_voting(e: Election, now: dt.datetime) -> None:
    """Record the close (in this transaction): the state becomes ``voting_closed`` for good (a
    clock moved back later never reopens it), the ballot box is shuffled once more, and the one
    audit event of the ballot says how many ballots are in the box (no event per vote)."""
    try:
        e.state = dom.perform("close_voting", facts(e, now))
    except dom.Refused as exc:
        raise ElectionError(exc.reasons) from exc
    ballots = shuffle_box(e)
    _audit(e, "close_voting", before={"state": "voting_open"},
           after={"state": e.state, "ballots": ballots, "voting_close": e.voting_close_at})
    db.session.flush()


def shuffle_box(e: Election) -> int:
    """Rewrite the election's ballot box (in this transaction): every ballot gets a new random id
    and the rows are written again in the order of those ids. Done at every vote and at the close:
    the rows' physical order (SQLite rowid, PostgreSQL ctid) and their PostgreSQL xmin then say
    nothing about the order the ballots arrived in, and no id outlives the next vote. Returns how
    many ballots there are."""
    papers = list(db.session.scalars(select(BallotPaper).where(BallotPaper.election_id == e.id)))
    rows = sorted((secrets.token_hex(16), p.election_id, p.preferences, p.weight, p.receipt) for p in papers)
    if not rows:
        return 0
    for p in papers:
        db.session.delete(p)
    db.session.flush()
    for p in papers:
        db.session.expunge(p)
    for new_id, election_id, preferences, weight, receipt in rows:
        db.session.add(BallotPaper(id=new_id, election_id=election_id, preferences=preferences, weight=weight,
                                   receipt=receipt))
        db.session.flush()             # one INSERT at a time, in the order of the new ids
    return len(rows)


def close_due(now: dt.datetime | None = None) -> list[int]:
    """Close every election whose voting closing time has passed (the first request after it, and
    `pcnreg election tick`). Each election is its own transaction. Returns the ids closed."""
    now = now or clock.now()
    due = list(db.session.scalars(select(Election.id).where(Election.state == "voting_open",
                                                            Election.voting_close_at <= _utc(now))))
    closed = []
    for election_id in due:
        try:
            if _close_due_one(election_id, now):
                closed.append(election_id)
        except _ClosedElsewhere:                         # another process closed it at the same moment
            pass
    return closed


class _ClosedElsewhere(Exception):
    pass


@one_transaction(_ClosedElsewhere)
def _close_due_one(election_id: int, now: dt.datetime) -> bool:
    e = db.session.get(Election, election_id)
    if e is None or e.state != "voting_open":
        return False
    _close_voting(e, now)
    return True


@_commit
def extend_voting(e: Election, new_close: dt.datetime, reason: str) -> Election:
    """Extend voting's closing time while voting is open, with the reason (recorded). Voting that
    has closed is never reopened."""
    now = clock.now()
    problems = []
    if state(e, now) != "voting_open":
        problems.append("Voting can be extended only while it is open: closed voting is never reopened")
    if new_close is None or new_close.tzinfo is None:
        problems.append("Enter the new closing date and time")
    elif new_close <= timetable(e).voting_close:
        problems.append("The new closing time must be later than the current one")
    if not (reason or "").strip():
        problems.append("Enter the reason for the extension")
    if problems:
        raise ElectionError(problems)
    before = e.voting_close_at
    e.voting_close_at, e.extension_reason = _utc(new_close), reason.strip()
    _audit(e, "extend_voting", before={"voting_close": before},
           after={"voting_close": e.voting_close_at, "reason": e.extension_reason})
    return e


@dataclass
class Turnout:
    voted: int
    electorate: int


def turnout(e: Election) -> Turnout:
    """How many practices have voted (never how)."""
    rows = db.session.execute(select(func.count(), func.coalesce(func.sum(
        db.case((Elector.voted.is_(True), 1), else_=0)), 0)).where(Elector.election_id == e.id)).one()
    return Turnout(int(rows[1]), int(rows[0]))


# --- count and declaration -------------------------------------------------------------------------------

def _ballots(e: Election):
    from ..domain import counting

    papers = db.session.scalars(select(BallotPaper).where(BallotPaper.election_id == e.id).order_by(BallotPaper.id))
    return [counting.Ballot(tuple(json.loads(p.preferences)), p.weight) for p in papers]


@_commit
def count(e: Election, *, lots_order: list[str] | None = None, performed_by: str = "", witness: str = ""):
    """Count the ballots (after voting has closed) and store the result. With a drawing of lots
    as the tie-break, the lots are asked for only when the count meets a tie (``LotsNeeded``,
    nothing stored); the order drawn (candidate ids), who drew and who witnessed are then given
    and recorded with the result."""
    from ..domain import counting

    now = clock.now()
    if e.state == "voting_open" and state(e, now) == "voting_closed":
        _close_voting(e, now)                # the clock closed it: record that first
    standing = [str(c.id) for c in e.candidates if c.status == "shortlisted"]
    drawn = bool(lots_order and any(lots_order))
    if e.tie_break == "seed":
        tie = counting.SeededDraw(e.tie_break_seed or "")
    elif not drawn:
        tie = None                           # no draw unless the count meets a tie
    else:
        order = [str(x) for x in lots_order]
        if sorted(order) != sorted(standing) or not performed_by.strip() or not witness.strip():
            raise ElectionError("Record the drawing of lots: the order of every candidate, who drew them and "
                                "who witnessed it")
        try:
            tie = counting.DrawOfLots(tuple(order), performed_by.strip(), witness.strip())
        except ValueError as exc:           # e.g. the witness is the person who drew
            raise ElectionError(str(exc)) from exc
    if not db.session.scalar(select(func.count()).select_from(BallotPaper).where(BallotPaper.election_id == e.id)):
        raise ElectionError("No practice voted, so there is nothing to count: record an interim lead, and hold "
                            "a new election")
    _move(e, "count", now)
    try:
        result = counting.count(_ballots(e), standing, e.method, tie)
    except counting.TieBreakNeeded as exc:
        names = {str(c.id): c.name for c in e.candidates}
        raise LotsNeeded([names.get(t, t) for t in exc.tied]) from exc
    except (counting.BallotError, ValueError) as exc:
        raise ElectionError(f"The ballots cannot be counted: {exc}") from exc
    stored = result.as_dict()
    stored["turnout"] = vars(turnout(e))
    stored["tie_break_rule"] = {"kind": e.tie_break, "seed": e.tie_break_seed,
                                "lots": {"order": lots_order, "performed_by": performed_by, "witness": witness}
                                if e.tie_break == "lots" and drawn else None}
    e.result = json.dumps(stored, sort_keys=True)
    e.elected_candidate_id = int(result.winner) if result.winner else None
    _audit(e, "count_result", after={"winner": result.winner, "rounds": len(stored["rounds"])})
    return stored


def result(e: Election) -> dict | None:
    """The count, once there is one (nobody sees any tally before)."""
    return json.loads(e.result) if e.result and e.state in ("counted", "declared") else None


def _day(moment: dt.datetime) -> str:
    local = moment.astimezone(ZoneInfo("Europe/London"))
    return f"{local.day} {local:%B %Y}"


def _set_cd(e: Election, c: Candidate, how: str) -> None:
    rnd = db.session.get(RegistrationRound, e.round_id)
    pcn = db.session.get(Pcn, e.pcn_id)
    reg_svc.record_elected_cd(rnd, pcn, name=c.name, practice_code=c.practice_code, profession=c.role,
                              details=f"{how} (LMC election {e.id}, declared {_day(clock.now())})")


@_commit
def declare(e: Election) -> Candidate:
    """Declare the counted result: the winner becomes the PCN's Clinical Director."""
    _move(e, "declare", clock.now())
    c = _candidate(e, e.elected_candidate_id or 0)
    _set_cd(e, c, "Elected by the member practices")
    _audit(e, "declared", after={"candidate": c.name})
    return c


def eligible(e: Election) -> list[Candidate]:
    """The candidates eligible to stand: shortlisted by the panel and not withdrawn."""
    return [c for c in e.candidates if c.status == "shortlisted"]


def may_declare_unopposed(e: Election) -> bool:
    """Whether "declare elected unopposed" is offered: in the panel assessment, every candidate
    assessed, and exactly one eligible."""
    return not dom.refusals("declare_unopposed", facts(e, clock.now()))


@_commit
def declare_unopposed(e: Election) -> Candidate:
    """Declare the one eligible candidate elected unopposed (refused with none or several)."""
    _move(e, "declare_unopposed", clock.now())      # the panel is done, exactly one eligible
    found = eligible(e)
    if len(found) != 1:                             # the domain's check, said again where it matters
        raise ElectionError(f"Elected unopposed needs exactly one eligible candidate, not {len(found)}")
    c = found[0]
    e.elected_candidate_id = c.id
    _set_cd(e, c, "Elected unopposed")
    _audit(e, "declared", after={"candidate": c.name, "unopposed": True})
    return c


@_commit
def record_agreement(e: Election, *, held_on: dt.date | None, practices_present: str, outcome: str) -> Election:
    complete = bool(held_on and (practices_present or "").strip() and (outcome or "").strip())
    _move(e, "record_agreement", clock.now(), minutes_complete=complete)
    e.agreement_date, e.agreement_practices, e.agreement_outcome = held_on, practices_present.strip(), outcome.strip()
    _audit(e, "agreement", after={"held_on": held_on, "practices": e.agreement_practices,
                                  "outcome": e.agreement_outcome})
    return e


@_commit
def record_interim(e: Election, name: str) -> Election:
    cast_ballots = db.session.scalar(select(func.count()).select_from(BallotPaper)
                                     .where(BallotPaper.election_id == e.id))
    _move(e, "record_interim", clock.now(), interim_named=bool((name or "").strip()), ballots=cast_ballots)
    e.interim_lead = name.strip()[:200]
    _audit(e, "interim", after={"interim_lead": e.interim_lead})
    return e


def receipts(e: Election) -> list[str]:
    """The published list of ballot receipts, after the count (sorted: no order of voting)."""
    if result(e) is None:
        return []
    return sorted(db.session.scalars(select(BallotPaper.receipt).where(BallotPaper.election_id == e.id)))


def ballot_export(e: Election) -> str:
    """The anonymised ballots as CSV in the layout `pcnreg election count` reads (candidate names
    in preference order, weight), sorted by content: anyone can recount. After the count only."""
    import csv
    import io

    if result(e) is None:
        raise ElectionError("The ballots are published after the count")
    names = {str(c.id): c.name for c in e.candidates}
    papers = db.session.scalars(select(BallotPaper).where(BallotPaper.election_id == e.id))
    from ..importers.csvio import neutralise

    rows = sorted(([neutralise(names[p]) for p in json.loads(b.preferences)], b.weight) for b in papers)
    width = max((len(r[0]) for r in rows), default=1)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["weight"] + [f"pref{i}" for i in range(1, width + 1)])
    for prefs, weight in rows:
        writer.writerow([weight] + prefs + [""] * (width - len(prefs)))
    return out.getvalue()


# added for the pages ----------------------------------------------------------------------------------
# Read-only helpers of the election pages (pcnreg/views/elections.py): names for selects and letters.

def round_pcns(rnd: RegistrationRound) -> list[Pcn]:
    """The round's active PCNs, by name (the set-up form's choice)."""
    return list(db.session.scalars(select(Pcn).where(Pcn.round_id == rnd.id, Pcn.active.is_(True))
                                   .order_by(Pcn.name)))


def pcn_in_round(rnd: RegistrationRound, pcn_id: int | None) -> Pcn | None:
    """The active PCN with that id in the round, or None."""
    if pcn_id is None or not 0 < pcn_id <= 2_147_483_647:
        return None
    pcn = db.session.get(Pcn, pcn_id)
    return pcn if pcn is not None and pcn.round_id == rnd.id and pcn.active else None


def member_names(e: Election) -> list[tuple[str, str]]:
    """(code, name) of the PCN's member practices now (nomination and re-issue selects, letters)."""
    codes = members(e)
    names = dict(db.session.execute(select(Practice.code, Practice.name).where(Practice.code.in_(codes))).all()) \
        if codes else {}
    return [(c, names.get(c, c)) for c in codes]
