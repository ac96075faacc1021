"""A PCN's registration in a round: its draft, submission (immutable snapshot), state, deadline
status and what it still misses; commissioners' chase lists, confirmation and go-live.

The rules live in the domain core (``domain.registration``: what is missing; ``domain.workflow``:
the transition table; ``domain.deadlines``: UK-local deadlines). This module gathers the facts
from the database, asks the core, and writes: every change is one transaction with its audit
event; a refusal raises ``RegistrationError`` with messages for the user and writes nothing.
Concurrent state changes of one PCN: all but the first fail (``Registration.lock_version``).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

import shapely
from sqlalchemy import func, select

from ..domain import deadlines, workflow
from ..domain import registration as reg
from ..domain.dates import uk_date
from ..domain.rules import band_status
from ..domain.types import Finding
from ..extensions import db
from ..models import (
    AgendaItem,
    AgreementSignature,
    Commissioner,
    CoverageConfirmation,
    ExceptionRequest,
    Meeting,
    MemberConfirmation,
    Pcn,
    Practice,
    Registration,
    RegistrationRound,
    StoredFile,
    Submission,
)
from . import audit, clock
from . import rounds as rounds_svc
from .errors import ServiceError
from .transactions import one_transaction

SNAPSHOT_SCHEMA = 1
MAX_AGREEMENT_BYTES = 10 * 1024 * 1024
# What an agreement upload may be: signed PDFs, or scans as PNG/JPEG (checked by content).
FILE_SIGNATURES = {b"%PDF-": "application/pdf", b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}
CONCURRENT = "Someone else changed this registration at the same moment: nothing was saved. Reload and try again."


class RegistrationError(ServiceError):
    """A refused change of a registration: ``messages`` for the user (``field``: the form field they concern)."""


_commit = one_transaction(lambda: RegistrationError(CONCURRENT))


def actor() -> str:
    return audit.current_actor()[1]


# --- reading ------------------------------------------------------------------------------------

def registration(rnd: RegistrationRound, pcn: Pcn) -> Registration:
    """The PCN's registration row; an unsaved draft when it has none yet (reading writes nothing)."""
    row = db.session.scalar(select(Registration).where(Registration.round_id == rnd.id,
                                                       Registration.pcn_id == pcn.id))
    return row if row is not None else Registration(round_id=rnd.id, pcn_id=pcn.id, state="draft")


def _stored(rnd: RegistrationRound, pcn: Pcn) -> Registration:
    row = registration(rnd, pcn)
    if row.id is None:
        db.session.add(row)
        db.session.flush()
    return row


def confirmations(rnd: RegistrationRound, pcn: Pcn) -> dict[str, MemberConfirmation]:
    return {c.practice_code: c for c in db.session.scalars(select(MemberConfirmation).where(
        MemberConfirmation.round_id == rnd.id, MemberConfirmation.pcn_id == pcn.id))}


def signatures(rnd: RegistrationRound, pcn: Pcn) -> dict[tuple[str, str], AgreementSignature]:
    return {(s.practice_code, s.stage): s for s in db.session.scalars(select(AgreementSignature).where(
        AgreementSignature.round_id == rnd.id, AgreementSignature.pcn_id == pcn.id))}


def exception_requests(rnd: RegistrationRound, pcn: Pcn) -> list[ExceptionRequest]:
    return list(db.session.scalars(select(ExceptionRequest).where(
        ExceptionRequest.round_id == rnd.id, ExceptionRequest.pcn_id == pcn.id).order_by(ExceptionRequest.id)))


def submissions(rnd: RegistrationRound, pcn: Pcn) -> list[Submission]:
    return list(db.session.scalars(select(Submission).where(
        Submission.round_id == rnd.id, Submission.pcn_id == pcn.id).order_by(Submission.number.desc())))


def latest_submission(rnd: RegistrationRound, pcn_id: int) -> Submission | None:
    return db.session.scalar(select(Submission).where(Submission.round_id == rnd.id, Submission.pcn_id == pcn_id)
                             .order_by(Submission.number.desc()).limit(1))


def blocking_findings(data: rounds_svc.RoundData, key: str) -> list[Finding]:
    return [f for f in data.findings_for_pcn(key) if f.severity == "error"]


def _cd(name, practice, profession=None, process=None, details=None) -> reg.ClinicalDirector | None:
    return reg.ClinicalDirector(name, practice, profession, process, details) if name else None


