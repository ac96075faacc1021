"""The ODS change instruction of a round (``domain.change_instruction``): the differences from
its predecessor round when it was rolled forward, its in-year membership changes (approved or
applied) and the changes of its PCNs' accepted annual returns (``services.cycle``), as CSV text
for the commissioner's download and `pcnreg round change-instruction`."""
from __future__ import annotations

from sqlalchemy import select

from ..domain import change_instruction as ci
from ..domain.change_requests import contract_year
from ..domain.versioning import ConfigState
from ..extensions import db
from ..importers.csvio import write_csv
from ..models import Commissioner, ConfigVersion, MembershipChange, Pcn, Practice, RegistrationRound
from . import configuration as config_svc

SOURCES = {"notice": "in-year change: the practice's notice, approved", "assignment":
           "in-year change: assigned by the commissioner after the LMC's engagement"}


def _refs(rnd: RegistrationRound) -> dict[int, Pcn]:
    return {p.id: p for p in db.session.scalars(select(Pcn).where(Pcn.round_id == rnd.id))}


def _ref(pcn: Pcn, key: str | None = None) -> ci.PcnRef:
    lead = pcn.lead_commissioner
    return ci.PcnRef(key or str(pcn.id), pcn.code, pcn.name, lead.code if lead else "", lead.name if lead else "")


def _before_in_year(rnd: RegistrationRound) -> ConfigState:
    """The round's grouping before its first applied in-year change (its head when none was)."""
    first = db.session.scalar(select(MembershipChange.applied_version_id).where(
        MembershipChange.round_id == rnd.id, MembershipChange.state == "applied")
        .order_by(MembershipChange.applied_version_id).limit(1))
    if first is None:
        return config_svc.head_state(rnd)
    parent = db.session.get(ConfigVersion, first).parent_id
    return config_svc.state_of(rnd, parent)


def roll_forward_rows(rnd: RegistrationRound) -> list[ci.Row]:
    if rnd.rolled_from_version_id is None:
        return []
    version = db.session.get(ConfigVersion, rnd.rolled_from_version_id)
    source_round = db.session.get(RegistrationRound, version.round_id)
    old_state = config_svc.state_of(source_round, version.id)
    new_state = _before_in_year(rnd)
    ours, theirs = _refs(rnd), _refs(source_round)
    # an old PCN is continued by the round's PCN carried from it, while that one is in the grouping
    successor = {str(p.carried_from_id): str(p.id) for p in ours.values()
                 if p.carried_from_id is not None and str(p.id) in new_state.pcns}
    old_refs = {k: _ref(theirs[int(k)], successor.get(k, f"old:{k}")) for k in old_state.pcns}
    new_refs = {k: _ref(ours[int(k)]) for k in new_state.pcns}
    before = {code: old_refs[k] for code, k in old_state.assignments.items() if k in old_refs}
    after = {code: new_refs[k] for code, k in new_state.assignments.items() if k in new_refs}
    start, _ = contract_year(rnd.contract_year, rnd.reference_date)
    return ci.roll_forward_rows(before, after, old_refs.values(), new_refs.values(), start)


def in_year_rows(rnd: RegistrationRound) -> list[ci.Row]:
    pcns = _refs(rnd)
    moves = [ci.Move(c.practice_code, _ref(pcns[c.from_pcn_id]) if c.from_pcn_id else None, _ref(pcns[c.to_pcn_id]),
                     c.effective_from, SOURCES.get(c.kind, SOURCES["notice"]))
             for c in db.session.scalars(select(MembershipChange).where(
                 MembershipChange.round_id == rnd.id, MembershipChange.state.in_(("approved", "applied")))
                 .order_by(MembershipChange.effective_from, MembershipChange.id))]
    return ci.in_year_rows(moves)


RETURN_SOURCE = "annual return, accepted by the commissioner"


def return_rows(rnd: RegistrationRound) -> list[ci.Row]:
    from . import cycle as cycle_svc

    details = {"payee": "nominated payee practice", "own_account": "paid into the PCN's own account"}
    return ci.return_rows(ci.ReturnChange(c.kind, _ref(p), c.practice_code, c.effective,
                                          c.details or details.get(c.kind, ""), RETURN_SOURCE)
                          for p, c in cycle_svc.accepted_changes(rnd))


def rows(rnd: RegistrationRound) -> list[ci.Row]:
    return ci.ordered(roll_forward_rows(rnd) + in_year_rows(rnd) + return_rows(rnd))


def csv_text(rnd: RegistrationRound) -> str:
    found = rows(rnd)
    codes = {r.practice for r in found if r.practice}
    names, parents = {}, {}
    if codes:
        for code, name, sub_icb, sub_icb_name in db.session.execute(
                select(Practice.code, Practice.name, Commissioner.code, Commissioner.name)
                .join(Commissioner, Commissioner.id == Practice.commissioner_id).where(Practice.code.in_(codes))):
            names[code], parents[code] = name, (sub_icb, sub_icb_name)
    return write_csv(ci.table(found, names, parents), ci.COLUMNS)


def file_name(rnd: RegistrationRound) -> str:
    from .pages import slug

    return f"{slug(rnd.name)}-ods-change-instruction.csv"
