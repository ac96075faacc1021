"""A round's derived state (``domain.state.RoundState``), computed once per key and read by every
page, the API and the CLI.

The key of a round's state is what it is computed from:

- the round: id, head version, name, reference date, band, system (its own row);
- its size exceptions (the rows themselves: a handful per round);
- ``state_generation``'s two tokens: ``data`` (practices, list sizes, commissioners, places,
  systems, local authorities, PCN codes/places/leads) and ``geography`` (geodata loads, blocks,
  block assignments, PCN areas, adjacent pairs). A session listener replaces a token with a new
  random one in the same transaction as any ORM write to those tables (flushes and bulk ORM
  statements alike), so a committed change and its new token become visible together;
- ``rules.RULESET_VERSION`` (a digest of the rule, summary and state code).

Reading the key costs two small queries. States live in a per-process cache (one entry per
round, in ``app.extensions``); nothing in it is needed by another server: every server reads the
same key from the database and, on a miss, computes the state itself:

- incrementally, when it holds the state of an earlier version of the round with the same round
  settings and ``data`` token: the versions in between are read from ``config_change`` (the
  database, so any server can) and applied with ``state.derive``; exceptions and geography that
  changed go in the same delta (the geographic rules are then recomputed in full);
- else from scratch (``state.derive_all``).

A reader never sees a half-built state: a state is an immutable value, published by one
assignment once complete, and only if the key read again after building it is unchanged (so a
state built while another transaction committed is used by its request but never cached).
"""
from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from flask import current_app, has_app_context
from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import Session, selectinload

from ..domain import state as state_mod
from ..domain.rules import RULESET_VERSION
from ..domain.types import Configuration
from ..domain.types import Pcn as PcnData
from ..domain.types import Practice as PracticeData
from ..domain.types import SizeException as ExceptionData
from ..extensions import db
from ..models import (
    AdjacentPair,
    Block,
    BlockAssignment,
    Commissioner,
    ConfigChange,
    ConfigVersion,
    GeodataLoad,
    ListSize,
    LocalAuthority,
    LsoaRegisteredTotal,
    LsoaRegistration,
    LsoaRegistrationLoad,
    Membership,
    Neighbourhood,
    NeighbourhoodLsoa,
    NeighbourhoodSettings,
    Pcn,
    PcnArea,
    Place,
    Practice,
    RegistrationRound,
    SizeException,
    StateGeneration,
    System,
)

CACHE_ROUNDS = 128            # rounds whose state a process keeps
MAX_REPLAY = 50               # versions replayed incrementally before deriving from scratch

# --- generation tokens -------------------------------------------------------------------------

_DATA = (Practice, ListSize, Commissioner, Place, System, LocalAuthority)
_GEOGRAPHY = (GeodataLoad, Block, BlockAssignment, PcnArea, AdjacentPair, LocalAuthority,
              # catchments and neighbourhoods reach the rules through the round's Geography
              LsoaRegistrationLoad, LsoaRegistration, LsoaRegisteredTotal, Neighbourhood, NeighbourhoodLsoa,
              NeighbourhoodSettings)
_PCN_FIELDS = ("code", "place_id", "lead_commissioner_id", "round_id")


def _kinds_of(obj, new: bool) -> set[str]:
    kinds = set()
    if isinstance(obj, _DATA):
        kinds.add("data")
    if isinstance(obj, _GEOGRAPHY):
        kinds.add("geography")
    if isinstance(obj, Pcn) and not new:
        # A PCN's name and active flag follow the versions (the head version is in the key);
        # its code, place and lead commissioner do not.
        state = db.inspect(obj)
        if any(state.attrs[name].history.has_changes() for name in _PCN_FIELDS):
            kinds.add("data")
    return kinds


def _bump(session: Session, kinds: Iterable[str]) -> None:
    conn = session.connection()
    table = StateGeneration.__table__
    for name in sorted(set(kinds)):
        token = uuid.uuid4().hex
        if conn.execute(update(table).where(table.c.name == name).values(token=token)).rowcount == 0:
            conn.execute(insert(table).values(name=name, token=token))


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, flush_context, instances) -> None:
    kinds: set[str] = set()
    for obj in session.new:
        kinds |= _kinds_of(obj, True)
    for obj in session.deleted:
        kinds |= _kinds_of(obj, True) | ({"data"} if isinstance(obj, Pcn) else set())
    for obj in session.dirty:
        # Collections count for places and local authorities (place_local_authority), not elsewhere.
        if session.is_modified(obj, include_collections=isinstance(obj, (Place, LocalAuthority))):
            kinds |= _kinds_of(obj, False)
    if kinds:
        _bump(session, kinds)


