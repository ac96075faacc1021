"""What a request is about: the policy's target, built from explicit arguments.

A resolver reads an ``Ask`` (the URL's values, the method, the form or query fields, a JSON body)
and returns the question for ``policy.decide``: a ``Target`` (the round's system, the PCNs
involved with their lead commissioners, the practices with their commissioners), a
``Somewhere`` (the empty forms a change starts from), an ``AnyOf`` or a list of targets that must
all be allowed. Resolvers query the models; they read no Flask globals, so the guard (from the
request, views/guard.py) and a page deciding which buttons to show (``views.routes.permitted``)
ask them the same way.

An unknown round or PCN makes the widest target (the whole instance; the whole system): only
who could reach any such object gets through, to the view's own 404, and nobody else learns
whether it exists.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import select

from ..domain import policy
from ..domain.codes import is_practice_code, split_codes
from ..domain.policy import AnyOf, Principal, Question, Somewhere, Target
from ..extensions import db
from ..models import Commissioner, Meeting, Membership, MembershipChange, Pcn, Practice, RegistrationRound, System

MAX_ID = 2_147_483_647        # larger ids cannot exist (and overflow SQLite)
NO_COMMISSIONER = -1          # stands for "a PCN without a lead commissioner" in a target


@dataclass(frozen=True)
class Ask:
    """What a resolver reads: the URL's values, the method, the form (or query) fields and a
    JSON body, given explicitly (the guard builds one from the request)."""

    view_args: Mapping[str, object] = field(default_factory=dict)
    method: str = "GET"
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    json: object = None

    @classmethod
    def of(cls, view_args: Mapping[str, object] | None = None,
           form: Mapping[str, str | list[str] | tuple[str, ...]] | None = None, method: str = "GET",
           json: object = None) -> Ask:
        """An ask from plain values: ``form`` maps a field to one value or a list of them."""
        fields = {k: tuple(str(x) for x in v) if isinstance(v, (list, tuple)) else (str(v),)
                  for k, v in (form or {}).items()}
        return cls(dict(view_args or {}), method, fields, json)

    def arg(self, name: str) -> int:
        return int(self.view_args[name])

    def values(self, name: str) -> list[str]:
        return list(self.fields.get(name, ()))

    def first(self, name: str, default: str = "") -> str:
        found = self.fields.get(name, ())
        return found[0] if found else default


Resolved = Question | list[Question]


def decide(principal: Principal, action: str, question: Question) -> bool:
    """The policy's answer for one question (``policy.decide``), for callers holding a target."""
    return policy.decide(principal, action, question)


def as_id(value) -> int | None:
    """``value`` as a possible row id (ASCII digits, 1..MAX_ID), else None: ``str.isdigit``
    alone lets "²" and 5,000-digit numbers through to ``int`` and the database."""
    text = str(value).strip()
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(MAX_ID))):
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def _ids(values: Iterable[str]) -> set[int]:
    return {n for n in map(as_id, values) if n is not None}


def _round(ask: Ask) -> RegistrationRound | None:
    round_id = ask.arg("round_id")
    return db.session.get(RegistrationRound, round_id) if 0 < round_id <= MAX_ID else None


def _pcn_target(rnd: RegistrationRound, pcn_ids: Iterable[int], practice_codes: Iterable[str] = ()) -> Target:
    """The round's system, the PCNs (of this round) with their lead commissioners, and the
    practices with their commissioners and the PCNs they are in now. Ids and codes that are
    not in the round are left out (the view refuses them; nothing is written for them)."""
    pcn_ids = set(pcn_ids)
    practices = list(db.session.execute(
        select(Practice.id, Practice.commissioner_id).where(Practice.code.in_(list(practice_codes))))) \
        if practice_codes else []
    practice_ids = {p.id for p in practices}
    if practice_ids:
        pcn_ids |= set(db.session.scalars(select(Membership.pcn_id).where(
            Membership.round_id == rnd.id, Membership.practice_id.in_(practice_ids))))
    pcns = list(db.session.execute(select(Pcn.id, Pcn.lead_commissioner_id).where(
        Pcn.round_id == rnd.id, Pcn.id.in_(pcn_ids)))) if pcn_ids else []
    commissioners = {p.commissioner_id for p in practices}
    commissioners |= {p.lead_commissioner_id if p.lead_commissioner_id is not None else NO_COMMISSIONER
                      for p in pcns}
    return Target(system_id=rnd.system_id, commissioner_ids=frozenset(commissioners),
                  pcn_ids=frozenset(p.id for p in pcns), practice_ids=frozenset(practice_ids))


