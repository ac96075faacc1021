"""Audit pages: the trail of a round, of a PCN and of a user, each with a CSV export."""
from __future__ import annotations

import json

from flask import Blueprint, Response, render_template, request, url_for

from ..importers.csvio import write_csv
from ..services import audit as audit_svc
from .common import round_or_404

bp = Blueprint("audit", __name__)

COLUMNS = ["seq", "at", "actor", "actor_role", "action", "object_type", "object_id", "before", "after", "hash"]


def _rows(events) -> list[list]:
    return [[e.seq, e.at.isoformat(timespec="seconds"), e.actor, e.actor_role or "", e.action, e.object_type,
             e.object_id or "", e.before or "", e.after or "", e.hash] for e in events]


def _csv(events, filename: str) -> Response:
    """The events, then one last row: the trail's head when exported (``head``, the time, and
    ``SEQ:HASH`` in the hash column), for `pcnreg audit verify --expect` later."""
    current = audit_svc.head()
    rows = _rows(events)
    if current is not None:
        from ..models import utcnow

        rows.append(["head", utcnow().isoformat(timespec="seconds"), "", "", "", "", "", "", "", current.text()])
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if current is not None:
        headers["X-Audit-Head"] = current.text()
    return Response(write_csv(rows, COLUMNS), mimetype="text/csv", headers=headers)


PER_PAGE = 100


def _render(title: str, events, csv_url: str, **context):
    """One page of the trail (100 events, newest first; ``?page=N``); the CSV has them all."""
    events = list(events)
    pages = max(1, -(-len(events) // PER_PAGE))
    number = min(max(request.args.get("page", 1, type=int) or 1, 1), pages)
    shown = events[(number - 1) * PER_PAGE: number * PER_PAGE]
    pretty = {e.id: {k: json.loads(v) if v else None for k, v in (("before", e.before), ("after", e.after))}
              for e in shown}

    def page_url(n: int) -> str:
        return url_for(request.endpoint, **(request.view_args or {}), page=n)

    return render_template("audit.html", title=title, events=shown, total=len(events), pretty=pretty,
                           csv_url=csv_url, number=number, pages=pages, page_url=page_url,
                           verification=audit_svc.verify(), head=audit_svc.head(), **context)


@bp.get("/rounds/<int:round_id>/audit")
def round_audit(round_id: int):
    rnd = round_or_404(round_id)
    return _render(f"Audit trail of {rnd.name}", audit_svc.events(round_id=rnd.id),
                   f"/rounds/{rnd.id}/audit.csv", rnd=rnd)


@bp.get("/rounds/<int:round_id>/audit.csv")
def round_audit_csv(round_id: int):
    rnd = round_or_404(round_id)
    return _csv(audit_svc.events(round_id=rnd.id), f"audit-round-{rnd.id}.csv")


@bp.get("/rounds/<int:round_id>/pcns/<int:pcn_id>/audit")
def pcn_audit(round_id: int, pcn_id: int):
    rnd = round_or_404(round_id)
    return _render(f"Audit trail of PCN {pcn_id}", audit_svc.events(round_id=rnd.id, pcn_id=pcn_id),
                   f"/rounds/{rnd.id}/pcns/{pcn_id}/audit.csv", rnd=rnd)


@bp.get("/rounds/<int:round_id>/pcns/<int:pcn_id>/audit.csv")
def pcn_audit_csv(round_id: int, pcn_id: int):
    rnd = round_or_404(round_id)
    return _csv(audit_svc.events(round_id=rnd.id, pcn_id=pcn_id), f"audit-pcn-{pcn_id}.csv")


@bp.get("/audit/users/<int:user_id>")
def user_audit(user_id: int):
    return _render(f"Changes made by user {user_id}", audit_svc.events(actor_id=user_id),
                   f"/audit/users/{user_id}.csv")


@bp.get("/audit/users/<int:user_id>.csv")
def user_audit_csv(user_id: int):
    return _csv(audit_svc.events(actor_id=user_id), f"audit-user-{user_id}.csv")
