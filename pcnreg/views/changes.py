"""In-year membership changes in the browser: the round's changes (pending notices and their
decisions, the button that applies what is due), a practice's notice, and the commissioner's
assignment of a practice no PCN will accept. Each POST parses one small form, calls one
service function and redirects with a flash; a refusal re-renders the form (400) with the
messages on their fields and what was typed kept: nothing was written."""
from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from ..domain.change_requests import long_date
from ..services import change_instruction as instruction_svc
from ..services import change_requests as requests_svc
from ..services import changes as changes_svc
from . import change_forms as cforms
from . import guard
from .common import round_or_404

bp = Blueprint("changes", __name__)

STATE_COLOURS = {"notified": "yellow", "approved": "blue", "refused": "red", "applied": "green"}
STATE_TITLES = {"notified": "waiting for a decision", "approved": "approved", "refused": "refused",
                "applied": "applied"}


def _may(endpoint: str, form: dict | None = None, **view_args) -> bool:
    return guard.permitted(guard.current_principal(), endpoint, view_args, form)


def _render_page(rnd, failed: cforms.DecideForm | None = None, status: int = 200,
                 apply_form: cforms.ApplyForm | None = None):
    rows = requests_svc.rows(rnd)
    decide_forms = {}
    for row in rows:
        c = row.change
        if c.state != "notified" or not _may("changes.decide", {"change": str(c.id)}, round_id=rnd.id):
            continue
        form = failed if failed is not None and failed.change.data == str(c.id) else \
            cforms.DecideForm(formdata=None, change=str(c.id))
        form.decision.id, form.note.id = f"decision-{c.id}", f"note-{c.id}"
        decide_forms[c.id] = form
    return render_template(
        "changes/index.html", rnd=rnd, rows=rows, decide_forms=decide_forms, failed=failed,
        apply_form=apply_form or cforms.ApplyForm(formdata=None), due=sum(r.due for r in rows), live=requests_svc.live(rnd),
        today=requests_svc.today(rnd), earliest=requests_svc.earliest_notice_date(rnd),
        year=requests_svc.contract_year(rnd), last_applied=requests_svc.last_applied(rnd),
        colours=STATE_COLOURS, titles=STATE_TITLES, closed=requests_svc.closed(rnd),
        may_apply=_may("changes.apply", round_id=rnd.id), may_notice=_may("changes.notice", round_id=rnd.id),
        may_assign=_may("changes.assign", round_id=rnd.id),
        may_instruction=_may("changes.instruction_csv", round_id=rnd.id)), status


@bp.get("/rounds/<int:round_id>/changes")
def page(round_id: int):
    return _render_page(round_or_404(round_id))


def _form_page(template: str, rnd, form, status: int = 200):
    return render_template(template, rnd=rnd, form=form, today=requests_svc.today(rnd),
                           earliest=requests_svc.earliest_notice_date(rnd), year=requests_svc.contract_year(rnd),
                           last_applied=requests_svc.last_applied(rnd), live=requests_svc.live(rnd),
                           closed=requests_svc.closed(rnd),
                           unplaced=requests_svc.unplaced_practices(rnd) if template.endswith("assign.html") else []
                           ), status


@bp.route("/rounds/<int:round_id>/changes/notice", methods=["GET", "POST"])
def notice(round_id: int):
    rnd = round_or_404(round_id)
    pcns = requests_svc.active_pcns(rnd)
    if request.method == "GET":
        code = (request.args.get("practice") or "").strip().upper()[:20]
        form = cforms.NoticeForm(formdata=None, practice=code)
        return _form_page("changes/notice.html", rnd, form.pcn_choices(requests_svc.destinations(rnd, code)))
    form = cforms.NoticeForm().pcn_choices(pcns)
    if form.validate_on_submit():
        try:
            change = requests_svc.give_notice(rnd, form.practice.data or "", form.to_pcn.data or "",
                                              form.reason.data or "", form.effective_from.data)
        except requests_svc.ChangeRequestError as exc:
            form.add_problems(exc)
        else:
            flash(f"The notice of {change.practice_code} was recorded: it takes effect from "
                  f"{long_date(change.effective_from)} if the commissioner approves it.", "success")
            return redirect(url_for("changes.page", round_id=rnd.id))
    return _form_page("changes/notice.html", rnd, form, 400)


@bp.route("/rounds/<int:round_id>/changes/assign", methods=["GET", "POST"])
def assign(round_id: int):
    rnd = round_or_404(round_id)
    pcns = requests_svc.active_pcns(rnd)
    if request.method == "GET":
        form = cforms.AssignForm(formdata=None, practice=(request.args.get("practice") or "").strip().upper()[:20])
        return _form_page("changes/assign.html", rnd, form.pcn_choices(pcns))
    form = cforms.AssignForm().pcn_choices(pcns)
    if form.validate_on_submit():
        try:
            change = requests_svc.assign(rnd, form.practice.data or "", form.to_pcn.data or "",
                                         form.effective_from.data, form.lmc_on.data, form.lmc_summary.data or "")
        except requests_svc.ChangeRequestError as exc:
            form.add_problems(exc)
        else:
            flash(f"{change.practice_code} is assigned from {long_date(change.effective_from)}: apply the changes "
                  "that are due on that date.", "success")
            return redirect(url_for("changes.page", round_id=rnd.id))
    return _form_page("changes/assign.html", rnd, form, 400)


@bp.post("/rounds/<int:round_id>/changes/decide")
def decide(round_id: int):
    rnd = round_or_404(round_id)
    form = cforms.DecideForm()
    if form.validate_on_submit():
        try:
            change = changes_svc.decide(rnd, form.change_id(), approve=form.decision.data == "approve",
                                        note=form.note.data or "")
        except changes_svc.ChangeError as exc:
            for message in exc.messages:
                (form.note.errors.append(message) if "why" in message.lower()
                 else form.general_errors.append(message))
        else:
            flash(f"The change of {change.practice_code} was {change.state}.", "success")
            return redirect(url_for("changes.page", round_id=rnd.id))
    return _render_page(rnd, failed=form, status=400)


@bp.post("/rounds/<int:round_id>/changes/apply")
def apply(round_id: int):
    rnd = round_or_404(round_id)
    form = cforms.ApplyForm()
    if not form.validate_on_submit():
        return _render_page(rnd, status=400, apply_form=form)
    try:
        applied = changes_svc.apply_due(rnd)
    except changes_svc.ChangeError as exc:
        flash(exc.messages[0], "error")
        return redirect(url_for("changes.page", round_id=rnd.id))
    if applied:
        flash(f"{len(applied)} change{'' if len(applied) == 1 else 's'} applied as configuration version "
              f"{rnd.head_version.number}.", "success")
    else:
        flash("No approved change is due yet: nothing was applied.", "success")
    return redirect(url_for("changes.page", round_id=rnd.id))



@bp.get("/rounds/<int:round_id>/changes/ods-change-instruction.csv")
def instruction_csv(round_id: int):
    """The ODS change instruction (``services.change_instruction``) as a CSV download."""
    rnd = round_or_404(round_id)
    return Response(instruction_svc.csv_text(rnd), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{instruction_svc.file_name(rnd)}"'})
