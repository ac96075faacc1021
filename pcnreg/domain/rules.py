"""The configuration rules. Every rule a round checks lives in this file.

A rule is a function ``Configuration -> Iterable[Finding]``. ``evaluate`` runs all of them and
returns the findings in a stable order. Rules read only the plain data of ``types``.
"""
from __future__ import annotations

from collections import Counter
from typing import Callable, Iterable, Literal

from .types import Configuration, Finding, Pcn, Practice, Subject

Rule = Callable[[Configuration], Iterable[Finding]]
BandStatus = Literal["in_band", "below", "above"]


def band_status(total: int, band_min: int, band_max: int) -> BandStatus:
    """Where a list size stands against a band. Both bounds are inclusive."""
    if total < band_min:
        return "below"
    if total > band_max:
        return "above"
    return "in_band"


def _pcn_subject(pcn: Pcn) -> Subject:
    return Subject("pcn", pcn.code, pcn.name, pcn.key)


def _practice_subject(practice: Practice) -> Subject:
    return Subject("practice", practice.code, practice.name)


def list_size_band(config: Configuration) -> Iterable[Finding]:
    """PCN total against the round's band.

    Below the minimum: error "needs exception" (rural or exceptional circumstances, with the
    commissioner's agreement). Above the maximum: warning "needs approval" (commissioner's
    agreement; may be asked to work as neighbourhood teams). A recorded exception turns
    either into info. Empty PCNs are left to ``empty_pcn``.
    """
    lo, hi = config.round.band_min, config.round.band_max
    for pcn in config.pcns:
        if not pcn.members:
            continue
        total = config.pcn_total(pcn)
        status = band_status(total, lo, hi)
        if status == "in_band":
            continue
        figures = {"total": total, "band_min": lo, "band_max": hi, "band_status": status}
        exception = config.exceptions.get(pcn.key)
        if status == "below":
            severity, message = "error", (
                f"{pcn.name} has {total:,} registered patients, below the minimum of {lo:,}: "
                "needs an exception (rural or exceptional circumstances, commissioner agreement)")
        else:
            severity, message = "warning", (
                f"{pcn.name} has {total:,} registered patients, above the maximum of {hi:,}: "
                "needs commissioner approval (may be asked to work as neighbourhood teams "
                f"of {lo // 1000}–{hi // 1000}k)")
        if exception is not None:
            severity = "info"
            message += (f". Exception recorded by {exception.recorded_by} on "
                        f"{exception.recorded_at:%d %B %Y}: {exception.reason}")
            figures["exception"] = {
                "reason": exception.reason,
                "recorded_by": exception.recorded_by,
                "recorded_at": exception.recorded_at.isoformat(timespec="seconds"),
            }
        yield Finding("list_size_band", severity, _pcn_subject(pcn), message, figures)


def coverage(config: Configuration) -> Iterable[Finding]:
    """Every open practice in the round's scope must be in a PCN."""
    assigned = config.assigned_codes()
    for practice in sorted(config.practices.values(), key=lambda p: p.code):
        if practice.status == "open" and practice.code not in assigned:
            yield Finding(
                "coverage", "error", _practice_subject(practice),
                f"{practice.name} ({practice.code}) is not in any PCN",
                {"list_size": practice.list_size, "commissioner": practice.commissioner})


def single_place(config: Configuration) -> Iterable[Finding]:
    """A PCN's members (and the PCN itself) must all lie in one place (ICP)."""
    for pcn in config.pcns:
        members = [config.practices[c] for c in pcn.members if c in config.practices]
        counts = Counter(m.place for m in members if m.place is not None)
        places = set(counts) | ({pcn.place} if pcn.place else set())
        if len(places) > 1:
            detail = ", ".join(f"{p} ({counts.get(p, 0)} practices)" for p in sorted(places))
            yield Finding(
                "single_place", "error", _pcn_subject(pcn),
                f"{pcn.name} spans more than one place: {detail}; PCN place is {pcn.place or 'not set'}",
                {"places": dict(sorted(counts.items())), "pcn_place": pcn.place})


def single_commissioner(config: Configuration) -> Iterable[Finding]:
    """Members with different commissioners need the commissioners to agree a lead."""
    for pcn in config.pcns:
        members = [config.practices[c] for c in pcn.members if c in config.practices]
        counts = Counter(m.commissioner for m in members)
        if len(counts) > 1:
            detail = ", ".join(f"{c} ({n})" for c, n in sorted(counts.items()))
            yield Finding(
                "single_commissioner", "warning", _pcn_subject(pcn),
                f"{pcn.name} has members with different commissioners: {detail}; "
                f"lead commissioner {pcn.lead_commissioner or 'not set'}",
                {"commissioners": dict(sorted(counts.items())),
                 "lead_commissioner": pcn.lead_commissioner})


def closed_practice(config: Configuration) -> Iterable[Finding]:
    """A closed practice cannot be a member of a PCN."""
    for pcn in config.pcns:
        for code in pcn.members:
            practice = config.practices.get(code)
            if practice is not None and practice.status == "closed":
                yield Finding(
                    "closed_practice", "error", _pcn_subject(pcn),
                    f"{pcn.name} includes {practice.name} ({code}), which is closed",
                    {"practice": code})


def empty_pcn(config: Configuration) -> Iterable[Finding]:
    for pcn in config.pcns:
        if not pcn.members:
            yield Finding("empty_pcn", "error", _pcn_subject(pcn), f"{pcn.name} has no member practices")


def list_size_date(config: Configuration) -> Iterable[Finding]:
    """An open practice's list size must be known and dated on or after the reference date."""
    ref = config.round.reference_date
    for practice in sorted(config.practices.values(), key=lambda p: p.code):
        if practice.status != "open":
            continue
        if practice.list_size is None:
            yield Finding(
                "list_size_date", "warning", _practice_subject(practice),
                f"{practice.name} ({practice.code}) has no registered list size",
                {"reference_date": ref.isoformat()})
        elif practice.list_size_date is None or practice.list_size_date < ref:
            when = practice.list_size_date.isoformat() if practice.list_size_date else "undated"
            yield Finding(
                "list_size_date", "warning", _practice_subject(practice),
                f"{practice.name} ({practice.code}) list size is {when}, before the round's "
                f"reference date {ref:%d %B %Y}",
                {"list_size": practice.list_size, "as_of": practice.list_size_date.isoformat()
                 if practice.list_size_date else None, "reference_date": ref.isoformat()})


RULES: dict[str, Rule] = {
    "list_size_band": list_size_band,
    "coverage": coverage,
    "single_place": single_place,
    "single_commissioner": single_commissioner,
    "closed_practice": closed_practice,
    "empty_pcn": empty_pcn,
    "list_size_date": list_size_date,
}

RULE_TITLES: dict[str, str] = {
    "list_size_band": "List size outside the band",
    "coverage": "Practice not in any PCN",
    "single_place": "PCN spans more than one place",
    "single_commissioner": "Members with different commissioners",
    "closed_practice": "Closed practice in a PCN",
    "empty_pcn": "PCN with no members",
    "list_size_date": "List size missing or out of date",
}

_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def evaluate(config: Configuration, rules: dict[str, Rule] | None = None) -> list[Finding]:
    """All findings of a configuration, errors first, then by rule and subject."""
    findings = [f for rule in (rules or RULES).values() for f in rule(config)]
    return sorted(findings, key=lambda f: (
        _SEVERITY_ORDER[f.severity], f.rule, f.subject.type, f.subject.name, f.subject.code or ""))
