"""Reading a round: models -> domain Configuration, findings and summaries.

Which list size counts for a round: the earliest size dated on or after the round's reference
date; when there is none, the latest size before it (the ``list_size_date`` rule warns).
A practice answers to the place of its commissioner (the contractual ICP); where it stands on
the ground is the geography's business.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..domain import rules as rules_mod
from ..domain.summary import RoundSummary, summarise
from ..domain.types import Configuration, Finding
from ..domain.types import Pcn as PcnData
from ..domain.types import Practice as PracticeData
from ..domain.types import RoundSpec
from ..domain.types import SizeException as ExceptionData
from ..extensions import db
from . import areas, audit
from ..models import (
    Commissioner,
    ListSize,
    Membership,
    Pcn,
    Practice,
    RegistrationRound,
    SizeException,
)


class NotFound(LookupError):
    pass


def list_rounds() -> list[RegistrationRound]:
    return list(db.session.scalars(select(RegistrationRound).order_by(RegistrationRound.reference_date.desc(),
                                                                      RegistrationRound.name)))


def get_round(name_or_id: str | int | None = None) -> RegistrationRound:
    """A round by id or name; with None, the most recent round."""
    if name_or_id is None:
        rounds = list_rounds()
        if not rounds:
            raise NotFound("There is no registration round yet: run `pcnreg demo` or create one")
        return rounds[0]
    if isinstance(name_or_id, int) or str(name_or_id).isdigit():
        rnd = db.session.get(RegistrationRound, int(name_or_id))
    else:
        rnd = db.session.scalar(select(RegistrationRound).where(RegistrationRound.name == name_or_id))
    if rnd is None:
        raise NotFound(f"No registration round {name_or_id!r}")
    return rnd


def select_list_size(sizes: list[ListSize], reference_date: dt.date) -> ListSize | None:
    """The size that counts for a round (see module docstring). ``sizes`` sorted by as_of."""
    after = [s for s in sizes if s.as_of >= reference_date]
    if after:
        return after[0]
    return sizes[-1] if sizes else None


@dataclass
class RoundData:
    """A round loaded for the rules, with the models the pages need beside the plain data."""

    round: RegistrationRound
    config: Configuration
    findings: list[Finding]
    summary: RoundSummary
    practices: dict[str, Practice]                      # code -> model
    pcns: dict[str, Pcn]                                # key -> model (active PCNs)
    sizes: dict[str, ListSize | None] = field(default_factory=dict)

    def pcn_total(self, key: str) -> int:
        return self.config.pcn_total(self.pcn_data(key))

    def pcn_data(self, key: str) -> PcnData:
        return next(p for p in self.config.pcns if p.key == key)

    def findings_for_pcn(self, key: str) -> list[Finding]:
        pcn = self.pcn_data(key)
        members = set(pcn.members)
        return [f for f in self.findings
                if (f.subject.type == "pcn" and f.subject.key == key)
                or (f.subject.type == "practice" and f.subject.code in members)]

    def band(self, key: str) -> str:
        return rules_mod.band_status(self.pcn_total(key), self.round.band_min, self.round.band_max)

    def pcn_of(self, practice_code: str) -> str | None:
        for pcn in self.config.pcns:
            if practice_code in pcn.members:
                return pcn.key
        return None


def round_spec(rnd: RegistrationRound) -> RoundSpec:
    return RoundSpec(rnd.name, rnd.reference_date, rnd.band_min, rnd.band_max, rnd.system.code)


def scope_practices(rnd: RegistrationRound) -> list[Practice]:
    """Practices of the round's system (through their commissioner), with sizes loaded."""
    return list(db.session.scalars(
        select(Practice)
        .join(Commissioner, Practice.commissioner_id == Commissioner.id)
        .where(Commissioner.system_id == rnd.system_id)
        .options(selectinload(Practice.list_sizes), selectinload(Practice.commissioner)
                 .selectinload(Commissioner.place), selectinload(Practice.commissioner)
                 .selectinload(Commissioner.system))
        .order_by(Practice.code)))


def practice_data(practice: Practice, size: ListSize | None) -> PracticeData:
    place = practice.commissioner.place
    return PracticeData(
        code=practice.code, name=practice.name, commissioner=practice.commissioner.code,
        place=place.name if place else None, status=practice.status,  # type: ignore[arg-type]
        list_size=size.size if size else None, list_size_date=size.as_of if size else None,
        system=practice.commissioner.system.code)