@dataclass
class Records:
    """A round's registration records, read in a few queries (not a few per PCN): what the drafts
    of many PCNs are built from. Agreement files are read without their content."""

    rows: dict[int, Registration]
    confirmed: dict[int, frozenset[str]]
    signatures: dict[int, dict[tuple[str, str], reg.Signature]]
    requested: dict[int, frozenset[str]]
    latest: dict[int, Submission]

    @classmethod
    def load(cls, rnd: RegistrationRound, pcn_ids: list[int] | None = None) -> Records:
        def where(model):
            clause = [model.round_id == rnd.id]
            if pcn_ids is not None:
                clause.append(model.pcn_id.in_(pcn_ids))
            return clause

        rows = {r.pcn_id: r for r in db.session.scalars(select(Registration).where(*where(Registration)))}
        confirmed: dict[int, set[str]] = {}
        for pcn_id, code in db.session.execute(select(MemberConfirmation.pcn_id, MemberConfirmation.practice_code)
                                               .where(*where(MemberConfirmation))):
            confirmed.setdefault(pcn_id, set()).add(code)
        sigs: dict[int, dict[tuple[str, str], reg.Signature]] = {}
        for s, name, sha in db.session.execute(
                select(AgreementSignature, StoredFile.name, StoredFile.sha256)
                .join(StoredFile, StoredFile.id == AgreementSignature.file_id).where(*where(AgreementSignature))):
            sigs.setdefault(s.pcn_id, {})[(s.practice_code, s.stage)] = reg.Signature(
                s.practice_code, s.stage, s.signed_on, s.signatory, name, sha)  # type: ignore[arg-type]
        requested: dict[int, set[str]] = {}
        for r in db.session.scalars(select(ExceptionRequest).where(*where(ExceptionRequest))):
            requested.setdefault(r.pcn_id, set()).add(reg.request_key(r.rule, r.subject_ref))
        latest: dict[int, Submission] = {}
        for sub in db.session.scalars(select(Submission).where(*where(Submission)).order_by(Submission.number)):
            latest[sub.pcn_id] = sub                  # the highest number last
        return cls(rows, {k: frozenset(v) for k, v in confirmed.items()}, sigs,
                   {k: frozenset(v) for k, v in requested.items()}, latest)

    def row(self, rnd: RegistrationRound, pcn: Pcn) -> Registration:
        return self.rows.get(pcn.id) or Registration(round_id=rnd.id, pcn_id=pcn.id, state="draft")


def _own_account_allowed(rnd: RegistrationRound) -> bool:
    from .payment import rule_for

    return rule_for(rnd).own_account_allowed


def draft_of(data: rounds_svc.RoundData, pcn: Pcn, row: Registration | None = None,
             records: Records | None = None) -> reg.Draft:
    """The PCN's registration as the domain core sees it (members from the head configuration)."""
    rnd = data.round
    records = records or Records.load(rnd, [pcn.id])
    row = row or records.row(rnd, pcn)
    key = str(pcn.id)
    return reg.Draft(
        pcn_key=key, pcn_name=pcn.name, members=data.pcn_data(key).members,
        confirmations=records.confirmed.get(pcn.id, frozenset()),
        signatures=records.signatures.get(pcn.id, {}),
        payee=row.payee_practice_code,
        own_account=row.paid_into == "own_account",
        own_account_allowed=_own_account_allowed(rnd),
        clinical_director=_cd(row.cd_name, row.cd_practice_code, row.cd_profession, row.cd_process,
                              row.cd_process_details),
        deputy=_cd(row.deputy_cd_name, row.deputy_cd_practice_code),
        blocking=tuple(blocking_findings(data, key)),
        requested=records.requested.get(pcn.id, frozenset()),
        names={code: data.config.practices[code].name for code in data.pcn_data(key).members
               if code in data.config.practices})


def facts(rnd: RegistrationRound, row: Registration, *, now: dt.datetime, missing=(), **more) -> workflow.Facts:
    tz = rnd.timezone
    return workflow.Facts(
        state=row.state, now=now,
        deadline_closes=deadlines.closes_at(rnd.submission_deadline, tz) if rnd.submission_deadline else None,
        go_live_starts=deadlines.starts_at(rnd.go_live, tz) if rnd.go_live else None,
        late_override=bool(row.late_override_at), missing=tuple(missing), **more)


@dataclass
class PcnStatus:
    """A PCN's place in the round, for the status pages, the chase list, the CLI and the API."""

    key: str
    name: str
    code: str | None
    lead_commissioner: str | None
    state: str
    deadline: deadlines.DeadlineStatus
    missing: list[reg.Missing]
    total: int
    band: str
    submissions: int
    last_submitted_at: dt.datetime | None
    late_override: bool
    schedule1_missing: list[reg.Missing] = field(default_factory=list)

    @property
    def state_title(self) -> str:
        return workflow.STATE_TITLES[self.state]

    def as_dict(self) -> dict:
        return {
            "pcn_id": int(self.key), "name": self.name, "code": self.code,
            "lead_commissioner": self.lead_commissioner, "state": self.state,
            "deadline_status": self.deadline.kind, "deadline_text": self.deadline.text,
            "days_left": self.deadline.days_left, "list_size": self.total, "band": self.band,
            "submissions": self.submissions,
            "last_submitted_at": self.last_submitted_at.isoformat() if self.last_submitted_at else None,
            "late_override": self.late_override,
            "missing": [m.as_dict() for m in self.missing],
        }


