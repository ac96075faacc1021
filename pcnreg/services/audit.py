"""The audit trail: append-only, hash-chained events written in the same transaction as the
change they record.

Each event stores ``prev_hash`` (the hash of the event before it; the first event's is 64
zeros) and its own ``hash``: SHA-256 of the canonical JSON of the previous hash and every field
of the event. ``verify`` recomputes the chain and names the first broken event: a changed
field breaks that event's hash, a deleted event leaves a gap in ``seq`` and breaks the next
event's link, reordered events break their links.

Concurrency: ``seq`` is unique. On PostgreSQL appends are serialised by a transaction-scoped
advisory lock, so concurrent changes each get the next number; on SQLite the database's own write
lock serialises them (a writer that read before another committed fails as a whole and is
retried by its user). Ballots never enter the trail in a form
that links them to a practice (elections issue).
"""
from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
from dataclasses import dataclass

from flask import has_request_context
from sqlalchemy import select, text

from ..extensions import db
from ..models import AuditEvent, utcnow

GENESIS = "0" * 64
AUDIT_LOCK_KEY = 7_243_001          # PostgreSQL advisory lock that serialises appends to the trail


def canonical(value) -> str:
    """Canonical JSON: sorted keys, no spaces, dates as ISO strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_iso)


def _iso(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def event_hash(prev_hash: str, event: AuditEvent) -> str:
    payload = canonical([prev_hash, event.seq, event.at.isoformat(timespec="microseconds"), event.actor_id,
                         event.actor, event.actor_role, event.action, event.object_type, event.object_id,
                         event.round_id, event.pcn_id, event.before, event.after])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def current_actor() -> tuple[int | None, str, str | None]:
    """(user id, who, role) of the change: the signed-in user, else the CLI operator."""
    if has_request_context():
        try:
            from flask_login import current_user
        except ImportError:  # pragma: no cover - flask-login is a dependency
            current_user = None
        if current_user is not None and getattr(current_user, "is_authenticated", False):
            roles = ",".join(sorted({r.role for r in getattr(current_user, "roles", [])})) or None
            return current_user.id, current_user.email, roles
        return None, "anonymous", None
    try:
        who = getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        who = "unknown"
    return None, f"cli:{who}", "operator"


def record(*, action: str, object_type: str, object_id: str | None, before: dict | None = None,
           after: dict | None = None, round_id: int | None = None, pcn_id: int | None = None) -> AuditEvent:
    """Append an event to the current transaction (the caller commits or rolls back)."""
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)
    if db.engine.dialect.name == "postgresql":
        # One appender at a time until its transaction ends: a second one waits here and then
        # reads the first one's event as the last (a row lock alone would let it read the old last
        # event again, and its insert would fail on the unique seq).
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK_KEY})
    last = db.session.scalar(query)
    actor_id, actor, role = current_actor()
    event = AuditEvent(
        seq=(last.seq + 1) if last else 1, at=utcnow(), actor_id=actor_id, actor=actor[:254], actor_role=role,
        action=action, object_type=object_type, object_id=None if object_id is None else str(object_id)[:60],
        round_id=round_id, pcn_id=pcn_id,
        before=None if before is None else canonical(before), after=None if after is None else canonical(after),
        prev_hash=last.hash if last else GENESIS, hash="")
    event.hash = event_hash(event.prev_hash, event)
    db.session.add(event)
    db.session.flush()
    return event


@dataclass
class Verification:
    ok: bool
    events: int
    first_broken: int | None = None      # seq (or position) of the first broken event
    reason: str | None = None

    def line(self) -> str:
        if self.ok:
            return f"Audit trail intact: {self.events} events, every hash and link verified."
        return f"Audit trail BROKEN at event {self.first_broken}: {self.reason}"


def verify() -> Verification:
    """Recompute the chain from the first event."""
    prev, expected_seq, count = GENESIS, 1, 0
    for event in db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq, AuditEvent.id)):
        count += 1
        if event.seq != expected_seq:
            return Verification(False, count, event.seq,
                                f"expected event {expected_seq} here, found {event.seq} (an event is missing)")
        if event.prev_hash != prev:
            return Verification(False, count, event.seq, "its link to the previous event does not match "
                                                         "(events deleted or reordered)")
        if event_hash(prev, event) != event.hash:
            return Verification(False, count, event.seq, "its contents do not match its hash (changed)")
        prev, expected_seq = event.hash, expected_seq + 1
    return Verification(True, count)


def events(*, round_id: int | None = None, pcn_id: int | None = None, actor_id: int | None = None,
           object_type: str | None = None, object_id: str | None = None, limit: int = 500) -> list[AuditEvent]:
    """Events filtered for the audit pages, newest first."""
    query = select(AuditEvent)
    for column, value in ((AuditEvent.round_id, round_id), (AuditEvent.pcn_id, pcn_id),
                          (AuditEvent.actor_id, actor_id), (AuditEvent.object_type, object_type),
                          (AuditEvent.object_id, object_id)):
        if value is not None:
            query = query.where(column == value)
    return list(db.session.scalars(query.order_by(AuditEvent.seq.desc()).limit(limit)))
