"""Read-only queries the JSON API (``pcnreg.api``) serves and no page needs: a page of practices,
a round's PCN, commissioner or decisions by id. No HTTP here: ``None`` or an empty list for what
is not there; the API turns that into its 404."""
from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import Commissioner, Decision, Meeting, Pcn, Practice, RegistrationRound, Submission


def practice_page(*, commissioner: str | None, q: str | None, limit: int, offset: int
                  ) -> tuple[int, list[Practice]]:
    """(how many practices match, the ``limit`` of them from ``offset``) by code; ``commissioner``
    is an ODS code (any case), ``q`` part of the name or code (any case)."""
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
    return total, list(practices)


def round_pcn(rnd: RegistrationRound, pcn_id: int) -> Pcn | None:
    """The round's PCN of that id (any version), or None."""
    pcn = db.session.get(Pcn, pcn_id)
    return pcn if pcn is not None and pcn.round_id == rnd.id else None


def system_commissioner(rnd: RegistrationRound, commissioner_id: int) -> Commissioner | None:
    """The commissioner of that id if it belongs to the round's system, or None."""
    found = db.session.get(Commissioner, commissioner_id)
    return found if found is not None and found.system_id == rnd.system_id else None


def round_decisions(rnd: RegistrationRound) -> list[tuple[Decision, Meeting, Pcn, Submission]]:
    """Every decision of the round's committees, by meeting date."""
    return [tuple(row) for row in db.session.execute(
        select(Decision, Meeting, Pcn, Submission)
        .join(Meeting, Meeting.id == Decision.meeting_id).join(Pcn, Pcn.id == Decision.pcn_id)
        .join(Submission, Submission.id == Decision.submission_id)
        .where(Meeting.round_id == rnd.id).order_by(Meeting.held_on, Decision.id)).all()]