def status(data: rounds_svc.RoundData, pcn: Pcn, *, now: dt.datetime | None = None,
           records: Records | None = None) -> PcnStatus:
    rnd = data.round
    now = now or clock.now()
    records = records or Records.load(rnd, [pcn.id])
    row = records.row(rnd, pcn)
    draft = draft_of(data, pcn, row, records)
    last = records.latest.get(pcn.id)
    last_at = clock.from_utc_naive(last.submitted_at) if last else None
    # Only a draft misses something: a submission is judged on its snapshot.
    missing = reg.missing(draft, stages=("core",)) if row.state == "draft" else []
    # Schedule 1 signatures are listed whatever the state: due by their own date, not to submit.
    schedule1 = reg.unsigned(draft, "schedule1")
    key = str(pcn.id)
    total = data.pcn_total(key)
    # The lead commissioner's code as the round's state holds it (no query per PCN); a PCN not
    # in the state (retired) from its model.
    held = data.state.pcn_by_key.get(key)
    return PcnStatus(
        key=key, name=pcn.name, code=pcn.code,
        lead_commissioner=held.lead_commissioner if held is not None else
        (pcn.lead_commissioner.code if pcn.lead_commissioner else None),
        state=row.state,
        deadline=deadlines.status(row.state, now=now, deadline=rnd.submission_deadline, timezone=rnd.timezone,
                                  last_submitted_at=last_at, late_override=bool(row.late_override_at)),
        missing=missing, total=total, band=band_status(total, rnd.band_min, rnd.band_max),
        submissions=last.number if last else 0, last_submitted_at=last_at,
        late_override=bool(row.late_override_at), schedule1_missing=schedule1)


def round_status(rnd: RegistrationRound, *, now: dt.datetime | None = None,
                 data: rounds_svc.RoundData | None = None) -> list[PcnStatus]:
    """Every active PCN of the round, by name (the records read once for all of them)."""
    data = data or rounds_svc.build_configuration(rnd)
    now = now or clock.now()
    records = Records.load(rnd)
    data.pcns.preload([p.key for p in data.config.pcns])         # the models in one query
    return [status(data, data.pcns[p.key], now=now, records=records) for p in data.config.pcns]


# --- chase list ---------------------------------------------------------------------------------

@dataclass
class ChaseGroup:
    commissioner_code: str
    commissioner_name: str
    pcns: list[PcnStatus]                         # PCNs still missing something or not submitted
    unassigned: list[tuple[str, str]]             # open practices of the commissioner in no PCN

    @property
    def empty(self) -> bool:
        return not self.pcns and not self.unassigned


def chase_list(rnd: RegistrationRound, *, now: dt.datetime | None = None) -> list[ChaseGroup]:
    """Per commissioner (by the PCN's lead commissioner): PCNs not yet submitted with what each
    misses, submitted ones still owing Schedule 1 signatures, and practices in no PCN."""
    data = rounds_svc.build_configuration(rnd)
    rows = round_status(rnd, now=now, data=data)
    assigned = data.config.assigned_codes()
    groups: dict[str, ChaseGroup] = {}
    for c in db.session.scalars(select(Commissioner).where(Commissioner.system_id == rnd.system_id)
                                .order_by(Commissioner.name)):
        groups[c.code] = ChaseGroup(c.code, c.name, [], [])
    for row in rows:
        if row.state == "draft" or row.schedule1_missing:
            group = groups.setdefault(row.lead_commissioner or "", ChaseGroup(row.lead_commissioner or "",
                                                                             "No lead commissioner", [], []))
            group.pcns.append(row)
    for code, practice in sorted(data.config.practices.items()):
        if practice.status == "open" and code not in assigned:
            groups.setdefault(practice.commissioner, ChaseGroup(practice.commissioner, practice.commissioner, [], []))
            groups[practice.commissioner].unassigned.append((code, practice.name))
    return list(groups.values())


# --- the draft: confirmations, agreement, payee, Clinical Director, exception requests ----------------


def _open_draft(rnd: RegistrationRound, pcn: Pcn, now: dt.datetime) -> Registration:
    """The registration, ready for an edit of its draft. Editing a submitted (not yet reviewed),
    deferred or rejected registration starts a new draft; the submitted snapshot stays as it was."""
    row = _stored(rnd, pcn)
    if row.state not in workflow.EDITABLE:
        raise RegistrationError(
            f"The registration is {workflow.STATE_TITLES[row.state].lower()}: it cannot be changed now")
    reason = workflow.before_go_live(facts(rnd, row, now=now))
    if reason:
        raise RegistrationError(reason)
    if row.state != "draft":
        _move(rnd, pcn, row, "withdraw" if row.state == "submitted" else "reopen", now=now,
              note="edited after submission: a new draft")
    row.updated_at = clock.to_utc_naive(now)
    return row