def _with_pcn(ask: Ask, more_pcns: Iterable[int] = (), practice_codes: Iterable[str] = ()) -> Target:
    """The URL's PCN (and others) in the URL's round; an unknown one: the whole system."""
    rnd = _round(ask)
    if rnd is None:
        return Target()
    pcn_id = _url_pcn(ask, rnd)
    if pcn_id is None:
        return _unknown_pcn(rnd)
    return _pcn_target(rnd, {pcn_id, *more_pcns}, practice_codes)


def _url_pcn(ask: Ask, rnd: RegistrationRound) -> int | None:
    """The URL's PCN id when it is a PCN of ``rnd``, else None."""
    pcn_id = ask.arg("pcn_id")
    known = pcn_id <= MAX_ID and db.session.scalar(
        select(Pcn.id).where(Pcn.id == pcn_id, Pcn.round_id == rnd.id)) is not None
    return pcn_id if known else None


def _unknown_pcn(rnd: RegistrationRound) -> Target:
    return Target(system_id=rnd.system_id, commissioner_ids=frozenset({NO_COMMISSIONER}))


# --- a round, a system, the whole instance ------------------------------------------------------------

def round_target(ask: Ask) -> Target:
    rnd = _round(ask)
    return Target(system_id=rnd.system_id) if rnd else Target()


def system_target(ask: Ask) -> Target:
    """The URL's system (an unknown one: the whole instance)."""
    system_id = ask.arg("system_id")
    return Target(system_id=system_id) if system_id <= MAX_ID else Target()


def new_round_target(ask: Ask) -> Target | AnyOf:
    """A new round is a whole system's: on POST the system chosen; otherwise any system."""
    system_id = _ids(ask.values("system"))
    if ask.method == "POST" and len(system_id) == 1:
        return Target(system_id=next(iter(system_id)))
    return AnyOf(tuple(Target(system_id=s) for s in db.session.scalars(select(System.id).order_by(System.id))))


def every_round(ask: Ask) -> list[Target]:
    """Each system that has a round (a list of rounds is readable by who may read them all)."""
    return [Target(system_id=s) for s in db.session.scalars(select(RegistrationRound.system_id).distinct())]


def whole_instance(ask: Ask) -> Target:
    return Target()


# --- a round's configuration --------------------------------------------------------------------------

def this_pcn(ask: Ask) -> Target:
    return _with_pcn(ask)


def merge_target(ask: Ask) -> Target:
    return _with_pcn(ask, _ids(ask.values("others")))


def split_target(ask: Ask) -> Target:
    return _with_pcn(ask, practice_codes=split_codes(ask.values("members")))


def block_move_target(ask: Ask) -> Target:
    return _with_pcn(ask, _ids(ask.values("to")))


def create_target(ask: Ask) -> Target | Somewhere:
    rnd = _round(ask)
    if rnd is None:
        return Target()
    if ask.method != "POST":
        return Somewhere(rnd.system_id)
    lead = _ids(ask.values("lead_commissioner"))
    return Target(system_id=rnd.system_id, commissioner_ids=frozenset(lead or {NO_COMMISSIONER}))


def move_target(ask: Ask) -> Target | Somewhere:
    rnd = _round(ask)
    if rnd is None:
        return Target()
    codes, to = split_codes(ask.values("codes")), _ids(ask.values("to"))
    if not codes and not to:
        return Somewhere(rnd.system_id)
    return _pcn_target(rnd, to, codes)


def import_target(ask: Ask) -> Target | Somewhere:
    if ask.method != "POST":
        return Somewhere()
    kind = ask.first("kind")
    if kind == "configuration":
        round_id = as_id(ask.first("round"))
        rnd = db.session.get(RegistrationRound, round_id) if round_id else None
        return Target(system_id=rnd.system_id) if rnd else Target()
    if kind == "practices":
        codes = ask.first("commissioners").upper().split()
        if codes:
            rows = list(db.session.execute(select(Commissioner.id, Commissioner.system_id)
                                           .where(Commissioner.code.in_(codes))))
            systems = {r.system_id for r in rows}
            ids = {r.id for r in rows} | ({NO_COMMISSIONER} if len(rows) < len(set(codes)) else set())
            return Target(system_id=systems.pop() if len(systems) == 1 else None, commissioner_ids=frozenset(ids))
    return Target()          # national files (every commissioner): the whole instance


