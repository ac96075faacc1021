"""Places and committees of a system: the commissioner's data (pages under /systems/<id>/places
and `pcnreg places ...`). Each change is one transaction with an audit event.

A place (an ICP, a locality, a county) is a named set of local authorities and/or commissioners.
A local authority is in at most one place of a system, and so is a commissioner (giving one to a
place takes it from the place it was in). A place that a PCN names cannot be removed until its
PCNs have another. Findings are computed from the places when a round is read, so a change shows
on every round of the system at once (the /rounds figures' cache is keyed on the last place
change).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from ..extensions import db
from ..models import Commissioner, CommissionerArea, Committee, LocalAuthority, Pcn, Place, System
from . import audit
from .errors import ServiceError
from .transactions import one_transaction


class PlaceError(ServiceError):
    """A change to the places that cannot be made; ``field`` names the form field."""


def _conflict() -> PlaceError:
    return PlaceError("Someone else changed the places at the same moment: look at them again and retry")


@dataclass(frozen=True)
class PlaceRow:
    place: Place
    local_authorities: list[LocalAuthority]
    commissioners: list[Commissioner]
    pcns: int


def system_by_code(code: str) -> System:
    code = (code or "").strip().upper()
    system = db.session.scalar(select(System).where((System.code == code) | (System.ods_code == code)))
    if system is None:
        raise PlaceError(f"There is no system {code[:20]!r}", "system")
    return system


def rows(system: System) -> list[PlaceRow]:
    counts = dict(db.session.execute(select(Pcn.place_id, func.count()).where(Pcn.active.is_(True))
                                     .group_by(Pcn.place_id)).all())
    return [PlaceRow(p, list(p.local_authorities), [c for c in system.commissioners if c.place_id == p.id],
                     counts.get(p.id, 0)) for p in system.places]


def local_authority_choices(system: System) -> list[LocalAuthority]:
    """The local authorities a place of the system may hold: those its commissioners cover (the
    LSOA lookup), and those already in its places."""
    ids = set(db.session.scalars(select(CommissionerArea.local_authority_id).join(Commissioner)
                                 .where(Commissioner.system_id == system.id)))
    ids |= {la.id for place in system.places for la in place.local_authorities}
    return list(db.session.scalars(select(LocalAuthority).where(LocalAuthority.id.in_(ids))
                                   .order_by(LocalAuthority.name)))


def _name(system: System, name: str, place: Place | None = None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise PlaceError("Enter a name for the place", "name")
    if len(name) > 200:
        raise PlaceError("The name must be 200 characters or fewer", "name")
    if any(p.name.casefold() == name.casefold() and p is not place for p in system.places):
        raise PlaceError(f"{system.name} already has a place called {name!r}", "name")
    return name


def _members(system: System, la_codes: list[str], commissioner_codes: list[str]):
    las = {la.code: la for la in local_authority_choices(system)}
    ours = {c.code: c for c in system.commissioners}
    unknown_la = [c for c in la_codes if c not in las]
    if unknown_la:
        raise PlaceError(f"{', '.join(unknown_la[:5])} is not a local authority of {system.name}", "local_authorities")
    unknown_c = [c for c in commissioner_codes if c not in ours]
    if unknown_c:
        raise PlaceError(f"{', '.join(unknown_c[:5])} is not a commissioner of {system.name}", "commissioners")
    return [las[c] for c in la_codes], [ours[c] for c in commissioner_codes]


def _assign(system: System, place: Place, las: list[LocalAuthority], commissioners: list[Commissioner]) -> None:
    for other in system.places:                 # a local authority is in one place of a system
        if other is not place:
            other.local_authorities = [la for la in other.local_authorities if la not in las]
    place.local_authorities = sorted(las, key=lambda la: la.name)
    for commissioner in system.commissioners:
        if commissioner in commissioners:
            commissioner.place = place
        elif commissioner.place_id == place.id:
            commissioner.place = None


def _record(action: str, system: System, place: Place, before: dict | None) -> None:
    db.session.flush()
    audit.record(action=f"place.{action}", object_type="place", object_id=str(place.id), before=before,
                 after={"system": system.code, "name": place.name,
                        "local_authorities": [la.code for la in place.local_authorities],
                        "commissioners": sorted(c.code for c in system.commissioners if c.place_id == place.id)})


def _state(system: System, place: Place) -> dict:
    return {"name": place.name, "local_authorities": [la.code for la in place.local_authorities],
            "commissioners": sorted(c.code for c in system.commissioners if c.place_id == place.id)}


@one_transaction(_conflict)
def create_place(system: System, name: str, la_codes: list[str], commissioner_codes: list[str]) -> Place:
    name = _name(system, name)
    las, commissioners = _members(system, la_codes, commissioner_codes)
    place = Place(system_id=system.id, name=name)
    db.session.add(place)
    db.session.flush()
    db.session.refresh(system)
    _assign(system, place, las, commissioners)
    _record("create", system, place, None)
    return place


def get_place(system: System, place_id: int) -> Place:
    place = db.session.get(Place, place_id)
    if place is None or place.system_id != system.id:
        raise PlaceError(f"There is no such place in {system.name}")
    return place


@one_transaction(_conflict)
def update_place(system: System, place: Place, name: str, la_codes: list[str], commissioner_codes: list[str]) -> Place:
    before = _state(system, place)
    place.name = _name(system, name, place)
    las, commissioners = _members(system, la_codes, commissioner_codes)
    _assign(system, place, las, commissioners)
    _record("update", system, place, before)
    return place


@one_transaction(_conflict)
def remove_place(system: System, place: Place) -> None:
    pcns = list(db.session.scalars(select(Pcn.name).where(Pcn.place_id == place.id, Pcn.active.is_(True))))
    if pcns:
        raise PlaceError(f"{place.name} is the place of {len(pcns)} PCN{'s' if len(pcns) != 1 else ''} "
                         f"({', '.join(sorted(pcns)[:5])}{' ...' if len(pcns) > 5 else ''}): give them another place first")
    before = _state(system, place)
    _assign(system, place, [], [])
    audit.record(action="place.remove", object_type="place", object_id=str(place.id), before=before, after=None)
    db.session.delete(place)


@one_transaction(lambda: PlaceError("Someone else changed the committees at the same moment: retry"))
def add_committee(system: System, name: str) -> Committee:
    name = " ".join((name or "").split())
    if not name or len(name) > 200:
        raise PlaceError("Enter the committee's name (200 characters or fewer)", "committee")
    if db.session.scalar(select(Committee.id).where(Committee.system_id == system.id, Committee.name == name)):
        raise PlaceError(f"{system.name} already has a committee called {name!r}", "committee")
    committee = Committee(system_id=system.id, name=name)
    db.session.add(committee)
    db.session.flush()
    audit.record(action="committee.create", object_type="committee", object_id=str(committee.id),
                 after={"system": system.code, "name": name})
    return committee


def committees(system: System) -> list[Committee]:
    return list(db.session.scalars(select(Committee).where(Committee.system_id == system.id).order_by(Committee.name)))