@event.listens_for(Session, "do_orm_execute")
def _bulk(state) -> None:
    """Bulk ORM statements (``session.execute(delete(Model)...)``) bypass the flush."""
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    mapper = state.bind_mapper
    cls = mapper.class_ if mapper is not None else None
    if cls is None:
        return
    kinds = set()
    if issubclass(cls, _DATA) or cls is Pcn:
        kinds.add("data")
    if issubclass(cls, _GEOGRAPHY):
        kinds.add("geography")
    if kinds:
        _bump(state.session, kinds)


def tokens() -> dict[str, str]:
    return dict(db.session.execute(select(StateGeneration.name, StateGeneration.token)).all())


# --- the key and the cache ------------------------------------------------------------------------

@dataclass(frozen=True)
class Key:
    round_id: int
    head: int | None
    settings: tuple              # name, reference date, band, system
    data: str
    geography: str
    exceptions: tuple            # (pcn id, reason, recorded by, recorded at) of each exception
    rules: str = RULESET_VERSION

    def base(self) -> tuple:
        """What must be equal for a state to be derived incrementally from another."""
        return (self.round_id, self.settings, self.data, self.rules)


@dataclass(frozen=True)
class PracticeInfo:
    """What the practice list shows and searches beside the domain data."""

    postcode: str | None
    other_codes: str | None
    local_authority: str | None


@dataclass(frozen=True)
class Entry:
    key: Key
    state: state_mod.RoundState
    info: Mapping[str, PracticeInfo] = field(default_factory=dict)
    how: str = "full"            # "full", "incremental" or "cached": how this entry was obtained


def _exception_rows(rnd: RegistrationRound) -> list:
    return list(db.session.execute(
        select(SizeException.pcn_id, SizeException.reason, SizeException.recorded_by, SizeException.recorded_at)
        .where(SizeException.round_id == rnd.id).order_by(SizeException.pcn_id)).all())


def key_of(rnd: RegistrationRound) -> Key:
    found = tokens()
    system = rnd.system          # (kept by the round for the request's later reads)
    return Key(rnd.id, rnd.head_version_id,
               (rnd.name, rnd.reference_date, rnd.band_min, rnd.band_max, rnd.system_id, system.code, system.name),
               found.get("data", ""), found.get("geography", ""),
               tuple(tuple(r) for r in _exception_rows(rnd)))


class _Cache:
    def __init__(self):
        self.entries: dict[int, Entry] = {}
        self.locks: dict[int, threading.Lock] = {}
        self.guard = threading.Lock()

    def lock(self, round_id: int) -> threading.Lock:
        with self.guard:
            return self.locks.setdefault(round_id, threading.Lock())

    def put(self, entry: Entry) -> None:
        with self.guard:
            self.entries.pop(entry.key.round_id, None)
            while len(self.entries) >= CACHE_ROUNDS:
                self.entries.pop(next(iter(self.entries)))
            self.entries[entry.key.round_id] = entry


_FALLBACK = _Cache()    # outside an app context (scripts)


def _cache() -> _Cache:
    if not has_app_context():
        return _FALLBACK
    return current_app.extensions.setdefault("pcnreg.round_states", _Cache())


def clear() -> None:
    _cache().entries.clear()


def entry(rnd: RegistrationRound) -> Entry:
    """The round's state at its head version: cached, derived from a cached earlier version, or
    computed from scratch."""
    cache = _cache()
    key = key_of(rnd)
    found = cache.entries.get(rnd.id)
    if found is not None and found.key == key:
        return Entry(found.key, found.state, found.info, "cached")
    with cache.lock(rnd.id):
        found = cache.entries.get(rnd.id)
        if found is not None and found.key == key:
            return Entry(found.key, found.state, found.info, "cached")
        made = None
        if found is not None and found.key.base() == key.base():
            made = _incremental(rnd, found, key)
        if made is None:
            made = full(rnd, key)
        if key_of(rnd) == key:
            cache.put(made)
        return made


# --- computing --------------------------------------------------------------------------------------

def _practice_data(practice: Practice, size: ListSize | None) -> PracticeData:
    from .rounds import practice_data

    return practice_data(practice, size)


def _info(practices: Iterable[Practice], la_names: Mapping[int, str]) -> dict[str, PracticeInfo]:
    return {p.code: PracticeInfo(p.postcode, p.other_codes, la_names.get(p.local_authority_id))
            for p in practices}