def _members(rnd: RegistrationRound, pcn: Pcn) -> tuple[str, ...]:
    from ..models import Membership

    return tuple(sorted(db.session.scalars(select(Practice.code).join(Membership, Membership.practice_id == Practice.id)
                                           .where(Membership.round_id == rnd.id, Membership.pcn_id == pcn.id))))


def _member(rnd: RegistrationRound, pcn: Pcn, code: str, field: str = "practice") -> str:
    code = (code or "").strip().upper()
    if code not in _members(rnd, pcn):
        raise RegistrationError(f"{code or 'That practice'} is not a member practice of {pcn.name}", field)
    return code


@_commit
def confirm_member(rnd: RegistrationRound, pcn: Pcn, practice_code: str) -> MemberConfirmation:
    now = clock.now()
    code = _member(rnd, pcn, practice_code)
    _open_draft(rnd, pcn, now)
    existing = confirmations(rnd, pcn).get(code)
    if existing:
        return existing
    row = MemberConfirmation(round_id=rnd.id, pcn_id=pcn.id, practice_code=code, confirmed_by=actor(),
                             confirmed_at=clock.to_utc_naive(now))
    db.session.add(row)
    audit.record(action="registration.confirm_member", object_type="practice", object_id=code,
                 after={"pcn": pcn.name}, round_id=rnd.id, pcn_id=pcn.id)
    return row


def file_type(content: bytes) -> str | None:
    return next((kind for magic, kind in FILE_SIGNATURES.items() if content.startswith(magic)), None)


@_commit
def sign_agreement(rnd: RegistrationRound, pcn: Pcn, practice_code: str, *, stage: str, signed_on: dt.date | None,
                   signatory: str, file_name: str, content: bytes) -> AgreementSignature:
    """Record a member's signature of the Network Agreement (one stage) with the signed file."""
    now = clock.now()
    problems: list[str] = []
    if stage not in reg.STAGES:
        problems.append("Choose which part of the Network Agreement was signed")
    if signed_on is None:
        problems.append("Enter the date the agreement was signed")
    elif signed_on > now.astimezone(deadlines.ZoneInfo(rnd.timezone)).date():
        problems.append("The date signed cannot be in the future")
    if not (signatory or "").strip():
        problems.append("Enter the name of the person who signed for the practice")
    if not content:
        problems.append("Choose the signed agreement file to upload")
    elif len(content) > MAX_AGREEMENT_BYTES:
        problems.append(f"The file is larger than {MAX_AGREEMENT_BYTES // (1024 * 1024)} MB")
    elif file_type(content) is None:
        problems.append("The signed agreement must be a PDF, PNG or JPEG file")
    code = _member(rnd, pcn, practice_code)
    if problems:
        raise RegistrationError(problems)
    _open_draft(rnd, pcn, now)
    digest = hashlib.sha256(content).hexdigest()
    stored = StoredFile(name=(file_name or "agreement").rsplit("/", 1)[-1][:255], content_type=file_type(content),
                        size=len(content), sha256=digest, content=content, uploaded_by=actor(),
                        uploaded_at=clock.to_utc_naive(now))
    db.session.add(stored)
    db.session.flush()
    existing = signatures(rnd, pcn).get((code, stage))
    before = {"signed_on": existing.signed_on, "signatory": existing.signatory,
              "file_sha256": existing.file.sha256} if existing else None
    if existing is None:
        existing = AgreementSignature(round_id=rnd.id, pcn_id=pcn.id, practice_code=code, stage=stage)
        db.session.add(existing)
    existing.signed_on, existing.signatory, existing.file_id = signed_on, signatory.strip()[:200], stored.id
    existing.recorded_by, existing.recorded_at = actor(), clock.to_utc_naive(now)
    audit.record(action="registration.sign_agreement", object_type="practice", object_id=code, before=before,
                 after={"stage": stage, "signed_on": signed_on, "signatory": existing.signatory,
                        "file": stored.name, "file_sha256": digest}, round_id=rnd.id, pcn_id=pcn.id)
    return existing


def agreement_file(rnd: RegistrationRound, pcn: Pcn, file_id: int) -> StoredFile | None:
    """A stored agreement file of this PCN (current or in a snapshot), or None."""
    found = db.session.get(StoredFile, file_id)
    if found is None:
        return None
    current = any(s.file_id == file_id for s in signatures(rnd, pcn).values())
    in_snapshot = any(a.get("file_id") == file_id for s in submissions(rnd, pcn)
                      for a in json.loads(s.snapshot).get("agreement", []))
    return found if current or in_snapshot else None


