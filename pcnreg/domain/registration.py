"""What a PCN must provide to register (Network Contract DES registration requirements), and
what it is still missing.

Plain data in, a list of ``Missing`` items out. Members and totals are derived from the
configuration; the rest is typed in or uploaded by the PCN: each member's confirmation, the
Network Agreement signed by every member (core parts by the submission deadline, Schedule 1 by
its own date), the nominated payee (a member practice), the Clinical Director (a clinician
practising at a member practice, appointed by election or by agreement) and, for each blocking
error, an exception request with a reason.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from .types import Finding

Stage = Literal["core", "schedule1"]
STAGES: tuple[Stage, ...] = ("core", "schedule1")
STAGE_TITLES = {"core": "Network Agreement (core parts)", "schedule1": "Network Agreement Schedule 1"}
CD_PROCESSES = {"election": "Elected by member practices", "agreement": "Appointed by agreement of the members"}


@dataclass(frozen=True)
class Signature:
    practice: str
    stage: Stage
    signed_on: dt.date
    signatory: str
    file_name: str
    file_sha256: str = ""


@dataclass(frozen=True)
class ClinicalDirector:
    name: str
    practice: str | None = None          # ODS code of the member practice where they practise
    profession: str | None = None
    process: str | None = None           # 'election' | 'agreement'
    process_details: str | None = None


@dataclass(frozen=True)
class Draft:
    """A PCN's registration as it stands (what ``missing`` checks)."""

    pcn_key: str
    pcn_name: str
    members: tuple[str, ...]
    confirmations: frozenset[str] = frozenset()
    signatures: Mapping[tuple[str, str], Signature] = field(default_factory=dict)   # (practice, stage)
    payee: str | None = None
    clinical_director: ClinicalDirector | None = None
    deputy: ClinicalDirector | None = None
    blocking: tuple[Finding, ...] = ()                   # findings of severity error about the PCN
    requested: frozenset[str] = frozenset()              # finding_ref of errors with a request
    names: Mapping[str, str] = field(default_factory=dict)  # practice code -> name, for messages
    own_account: bool = False                            # paid into the PCN's own account (from 2023/24)
    own_account_allowed: bool = False                    # the contract year allows it (domain.payment)

    def practice(self, code: str) -> str:
        """"Practice Name (C84009)", or the code alone when its name is not known."""
        name = self.names.get(code)
        return f"{name} ({code})" if name else code


@dataclass(frozen=True)
class Missing:
    item: str               # confirmation | agreement_core | agreement_schedule1 | payee | clinical_director
                            # | exception_request | members
    message: str
    practice: str | None = None

    def as_dict(self) -> dict:
        return {"item": self.item, "practice": self.practice, "message": self.message}


def finding_ref(finding: Finding) -> str:
    """A finding's subject as an exception request names it: 'pcn:<key>' or 'practice:<code>'."""
    subject = finding.subject
    return f"pcn:{subject.key}" if subject.type == "pcn" else f"{subject.type}:{subject.code}"


def request_key(rule: str, subject_ref: str) -> str:
    return f"{rule}|{subject_ref}"


def finding_key(finding: Finding) -> str:
    return request_key(finding.rule, finding_ref(finding))


def missing(draft: Draft, *, stages: tuple[Stage, ...] = ("core",)) -> list[Missing]:
    """Everything the draft lacks for submission (``stages``: which agreement stages are due)."""
    out: list[Missing] = []
    members = set(draft.members)
    if not draft.members:
        out.append(Missing("members", "The PCN has no member practices"))
    for code in draft.members:
        if code not in draft.confirmations:
            out.append(Missing("confirmation", f"{draft.practice(code)} has not confirmed its membership", code))
    for stage in stages:
        out += unsigned(draft, stage)
    if draft.own_account and not draft.payee:
        if not draft.own_account_allowed:
            out.append(Missing("payee", "This contract year needs a nominated payee practice, not the PCN's own account"))
    elif not draft.payee:
        out.append(Missing("payee", "No nominated payee practice and no own account: name a payee practice or say "
                                    "the PCN is paid into its own account" if draft.own_account_allowed
                           else "No nominated payee"))
    elif draft.payee not in members:
        out.append(Missing("payee", f"The nominated payee {draft.practice(draft.payee)} is not a member practice",
                               draft.payee))
    cd = draft.clinical_director
    if cd is None or not cd.name.strip():
        out.append(Missing("clinical_director", "No named accountable Clinical Director"))
    else:
        if not cd.practice or cd.practice not in members:
            out.append(Missing("clinical_director",
                               "The Clinical Director must practise at a member practice of the network"))
        if cd.process not in CD_PROCESSES:
            out.append(Missing("clinical_director", "Say how the Clinical Director was chosen (election or agreement)"))
    for finding in draft.blocking:
        if finding.severity == "error" and finding_key(finding) not in draft.requested:
            out.append(Missing("exception_request",
                               f"Blocking error without an exception request: {finding.message}",
                               finding.subject.code if finding.subject.type == "practice" else None))
    return out


def unsigned(draft: Draft, stage: Stage) -> list[Missing]:
    """The members that have not signed ``stage`` of the Network Agreement (what ``missing``
    lists for that stage)."""
    return [Missing(f"agreement_{stage}", f"{draft.practice(code)} has not signed the {STAGE_TITLES[stage]}", code)
            for code in draft.members if (code, stage) not in draft.signatures]


def check_payee(code: str, members: tuple[str, ...]) -> str | None:
    """Why ``code`` cannot be the nominated payee, or None."""
    if code not in members:
        return f"{code} is not a member practice of this PCN: the payee must be one of its members"
    return None


def check_clinical_director(cd: ClinicalDirector, members: tuple[str, ...]) -> list[str]:
    """Problems with a Clinical Director as typed in (empty: acceptable)."""
    problems = []
    if not cd.name.strip():
        problems.append("Enter the Clinical Director's name")
    if not cd.practice or cd.practice not in members:
        problems.append("Choose the member practice where the Clinical Director practises")
    if cd.process not in CD_PROCESSES:
        problems.append("Choose how the Clinical Director was chosen")
    return problems