def _la_names() -> dict[int, str]:
    return dict(db.session.execute(select(LocalAuthority.id, LocalAuthority.name)).all())


def _load_practices(rnd: RegistrationRound, codes: Iterable[str]) -> list[Practice]:
    codes = list(codes)
    if not codes:
        return []
    return list(db.session.scalars(
        select(Practice).where(Practice.code.in_(codes))
        .options(selectinload(Practice.list_sizes), selectinload(Practice.commissioner).selectinload(Commissioner.place),
                 selectinload(Practice.commissioner).selectinload(Commissioner.system))))


def _pcn_meta(rnd: RegistrationRound, keys: Iterable[str] | None = None) -> dict[str, Pcn]:
    query = select(Pcn).where(Pcn.round_id == rnd.id).options(selectinload(Pcn.place),
                                                              selectinload(Pcn.lead_commissioner))
    if keys is not None:
        ids = [int(k) for k in keys if str(k).isdigit()]
        if not ids:
            return {}
        query = query.where(Pcn.id.in_(ids))
    return {str(p.id): p for p in db.session.scalars(query)}


def pcn_data(model: Pcn, name: str, members: Iterable[str] = ()) -> PcnData:
    return PcnData(key=str(model.id), name=name, code=model.code, place=model.place.name if model.place else None,
                   lead_commissioner=model.lead_commissioner.code if model.lead_commissioner else None,
                   members=tuple(sorted(members)))


def _exceptions(rows) -> dict[str, ExceptionData]:
    return {str(pcn_id): ExceptionData(str(pcn_id), reason, by, at) for pcn_id, reason, by, at in rows}


def full(rnd: RegistrationRound, key: Key) -> Entry:
    """The head state from scratch: practices of the round's system and every member practice,
    the list sizes that count, the PCNs and their members, exceptions and geography."""
    from . import areas
    from .rounds import round_spec, scope_practices, select_list_size

    practices = scope_practices(rnd)
    rows = db.session.execute(select(Practice.code, Membership.pcn_id).join(Membership.practice)
                              .where(Membership.round_id == rnd.id)).all()
    assignments = {code: str(pcn_id) for code, pcn_id in rows}
    in_scope = {p.code for p in practices}
    practices += _load_practices(rnd, set(assignments) - in_scope)
    data = {p.code: _practice_data(p, select_list_size(p.list_sizes, rnd.reference_date)) for p in practices}
    models = _pcn_meta(rnd)
    members: dict[str, list[str]] = {k: [] for k, p in models.items() if p.active}
    for code, pcn_key in assignments.items():
        if pcn_key in members:          # memberships mirror the head: only active PCNs have members
            members[pcn_key].append(code)
    pcns = state_mod._sorted_pcns(pcn_data(models[k], models[k].name, m) for k, m in members.items())
    geography = areas.load_geography(rnd, assignments)
    config = Configuration(round_spec(rnd), data, pcns, _exceptions(key.exceptions), geography)
    return Entry(key, state_mod.derive_all(config, rnd.system.name), _info(practices, _la_names()), "full")


def _chain(rnd: RegistrationRound, start: int | None, head: int | None) -> list[int] | None:
    """Ids of the versions after ``start`` up to ``head``, oldest first; None when ``start`` is not
    an ancestor of ``head`` within MAX_REPLAY versions."""
    if head is None or start is None:
        return None
    parents = dict(db.session.execute(select(ConfigVersion.id, ConfigVersion.parent_id)
                                      .where(ConfigVersion.round_id == rnd.id)).all())
    chain: list[int] = []
    vid: int | None = head
    while vid is not None and vid != start:
        chain.append(vid)
        if len(chain) > MAX_REPLAY:
            return None
        vid = parents.get(vid)
    return list(reversed(chain)) if vid == start else None


