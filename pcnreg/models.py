"""Database models (SQLAlchemy 2 typed declarative).

The models hold the data; the rules live in ``pcnreg.domain`` and the translation between the
two in ``pcnreg.services``. ODS and GSS codes are strings everywhere.

Configuration versions store only their change (``ConfigChange`` rows); the state of any version
is derived by replaying changes from the root (``pcnreg.domain.versioning``). ``Membership`` is
the materialised state of a round's head version, kept so the database itself enforces "a
practice is in at most one PCN per round".
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .domain import cycle, elections, membership_changes, workflow
from .extensions import db


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


SYSTEM_KINDS = ("stp", "icb")                 # STP/ICS (until June 2022), Integrated Care Board
COMMISSIONER_KINDS = ("ccg", "sub_icb")       # CCG (until June 2022), sub-ICB location


class System(db.Model):
    """An integrated care system: an STP/ICS (2019: E54000014) or an ICB (E54000060, ODS QT1).
    ``code`` is the ONS code; ``ods_code`` the NHS ODS code where the lookup gives one."""

    __tablename__ = "system"
    __table_args__ = (CheckConstraint("kind IN ('stp', 'icb')", name="kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    ods_code: Mapped[str | None] = mapped_column(String(5))
    kind: Mapped[str] = mapped_column(String(3), default="stp", server_default="stp")

    places: Mapped[list[Place]] = relationship(back_populates="system", order_by="Place.name")
    commissioners: Mapped[list[Commissioner]] = relationship(
        back_populates="system", order_by="Commissioner.name")


#: Which local authorities make up a place. A local authority can be in a place of each system
#: (the 2019 STP's and today's ICB's), never in two places of one system (services/places.py).
place_local_authority = db.Table(
    "place_local_authority",
    db.Column("place_id", ForeignKey("place.id"), primary_key=True),
    db.Column("local_authority_id", ForeignKey("local_authority.id"), primary_key=True),
)


class LocalAuthority(db.Model):
    """A local authority district (GSS code such as E07000170)."""

    __tablename__ = "local_authority"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(9), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Boundary as WKB in EPSG:27700 (British National Grid), when geodata is installed.
    geometry: Mapped[bytes | None] = mapped_column(LargeBinary)

    places: Mapped[list[Place]] = relationship(secondary=place_local_authority, back_populates="local_authorities")

    def place_in(self, system_id: int) -> Place | None:
        """The place of ``system_id`` this local authority is part of, if any."""
        return next((p for p in self.places if p.system_id == system_id), None)


class Place(db.Model):
    """A place of a system (an ICP, a locality, a county): a named set of local authorities and/or
    commissioners (``Commissioner.place``)."""

    __tablename__ = "place"
    __table_args__ = (UniqueConstraint("system_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"))
    name: Mapped[str] = mapped_column(String(200))

    system: Mapped[System] = relationship(back_populates="places")
    local_authorities: Mapped[list[LocalAuthority]] = relationship(
        secondary=place_local_authority, back_populates="places", order_by="LocalAuthority.name")


class Commissioner(db.Model):
    """A commissioner: a CCG (until June 2022) or a sub-ICB location, by its ODS code (04K,
    D9Y0V); ``ons_code`` is its ONS code (E38...) where the lookup gives one."""

    __tablename__ = "commissioner"
    __table_args__ = (CheckConstraint("kind IN ('ccg', 'sub_icb')", name="kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(5), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    ons_code: Mapped[str | None] = mapped_column(String(9))
    kind: Mapped[str] = mapped_column(String(7), default="ccg", server_default="ccg")
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"))
    # The lookup that last gave its system, by its columns' name and year ("CCG19", "SICBL22"):
    # two lookups of the same date cannot put it in two systems (services/onboarding.py).
    lookup: Mapped[str | None] = mapped_column(String(16))
    # The place whose committee the commissioner's practices answer to (may be none).
    place_id: Mapped[int | None] = mapped_column(ForeignKey("place.id"))
    # Own boundary as WKB in EPSG:27700, when the geodata gives one.
    geometry: Mapped[bytes | None] = mapped_column(LargeBinary)

    system: Mapped[System] = relationship(back_populates="commissioners")
    place: Mapped[Place | None] = relationship()
    areas: Mapped[list[CommissionerArea]] = relationship(
        back_populates="commissioner", cascade="all, delete-orphan")


class CommissionerArea(db.Model):
    """How much of a local authority a commissioner covers: the number of small areas (LSOAs)
    of the local authority that belong to the commissioner, from the ONS LSOA lookup."""

    __tablename__ = "commissioner_area"
    __table_args__ = (
        UniqueConstraint("commissioner_id", "local_authority_id", name="uq_commissioner_area"),
        CheckConstraint("lsoas > 0", name="lsoas_positive"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    commissioner_id: Mapped[int] = mapped_column(ForeignKey("commissioner.id"))
    local_authority_id: Mapped[int] = mapped_column(ForeignKey("local_authority.id"))
    lsoas: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(200))

    commissioner: Mapped[Commissioner] = relationship(back_populates="areas")
    local_authority: Mapped[LocalAuthority] = relationship()


class Practice(db.Model):
    """A GP practice (ODS code like C84001)."""

    __tablename__ = "practice"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'closed')", name="status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(6), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    postcode: Mapped[str | None] = mapped_column(String(10))
    commissioner_id: Mapped[int] = mapped_column(ForeignKey("commissioner.id"))
    local_authority_id: Mapped[int | None] = mapped_column(ForeignKey("local_authority.id"))
    status: Mapped[str] = mapped_column(String(6), default="open")
    ods_status_code: Mapped[str | None] = mapped_column(String(1))  # A/C/D/P as published
    open_date: Mapped[dt.date | None] = mapped_column(Date)
    close_date: Mapped[dt.date | None] = mapped_column(Date)
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    # Other ODS codes that stand for the same practice (a change of code), ';'-separated.
    other_codes: Mapped[str | None] = mapped_column(String(100))

    commissioner: Mapped[Commissioner] = relationship()
    local_authority: Mapped[LocalAuthority | None] = relationship()
    list_sizes: Mapped[list[ListSize]] = relationship(
        back_populates="practice", order_by="ListSize.as_of", cascade="all, delete-orphan")


class ListSize(db.Model):
    """A registered list size with its as-of date; the history is kept."""

    __tablename__ = "list_size"
    __table_args__ = (
        UniqueConstraint("practice_id", "as_of"),
        CheckConstraint("size >= 0", name="size_not_negative"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practice.id"))
    as_of: Mapped[dt.date] = mapped_column(Date)
    size: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(200))

    practice: Mapped[Practice] = relationship(back_populates="list_sizes")


class RegistrationRound(db.Model):
    """A registration round of one system: its band, reference date and key dates are data."""

    __tablename__ = "registration_round"
    __table_args__ = (
        CheckConstraint("band_min >= 0 AND band_min <= band_max", name="band"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"))
    reference_date: Mapped[dt.date] = mapped_column(Date)
    band_min: Mapped[int] = mapped_column(Integer, default=30000)
    band_max: Mapped[int] = mapped_column(Integer, default=50000)
    opens: Mapped[dt.date | None] = mapped_column(Date)
    submission_deadline: Mapped[dt.date | None] = mapped_column(Date)
    committee_date: Mapped[dt.date | None] = mapped_column(Date)
    confirmation_date: Mapped[dt.date | None] = mapped_column(Date)
    go_live: Mapped[dt.date | None] = mapped_column(Date)
    # The second stage of the Network Agreement (Schedule 1) is due by this date (30 June 2019).
    schedule1_deadline: Mapped[dt.date | None] = mapped_column(Date)
    # Deadlines are the end of their day in this time zone (UK local time).
    timezone: Mapped[str] = mapped_column(String(40), default="Europe/London", server_default="Europe/London")
    # The Network Contract year ("2019/20"): its dates and rates come from pcnreg/contract_years.
    contract_year: Mapped[str | None] = mapped_column(String(7))
    # The version of another round this round's configuration was rolled forward from.
    rolled_from_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("config_version.id", use_alter=True))
    head_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("config_version.id", use_alter=True))

    system: Mapped[System] = relationship()
    head_version: Mapped[ConfigVersion | None] = relationship(foreign_keys=[head_version_id])


class Pcn(db.Model):
    """A primary care network of a round. Whether it exists in a given version is derived from
    the version history (create/retire changes); ``active`` mirrors the head version."""

    __tablename__ = "pcn"
    __table_args__ = (
        CheckConstraint("code IS NULL OR length(code) = 6", name="code_length"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("registration_round.id"))
    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str | None] = mapped_column(String(6))
    place_id: Mapped[int | None] = mapped_column(ForeignKey("place.id"))
    lead_commissioner_id: Mapped[int | None] = mapped_column(ForeignKey("commissioner.id"))
    active: Mapped[bool] = mapped_column(default=True)
    # The same network in the round this one was rolled forward from (its identity over years).
    carried_from_id: Mapped[int | None] = mapped_column(ForeignKey("pcn.id"))

    round: Mapped[RegistrationRound] = relationship()
    place: Mapped[Place | None] = relationship()
    lead_commissioner: Mapped[Commissioner | None] = relationship()


class Membership(db.Model):
    """Practice -> PCN in a round (the head version's state). One PCN per practice per round."""

    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("round_id", "practice_id", name="uq_membership_round_practice"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("registration_round.id"))
    practice_id: Mapped[int] = mapped_column(ForeignKey("practice.id"))
    pcn_id: Mapped[int] = mapped_column(ForeignKey("pcn.id"))

    practice: Mapped[Practice] = relationship()
    pcn: Mapped[Pcn] = relationship()


class ConfigVersion(db.Model):
    """One saved change to a round's grouping. Stores the change, not the state."""

    __tablename__ = "config_version"
    __table_args__ = (UniqueConstraint("round_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("registration_round.id"))
    number: Mapped[int] = mapped_column(Integer)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("config_version.id"))
    kind: Mapped[str] = mapped_column(String(20))  # import, move, merge, split, create, rename, undo
    author: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    parent: Mapped[ConfigVersion | None] = relationship(remote_side=[id])
    changes: Mapped[list[ConfigChange]] = relationship(
        back_populates="version", order_by="ConfigChange.seq", cascade="all, delete-orphan")


class ConfigChange(db.Model):
    """One elementary change of a version.

    kind = 'assign': practice_code moves from from_pcn_id (None: unassigned) to to_pcn_id (None:
    unassigned); 'pcn_create' / 'pcn_retire': pcn_id appears / disappears; 'pcn_rename': pcn_id
    renamed from old_name to new_name.
    """

    __tablename__ = "config_change"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('assign', 'pcn_create', 'pcn_retire', 'pcn_rename')", name="kind"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("config_version.id"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(12))
    practice_code: Mapped[str | None] = mapped_column(String(6))
    from_pcn_id: Mapped[int | None] = mapped_column(ForeignKey("pcn.id"))
    to_pcn_id: Mapped[int | None] = mapped_column(ForeignKey("pcn.id"))
    pcn_id: Mapped[int | None] = mapped_column(ForeignKey("pcn.id"))
    old_name: Mapped[str | None] = mapped_column(String(200))
    new_name: Mapped[str | None] = mapped_column(String(200))

    version: Mapped[ConfigVersion] = relationship(back_populates="changes")


class SizeException(db.Model):
    """A recorded exception to the list-size band for a PCN in a round (reason, who, when)."""

    __tablename__ = "size_exception"
    __table_args__ = (UniqueConstraint("round_id", "pcn_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("registration_round.id"))
    pcn_id: Mapped[int] = mapped_column(ForeignKey("pcn.id"))
    reason: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    pcn: Mapped[Pcn] = relationship()


# --- geography ---------------------------------------------------------------------------------

class Block(db.Model):
    """A small area (LSOA or ward) of a system: the building block of PCN areas. Geometry is WKB
    in EPSG:27700, snapped to the grid of ``pcnreg.domain.geometry.SNAP_METRES``."""

    __tablename__ = "block"
    __table_args__ = (
        CheckConstraint("kind IN ('lsoa', 'ward')", name="kind"),
        # An LSOA belongs to one system at a time, but a database holds several eras: the 2019
        # STP and today's ICB of the same area each have their own blocks (LSOA 2011 and 2021
        # codes are mostly the same).
        UniqueConstraint("system_id", "code", name="uq_block_system_code"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(9))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(5))
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"))
    local_authority_id: Mapped[int | None] = mapped_column(ForeignKey("local_authority.id"))
    # The commissioner whose population the block is part of (CCGs are made of LSOAs).
    commissioner_id: Mapped[int | None] = mapped_column(ForeignKey("commissioner.id"))
    population: Mapped[int | None] = mapped_column(Integer)
    area_m2: Mapped[float] = mapped_column(Float)
    geometry: Mapped[bytes] = mapped_column(LargeBinary)

    local_authority: Mapped[LocalAuthority | None] = relationship()
    commissioner: Mapped[Commissioner | None] = relationship()


class BlockAssignment(db.Model):
    """Which PCN a block belongs to in a round. ``method``: 'nearest' (default assignment to
    the PCN of the nearest member practice, recomputed when membership changes) or 'manual'
    (moved by a user; kept)."""

    __tablename__ = "block_assignment"
    __table_args__ = (
        UniqueConstraint("round_id", "block_id", name="uq_block_assignment_round_block"),
        CheckConstraint("method IN ('nearest', 'manual')", name="method"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("registration_round.id"))
    block_id: Mapped[int] = mapped_column(ForeignKey("block.id"))
    pcn_id: Mapped[int] = mapped_column(ForeignKey("pcn.id"))
    method: Mapped[str] = mapped_column(String(8), default="nearest")


class PcnArea(db.Model):
    """A PCN's area in a round (WKB, EPSG:27700): the union of its blocks, or an uploaded
    polygon. ``fingerprint`` identifies what it was built from, so it is rebuilt only when that
    changes."""

    __tablename__ = "pcn_area"
    __table_args__ = (
        UniqueConstraint("round_id", "pcn_id", name="uq_pcn_area_round_pcn"),
        CheckConstraint("source IN ('blocks', 'upload')", name="source"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("registration_round.id"))
    pcn_id: Mapped[int] = mapped_column(ForeignKey("pcn.id"))
    source: Mapped[str] = mapped_column(String(6), default="blocks")
    fingerprint: Mapped[str] = mapped_column(String(64))
    geometry: Mapped[bytes] = mapped_column(LargeBinary)
    built_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class AdjacentPair(db.Model):
    """Two blocks a commissioner treats as adjacent (across a river, estuary, to an island)."""

    __tablename__ = "adjacent_pair"
    __table_args__ = (
        UniqueConstraint("block_a_id", "block_b_id", name="uq_adjacent_pair_blocks"),
        CheckConstraint("block_a_id < block_b_id", name="ordered"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    block_a_id: Mapped[int] = mapped_column(ForeignKey("block.id"))
    block_b_id: Mapped[int] = mapped_column(ForeignKey("block.id"))
    reason: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    block_a: Mapped[Block] = relationship(foreign_keys=[block_a_id])
    block_b: Mapped[Block] = relationship(foreign_keys=[block_b_id])


class GeodataLoad(db.Model):
    """One `pcnreg geodata install`: what was read (files and checksums) and what it gave.
    The newest load's id is part of every map cache key."""

    __tablename__ = "geodata_load"
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    files: Mapped[str] = mapped_column(Text)          # JSON: file name -> sha256
    summary: Mapped[str] = mapped_column(Text)        # JSON: counts and problems reported
    loaded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)



# --- neighbourhoods and catchments (issue #14) -------------------------------------------------------

class LsoaRegistrationLoad(db.Model):
    """One import of NHS England's "Patients Registered at a GP Practice" by LSOA for a round: the
    file read, its LSOA vintage and what it gave (``summary``: JSON of counts, special values).
    One per round: a new import replaces the earlier one."""

    __tablename__ = "lsoa_registration_load"
    __table_args__ = (UniqueConstraint("round_id", name="uq_lsoa_registration_load_round"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("registration_round.id"))
    source: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    extract_date: Mapped[dt.date | None] = mapped_column(Date)
    vintage: Mapped[str] = mapped_column(String(20))          # 'lsoa21', 'lsoa11' or 'blocks'
    rows_read: Mapped[int] = mapped_column(Integer)
    practices: Mapped[int] = mapped_column(Integer)
    patients: Mapped[int] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class LsoaRegistration(db.Model):
    """Patients of one practice (of the round) living in one LSOA."""

    __tablename__ = "lsoa_registration"
    __table_args__ = (
        UniqueConstraint("load_id", "practice_code", "lsoa_code", name="uq_lsoa_registration"),
        CheckConstraint("patients >= 0", name="patients_not_negative"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    load_id: Mapped[int] = mapped_column(ForeignKey("lsoa_registration_load.id"))
    practice_code: Mapped[str] = mapped_column(String(6))
    lsoa_code: Mapped[str] = mapped_column(String(9))
    patients: Mapped[int] = mapped_column(Integer)


class LsoaRegisteredTotal(db.Model):
    """All patients living in an LSOA registered at any practice of the file (the denominator of an
    LSOA's shares: with the England file it counts practices of other systems too)."""

    __tablename__ = "lsoa_registered_total"
    __table_args__ = (
        UniqueConstraint("load_id", "lsoa_code", name="uq_lsoa_registered_total"),
        CheckConstraint("patients >= 0", name="patients_not_negative"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    load_id: Mapped[int] = mapped_column(ForeignKey("lsoa_registration_load.id"))
    lsoa_code: Mapped[str] = mapped_column(String(9))
    patients: Mapped[int] = mapped_column(Integer)


NEIGHBOURHOOD_KINDS = ("single", "multi")     # single-neighbourhood (~50,000), multi-neighbourhood (~250,000)


class Neighbourhood(db.Model):
    """A neighbourhood an ICB defined for a round: a named set of LSOAs, with its kind."""

    __tablename__ = "neighbourhood"
    __table_args__ = (
        UniqueConstraint("round_id", "name", name="uq_neighbourhood_round_name"),
        CheckConstraint("kind IN ('single', 'multi')", name="kind"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("registration_round.id"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(6))


class NeighbourhoodLsoa(db.Model):
    """An LSOA of a neighbourhood (an LSOA is in at most one neighbourhood of a round)."""

    __tablename__ = "neighbourhood_lsoa"
    __table_args__ = (UniqueConstraint("round_id", "lsoa_code", name="uq_neighbourhood_lsoa_round_lsoa"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("registration_round.id"))
    neighbourhood_id: Mapped[int] = mapped_column(ForeignKey("neighbourhood.id"))
    lsoa_code: Mapped[str] = mapped_column(String(9))


class NeighbourhoodSettings(db.Model):
    """A round's catchment and neighbourhood settings (defaults in ``pcnreg.domain.catchments``)."""

    __tablename__ = "neighbourhood_settings"
    __table_args__ = (
        UniqueConstraint("round_id", name="uq_neighbourhood_settings_round"),
        CheckConstraint("catchment_method IN ('threshold', 'largest')", name="catchment_method"),
        CheckConstraint("catchment_threshold > 0 AND catchment_threshold <= 1", name="catchment_share"),
        CheckConstraint("alignment_threshold > 0 AND alignment_threshold <= 1", name="alignment_share"),
        CheckConstraint("single_size > 0 AND multi_size > 0", name="sizes"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("registration_round.id"))
    catchment_threshold: Mapped[float] = mapped_column(Float)
    catchment_method: Mapped[str] = mapped_column(String(9))
    alignment_threshold: Mapped[float] = mapped_column(Float)
    single_size: Mapped[int] = mapped_column(Integer)
    multi_size: Mapped[int] = mapped_column(Integer)

# --- accounts, roles and the audit trail --------------------------------------------------------

class User(db.Model):
    """A person who signs in. No default passwords: a user sets one through a one-time invite."""

    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)      # stored lower-case
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))    # argon2; None until set
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_sign_in_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Part of every session's stamp: a new random value ends all of the user's sessions (sign-out,
    # an administrator's "end sessions"). None for a user who never signed out since 0008.
    session_key: Mapped[str | None] = mapped_column(String(32))

    roles: Mapped[list[RoleAssignment]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="RoleAssignment.id")


class RoleAssignment(db.Model):
    """A role a user holds, scoped to where it applies (scope_type + scope_id)."""

    __tablename__ = "role_assignment"
    __table_args__ = (
        UniqueConstraint("user_id", "role", "scope_type", "scope_id", name="uq_role_assignment_grant"),
        CheckConstraint(
            "role IN ('system_admin', 'commissioner', 'pcn_lead', 'practice_rep', 'returning_officer', "
            "'committee_member', 'viewer')", name="role"),
        CheckConstraint(
            "scope_type IN ('all', 'system', 'commissioner', 'pcn', 'practice', 'committee')", name="scope_type"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    role: Mapped[str] = mapped_column(String(20))
    scope_type: Mapped[str] = mapped_column(String(12), default="all")
    scope_id: Mapped[int | None] = mapped_column(Integer)   # id of the system/commissioner/pcn/practice/committee

    user: Mapped[User] = relationship(back_populates="roles")


class Invite(db.Model):
    """A one-time sign-in link: only the SHA-256 of its token is stored."""

    __tablename__ = "invite"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(200))

    user: Mapped[User] = relationship()


class SignInAttempt(db.Model):
    """Failed and successful sign-ins, for slowing down guessing per account and per address."""

    __tablename__ = "sign_in_attempt"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    address: Mapped[str] = mapped_column(String(45), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    success: Mapped[bool] = mapped_column(default=False)


class AuditEvent(db.Model):
    """An append-only, hash-chained record of a change: each event stores the hash of the
    previous one (``pcnreg audit verify`` recomputes the chain). Written in the same
    transaction as the change it records."""

    __tablename__ = "audit_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)      # 1, 2, 3, … with no gaps
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    actor: Mapped[str] = mapped_column(String(254))            # e-mail, or "cli:<os user>", or "system"
    actor_role: Mapped[str | None] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(60))
    round_id: Mapped[int | None] = mapped_column(Integer, index=True)
    pcn_id: Mapped[int | None] = mapped_column(Integer, index=True)
    before: Mapped[str | None] = mapped_column(Text)            # canonical JSON
    after: Mapped[str | None] = mapped_column(Text)             # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


# --- the registration workflow ------------------------------------------------------------------
# States and transitions are in pcnreg.domain.workflow; what a PCN must provide is in
# pcnreg.domain.registration. These tables hold the facts.

REGISTRATION_STATES = workflow.STATES


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Committee(db.Model):
    """A Primary Care Committee (or committees meeting in common) of a system."""

    __tablename__ = "committee"
    __table_args__ = (UniqueConstraint("system_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"))
    name: Mapped[str] = mapped_column(String(200))

    system: Mapped[System] = relationship()


class Registration(db.Model):
    """A PCN's registration in a round: its state and the parts of its draft that are typed in
    (members, totals and the area are derived from the configuration). ``lock_version`` makes
    two concurrent state changes of one PCN fail all but the first."""

    __tablename__ = "registration"
    __table_args__ = (
        UniqueConstraint("round_id", "pcn_id", name="uq_registration_round_pcn"),
        CheckConstraint(_in("state", REGISTRATION_STATES), name="state"),
        CheckConstraint("cd_process IS NULL OR cd_process IN ('election', 'agreement')", name="cd_process"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("registration_round.id"))
    pcn_id: Mapped[int] = mapped_column(ForeignKey("pcn.id"))
    state: Mapped[str] = mapped_column(String(24), default="draft")
    payee_practice_code: Mapped[str | None] = mapped_column(String(6))
    payee_reference: Mapped[str | None] = mapped_column(String(100))   # never bank details
    # "own_account" (from 2023/24), or "payee"/None: the nominated payee practice above
    paid_into: Mapped[str | None] = mapped_column(String(11))
    cd_name: Mapped[str | None] = mapped_column(String(200))
    cd_profession: Mapped[str | None] = mapped_column(String(100))
    cd_practice_code: Mapped[str | None] = mapped_column(String(6))    # where the CD practises
    cd_process: Mapped[str | None] = mapped_column(String(10))
    cd_process_details: Mapped[str | None] = mapped_column(Text)
    deputy_cd_name: Mapped[str | None] = mapped_column(String(200))
    deputy_cd_practice_code: Mapped[str | None] = mapped_column(String(6))
    late_override_reason: Mapped[str | None] = mapped_column(Text)
    late_override_by: Mapped[str | None] = mapped_column(String(254))
    late_override_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    lock_version: Mapped[int] = mapped_column(Integer, default=1)

    pcn: Mapped[Pcn] = relationship()
    __mapper_args__ = {"version_id_col": lock_version}


class StoredFile(db.Model):
    """An uploaded document (a signed Network Agreement), kept in the database so that it is
    written in the same transaction as what refers to it and is part of every backup."""

    __tablename__ = "stored_file"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(254))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class MemberConfirmation(db.Model):
    """A member practice's confirmation that it is in the PCN."""

    __tablename__ = "member_confirmation"
    __table_args__ = (UniqueConstraint("round_id", "pcn_id", "practice_code", name="uq_member_confirmation"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("registration_round.id"))
    pcn_id: Mapped[int] = mapped_column(ForeignKey("pcn.id"))
    practice_code: Mapped[str] = mapped_column(String(6))
    confirmed_by: Mapped[str] = mapped_column(String(254))
    confirmed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class AgreementSignature(db.Model):
    """A member practice's signature of the Network Agreement, in one of its two stages."""

    __tablename__ = "agreement_signature"
    __table_args__ = (
        UniqueConstraint("round_id", "pcn_id", "practice_code", "stage", name="uq_agreement_signature"),
        CheckConstraint("stage IN ('core', 'schedule1')", name="stage"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("registration_round.id"))
    pcn_id: Mapped[int] = mapped_column(ForeignKey("pcn.id"))
    practice_code: Mapped[str] = mapped_column(String(6))
    stage: Mapped[str] = mapped_column(String(10))
    signed_on: Mapped[dt.date] = mapped_column(Date)
    signatory: Mapped[str] = mapped_column(String(200))
    file_id: Mapped[int] = mapped_column(ForeignKey("stored_file.id"))
    recorded_by: Mapped[str] = mapped_column(String(254))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    file: Mapped[StoredFile] = relationship()


class ExceptionRequest(db.Model):
    """A PCN's request for an exception to a blocking error (a finding of severity error), with
    its reason. The committee decides on it (``Decision`` with this request)."""

    __tablename__ = "exception_request"
    __table_args__ = (
        UniqueConstraint("round_id", "pcn_id", "rule", "subject_ref", name="uq_exception_request"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("registration_round.id"))
    pcn_id: Mapped[int] = mapped_column(ForeignKey("pcn.id"))
    rule: Mapped[str] = mapped_column(String(40))
    subject_ref: Mapped[str] = mapped_column(String(40))     # "pcn:<key>" or "practice:<code>"
    message: Mapped[str] = mapped_column(Text)               # the finding when the request was made
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(254))
    requested_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Submission(db.Model):
    """An immutable snapshot of a PCN's registration as submitted: members, totals, area,
    agreement, payee, Clinical Director and the findings at that moment, tied to the
    configuration version it was made from. Never updated (see ``_refuse_update`` below)."""

    __tablename__ = "submission"
    __table_args__ = (UniqueConstraint("round_id", "pcn_id", "number", name="uq_submission_number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("registration_round.id"))
    pcn_id: Mapped[int] = mapped_column(ForeignKey("pcn.id"))
    number: Mapped[int] = mapped_column(Integer)                       # 1, 2, … per PCN
    config_version_id: Mapped[int | None] = mapped_column(ForeignKey("config_version.id"))
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime)        # UTC
    submitted_by: Mapped[str] = mapped_column(String(254))
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    snapshot: Mapped[str] = mapped_column(Text)                        # canonical JSON
    snapshot_sha256: Mapped[str] = mapped_column(String(64))

    pcn: Mapped[Pcn] = relationship()
    config_version: Mapped[ConfigVersion | None] = relationship()


class Meeting(db.Model):
    """A committee meeting of a round, with the members present."""

    __tablename__ = "meeting"
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("registration_round.id"))
    committee_id: Mapped[int] = mapped_column(ForeignKey("committee.id"))
    held_on: Mapped[dt.date] = mapped_column(Date)
    members_present: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    committee: Mapped[Committee] = relationship()
    items: Mapped[list[AgendaItem]] = relationship(back_populates="meeting", order_by="AgendaItem.id")


class AgendaItem(db.Model):
    """A submitted PCN on a meeting's agenda: the submission the committee reviews."""

    __tablename__ = "agenda_item"
    __table_args__ = (UniqueConstraint("meeting_id", "pcn_id", name="uq_agenda_item"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"))
    pcn_id: Mapped[int] = mapped_column(ForeignKey("pcn.id"))
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"))

    meeting: Mapped[Meeting] = relationship(back_populates="items")
    pcn: Mapped[Pcn] = relationship()
    submission: Mapped[Submission] = relationship()


DECISION_OUTCOMES = workflow.OUTCOMES


class Decision(db.Model):
    """A committee's decision on a PCN's registration (``exception_request_id`` empty) or on one
    of its exception requests, with the rationale. One per subject per meeting."""

    __tablename__ = "decision"
    __table_args__ = (
        UniqueConstraint("meeting_id", "subject_key", name="uq_decision_subject"),
        CheckConstraint(_in("outcome", DECISION_OUTCOMES), name="outcome"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"))
    pcn_id: Mapped[int] = mapped_column(ForeignKey("pcn.id"))
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"))
    exception_request_id: Mapped[int | None] = mapped_column(ForeignKey("exception_request.id"))
    subject_key: Mapped[str] = mapped_column(String(40))     # "registration:<pcn>" or "exception:<id>"
    outcome: Mapped[str] = mapped_column(String(24))
    rationale: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(254))
    decided_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    conditions: Mapped[list[DecisionCondition]] = relationship(
        back_populates="decision", order_by="DecisionCondition.id", cascade="all, delete-orphan")


class DecisionCondition(db.Model):
    """A condition of an "approved with conditions" decision, with its due date."""

    __tablename__ = "decision_condition"
    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decision.id"))
    text: Mapped[str] = mapped_column(Text)
    due_on: Mapped[dt.date] = mapped_column(Date)
    met_on: Mapped[dt.date | None] = mapped_column(Date)
    met_by: Mapped[str | None] = mapped_column(String(254))

    decision: Mapped[Decision] = relationship(back_populates="conditions")


class CoverageConfirmation(db.Model):
    """A commissioner's confirmation of 100% coverage of its practices in a round."""

    __tablename__ = "coverage_confirmation"
    __table_args__ = (UniqueConstraint("round_id", "commissioner_id", name="uq_coverage_confirmation"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("registration_round.id"))
    commissioner_id: Mapped[int] = mapped_column(ForeignKey("commissioner.id"))
    confirmed_by: Mapped[str] = mapped_column(String(254))
    confirmed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    commissioner: Mapped[Commissioner] = relationship()


class FundingRate(db.Model):
    """A dated funding rate per registered patient: per year (``basis`` 'year', pro rata by
    whole months) or for the whole of its period ('period')."""

    __tablename__ = "funding_rate"
    __table_args__ = (
        UniqueConstraint("kind", "valid_from", name="uq_funding_rate"),
        CheckConstraint("basis IN ('year', 'period')", name="basis"),
        CheckConstraint("valid_from <= valid_to", name="period"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))            # e.g. core_pcn_funding, clinical_director
    title: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(Numeric(10, 4))    # pounds per registered patient
    basis: Mapped[str] = mapped_column(String(6))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(Text)


@db.event.listens_for(Submission, "before_update")
def _refuse_update(mapper, connection, target) -> None:   # pragma: no cover - exercised in tests
    raise ValueError("A submitted registration is an immutable snapshot: make a new draft instead")


# --- Clinical Director elections (pcnreg.domain.elections, pcnreg.domain.counting) -------------------

ELECTION_STATES = elections.STATES


class Election(db.Model):
    """A PCN's Clinical Director election in a round, run by the LMC's returning officer. Its
    timetable is data (instants stored in UTC); method and tie-break are fixed at set-up."""

    __tablename__ = "election"
    __table_args__ = (
        CheckConstraint(_in("state", ELECTION_STATES), name="state"),
        CheckConstraint("method IN ('plurality', 'weighted', 'irv')", name="method"),
        CheckConstraint("tie_break IN ('lots', 'seed')", name="tie_break"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("registration_round.id"))
    pcn_id: Mapped[int] = mapped_column(ForeignKey("pcn.id"))
    state: Mapped[str] = mapped_column(String(20), default="draft")
    method: Mapped[str] = mapped_column(String(10))
    tie_break: Mapped[str] = mapped_column(String(5))
    tie_break_seed: Mapped[str | None] = mapped_column(String(100))      # published before the count
    eligibility: Mapped[str] = mapped_column(Text)                       # the rule, as data (text)
    nominations_open_at: Mapped[dt.datetime] = mapped_column(DateTime)
    nominations_close_at: Mapped[dt.datetime] = mapped_column(DateTime)
    panel_from: Mapped[dt.date | None] = mapped_column(Date)
    panel_to: Mapped[dt.date | None] = mapped_column(Date)
    voting_open_at: Mapped[dt.datetime] = mapped_column(DateTime)
    voting_close_at: Mapped[dt.datetime] = mapped_column(DateTime)
    count_on: Mapped[dt.date | None] = mapped_column(Date)
    declare_by: Mapped[dt.date | None] = mapped_column(Date)
    panel_members: Mapped[str | None] = mapped_column(Text)
    extension_reason: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)                    # the count (JSON), after voting closes
    elected_candidate_id: Mapped[int | None] = mapped_column(ForeignKey("candidate.id", use_alter=True))
    # by agreement at a PCN meeting / an interim lead / why cancelled or reopened
    agreement_date: Mapped[dt.date | None] = mapped_column(Date)
    agreement_practices: Mapped[str | None] = mapped_column(Text)
    agreement_outcome: Mapped[str | None] = mapped_column(Text)
    interim_lead: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    returning_officer: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    lock_version: Mapped[int] = mapped_column(Integer, default=1)

    pcn: Mapped[Pcn] = relationship()
    candidates: Mapped[list[Candidate]] = relationship(
        back_populates="election", order_by="Candidate.id", foreign_keys="Candidate.election_id")
    __mapper_args__ = {"version_id_col": lock_version}


class Candidate(db.Model):
    """A nomination (expression of interest) and what the panel made of it."""

    __tablename__ = "candidate"
    __table_args__ = (
        CheckConstraint("status IN ('nominated', 'shortlisted', 'not_shortlisted', 'withdrawn')", name="status"),
        UniqueConstraint("election_id", "name", name="uq_candidate_name"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    election_id: Mapped[int] = mapped_column(ForeignKey("election.id"))
    name: Mapped[str] = mapped_column(String(200))
    register: Mapped[str] = mapped_column(String(5))               # GMC, NMC, HCPC, GPhC
    registration_number: Mapped[str] = mapped_column(String(10))
    practice_code: Mapped[str] = mapped_column(String(6))
    role: Mapped[str] = mapped_column(String(100))
    statement: Mapped[str] = mapped_column(Text)
    conflicts: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="nominated")
    panel_reason: Mapped[str | None] = mapped_column(Text)
    withdrawn_reason: Mapped[str | None] = mapped_column(Text)

    election: Mapped[Election] = relationship(back_populates="candidates", foreign_keys=[election_id])


class Elector(db.Model):
    """The "has voted" register: a member practice of the PCN, frozen when voting opens, with
    its weight and the hash of its current single-use ballot token. No timestamps: nothing here
    re-links a practice to a ballot."""

    __tablename__ = "elector"
    __table_args__ = (UniqueConstraint("election_id", "practice_code", name="uq_elector"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    election_id: Mapped[int] = mapped_column(ForeignKey("election.id"))
    practice_code: Mapped[str] = mapped_column(String(6))
    weight: Mapped[int] = mapped_column(Integer)                   # registered list size (1 if unweighted)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    voted: Mapped[bool] = mapped_column(Boolean, default=False)


class TokenIssue(db.Model):
    """Every issue and re-issue of a practice's ballot token (a re-issue voids the earlier)."""

    __tablename__ = "token_issue"
    __table_args__ = (CheckConstraint("channel IN ('email', 'letter')", name="channel"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    elector_id: Mapped[int] = mapped_column(ForeignKey("elector.id"))
    channel: Mapped[str] = mapped_column(String(6))
    address: Mapped[str | None] = mapped_column(String(254))
    issued_by: Mapped[str] = mapped_column(String(254))
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    voided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class BallotPaper(db.Model):
    """The ballot box: a cast ballot, with a random id (no sequence, no time, no practice) and
    the receipt code its practice was given. ``weight`` is the practice's weight under a
    weighted method (1 otherwise)."""

    __tablename__ = "ballot"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)        # random
    election_id: Mapped[int] = mapped_column(ForeignKey("election.id"), index=True)
    preferences: Mapped[str] = mapped_column(Text)                        # JSON list of candidate ids
    weight: Mapped[int] = mapped_column(Integer, default=1)
    receipt: Mapped[str] = mapped_column(String(16), unique=True)


MEMBERSHIP_CHANGE_STATES = membership_changes.STATES


class MembershipChange(db.Model):
    """After go-live: a practice's notice that it moves to another PCN. It needs 28 days' notice
    and the commissioner's approval, and takes effect from the start of the next quarter after
    the notice has run (``domain.deadlines.change_takes_effect``); it is then applied as a
    configuration version."""

    __tablename__ = "membership_change"
    __table_args__ = (
        CheckConstraint(_in("state", MEMBERSHIP_CHANGE_STATES), name="state"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("registration_round.id"))
    practice_code: Mapped[str] = mapped_column(String(6))
    from_pcn_id: Mapped[int | None] = mapped_column(ForeignKey("pcn.id"))
    to_pcn_id: Mapped[int] = mapped_column(ForeignKey("pcn.id"))
    notice_given_on: Mapped[dt.date] = mapped_column(Date)
    effective_from: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default=membership_changes.STATES[0])
    recorded_by: Mapped[str] = mapped_column(String(254))
    decided_by: Mapped[str | None] = mapped_column(String(254))
    decision_note: Mapped[str | None] = mapped_column(Text)
    applied_version_id: Mapped[int | None] = mapped_column(ForeignKey("config_version.id"))
    # "notice" (the practice's) or "assignment" (the commissioner's, of a practice no PCN will
    # accept, after recording the LMC's engagement: its date and a summary).
    kind: Mapped[str] = mapped_column(String(10), default="notice", server_default="notice")
    lmc_engaged_on: Mapped[dt.date | None] = mapped_column(Date)
    lmc_engagement: Mapped[str | None] = mapped_column(Text)


# --- long work run by the task queue (pcnreg.tasks) ----------------------------------------------------

JOB_STATES = ("queued", "running", "done", "failed")


class Job(db.Model):
    """Long work started from a page (an onboarding) and run by the task queue's worker: its
    parameters, progress and outcome, so any app server can show it."""

    __tablename__ = "job"
    __table_args__ = (CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name="state"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(7), default="queued")
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    params: Mapped[str] = mapped_column(Text)                   # JSON
    step: Mapped[str | None] = mapped_column(String(200))        # what it is doing now
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[str | None] = mapped_column(Text)             # the summary lines, or the problems


# --- derived state ---------------------------------------------------------------------------------

STATE_GENERATIONS = ("data", "geography")


class StateGeneration(db.Model):
    """What a round's derived state (``domain.state.RoundState``) is computed from, beside the
    round's own row, head version and exceptions: a random token per kind of input, replaced in
    the same transaction as every write to it (``services.round_state``). ``data``: practices,
    list sizes, commissioners, places, systems, local authorities, PCN codes/places/leads;
    ``geography``: geodata loads, blocks, block assignments, PCN areas, adjacent pairs. A state is
    cached under the tokens it was built from, so every app server sees a change at its next
    request."""

    __tablename__ = "state_generation"
    __table_args__ = (CheckConstraint("name IN ('data', 'geography')", name="name"),)
    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    token: Mapped[str] = mapped_column(String(32))


class OrganisationLink(db.Model):
    """How an organisation of one date became one of a later date (``domain.lineage``): a
    commissioner merged into, renamed to, continued as or split into another; a system became
    another, or part of it moved to another. Worked out from where practices went."""

    __tablename__ = "organisation_link"
    __table_args__ = (
        CheckConstraint("level IN ('commissioner', 'system')", name="level"),
        CheckConstraint("relation IN ('continued_as', 'renamed_to', 'merged_into', 'split_into', 'became', "
                        "'moved_to')", name="relation"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(12))
    before: Mapped[str] = mapped_column(String(16))       # the earlier code (ODS for commissioners, ONS for systems)
    after: Mapped[str] = mapped_column(String(16))
    relation: Mapped[str] = mapped_column(String(12))
    effective: Mapped[dt.date | None] = mapped_column(Date)
    evidence: Mapped[str] = mapped_column(String(500))    # e.g. "43 of 43 practices"
    source: Mapped[str] = mapped_column(String(200))      # the two files compared


class MembershipPeriod(db.Model):
    """A practice's relationship with a PCN from a start date to an end date (both inclusive, as
    the ePCN's relationship columns; no end: open), kept as history (``domain.memberships``):
    from an ePCN workbook (``source`` the file's name, the ended relationships too) or from an
    applied in-year change (``change_id``). "The configuration on date D" is a query over them."""

    __tablename__ = "membership_period"
    __table_args__ = (
        CheckConstraint("end_date IS NULL OR start_date IS NULL OR start_date <= end_date", name="dates"),
        Index("ix_membership_period_practice", "practice_code"),
        Index("ix_membership_period_source", "source"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    practice_code: Mapped[str] = mapped_column(String(6))
    pcn_code: Mapped[str] = mapped_column(String(16), default="")
    pcn_name: Mapped[str] = mapped_column(String(200))
    practice_commissioner: Mapped[str] = mapped_column(String(5), default="")
    pcn_commissioner: Mapped[str] = mapped_column(String(5), default="")
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(200))
    round_id: Mapped[int | None] = mapped_column(ForeignKey("registration_round.id"))
    change_id: Mapped[int | None] = mapped_column(ForeignKey("membership_change.id"))


class CommissionerPeriod(db.Model):
    """Which commissioner a practice had from one date to another (both inclusive; no end:
    open), from two epraccur files and the lookups of their eras (``domain.memberships``);
    stored by ``pcnreg organisations lineage`` with the lineage links, per ``source``."""

    __tablename__ = "commissioner_period"
    __table_args__ = (
        CheckConstraint("kind IS NULL OR kind IN ('ccg', 'sub_icb')", name="kind"),
        Index("ix_commissioner_period_practice", "practice_code"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    practice_code: Mapped[str] = mapped_column(String(6))
    commissioner_code: Mapped[str] = mapped_column(String(5))
    kind: Mapped[str | None] = mapped_column(String(7))
    system_code: Mapped[str | None] = mapped_column(String(16))
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(200))


# --- the yearly cycle (domain.cycle): opt-out window, annual returns -----------------------------------

ANNUAL_RETURN_STATES = cycle.STATES


class CycleSettings(db.Model):
    """The cycle's dates the commissioner set on a round where the contract-year file gives none
    (a date the file gives, with its source, is the file's)."""

    __tablename__ = "cycle_settings"
    round_id: Mapped[int] = mapped_column(ForeignKey("registration_round.id"), primary_key=True)
    opt_out_opens: Mapped[dt.date | None] = mapped_column(Date)
    opt_out_closes: Mapped[dt.date | None] = mapped_column(Date)
    return_deadline: Mapped[dt.date | None] = mapped_column(Date)
    updated_by: Mapped[str] = mapped_column(String(254))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class OptOut(db.Model):
    """A practice that opted out of the round's contract year, inside the window, with its reason."""

    __tablename__ = "opt_out"
    __table_args__ = (UniqueConstraint("round_id", "practice_code", name="uq_opt_out_round_practice"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("registration_round.id"))
    practice_code: Mapped[str] = mapped_column(String(6))
    reason: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(254))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class AnnualReturn(db.Model):
    """A PCN's annual return: "no change", or the changes it notifies (``AnnualReturnChange``)."""

    __tablename__ = "annual_return"
    __table_args__ = (
        UniqueConstraint("round_id", "pcn_id", name="uq_annual_return_round_pcn"),
        CheckConstraint(_in("state", ANNUAL_RETURN_STATES), name="state"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("registration_round.id"))
    pcn_id: Mapped[int] = mapped_column(ForeignKey("pcn.id"))
    state: Mapped[str] = mapped_column(String(20), default="draft")
    no_change: Mapped[bool] = mapped_column(default=False)
    made_by: Mapped[str | None] = mapped_column(String(254))
    made_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    reviewed_by: Mapped[str | None] = mapped_column(String(254))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    review_note: Mapped[str | None] = mapped_column(Text)
    lock_version: Mapped[int] = mapped_column(Integer, default=1)

    pcn: Mapped[Pcn] = relationship()
    changes: Mapped[list[AnnualReturnChange]] = relationship(
        back_populates="annual_return", order_by="AnnualReturnChange.id", cascade="all, delete-orphan")
    __mapper_args__ = {"version_id_col": lock_version}


class AnnualReturnChange(db.Model):
    """One change a PCN's annual return notifies (``domain.cycle.CHANGE_KINDS``)."""

    __tablename__ = "annual_return_change"
    __table_args__ = (CheckConstraint(_in("kind", cycle.CHANGE_KINDS), name="kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("annual_return.id"))
    kind: Mapped[str] = mapped_column(String(20))
    practice_code: Mapped[str | None] = mapped_column(String(6))
    details: Mapped[str | None] = mapped_column(Text)
    effective: Mapped[dt.date] = mapped_column(Date)

    annual_return: Mapped[AnnualReturn] = relationship(back_populates="changes")
