"""The guard's resolvers for the in-year membership change pages (views/changes.py).

- a notice is about its practice (and the PCN it is in now, with their commissioners): the
  practice's representative, its PCN's lead or a commissioner covering both may give it;
- a decision is about the change's practice, the PCN it leaves and the one it joins;
- an assignment is about the practice and the PCN it is assigned to.
Without a (known) practice or change the target is "somewhere in the system" (an empty form) or,
for a decision, the system alone (only system-wide grants reach the view's message).
Imports of ``guard`` are inside the functions: ``guard`` imports this module for its table.
"""
from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..models import MembershipChange, Practice


def _code(ask) -> str:
    return " ".join(ask.first("practice").split()).upper()[:20]


def _known(code: str) -> bool:
    return bool(code) and db.session.scalar(select(Practice.id).where(Practice.code == code)) is not None


def notice_target(ask):
    from .guard import Somewhere, Target, _pcn_target, _round

    rnd = _round(ask)
    if rnd is None:
        return Target()
    code = _code(ask)
    return _pcn_target(rnd, (), [code]) if _known(code) else Somewhere(rnd.system_id)


def assign_target(ask):
    from .guard import Somewhere, Target, _ids, _pcn_target, _round

    rnd = _round(ask)
    if rnd is None:
        return Target()
    code = _code(ask)
    if ask.method != "POST" or not _known(code):
        return Somewhere(rnd.system_id)
    return _pcn_target(rnd, _ids(ask.values("to_pcn")), [code])


def decide_target(ask):
    from .guard import NO_COMMISSIONER, Target, _pcn_target, _round, as_id

    rnd = _round(ask)
    if rnd is None:
        return Target()
    change_id = as_id(ask.first("change"))
    change = db.session.get(MembershipChange, change_id) if change_id else None
    if change is None or change.round_id != rnd.id:
        return Target(system_id=rnd.system_id, commissioner_ids=frozenset({NO_COMMISSIONER}))
    return _pcn_target(rnd, {i for i in (change.from_pcn_id, change.to_pcn_id) if i}, [change.practice_code])
