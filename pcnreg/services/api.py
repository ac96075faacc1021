"""The read-only JSON API: rounds, PCNs, findings and practices as plain dicts.

The views in ``pcnreg.views.api`` only call these functions and ``jsonify`` the result; the
shapes are described, exactly, by the OpenAPI document of ``pcnreg.services.openapi`` (a test
checks every documented path against real responses).

Errors are ``ApiError`` (status and message) or ``rounds.NotFound``; the blueprint turns both
into ``{"error": {"status": ..., "message": ...}}``.

Paging of practices: ``limit`` is a whole number from 0 to ``MAX_LIMIT`` (default
``DEFAULT_LIMIT``), ``offset`` a whole number from 0 to ``MAX_OFFSET``; anything else is a 400,
never silently clamped.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Mapping

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from ..domain.rules import RULES
from ..domain.types import SEVERITIES, Finding
from ..extensions import db
from ..models import Commissioner, Practice, RegistrationRound
from . import rounds as rounds_service

DEFAULT_LIMIT = 500
MAX_LIMIT = 5000
MAX_OFFSET = 2_147_483_647        # fits every database's integer
MAX_ID = 2_147_483_647            # larger ids cannot exist (and overflow SQLite)
MAX_QUERY_LENGTH = 200
_WHOLE_NUMBER = re.compile(r"[0-9]{1,10}")


class ApiError(Exception):
    """A client error with its HTTP status and a message naming what was wrong."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def error_body(status: int, message: str) -> dict:
    return {"error": {"status": status, "message": message}}


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


# --- rounds -----------------------------------------------------------------------------------

def _get_round(round_id: int) -> RegistrationRound:
    if not 0 < round_id <= MAX_ID:
        raise rounds_service.NotFound(f"No registration round {round_id}")
    return rounds_service.get_round(round_id)


def _round_ref(rnd: RegistrationRound) -> dict:
    return {"id": rnd.id, "name": rnd.name}


def round_dict(data: rounds_service.RoundData) -> dict:
    rnd = data.round
    return {
        **_round_ref(rnd),
        "system": {"code": rnd.system.code, "name": rnd.system.name},
        "reference_date": rnd.reference_date.isoformat(),
        "band": {"min": rnd.band_min, "max": rnd.band_max},
        "dates": {key: _iso(getattr(rnd, key)) for key in
                  ("opens", "submission_deadline", "committee_date", "confirmation_date", "go_live")},
        "head_version": rnd.head_version.number if rnd.head_version else None,
        "summary": data.summary.as_dict(),
    }


def rounds_list() -> list[dict]:
    """Every round, most recent first. Each costs a rules run (for its summary)."""
    return [round_dict(rounds_service.build_configuration(rnd)) for rnd in rounds_service.list_rounds()]


def round_detail(round_id: int) -> dict:
    return round_dict(rounds_service.build_configuration(_get_round(round_id)))


def pcn_list(round_id: int) -> list[dict]:
    """The round's PCNs (head version) with members, totals, band status and findings."""
    data = rounds_service.build_configuration(_get_round(round_id))
    out = []
    for pcn in data.config.pcns:
        members = [data.config.practices[code] for code in pcn.members]  # every member is loaded
        out.append({
            "key": pcn.key,
            "name": pcn.name,
            "code": pcn.code,
            "place": pcn.place,
            "lead_commissioner": pcn.lead_commissioner,
            "members": [{
                "code": m.code,
                "name": m.name,
                "list_size": m.list_size,
                "list_size_date": _iso(m.list_size_date),
                "commissioner": m.commissioner,
                "status": m.status,
            } for m in members],
            "member_count": len(members),
            "total": data.pcn_total(pcn.key),
            "band_status": data.band(pcn.key),
            "findings": [f.as_dict() for f in data.findings_for_pcn(pcn.key)],
        })
    return out


def _choice(args: Mapping[str, str], name: str, allowed) -> str | None:
    value = args.get(name) or None
    if value is not None and value not in allowed:
        raise ApiError(400, f"Unknown {name} {value!r}: use one of {', '.join(allowed)}")
    return value


def _text(args: Mapping[str, str], name: str) -> str | None:
    value = (args.get(name) or "").strip() or None
    if value is None:
        return None
    if len(value) > MAX_QUERY_LENGTH:
        raise ApiError(400, f"{name} is longer than {MAX_QUERY_LENGTH} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ApiError(400, f"{name} contains control characters")
    return value


def round_findings(round_id: int, args: Mapping[str, str]) -> dict:
    """The round's findings, filtered by ``severity``, ``rule`` and ``place`` (empty = any).
    The summary is of the whole round, whatever the filters."""
    severity = _choice(args, "severity", SEVERITIES)
    rule = _choice(args, "rule", tuple(RULES))
    place = _text(args, "place")
    rnd = _get_round(round_id)
    data = rounds_service.build_configuration(rnd)
    findings: list[Finding] = rounds_service.filter_findings(
        data.findings, severity=severity, rule=rule, place=place, config=data.config)
    return {"round": _round_ref(rnd), "summary": data.summary.as_dict(),
            "findings": [f.as_dict() for f in findings]}


# --- practices --------------------------------------------------------------------------------

def _whole_number(args: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    if not _WHOLE_NUMBER.fullmatch(raw) or int(raw) > maximum:
        raise ApiError(400, f"{name} must be a whole number from 0 to {maximum}, not {raw[:40]!r}")
    return int(raw)


def practice_dict(practice: Practice) -> dict:
    la = practice.local_authority
    return {
        "code": practice.code,
        "name": practice.name,
        "postcode": practice.postcode,
        "commissioner": {"code": practice.commissioner.code, "name": practice.commissioner.name},
        "status": practice.status,
        "ods_status_code": practice.ods_status_code,
        "latitude": practice.latitude,
        "longitude": practice.longitude,
        "local_authority": {"code": la.code, "name": la.name} if la else None,
        "list_sizes": [{"as_of": s.as_of.isoformat(), "size": s.size, "source": s.source}
                       for s in practice.list_sizes],
    }


def practice_page(args: Mapping[str, str]) -> dict:
    """Practices by code, filtered by ``commissioner`` (ODS code) and ``q`` (part of the name
    or code, any case), ``limit`` at a time from ``offset``; ``total`` counts every match."""
    limit = _whole_number(args, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    offset = _whole_number(args, "offset", 0, MAX_OFFSET)
    commissioner = _text(args, "commissioner")
    q = _text(args, "q")

    conditions = []
    if commissioner:
        conditions.append(Practice.commissioner_id.in_(
            select(Commissioner.id).where(Commissioner.code == commissioner.upper())))
    if q:
        conditions.append(or_(Practice.name.icontains(q, autoescape=True),
                              Practice.code.icontains(q, autoescape=True)))
    total = db.session.scalar(select(func.count(Practice.id)).where(*conditions)) or 0
    practices = db.session.scalars(
        select(Practice).where(*conditions).order_by(Practice.code).limit(limit).offset(offset)
        .options(selectinload(Practice.list_sizes), selectinload(Practice.commissioner),
                 selectinload(Practice.local_authority))).all() if limit else []
    return {"total": total, "limit": limit, "offset": offset,
            "items": [practice_dict(p) for p in practices]}