# --- the registration workflow (views/registration.py, views/api_write.py) -----------------------------

def member_target(ask: Ask) -> Target:
    """The URL's PCN and the practice(s) named in the form's "practice" field: a practice
    representative's grant covers the confirmation and signature of its own practice only."""
    return _with_pcn(ask, practice_codes=split_codes(ask.values("practice")))


def _practices_and_pcns(rnd: RegistrationRound, codes: set[str]) -> tuple[dict[str, list[tuple[int, int | None]]],
                                                                          dict[int, set[int]]]:
    """For the bulk resolvers: the practices of ``codes`` (code -> [(id, commissioner id)]) and
    the PCNs of the round each of them is in (practice id -> PCN ids), in two queries."""
    practices: dict[str, list[tuple[int, int | None]]] = {}
    if codes:
        for pid, cid, code in db.session.execute(select(Practice.id, Practice.commissioner_id, Practice.code)
                                                 .where(Practice.code.in_(sorted(codes)))):
            practices.setdefault(code, []).append((pid, cid))
    ids = {pid for found in practices.values() for pid, _ in found}
    member_of: dict[int, set[int]] = {}
    if ids:
        for pid, pcn_id in db.session.execute(select(Membership.practice_id, Membership.pcn_id).where(
                Membership.round_id == rnd.id, Membership.practice_id.in_(ids))):
            member_of.setdefault(pid, set()).add(pcn_id)
    return practices, member_of


def _bulk_target(rnd: RegistrationRound, found: list[tuple[int, int | None]], member_of: dict[int, set[int]],
                 leads: dict[int, int | None], pcn_ids: Iterable[int] = ()) -> Target:
    """``_pcn_target`` from what the bulk resolvers read together: the practices ``found`` (id,
    commissioner id), the PCNs each is in, the PCNs' lead commissioners (``leads``: the round's
    PCNs among those asked about) and further PCNs (``pcn_ids``)."""
    pcns = {i for i in {*pcn_ids, *(m for pid, _ in found for m in member_of.get(pid, ()))} if i in leads}
    commissioners = {cid for _, cid in found}
    commissioners |= {leads[i] if leads[i] is not None else NO_COMMISSIONER for i in pcns}
    return Target(system_id=rnd.system_id, commissioner_ids=frozenset(commissioners),
                  pcn_ids=frozenset(pcns), practice_ids=frozenset(pid for pid, _ in found))


def member_targets(ask: Ask, values: Iterable[str]) -> dict[str, Target]:
    """``member_target`` of ``ask`` with each of ``values`` as its "practice" field (the
    registration page asks, for each member, whether it may be confirmed and signed for), read
    together: four queries for all the values instead of up to four per value. The same targets
    as asking ``member_target`` value by value."""
    values = list(dict.fromkeys(values))
    rnd = _round(ask)
    if rnd is None:
        return dict.fromkeys(values, Target())
    pcn_id = _url_pcn(ask, rnd)
    if pcn_id is None:
        return dict.fromkeys(values, _unknown_pcn(rnd))
    codes = {v: split_codes([v]) for v in values}
    practices, member_of = _practices_and_pcns(rnd, {c for found in codes.values() for c in found})
    wanted = {pcn_id} | {i for found in member_of.values() for i in found}
    leads = dict(db.session.execute(select(Pcn.id, Pcn.lead_commissioner_id).where(
        Pcn.round_id == rnd.id, Pcn.id.in_(wanted))).all())
    return {value: _bulk_target(rnd, [p for code in found for p in practices.get(code, ())], member_of, leads,
                                {pcn_id}) for value, found in codes.items()}


def json_member_target(ask: Ask) -> Target:
    """As ``member_target``, for the JSON API: the practice named in the body's "practice"."""
    body = ask.json
    practice = body.get("practice") if isinstance(body, dict) else None
    code = practice.strip().upper() if isinstance(practice, str) else ""
    return _with_pcn(ask, practice_codes=[code] if is_practice_code(code) else [])


