"""The yearly cycle in the browser (``services.cycle``): the round's cycle page (its dates with
their sources, who opted out, each PCN's annual return), a practice's opt-out, a PCN's annual
return (its lead adds changes or confirms "no change" and makes it; the commissioner accepts it
or asks for changes) and the year-end membership check (page and CSV). Each POST parses one
small form, calls one service function and redirects with a flash; a refusal re-renders the page
(400) with the messages on their fields: nothing was written."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..domain import cycle as cycle_dom
from ..domain.dates import uk_date
from ..models import Pcn
from ..services import cycle as cycle_svc
from ..services import payment as payment_svc
from ..services.errors import ServiceError
from . import guard
from .change_forms import OptionalDateField
from .common import round_or_404
from .forms import Choice, PageForm, strip, strip_text
from .registration_forms import DatePartsField

bp = Blueprint("cycle", __name__)


# --- forms ---------------------------------------------------------------------------------------------

class DatesForm(PageForm):
    opt_out_opens = OptionalDateField(cycle_dom.FIELD_TITLES["opt_out_opens"])
    opt_out_closes = OptionalDateField(cycle_dom.FIELD_TITLES["opt_out_closes"])
    return_deadline = OptionalDateField(cycle_dom.FIELD_TITLES["return_deadline"])


class WithdrawOptOutForm(PageForm):
    service_field = "practice"
    practice = StringField("Practice ODS code", filters=[strip], validators=[
        DataRequired("Enter the practice's ODS code"),
        Length(max=20, message="Enter the practice's ODS code (a few letters and digits)")])


class OptOutForm(PageForm):
    service_field = None
    practice = StringField("Practice ODS code", filters=[strip], validators=[
        Length(max=20, message="Enter the practice's ODS code (a few letters and digits)")])
    reason = TextAreaField("Reason for opting out", filters=[strip_text], validators=[
        DataRequired("Enter the practice's reason for opting out"),
        Length(max=2000, message="The reason must be 2,000 characters or fewer")])


class ChangeForm(PageForm):
    kind = Choice("Kind of change", invalid="Choose the kind of change",
                  choices=[("", "Choose a kind of change")] + list(cycle_dom.CHANGE_TITLES.items()))
    practice = StringField("Practice ODS code (a practice joining or leaving, or the new payee)", filters=[strip],
                           validators=[Length(max=20, message="Enter the practice's ODS code")])
    details = TextAreaField("Details (the new Clinical Director's name, or the change to the network area)",
                            filters=[strip_text], validators=[Optional(), Length(
                                max=2000, message="The details must be 2,000 characters or fewer")])
    effective = DatePartsField("Date the change takes effect", required="Enter the date the change takes effect")
    remove = HiddenField()


class SubmitForm(PageForm):
    answer = Choice("What does the PCN return?", invalid="Choose “no change” or the changes listed",
                    choices=[("no_change", "No change: the PCN's members, payee or own account, Clinical Director "
                                           "and network area stay as they are"),
                             ("changes", "The changes listed above")])


class ReviewForm(PageForm):
    decision = Choice("Your review", invalid="Choose to accept the return or ask for changes",
                      choices=[("accept", "Accept the return"), ("ask_changes", "Ask the PCN for changes")])
    note = TextAreaField("What the PCN must change (needed when asking for changes)", filters=[strip_text],
                         validators=[Optional(), Length(max=2000, message="The note must be 2,000 characters or fewer")])


@bp.app_context_processor
def inject() -> dict:
    from ..services import funding as funding_svc

    return {"pcn_year_funding": funding_svc.pcn_year_funding}


# --- helpers ----------------------------------------------------------------------------------------------

def _may(endpoint: str, form: dict | None = None, **view_args) -> bool:
    return guard.permitted(guard.current_principal(), endpoint, view_args, form)


def _pcn_or_404(rnd, pcn_id: int) -> Pcn:
    from ..extensions import db

    pcn = db.session.get(Pcn, pcn_id) if 0 < pcn_id <= 2_147_483_647 else None
    if pcn is None or pcn.round_id != rnd.id:
        abort(404, description=f"There is no PCN with id {pcn_id} in {rnd.name}.")
    return pcn


def _flash_error(exc: ServiceError) -> None:
    for message in exc.messages:
        flash(message, "error")


# --- the round's cycle page ---------------------------------------------------------------------------

def _render_page(rnd, dates_form: DatesForm | None = None, status: int = 200,
                 withdraw_form: WithdrawOptOutForm | None = None):
    dates = cycle_svc.dates(rnd)
    if dates_form is None:
        dates_form = DatesForm(formdata=None)
        for name, d in dates.items():
            if d.value and not d.from_year:
                getattr(dates_form, name).parts = {"day": str(d.value.day), "month": str(d.value.month),
                                                   "year": str(d.value.year)}
    data_codes = {}
    from ..services import rounds as rounds_svc

    data = rounds_svc.build_configuration(rnd)
    opted = cycle_svc.opt_outs(rnd)
    for row in opted:
        key = data.pcn_of(row.practice_code)
        data_codes[row.practice_code] = (data.config.practices[row.practice_code].name
                                         if row.practice_code in data.config.practices else "",
                                         data.pcns[key].name if key else "")
    in_pcns = len(data.state.pcn_of)
    return render_template(
        "cycle/index.html", rnd=rnd, applies=cycle_svc.applies(rnd), dates=dates, dates_form=dates_form,
        may_set=_may("cycle.settings", round_id=rnd.id), may_opt_out=_may("cycle.opt_out", round_id=rnd.id),
        window_refusal=cycle_svc.window_refusal(rnd), today=cycle_svc.today(rnd), opted=opted, names=data_codes,
        taking_part=in_pcns - len(opted), in_pcns=in_pcns, returns=cycle_svc.returns(rnd),
        withdraw_form=withdraw_form or WithdrawOptOutForm(formdata=None),
        may_withdraw={o.practice_code for o in opted
                      if _may("cycle.withdraw_opt_out", {"practice": o.practice_code}, round_id=rnd.id)},
        state_of=cycle_svc.state_of), status


@bp.get("/rounds/<int:round_id>/cycle")
def page(round_id: int):
    return _render_page(round_or_404(round_id))


@bp.post("/rounds/<int:round_id>/cycle/settings")
def settings(round_id: int):
    rnd = round_or_404(round_id)
    form = DatesForm()
    if form.validate_on_submit():
        dates = cycle_svc.dates(rnd)
        values = {name: getattr(form, name).data for name in cycle_dom.CYCLE_FIELDS if not dates[name].from_year}
        try:
            cycle_svc.set_dates(rnd, values)
        except ServiceError as exc:
            form.add_service_error(exc)
        else:
            flash("The cycle's dates were saved.", "success")
            return redirect(url_for("cycle.page", round_id=rnd.id))
    return _render_page(rnd, form, 400)


@bp.route("/rounds/<int:round_id>/cycle/opt-out", methods=["GET", "POST"])
def opt_out(round_id: int):
    from flask import request

    rnd = round_or_404(round_id)
    if request.method == "GET":
        form = OptOutForm(formdata=None, practice=(request.args.get("practice") or "").strip().upper()[:20])
        return _opt_out_page(rnd, form)
    form = OptOutForm()
    if form.validate_on_submit():
        try:
            row = cycle_svc.opt_out(rnd, form.practice.data or "", form.reason.data or "")
        except ServiceError as exc:
            form.add_service_error(exc)
        else:
            flash(f"{row.practice_code} has opted out of the {rnd.contract_year} Network Contract DES: it no longer "
                  "counts as taking part and is listed for the year-end check.", "success")
            return redirect(url_for("cycle.page", round_id=rnd.id))
    return _opt_out_page(rnd, form, 400)


@bp.post("/rounds/<int:round_id>/cycle/opt-out/withdraw")
def withdraw_opt_out(round_id: int):
    rnd = round_or_404(round_id)
    form = WithdrawOptOutForm()
    if form.validate_on_submit():
        try:
            code = cycle_svc.withdraw_opt_out(rnd, form.practice.data or "")
        except ServiceError as exc:
            form.add_service_error(exc)
        else:
            flash(f"{code}'s opt-out is withdrawn: it takes part in the {rnd.contract_year} Network Contract DES "
                  "again.", "success")
            return redirect(url_for("cycle.page", round_id=rnd.id, _anchor="opt-out"))
    return _render_page(rnd, status=400, withdraw_form=form)


def _opt_out_page(rnd, form, status: int = 200):
    opens, closes = cycle_svc.window(rnd)
    return render_template("cycle/opt_out.html", rnd=rnd, form=form, opens=opens, closes=closes,
                           refusal=cycle_svc.window_refusal(rnd), applies=cycle_svc.applies(rnd)), status


# --- a PCN's annual return --------------------------------------------------------------------------------

def _render_return(rnd, pcn, *, change_form=None, submit_form=None, review_form=None, status: int = 200):
    row = cycle_svc.annual_return(rnd, pcn)
    state = cycle_svc.state_of(row)
    return render_template(
        "cycle/annual_return.html", rnd=rnd, pcn=pcn, row=row, state=state, applies=cycle_svc.applies(rnd),
        deadline=cycle_svc.dates(rnd)["return_deadline"], today=cycle_svc.today(rnd),
        editable=state in ("not_started", *cycle_dom.EDITABLE), change_titles=cycle_dom.CHANGE_TITLES,
        change_form=change_form or ChangeForm(formdata=None), submit_form=submit_form or SubmitForm(formdata=None),
        review_form=review_form or ReviewForm(formdata=None),
        may_prepare=_may("cycle.submit_return", round_id=rnd.id, pcn_id=pcn.id),
        may_review=_may("cycle.review_return", round_id=rnd.id, pcn_id=pcn.id),
        own_account_allowed=payment_svc.rule_for(rnd).own_account_allowed), status


@bp.get("/rounds/<int:round_id>/pcns/<int:pcn_id>/annual-return")
def annual_return(round_id: int, pcn_id: int):
    rnd = round_or_404(round_id)
    return _render_return(rnd, _pcn_or_404(rnd, pcn_id))


@bp.post("/rounds/<int:round_id>/pcns/<int:pcn_id>/annual-return/changes")
def add_change(round_id: int, pcn_id: int):
    rnd = round_or_404(round_id)
    pcn = _pcn_or_404(rnd, pcn_id)
    form = ChangeForm()
    if form.remove.data:                 # the app's CSRF protection has checked the token already
        text = form.remove.data.strip()
        try:
            if not (text.isascii() and text.isdigit() and len(text) <= 10):
                raise ServiceError("There is no such change in this return")
            cycle_svc.remove_change(rnd, pcn, int(text))
        except ServiceError as exc:
            _flash_error(exc)
            return redirect(url_for("cycle.annual_return", round_id=rnd.id, pcn_id=pcn.id))
        flash("The change was removed from the return.", "success")
        return redirect(url_for("cycle.annual_return", round_id=rnd.id, pcn_id=pcn.id))
    if form.validate_on_submit():
        try:
            cycle_svc.add_change(rnd, pcn, form.kind.data or "", practice=form.practice.data or "",
                                 details=form.details.data or "", effective=form.effective.data)
        except ServiceError as exc:
            form.add_service_error(exc)
        else:
            flash("The change was added to the return. Make the return when it lists every change.", "success")
            return redirect(url_for("cycle.annual_return", round_id=rnd.id, pcn_id=pcn.id))
    return _render_return(rnd, pcn, change_form=form, status=400)


@bp.post("/rounds/<int:round_id>/pcns/<int:pcn_id>/annual-return/submit")
def submit_return(round_id: int, pcn_id: int):
    rnd = round_or_404(round_id)
    pcn = _pcn_or_404(rnd, pcn_id)
    form = SubmitForm()
    if form.validate_on_submit():
        try:
            cycle_svc.submit(rnd, pcn, no_change=form.answer.data == "no_change")
        except ServiceError as exc:
            form.add_service_error(exc)
        else:
            flash(f"{pcn.name}'s annual return was made: the commissioner reviews it.", "success")
            return redirect(url_for("cycle.annual_return", round_id=rnd.id, pcn_id=pcn.id))
    return _render_return(rnd, pcn, submit_form=form, status=400)


@bp.post("/rounds/<int:round_id>/pcns/<int:pcn_id>/annual-return/review")
def review_return(round_id: int, pcn_id: int):
    rnd = round_or_404(round_id)
    pcn = _pcn_or_404(rnd, pcn_id)
    form = ReviewForm()
    if form.validate_on_submit():
        try:
            row = cycle_svc.review(rnd, pcn, accept=form.decision.data == "accept", note=form.note.data or "")
        except ServiceError as exc:
            form.add_service_error(exc)
        else:
            flash(f"{pcn.name}'s annual return: {cycle_dom.MACHINE.title(row.state).lower()}.", "success")
            return redirect(url_for("cycle.annual_return", round_id=rnd.id, pcn_id=pcn.id))
    return _render_return(rnd, pcn, review_form=form, status=400)


# --- the year-end membership check ---------------------------------------------------------------------

@bp.get("/rounds/<int:round_id>/year-end")
def year_end(round_id: int):
    rnd = round_or_404(round_id)
    rows = cycle_svc.year_end(rnd)
    return render_template("cycle/year_end.html", rnd=rnd, rows=rows, applies=cycle_svc.applies(rnd),
                           taking_part=sum(len(r.taking_part) for r in rows),
                           opted_out=sum(len(r.opted_out) for r in rows),
                           total=sum(r.total for r in rows), uk_date=uk_date)


@bp.get("/rounds/<int:round_id>/year-end.csv")
def year_end_csv(round_id: int):
    rnd = round_or_404(round_id)
    return Response(cycle_svc.year_end_csv(rnd), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{cycle_svc.year_end_file_name(rnd)}"'})
