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

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class System(db.Model):
    """An integrated care system (ICS) or STP, e.g. E54000014."""

    __tablename__ = "system"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200))

    places: Mapped[list[Place]] = relationship(back_populates="system", order_by="Place.name")
    commissioners: Mapped[list[Commissioner]] = relationship(
        back_populates="system", order_by="Commissioner.name")


class LocalAuthority(db.Model):
    """A local authority district (GSS code such as E07000170)."""

    __tablename__ = "local_authority"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(9), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    place_id: Mapped[int | None] = mapped_column(ForeignKey("place.id"))
    # Boundary as WKB in EPSG:27700 (British National Grid), when geodata is installed.
    geometry: Mapped[bytes | None] = mapped_column(LargeBinary)

    place: Mapped[Place | None] = relationship(back_populates="local_authorities")


class Place(db.Model):
    """An integrated care partnership (ICP): a named union of local authorities in a system."""

    __tablename__ = "place"
    __table_args__ = (UniqueConstraint("system_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"))
    name: Mapped[str] = mapped_column(String(200))

    system: Mapped[System] = relationship(back_populates="places")
    local_authorities: Mapped[list[LocalAuthority]] = relationship(
        back_populates="place", order_by="LocalAuthority.name")


class Commissioner(db.Model):
    """A commissioner (CCG, now ICB sub-location) with its ODS code, e.g. 04K."""

    __tablename__ = "commissioner"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(5), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"))
    # The place whose committee the commissioner's practices answer to (may be none).
    place_id: Mapped[int | None] = mapped_column(ForeignKey("place.id"))
    # Own boundary as WKB in EPSG:27700, when the geodata gives one.
    geometry: Mapped[bytes | None] = mapped_column(LargeBinary)

    system: Mapped[System] = relationship(back_populates="commissioners")
    place: Mapped[Place | None] = relationship()


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
    """A small area (LSOA or ward): the building block of PCN areas. Geometry is WKB in
    EPSG:27700, snapped to the grid of ``pcnreg.domain.geometry.SNAP_METRES``."""

    __tablename__ = "block"
    __table_args__ = (CheckConstraint("kind IN ('lsoa', 'ward')", name="kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(9), unique=True)
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