@_commit
def set_payee(rnd: RegistrationRound, pcn: Pcn, practice_code: str, reference: str = "") -> Registration:
    """Nominate the payee: a member practice (bank details are never stored, only a reference)."""
    now = clock.now()
    code = (practice_code or "").strip().upper()
    problem = reg.check_payee(code, _members(rnd, pcn)) if code else "Choose the member practice that will be paid"
    if problem:
        raise RegistrationError(problem, "payee")
    reference = " ".join((reference or "").split())[:100]
    if any(ch.isdigit() for ch in reference) and sum(ch.isdigit() for ch in reference) >= 8:
        raise RegistrationError("Do not enter bank details: the reference is a name for the payment, such as "
                                "the practice's finance contact", "reference")
    row = _open_draft(rnd, pcn, now)
    before = {"payee": row.payee_practice_code, "reference": row.payee_reference}
    row.payee_practice_code, row.payee_reference = code, reference or None
    audit.record(action="registration.payee", object_type="pcn", object_id=str(pcn.id), before=before,
                 after={"payee": code, "reference": row.payee_reference}, round_id=rnd.id, pcn_id=pcn.id)
    return row


@_commit
def set_clinical_director(rnd: RegistrationRound, pcn: Pcn, *, name: str, practice_code: str, profession: str,
                          process: str, process_details: str = "", deputy_name: str = "",
                          deputy_practice_code: str = "") -> Registration:
    now = clock.now()
    members = _members(rnd, pcn)
    cd = reg.ClinicalDirector(" ".join((name or "").split()), (practice_code or "").strip().upper() or None,
                              " ".join((profession or "").split()) or None, process or None,
                              (process_details or "").strip() or None)
    problems = reg.check_clinical_director(cd, members)
    if process == "election" and not _declared_election(rnd, pcn):
        problems.append("No Clinical Director election of this PCN has been declared yet: record an "
                        "appointment by agreement, or wait for the LMC's declaration")
    deputy_code = (deputy_practice_code or "").strip().upper() or None
    if deputy_name.strip() and deputy_code and deputy_code not in members:
        problems.append("The deputy must practise at a member practice of the network")
    if problems:
        raise RegistrationError(problems)
    row = _open_draft(rnd, pcn, now)
    before = {"name": row.cd_name, "practice": row.cd_practice_code, "process": row.cd_process,
              "deputy": row.deputy_cd_name}
    row.cd_name, row.cd_practice_code, row.cd_profession = cd.name[:200], cd.practice, cd.profession
    row.cd_process, row.cd_process_details = cd.process, cd.process_details
    row.deputy_cd_name = " ".join(deputy_name.split())[:200] or None
    row.deputy_cd_practice_code = deputy_code if row.deputy_cd_name else None
    audit.record(action="registration.clinical_director", object_type="pcn", object_id=str(pcn.id), before=before,
                 after={"name": row.cd_name, "practice": row.cd_practice_code, "process": row.cd_process,
                        "deputy": row.deputy_cd_name}, round_id=rnd.id, pcn_id=pcn.id)
    return row


def _declared_election(rnd: RegistrationRound, pcn: Pcn) -> bool:
    from ..models import Election

    return db.session.scalar(select(Election.id).where(Election.round_id == rnd.id, Election.pcn_id == pcn.id,
                                                       Election.state == "declared").limit(1)) is not None


def record_elected_cd(rnd: RegistrationRound, pcn: Pcn, *, name: str, practice_code: str, profession: str,
                      details: str) -> bool:
    """The LMC's declaration names the PCN's Clinical Director (in the caller's transaction).
    Copied into the registration's draft when it can be edited (a submitted one becomes a draft
    again); a registration under review or decided keeps its CD and the declaration stands on
    the election. Returns whether the draft was updated."""
    row = _stored(rnd, pcn)
    if row.state not in workflow.EDITABLE or workflow.before_go_live(facts(rnd, row, now=clock.now())):
        return False
    row = _open_draft(rnd, pcn, clock.now())
    before = {"name": row.cd_name, "process": row.cd_process}
    row.cd_name, row.cd_practice_code, row.cd_profession = name[:200], practice_code, profession[:100]
    row.cd_process, row.cd_process_details = "election", details
    audit.record(action="registration.clinical_director", object_type="pcn", object_id=str(pcn.id), before=before,
                 after={"name": row.cd_name, "practice": practice_code, "process": "election"},
                 round_id=rnd.id, pcn_id=pcn.id)
    return True


