"""Reading a round: models -> domain Configuration, findings and summaries.

Which list size counts for a round: the earliest size dated on or after the round's reference
date; when there is none, the latest size before it (the ``list_size_date`` rule warns).
A practice answers to the place of its commissioner (the contractual ICP); where it stands on
the ground is the geography's business.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import cached_property

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..domain.summary import RoundSummary
from ..domain.types import Configuration, Finding, RoundSpec
from ..domain.types import Pcn as PcnData
from ..domain.types import Practice as PracticeData
from ..extensions import db
from ..models import (
    Commissioner,
    ListSize,
    Pcn,
    Practice,
    RegistrationRound,
    SizeException,
)
from . import audit
from .errors import ServiceError
from .transactions import one_transaction


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


class _Models(Mapping):
    """Models by key, loaded from the database only when read: the first key read alone
    (``m[key]``, ``m.get(key)``) by itself; at the next key not loaded (a caller going through
    them one by one), all the others at once; iteration loads all. ``key in m`` reads no model."""

    def __init__(self, keys, load):
        self._keys, self._load, self._loaded, self._all, self._misses = keys, load, {}, False, 0

    def __contains__(self, key) -> bool:
        return key in self._keys

    def __getitem__(self, key):
        if key not in self._keys:
            raise KeyError(key)
        if key not in self._loaded:
            self._misses += 1
            if self._misses == 1:
                self._loaded.update(self._load([key]))
            else:
                self._loaded.update(self._load([k for k in self._keys if k not in self._loaded]))
                self._all = True
        return self._loaded[key]

    def __iter__(self):
        if not self._all:
            self._loaded.update(self._load([k for k in self._keys if k not in self._loaded]))
            self._all = True
        return iter(k for k in self._keys if k in self._loaded)

    def __len__(self) -> int:
        return len(self._keys)

    def preload(self, keys) -> None:
        """Load these models with one query."""
        self._loaded.update(self._load([k for k in keys if k in self._keys and k not in self._loaded]))


class RoundData:
    """A round's state (``domain.state.RoundState``, computed once per version and cached: see
    ``services.round_state``) with the round and, loaded only when read, the models the pages
    need beside the plain data."""

    def __init__(self, rnd: RegistrationRound, entry):
        self.round = rnd
        self.entry = entry
        self.state = entry.state
        self.config: Configuration = entry.state.config
        self.summary: RoundSummary = entry.state.summary
        self.info = entry.info                       # practice code -> postcode, other codes, local authority

    @cached_property
    def findings(self) -> list[Finding]:
        return list(self.state.findings)            # the caller's own list; the state's is shared

    @cached_property
    def practices(self) -> Mapping[str, Practice]:
        """Practice models by code (every practice of the configuration), loaded when read."""
        def load(codes):
            return {p.code: p for p in db.session.scalars(
                select(Practice).where(Practice.code.in_(codes))
                .options(selectinload(Practice.list_sizes), selectinload(Practice.commissioner)))} if codes else {}
        return _Models(self.config.practices, load)

    @cached_property
    def pcns(self) -> Mapping[str, Pcn]:
        """Models of the active PCNs by key, loaded when read."""
        def load(keys):
            return {str(p.id): p for p in db.session.scalars(
                select(Pcn).where(Pcn.id.in_([int(k) for k in keys])))} if keys else {}
        return _Models(self.state.pcn_by_key, load)

    @cached_property
    def sizes(self) -> dict[str, ListSize | None]:
        return {code: select_list_size(p.list_sizes, self.round.reference_date) for code, p in self.practices.items()}

    def pcn_total(self, key: str) -> int:
        return self.state.totals[key]

    def pcn_data(self, key: str) -> PcnData:
        return self.state.pcn_by_key[key]

    def findings_for_pcn(self, key: str) -> list[Finding]:
        return self.state.findings_for_pcn(key)

    def band(self, key: str) -> str:
        return self.state.bands[key]

    def pcn_of(self, practice_code: str) -> str | None:
        return self.state.pcn_of.get(practice_code)


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
                        pcn_names: dict[str, str] | None = None, like: dict[str, str] | None = None) -> RoundData:
    """A round's state. By default the head state, computed once per version and cached
    (``services.round_state``); pass ``assignments`` and ``pcn_names`` (pcn key -> name) for
    another grouping, e.g. a move being previewed or an earlier version (derived from the head
    state: only the PCNs that differ are recomputed)."""
    from . import round_state

    if assignments is None:
        return RoundData(rnd, round_state.entry(rnd))
    if pcn_names is None:
        pcn_names = {k: p.name for k, p in round_state.entry(rnd).state.pcn_by_key.items()}
    return RoundData(rnd, round_state.preview(rnd, assignments, pcn_names, like))


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


@one_transaction()
def record_exception(rnd: RegistrationRound, pcn_key: str, reason: str, recorded_by: str) -> SizeException:
    """Record (or replace) the band exception of a PCN. One transaction."""
    pcn = db.session.get(Pcn, int(pcn_key))
    if pcn is None or pcn.round_id != rnd.id:
        raise NotFound("No such PCN in this round")
    reason, recorded_by = reason.strip(), recorded_by.strip()
    if not reason or not recorded_by:
        raise ServiceError("Enter the reason and who agreed the exception")
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
        existing.recorded_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return existing


def get_pcn(rnd: RegistrationRound, ref: str) -> Pcn:
    """An active PCN of the round by id or by name (ignoring case)."""
    pcns = list(db.session.scalars(select(Pcn).where(Pcn.round_id == rnd.id, Pcn.active.is_(True))))
    for pcn in pcns:
        if str(pcn.id) == str(ref) or pcn.name.casefold() == str(ref).strip().casefold():
            return pcn
    raise NotFound(f"No PCN {ref!r} in {rnd.name}")
