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

The head is anchored outside the table. Deleting the newest events leaves an intact but shorter
chain, which the chain alone cannot tell from a trail that ended there; so after every commit that
appended events, the new head (``SEQ HASH TIME``) is appended to an append-only file,
``AUDIT_ANCHOR`` (``PCNREG_AUDIT_ANCHOR``, default ``instance/audit-anchor.log``; several app
servers must share one path). ``verify`` checks that every anchored head is in the trail with the
same hash, and against a head given by the caller (``--expect SEQ:HASH``, e.g. one printed in a
committee pack or an audit CSV): a trail shorter than an anchored head is reported as missing
its newest events.
"""
from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import getpass
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from flask import current_app, has_app_context, has_request_context
from sqlalchemy import event as sa_event
from sqlalchemy import select, text
from sqlalchemy.orm import Session

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


_ACTING_AS: contextvars.ContextVar[str | None] = contextvars.ContextVar("pcnreg_acting_as", default=None)


@contextlib.contextmanager
def acting_as(who: str):
    """Within the block, changes made outside a request are recorded as ``who`` (e.g. the demo
    loader writing the 2019 round's history), not as the CLI operator."""
    token = _ACTING_AS.set(who)
    try:
        yield
    finally:
        _ACTING_AS.reset(token)


def current_actor() -> tuple[int | None, str, str | None]:
    """(user id, who, role) of the change: the signed-in user, else the CLI operator."""
    if _ACTING_AS.get() is not None and not has_request_context():
        return None, _ACTING_AS.get(), "operator"
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
    db.session.info[_PENDING_HEAD] = (event.seq, event.hash)
    return event


# --- the anchor: the head outside the table ------------------------------------------------------------

_PENDING_HEAD = "pcnreg.audit_head"
log = logging.getLogger("pcnreg.errors")


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str

    def text(self) -> str:
        return f"{self.seq}:{self.hash}"


def parse_head(value: str) -> Head:
    """``SEQ:HASH`` (as printed by ``pcnreg audit head``), or ValueError."""
    seq, _, digest = (value or "").strip().partition(":")
    digest = digest.strip().lower()
    if not (seq.isascii() and seq.isdigit() and len(seq) <= 12 and len(digest) == 64
            and all(c in "0123456789abcdef" for c in digest)):
        raise ValueError(f"{value!r} is not a head: write SEQ:HASH, e.g. 42:3f5c… (64 hex digits)")
    return Head(int(seq), digest)


def head() -> Head | None:
    """The newest event's sequence number and hash (None: no events)."""
    last = db.session.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))
    return Head(last.seq, last.hash) if last else None


def anchor_path() -> Path | None:
    if not has_app_context():
        return None
    value = current_app.config.get("AUDIT_ANCHOR")
    return Path(value) if value else None


def append_anchor(h: Head, path: Path | None = None) -> None:
    """Append ``h`` to the anchor file (created mode 0600; O_APPEND, fsync'd)."""
    path = path or anchor_path()
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    line = f"{h.seq} {h.hash} {utcnow().isoformat(timespec='seconds')}Z\n".encode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_anchor(path: Path | None = None) -> list[Head] | None:
    """The anchored heads in file order (None: no anchor file). Malformed lines are skipped."""
    path = path or anchor_path()
    if path is None or not path.exists():
        return None
    heads = []
    for line in path.read_text(encoding="ascii", errors="replace").splitlines():
        parts = line.split()
        if len(parts) >= 2:
            try:
                heads.append(parse_head(f"{parts[0]}:{parts[1]}"))
            except ValueError:
                continue
    return heads


@sa_event.listens_for(Session, "after_commit")
def _anchor_after_commit(session) -> None:
    pending = session.info.pop(_PENDING_HEAD, None)
    if pending is None:
        return
    try:
        append_anchor(Head(*pending))
    except OSError:             # the change is committed: say so loudly, verify will report it
        log.error("could not append the audit head %s:%s to the anchor file %s", pending[0], pending[1],
                  anchor_path(), exc_info=True)


@sa_event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session) -> None:
    session.info.pop(_PENDING_HEAD, None)


@dataclass
class Verification:
    ok: bool
    events: int
    first_broken: int | None = None      # seq (or position) of the first broken event
    reason: str | None = None

    def line(self) -> str:
        if self.ok:
            return f"Audit trail intact: {self.events} events, every hash and link verified, the head anchored."
        return f"Audit trail BROKEN at event {self.first_broken}: {self.reason}"


def verify(expect: Head | None = None, anchor: bool = True) -> Verification:
    """Recompute the chain from the first event, then check the head against the anchor file
    (every anchored head must be in the trail with its hash) and against ``expect``."""
    chain, hashes = _verify_chain()
    if not chain.ok:
        return chain
    last = max(hashes) if hashes else 0
    checks: list[tuple[str, Head]] = []
    if anchor:
        heads = read_anchor()
        if heads is None and anchor_path() is not None and hashes:
            return Verification(False, chain.events, last + 1,
                                f"the anchor file {anchor_path()} is missing, so deleted newest events could not "
                                "be detected (restore it, or start one with `pcnreg audit head --anchor`)")
        checks += [("the anchor file", h) for h in heads or []]
    if expect is not None:
        checks.append(("the expected head", expect))
    for source, h in checks:
        if h.seq > last:
            return Verification(False, chain.events, last + 1,
                                f"the newest events are missing: {source} records event {h.seq} "
                                f"(hash {h.hash[:12]}…) but the trail ends at event {last}")
        if hashes.get(h.seq) != h.hash:
            return Verification(False, chain.events, h.seq,
                                f"its hash does not match {source} (the trail was rewritten from here)")
    return chain


def _verify_chain() -> tuple[Verification, dict[int, str]]:
    prev, expected_seq, count = GENESIS, 1, 0
    hashes: dict[int, str] = {}
    for event in db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq, AuditEvent.id)):
        count += 1
        if event.seq != expected_seq:
            return Verification(False, count, event.seq,
                                f"expected event {expected_seq} here, found {event.seq} (an event is missing)"), hashes
        if event.prev_hash != prev:
            return Verification(False, count, event.seq, "its link to the previous event does not match "
                                                         "(events deleted or reordered)"), hashes
        if event_hash(prev, event) != event.hash:
            return Verification(False, count, event.seq, "its contents do not match its hash (changed)"), hashes
        hashes[event.seq] = event.hash
        prev, expected_seq = event.hash, expected_seq + 1
    return Verification(True, count), hashes


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