@_commit
def request_exception(rnd: RegistrationRound, pcn: Pcn, finding_key: str, reason: str) -> ExceptionRequest:
    """Ask for an exception to one of the PCN's blocking errors, with the reason."""
    now = clock.now()
    data = rounds_svc.build_configuration(rnd)
    errors = {reg.finding_key(f): f for f in blocking_findings(data, str(pcn.id))}
    finding = errors.get(finding_key or "")
    if finding is None:
        raise RegistrationError("That is not one of this PCN's blocking errors (it may have been resolved)", "finding")
    reason = (reason or "").strip()
    if not reason:
        raise RegistrationError("Enter the reason for the exception (rural or exceptional circumstances)", "reason")
    _open_draft(rnd, pcn, now)
    ref = reg.finding_ref(finding)
    existing = db.session.scalar(select(ExceptionRequest).where(
        ExceptionRequest.round_id == rnd.id, ExceptionRequest.pcn_id == pcn.id,
        ExceptionRequest.rule == finding.rule, ExceptionRequest.subject_ref == ref))
    before = {"reason": existing.reason} if existing else None
    if existing is None:
        existing = ExceptionRequest(round_id=rnd.id, pcn_id=pcn.id, rule=finding.rule, subject_ref=ref)
        db.session.add(existing)
    existing.message, existing.reason = finding.message, reason
    existing.requested_by, existing.requested_at = actor(), clock.to_utc_naive(now)
    audit.record(action="registration.exception_request", object_type="pcn", object_id=str(pcn.id), before=before,
                 after={"rule": finding.rule, "subject": ref, "reason": reason}, round_id=rnd.id, pcn_id=pcn.id)
    return existing


@_commit
def allow_late(rnd: RegistrationRound, pcn: Pcn, reason: str) -> Registration:
    """A commissioner's recorded override that accepts this PCN's submission after the deadline."""
    reason = (reason or "").strip()
    if not reason:
        raise RegistrationError("Enter why a late submission is accepted", "reason")
    row = _stored(rnd, pcn)
    row.late_override_reason, row.late_override_by = reason, actor()
    row.late_override_at = clock.to_utc_naive(clock.now())
    audit.record(action="registration.allow_late", object_type="pcn", object_id=str(pcn.id),
                 after={"reason": reason}, round_id=rnd.id, pcn_id=pcn.id)
    return row


# --- state changes ---------------------------------------------------------------------------------

def _move(rnd: RegistrationRound, pcn: Pcn, row: Registration, name: str, *, now: dt.datetime,
          note: str | None = None, **fact_values) -> str:
    """Perform transition ``name`` on ``row`` (within the caller's transaction), audited."""
    before = row.state
    try:
        row.state = workflow.perform(name, facts(rnd, row, now=now, **fact_values))
    except workflow.Refused as exc:
        raise RegistrationError(exc.reasons) from exc
    row.updated_at = clock.to_utc_naive(now)
    audit.record(action=f"registration.{name}", object_type="pcn", object_id=str(pcn.id),
                 before={"state": before}, after={"state": row.state, **({"note": note} if note else {})},
                 round_id=rnd.id, pcn_id=pcn.id)
    db.session.flush()        # the optimistic lock is checked here
    return row.state


def transition(rnd: RegistrationRound, pcn: Pcn, name: str, *, now: dt.datetime | None = None,
               **fact_values) -> str:
    """A transition other services drive in their own transaction (the committee's decisions)."""
    return _move(rnd, pcn, _stored(rnd, pcn), name, now=now or clock.now(), **fact_values)


def snapshot(data: rounds_svc.RoundData, pcn: Pcn, row: Registration, draft: reg.Draft, *,
             submitted_at: dt.datetime, submitted_by: str, late: bool) -> dict:
    """Everything submitted, as plain JSON: it is frozen in the ``Submission``."""
    rnd, key = data.round, str(pcn.id)
    confirmed = confirmations(rnd, pcn)
    sigs = signatures(rnd, pcn)
    names = {c: data.practices[c].name for c in draft.members if c in data.practices}
    members = []
    for code in draft.members:
        p = data.config.practices.get(code)
        c = confirmed.get(code)
        members.append({"code": code, "name": names.get(code, code), "commissioner": p.commissioner if p else None,
                        "list_size": p.list_size if p else None,
                        "list_size_date": p.list_size_date.isoformat() if p and p.list_size_date else None,
                        "confirmed_by": c.confirmed_by if c else None,
                        "confirmed_at": c.confirmed_at.isoformat() if c else None})
    area = None
    geography = data.config.geography
    if geography is not None and key in geography.pcn_areas:
        from .maps import display_geometries

        geom = geography.pcn_areas[key]
        shown = display_geometries([geom])[0]
        area = {"source": geography.pcn_area_source.get(key), "area_km2": round(geom.area / 1e6, 2),
                "geometry": shapely.geometry.mapping(shown)}
    total = data.pcn_total(key)
    version = rnd.head_version
    requests = exception_requests(rnd, pcn)
    return {
        "schema": SNAPSHOT_SCHEMA,
        "round": {"id": rnd.id, "name": rnd.name, "reference_date": rnd.reference_date.isoformat(),
                  "band_min": rnd.band_min, "band_max": rnd.band_max},
        "pcn": {"id": pcn.id, "name": pcn.name, "code": pcn.code,
                "place": pcn.place.name if pcn.place else None,
                "lead_commissioner": pcn.lead_commissioner.code if pcn.lead_commissioner else None},
        "config_version": {"id": version.id, "number": version.number} if version else None,
        "members": members,
        "list_size": total,
        "band": band_status(total, rnd.band_min, rnd.band_max),
        "area": area,
        "agreement": [{"practice": s.practice_code, "stage": s.stage, "signed_on": s.signed_on.isoformat(),
                       "signatory": s.signatory, "file_id": s.file_id, "file_name": s.file.name,
                       "file_sha256": s.file.sha256} for _, s in sorted(sigs.items())],
        "payee": {"practice": row.payee_practice_code, "name": names.get(row.payee_practice_code or ""),
                  "reference": row.payee_reference,
                  "paid_into": "own_account" if row.paid_into == "own_account" and not row.payee_practice_code
                  else ("payee" if row.payee_practice_code else None)},
        "clinical_director": {"name": row.cd_name, "practice": row.cd_practice_code, "profession": row.cd_profession,
                              "process": row.cd_process, "process_details": row.cd_process_details},
        "deputy_clinical_director": {"name": row.deputy_cd_name, "practice": row.deputy_cd_practice_code}
        if row.deputy_cd_name else None,
        "findings": [f.as_dict() for f in data.findings_for_pcn(key)],
        "exception_requests": [{"id": r.id, "rule": r.rule, "subject": r.subject_ref, "message": r.message,
                                "reason": r.reason, "requested_by": r.requested_by,
                                "requested_at": r.requested_at.isoformat()} for r in requests
                               if reg.request_key(r.rule, r.subject_ref) in {reg.finding_key(f) for f in draft.blocking}],
        "submitted": {"at": submitted_at.isoformat(), "by": submitted_by, "late": late,
                      "late_override": row.late_override_reason if late else None},
    }