def build_configuration(rnd: RegistrationRound, assignments: dict[str, str] | None = None,
                        pcn_names: dict[str, str] | None = None) -> RoundData:
    """Load a round. By default the head state (Membership); pass ``assignments`` and
    ``pcn_names`` (pcn key -> name) to evaluate another state, e.g. a move being previewed or
    an earlier version."""
    practices = scope_practices(rnd)
    sizes = {p.code: select_list_size(p.list_sizes, rnd.reference_date) for p in practices}
    practice_map = {p.code: p for p in practices}
    data = {p.code: practice_data(p, sizes[p.code]) for p in practices}

    all_pcns = {str(p.id): p for p in db.session.scalars(
        select(Pcn).where(Pcn.round_id == rnd.id)
        .options(selectinload(Pcn.place), selectinload(Pcn.lead_commissioner)))}
    if assignments is None:
        rows = db.session.execute(
            select(Practice.code, Membership.pcn_id).join(Membership.practice)
            .where(Membership.round_id == rnd.id)).all()
        assignments = {code: str(pcn_id) for code, pcn_id in rows}
        # Members outside the system's scope still count for their PCN: load them too.
        missing = set(assignments) - set(practice_map)
        if missing:
            for p in db.session.scalars(select(Practice).where(Practice.code.in_(missing))
                                        .options(selectinload(Practice.list_sizes),
                                                 selectinload(Practice.commissioner).selectinload(Commissioner.system))):
                practice_map[p.code] = p
                sizes[p.code] = select_list_size(p.list_sizes, rnd.reference_date)
                data[p.code] = practice_data(p, sizes[p.code])
    if pcn_names is None:
        pcn_names = {k: p.name for k, p in all_pcns.items() if p.active}

    members: dict[str, list[str]] = {k: [] for k in pcn_names}
    for code, key in assignments.items():
        members.setdefault(key, []).append(code)
    pcn_data = tuple(
        PcnData(key=key, name=pcn_names[key], code=all_pcns[key].code,
                place=all_pcns[key].place.name if all_pcns[key].place else None,
                lead_commissioner=all_pcns[key].lead_commissioner.code
                if all_pcns[key].lead_commissioner else None,
                members=tuple(sorted(members.get(key, []))))
        for key in sorted(pcn_names, key=lambda k: (pcn_names[k].casefold(), k)))

    exceptions = {str(e.pcn_id): ExceptionData(str(e.pcn_id), e.reason, e.recorded_by, e.recorded_at)
                  for e in db.session.scalars(select(SizeException).where(SizeException.round_id == rnd.id))}
    geography = areas.load_geography(rnd, assignments)
    config = Configuration(round_spec(rnd), data, pcn_data, exceptions, geography)
    findings = rules_mod.evaluate(config)
    summary = summarise(config, findings, rnd.system.name)
    return RoundData(rnd, config, findings, summary, practice_map,
                     {k: all_pcns[k] for k in pcn_names}, sizes)


def filter_findings(findings: list[Finding], severity: str | None = None, rule: str | None = None,
                    place: str | None = None, config: Configuration | None = None) -> list[Finding]:
    """Findings filtered by severity, rule and place (place of the PCN or practice)."""
    out = []
    pcn_place = {p.key: p.place for p in config.pcns} if config else {}
    for f in findings:
        if severity and f.severity != severity:
            continue
        if rule and f.rule != rule:
            continue
        if place:
            if f.subject.type == "pcn":
                where = pcn_place.get(f.subject.key or "")
            elif config and f.subject.code in config.practices:
                where = config.practices[f.subject.code].place
            else:
                where = None
            if where != place:
                continue
        out.append(f)
    return out


def validate(round_name: str | None = None) -> dict:
    """The machine-readable validation report of `pcnreg validate --json`."""
    rnd = get_round(round_name)
    data = build_configuration(rnd)
    return {
        "round": {"id": rnd.id, "name": rnd.name, "reference_date": rnd.reference_date.isoformat(),
                  "band_min": rnd.band_min, "band_max": rnd.band_max},
        "summary": data.summary.as_dict(),
        "findings": [f.as_dict() for f in data.findings],
    }


def record_exception(rnd: RegistrationRound, pcn_key: str, reason: str, recorded_by: str) -> SizeException:
    """Record (or replace) the band exception of a PCN. One transaction."""
    pcn = db.session.get(Pcn, int(pcn_key))
    if pcn is None or pcn.round_id != rnd.id:
        raise NotFound("No such PCN in this round")
    reason, recorded_by = reason.strip(), recorded_by.strip()
    if not reason or not recorded_by:
        raise ValueError("Enter the reason and who agreed the exception")
    existing = db.session.scalar(select(SizeException).where(
        SizeException.round_id == rnd.id, SizeException.pcn_id == pcn.id))
    audit.record(action="size_exception.record", object_type="pcn", object_id=str(pcn.id),
                 before={"reason": existing.reason, "recorded_by": existing.recorded_by} if existing else None,
                 after={"reason": reason, "recorded_by": recorded_by}, round_id=rnd.id, pcn_id=pcn.id)
    if existing is None:
        existing = SizeException(round_id=rnd.id, pcn_id=pcn.id, reason=reason, recorded_by=recorded_by)
        db.session.add(existing)
    else:
        existing.reason, existing.recorded_by = reason, recorded_by
        existing.recorded_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    db.session.commit()
    return existing


def get_pcn(rnd: RegistrationRound, ref: str) -> Pcn:
    """An active PCN of the round by id or by name (ignoring case)."""
    pcns = list(db.session.scalars(select(Pcn).where(Pcn.round_id == rnd.id, Pcn.active.is_(True))))
    for pcn in pcns:
        if str(pcn.id) == str(ref) or pcn.name.casefold() == str(ref).strip().casefold():
            return pcn
    raise NotFound(f"No PCN {ref!r} in {rnd.name}")