def _incremental(rnd: RegistrationRound, found: Entry, key: Key) -> Entry | None:
    from . import areas
    from .rounds import select_list_size

    parent = found.state
    chain: list[int] = []
    if key.head != found.key.head:
        chain = _chain(rnd, found.key.head, key.head) or []
        if not chain:
            return None
    members: dict[str, set[str]] = {}
    names: dict[str, str] = {}
    retired: set[str] = set()

    def of(k: str) -> set[str]:
        if k not in members:
            members[k] = set(parent.pcn_by_key[k].members) if k in parent.pcn_by_key else set()
        return members[k]

    moved: dict[str, str | None] = {}
    if chain:
        for c in db.session.scalars(select(ConfigChange).where(ConfigChange.version_id.in_(chain))
                                    .order_by(ConfigChange.version_id, ConfigChange.seq)):
            if c.kind == "assign":
                if c.from_pcn_id is not None:
                    of(str(c.from_pcn_id)).discard(c.practice_code)
                if c.to_pcn_id is not None:
                    of(str(c.to_pcn_id)).add(c.practice_code)
                moved[c.practice_code] = None if c.to_pcn_id is None else str(c.to_pcn_id)
            elif c.kind == "pcn_create":
                members[str(c.pcn_id)] = set()
                names[str(c.pcn_id)] = c.new_name or ""
                retired.discard(str(c.pcn_id))
            elif c.kind == "pcn_rename":
                of(str(c.pcn_id))
                names[str(c.pcn_id)] = c.new_name or ""
            elif c.kind == "pcn_retire":
                retired.add(str(c.pcn_id))
        # Versions are ordered by id within the chain (a child has a larger id than its parent).
    new_keys = [k for k in members if k not in parent.pcn_by_key and k not in retired]
    meta = _pcn_meta(rnd, new_keys)
    pcns: dict[str, PcnData | None] = {}
    for k, m in members.items():
        if k in retired:
            pcns[k] = None
        elif k in parent.pcn_by_key:
            old = parent.pcn_by_key[k]
            pcns[k] = PcnData(k, names.get(k, old.name), old.code, old.place, old.lead_commissioner, tuple(sorted(m)))
        elif k in meta:
            pcns[k] = pcn_data(meta[k], names.get(k, meta[k].name), m)
        else:
            return None
    for k in retired:
        pcns.setdefault(k, None)

    # Practices that join from outside the system, or leave every PCN and were only there as members.
    practices: dict[str, PracticeData | None] = {}
    info = found.info
    joining = [c for c, k in moved.items() if k is not None and c not in parent.config.practices]
    if joining:
        loaded = _load_practices(rnd, joining)
        practices.update({p.code: _practice_data(p, select_list_size(p.list_sizes, rnd.reference_date))
                          for p in loaded})
        info = {**info, **_info(loaded, _la_names())}
    system = parent.config.round.system
    for code, k in moved.items():
        p = parent.config.practices.get(code)
        if k is None and p is not None and p.system != system:
            practices[code] = None

    exceptions = _exceptions(key.exceptions)
    changed_exceptions = {k: exceptions.get(k) for k in set(exceptions) | set(parent.config.exceptions)
                          if exceptions.get(k) != parent.config.exceptions.get(k)}
    geography: object = state_mod._KEEP
    if key.geography != found.key.geography or (chain and parent.config.geography is not None):
        assignments = dict(parent.pcn_of)
        assignments.update({c: k for c, k in moved.items() if k is not None})
        for c, k in moved.items():
            if k is None:
                assignments.pop(c, None)
        geography = areas.load_geography(rnd, assignments)
    delta = state_mod.Delta(pcns=pcns, practices=practices, exceptions=changed_exceptions, geography=geography)
    try:
        return Entry(key, state_mod.derive(parent, delta), info, "incremental")
    except state_mod.InconsistentDelta:
        return None


def preview(rnd: RegistrationRound, assignments: Mapping[str, str], names: Mapping[str, str],
            like: Mapping[str, str] | None = None) -> Entry:
    """The state of another grouping of the round (a move being previewed, an earlier version),
    derived from the head state. ``like`` (new key -> existing key): a PCN not saved yet (a split
    being previewed) takes its place and lead commissioner from the existing PCN."""
    from dataclasses import replace

    from .rounds import select_list_size

    head = entry(rnd)
    parent = head.state
    meta = {k: pcn_data(m, m.name) for k, m in _pcn_meta(rnd, [k for k in names if k not in parent.pcn_by_key]).items()}
    for new, old in (like or {}).items():
        source = parent.pcn_by_key.get(old)
        if source is not None and new not in parent.pcn_by_key:
            meta[new] = replace(source, key=new, name=names.get(new, source.name), code=None, members=())
    delta = state_mod.to_assignments(parent, assignments, names, meta)
    joining = [c for c in assignments if c not in parent.config.practices]
    info = head.info
    if joining:
        loaded = _load_practices(rnd, joining)
        practices = {p.code: _practice_data(p, select_list_size(p.list_sizes, rnd.reference_date)) for p in loaded}
        delta = state_mod.Delta(pcns=delta.pcns, practices=practices)
        info = {**info, **_info(loaded, _la_names())}
    return Entry(head.key, state_mod.derive(parent, delta), info, "preview")