def commissioner_target(ask: Ask) -> Target:
    """The URL's commissioner within the URL's round's system; an unknown one (or one of another
    system): the whole system."""
    rnd = _round(ask)
    if rnd is None:
        return Target()
    commissioner_id = ask.arg("commissioner_id")
    known = commissioner_id <= MAX_ID and db.session.scalar(select(Commissioner.id).where(
        Commissioner.id == commissioner_id, Commissioner.system_id == rnd.system_id)) is not None
    return Target(system_id=rnd.system_id,
                  commissioner_ids=frozenset({commissioner_id if known else NO_COMMISSIONER}))


# --- committee meetings (views/committee.py) ----------------------------------------------------------

def meeting_target(ask: Ask) -> Target:
    """A decision at a meeting is its committee's: the round's system and the meeting's
    committee. An unknown meeting (or one of another round): the system alone, so only
    system-wide grants pass, to the view's 404."""
    rnd = _round(ask)
    if rnd is None:
        return Target()
    meeting_id = ask.arg("meeting_id")
    committee_id = db.session.scalar(select(Meeting.committee_id).where(
        Meeting.id == meeting_id, Meeting.round_id == rnd.id)) if 0 < meeting_id <= MAX_ID else None
    return Target(system_id=rnd.system_id, committee_id=committee_id)

# The LMC's elections have no resolver of their own: an election is its round's (the view answers
# 404 for one of another round); the returning officer's grant is a system's, so ``round_target``
# is the target of every change.


# --- in-year membership changes (views/changes.py) ---------------------------------------------------
# A notice is about its practice (and the PCN it is in now): the practice's representative, its PCN's
# lead or a commissioner covering both may give it; a decision is about the change's practice, the PCN
# it leaves and the one it joins; an assignment is about the practice and the PCN it is assigned to.
# Without a known practice or change: somewhere in the system (an empty form) or, for a decision, the
# system alone (only system-wide grants reach the view's message).

def _change_practice_code(ask: Ask) -> str:
    return " ".join(ask.first("practice").split()).upper()[:20]


def _known_practice(code: str) -> bool:
    return bool(code) and db.session.scalar(select(Practice.id).where(Practice.code == code)) is not None


def notice_target(ask: Ask) -> Target | Somewhere:
    rnd = _round(ask)
    if rnd is None:
        return Target()
    code = _change_practice_code(ask)
    return _pcn_target(rnd, (), [code]) if _known_practice(code) else Somewhere(rnd.system_id)


def notice_targets(ask: Ask, codes: Iterable[str]) -> dict[str, Target | Somewhere]:
    """``notice_target`` of ``ask`` with each of ``codes`` as its practice field (a page listing a
    notice link per practice), read together: three queries for all the codes instead of five
    per code. The same targets as asking ``notice_target`` code by code."""
    codes = list(dict.fromkeys(codes))
    rnd = _round(ask)
    if rnd is None:
        return {c: Target() for c in codes}
    wanted = {c: _change_practice_code(Ask.of(ask.view_args, {"practice": c}, ask.method)) for c in codes}
    practices, member_of = _practices_and_pcns(rnd, {w for w in wanted.values() if w})
    all_pcns = {pcn_id for found in member_of.values() for pcn_id in found}
    leads = dict(db.session.execute(select(Pcn.id, Pcn.lead_commissioner_id).where(
        Pcn.round_id == rnd.id, Pcn.id.in_(all_pcns))).all()) if all_pcns else {}
    out: dict[str, Target | Somewhere] = {}
    for c, code in wanted.items():
        found = practices.get(code) if code else None
        if not found:
            out[c] = Somewhere(rnd.system_id)
            continue
        out[c] = _bulk_target(rnd, found, member_of, leads)
    return out


def assign_target(ask: Ask) -> Target | Somewhere:
    rnd = _round(ask)
    if rnd is None:
        return Target()
    code = _change_practice_code(ask)
    if ask.method != "POST" or not _known_practice(code):
        return Somewhere(rnd.system_id)
    return _pcn_target(rnd, _ids(ask.values("to_pcn")), [code])


def decide_target(ask: Ask) -> Target:
    rnd = _round(ask)
    if rnd is None:
        return Target()
    change_id = as_id(ask.first("change"))
    change = db.session.get(MembershipChange, change_id) if change_id else None
    if change is None or change.round_id != rnd.id:
        return Target(system_id=rnd.system_id, commissioner_ids=frozenset({NO_COMMISSIONER}))
    return _pcn_target(rnd, {i for i in (change.from_pcn_id, change.to_pcn_id) if i}, [change.practice_code])
