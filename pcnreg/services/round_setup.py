"""Setting up a round: a new round of a system for a contract year, its dates, band and rates
prefilled from the contract-year file (``services.contract_years``), optionally rolled forward
from another round's latest configuration. One transaction, audited.

Rolling forward copies the source round's active PCNs (code, name, place, lead commissioner; each
new PCN's ``carried_from_id`` is its source, so a network keeps its identity over years) and saves
their membership as the new round's first version; the round records the source version in
``rolled_from_version_id``. Registrations, committees and elections start afresh.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from ..domain.contract_years import DATE_FIELDS, ContractYear
from ..domain.versioning import ConfigState
from ..extensions import db
from ..models import FundingRate, Pcn, RegistrationRound, System
from . import audit, contract_years
from .errors import ServiceError
from .transactions import one_transaction


class SetupError(ServiceError):
    """A round that cannot be made as asked; ``field`` names the form field it is about."""


@dataclass(frozen=True)
class RoundValues:
    name: str
    reference_date: dt.date | None
    opens: dt.date | None
    submission_deadline: dt.date | None
    committee_date: dt.date | None
    confirmation_date: dt.date | None
    schedule1_deadline: dt.date | None
    go_live: dt.date | None
    band_min: int | None
    band_max: int | None


def defaults(year: ContractYear) -> dict:
    """The year's values for the new-round form (None where the year does not set one)."""
    return {name: year.value(name) for name in (*DATE_FIELDS, "band_min", "band_max")}


@one_transaction(lambda: SetupError("Another round was made with this name at the same moment: choose another name",
                                    "name"))
def create_round(system_id: int, year: str, values: RoundValues, *, from_round_id: int | None = None,
                 author: str) -> RegistrationRound:
    spec = contract_years.load(year)
    system = db.session.get(System, system_id)
    if system is None:
        raise SetupError("Choose a system", "system")
    name = " ".join((values.name or "").split())
    if not name:
        raise SetupError("Enter a name for the round", "name")
    if db.session.scalar(select(RegistrationRound.id).where(RegistrationRound.name == name)) is not None:
        raise SetupError(f"There is already a round called {name!r}: choose another name", "name")
    if values.reference_date is None:
        raise SetupError(f"Enter the date list sizes are counted at ({year} does not set it)", "reference_date")
    lo, hi = values.band_min, values.band_max
    if lo is None or hi is None or lo < 0 or lo > hi:
        raise SetupError("Enter a band whose minimum is at most its maximum", "band_min")
    source = None
    if from_round_id is not None:
        source = db.session.get(RegistrationRound, from_round_id)
        if source is None or source.system_id != system.id:
            raise SetupError("Choose a round of the same system to start from", "from_round")
        if source.head_version_id is None:
            raise SetupError(f"{source.name} has no configuration yet to start from", "from_round")
    rnd = RegistrationRound(
        name=name, system_id=system.id, contract_year=spec.year, reference_date=values.reference_date,
        opens=values.opens, submission_deadline=values.submission_deadline, committee_date=values.committee_date,
        confirmation_date=values.confirmation_date, schedule1_deadline=values.schedule1_deadline,
        go_live=values.go_live, band_min=lo, band_max=hi,
        rolled_from_version_id=source.head_version_id if source else None)
    db.session.add(rnd)
    db.session.flush()
    # the funding table multiplies by registered lists: an adjusted-population rate is left out
    for rate in [r for r in spec.funding_rates if r.population == "registered_list"]:
        if db.session.scalar(select(FundingRate.id).where(FundingRate.kind == rate.kind,
                                                          FundingRate.valid_from == rate.valid_from)) is None:
            db.session.add(FundingRate(kind=rate.kind, title=rate.title, amount=rate.amount, basis=rate.basis,
                                       valid_from=rate.valid_from, valid_to=rate.valid_to, source=rate.source))
    audit.record(action="round.create", object_type="round", object_id=str(rnd.id), round_id=rnd.id,
                 after={"name": name, "system": system.code, "contract_year": spec.year,
                        "rolled_from": source.name if source else None,
                        **{k: getattr(values, k) for k in (*DATE_FIELDS, "band_min", "band_max")}})
    if source is not None:
        _roll_forward(source, rnd, author)
    return rnd


def _roll_forward(source: RegistrationRound, rnd: RegistrationRound, author: str) -> None:
    from .configuration import _save, head_state

    state = head_state(source)
    keys: dict[str, str] = {}
    for old in db.session.scalars(select(Pcn).where(Pcn.round_id == source.id, Pcn.active.is_(True)).order_by(Pcn.id)):
        new = Pcn(round_id=rnd.id, name=old.name, code=old.code, place_id=old.place_id,
                  lead_commissioner_id=old.lead_commissioner_id, active=False, carried_from_id=old.id)
        db.session.add(new)
        db.session.flush()
        keys[str(old.id)] = str(new.id)
    desired = ConfigState({keys[k]: name for k, name in state.pcns.items()},
                          {code: keys[k] for code, k in state.assignments.items()})
    if desired.pcns:
        number = source.head_version.number if source.head_version else None
        _save(rnd, desired, kind="import", author=author or "pcnreg",
              reason=f"Rolled forward from {source.name}, version {number}")


SETTINGS = (*DATE_FIELDS, "band_min", "band_max")


def may_change_settings(rnd: RegistrationRound, today: dt.date) -> bool:
    """A round's settings are changed until it opens (a round without an opening date: until its
    submission deadline), so a team can rehearse; after that they are the round's record."""
    start = rnd.opens or rnd.submission_deadline
    return start is None or today < start


@one_transaction(lambda: SetupError("Someone else changed the round at the same moment: look again and retry"))
def update_settings(rnd: RegistrationRound, values: RoundValues, today: dt.date) -> RegistrationRound:
    if not may_change_settings(rnd, today):
        raise SetupError(f"{rnd.name} opened on {rnd.opens or rnd.submission_deadline:%-d %B %Y}: its settings are "
                         "the round's record and are no longer changed")
    if values.reference_date is None:
        raise SetupError("Enter the date list sizes are counted at", "reference_date")
    if values.band_min is None or values.band_max is None or values.band_min > values.band_max:
        raise SetupError("Enter a band whose minimum is at most its maximum", "band_min")
    before = {k: getattr(rnd, k) for k in SETTINGS}
    after = {k: getattr(values, k) for k in SETTINGS}
    if before == after:
        raise SetupError("These are the round's settings already: nothing to save")
    for name, value in after.items():
        setattr(rnd, name, value)
    audit.record(action="round.settings", object_type="round", object_id=str(rnd.id), round_id=rnd.id,
                 before={k: v for k, v in before.items() if v != after[k]},
                 after={k: v for k, v in after.items() if v != before[k]})
    return rnd