def canonical_snapshot(snap: dict) -> str:
    return json.dumps(snap, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@_commit
def submit(rnd: RegistrationRound, pcn: Pcn) -> Submission:
    """Submit the PCN's registration: check the transition, freeze the snapshot. One transaction."""
    now = clock.now()
    data = rounds_svc.build_configuration(rnd)
    if str(pcn.id) not in data.pcns:
        raise RegistrationError(f"{pcn.name} is not in the current configuration of {rnd.name}")
    row = _stored(rnd, pcn)
    draft = draft_of(data, pcn, row)
    _move(rnd, pcn, row, "submit", now=now, missing=reg.missing(draft, stages=("core",)))
    late = deadlines.is_late(now, rnd.submission_deadline, rnd.timezone)
    snap = snapshot(data, pcn, row, draft, submitted_at=now, submitted_by=actor(), late=late)
    text = canonical_snapshot(snap)
    number = (db.session.scalar(select(func.max(Submission.number)).where(
        Submission.round_id == rnd.id, Submission.pcn_id == pcn.id)) or 0) + 1
    sub = Submission(round_id=rnd.id, pcn_id=pcn.id, number=number, config_version_id=rnd.head_version_id,
                     submitted_at=clock.to_utc_naive(now), submitted_by=actor(), late=late, snapshot=text,
                     snapshot_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest())
    db.session.add(sub)
    audit.record(action="registration.snapshot", object_type="submission", object_id=f"{pcn.id}/{number}",
                 after={"number": number, "sha256": sub.snapshot_sha256, "late": late,
                        "config_version": snap["config_version"]}, round_id=rnd.id, pcn_id=pcn.id)
    db.session.flush()
    return sub


@_commit
def withdraw(rnd: RegistrationRound, pcn: Pcn) -> str:
    return _move(rnd, pcn, _stored(rnd, pcn), "withdraw", now=clock.now())


@_commit
def reopen(rnd: RegistrationRound, pcn: Pcn) -> str:
    return _move(rnd, pcn, _stored(rnd, pcn), "reopen", now=clock.now())


def snapshot_of(sub: Submission) -> dict:
    """A submission's snapshot, checked against its recorded hash."""
    if hashlib.sha256(sub.snapshot.encode("utf-8")).hexdigest() != sub.snapshot_sha256:
        raise RegistrationError(f"Submission {sub.number} of PCN {sub.pcn_id} does not match its recorded hash")
    return json.loads(sub.snapshot)


def get_submission(rnd: RegistrationRound, pcn: Pcn, number: int) -> Submission | None:
    return db.session.scalar(select(Submission).where(Submission.round_id == rnd.id, Submission.pcn_id == pcn.id,
                                                      Submission.number == number))


# --- confirmation and go-live ----------------------------------------------------------------------


@dataclass
class CommissionerConfirmation:
    commissioner_id: int
    code: str
    name: str
    blockers: list[str]
    pcns: list[PcnStatus]              # the PCNs this commissioner leads
    confirmed: CoverageConfirmation | None

    @property
    def can_confirm(self) -> bool:
        return not self.blockers and self.confirmed is None


def confirmation_view(rnd: RegistrationRound, *, now: dt.datetime | None = None) -> list[CommissionerConfirmation]:
    """Per commissioner of the system: exactly what blocks its confirmation of 100% coverage.
    A commissioner confirms its open practices are all in PCNs and every PCN with any of its
    practices (or that it leads) is approved."""
    data = rounds_svc.build_configuration(rnd)
    rows = {r.key: r for r in round_status(rnd, now=now, data=data)}
    assigned = data.config.assigned_codes()
    done = {c.commissioner_id: c for c in db.session.scalars(
        select(CoverageConfirmation).where(CoverageConfirmation.round_id == rnd.id))}
    out = []
    for c in db.session.scalars(select(Commissioner).where(Commissioner.system_id == rnd.system_id)
                                .order_by(Commissioner.name)):
        blockers = []
        unassigned = [code for code, p in sorted(data.config.practices.items())
                      if p.commissioner == c.code and p.status == "open" and code not in assigned]
        for code in unassigned:
            blockers.append(f"{code} {data.config.practices[code].name} is not in any PCN")
        concerned = [p for p in data.config.pcns
                     if (p.lead_commissioner == c.code
                         or any(data.config.practices[m].commissioner == c.code for m in p.members
                                if m in data.config.practices))]
        for p in concerned:
            r = rows[p.key]
            if r.state not in workflow.APPROVED | workflow.DONE:
                blockers.append(f"{p.name} is {r.state_title.lower()}, not approved")
            if p.lead_commissioner is None:
                blockers.append(f"{p.name} has no lead commissioner")
        led = [rows[p.key] for p in data.config.pcns if p.lead_commissioner == c.code]
        out.append(CommissionerConfirmation(c.id, c.code, c.name, blockers, led, done.get(c.id)))
    return out


@_commit
def confirm_coverage(rnd: RegistrationRound, commissioner: Commissioner) -> CoverageConfirmation:
    """The commissioner confirms 100% coverage: its approved PCNs become confirmed."""
    now = clock.now()
    view = next((v for v in confirmation_view(rnd, now=now) if v.commissioner_id == commissioner.id), None)
    if view is None:
        raise RegistrationError(f"{commissioner.name} is not a commissioner of {rnd.system.name}")
    if view.confirmed is not None:
        raise RegistrationError(f"{commissioner.name} has already confirmed coverage for {rnd.name}")
    if view.blockers:
        raise RegistrationError(["Confirmation is blocked:"] + view.blockers)
    for status_row in view.pcns:
        if status_row.state in workflow.APPROVED:
            pcn = db.session.get(Pcn, int(status_row.key))
            _move(rnd, pcn, _stored(rnd, pcn), "confirm", now=now)
    row = CoverageConfirmation(round_id=rnd.id, commissioner_id=commissioner.id, confirmed_by=actor(),
                               confirmed_at=clock.to_utc_naive(now))
    db.session.add(row)
    audit.record(action="round.confirm_coverage", object_type="commissioner", object_id=commissioner.code,
                 after={"pcns": [r.name for r in view.pcns]}, round_id=rnd.id)
    return row


@dataclass
class GoLiveResult:
    live: list[str]
    not_live: list[str]          # "<PCN>: <state>"


def go_live_waits(rnd: RegistrationRound) -> str | None:
    """Why the round's PCNs cannot be marked live today (None: they can)."""
    if rnd.go_live is None:
        return "The round's go-live date is not set"
    if clock.now() < deadlines.starts_at(rnd.go_live, rnd.timezone):
        return f"The round's PCNs can be marked live from {uk_date(rnd.go_live)}"
    return None


@_commit
def go_live(rnd: RegistrationRound) -> GoLiveResult:
    """On or after the go-live date: every confirmed PCN of the round becomes live."""
    now = clock.now()
    rows = list(db.session.scalars(select(Registration).where(Registration.round_id == rnd.id)))
    by_pcn = {r.pcn_id: r for r in rows}
    result = GoLiveResult([], [])
    pcns = list(db.session.scalars(select(Pcn).where(Pcn.round_id == rnd.id, Pcn.active.is_(True)).order_by(Pcn.name)))
    if rnd.go_live is None or now < deadlines.starts_at(rnd.go_live, rnd.timezone):
        when = f"{uk_date(rnd.go_live)}" if rnd.go_live else "a date that is not set"
        raise RegistrationError(f"{rnd.name} goes live on {when}, not before")
    for pcn in pcns:
        row = by_pcn.get(pcn.id)
        if row is not None and row.state == "confirmed":
            _move(rnd, pcn, row, "go_live", now=now)
            result.live.append(pcn.name)
        elif row is None or row.state != "live":
            result.not_live.append(f"{pcn.name}: {workflow.STATE_TITLES[row.state if row else 'draft'].lower()}")
    if not result.live:
        raise RegistrationError(["No PCN is confirmed and waiting to go live"] + result.not_live)
    return result


def on_agenda(meeting: Meeting, pcn: Pcn) -> AgendaItem | None:
    return db.session.scalar(select(AgendaItem).where(AgendaItem.meeting_id == meeting.id,
                                                      AgendaItem.pcn_id == pcn.id))
