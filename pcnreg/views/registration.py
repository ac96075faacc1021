"""The registration pages: a PCN's registration (its draft, the steps of the workflow and its
submissions), a submission's frozen snapshot, agreement file downloads, and the round's
registration status, chase list, confirmation of coverage, go-live and funding table.

Views are thin: each POST is its own endpoint that parses one small form, calls one function
of ``services.registration`` and redirects (POST-redirect-GET with a flash). Invalid input, or
a ``RegistrationError`` (a refused change: nothing was written), re-renders the page with
status 400 and the messages in the NHS.UK error summary. Forms and buttons are shown only to
users the guard would let use them (``may``); hiding is a courtesy, the guard refuses anyway.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from werkzeug.utils import secure_filename

from ..domain import registration as reg
from ..domain import workflow
from ..extensions import db
from ..importers.csvio import write_csv
from ..models import AgreementSignature, Commissioner, ExceptionRequest, MemberConfirmation, Pcn, RegistrationRound
from ..services import clock, mailer, pages, reminders
from ..services import registration as reg_svc
from ..services import rounds as rounds_svc
from . import formatting, guard
from . import registration_forms as rforms
from .common import round_or_404

bp = Blueprint("registration", __name__)

UK = "Europe/London"
PCN_STEPS = ("submit", "withdraw", "reopen")          # the transitions a PCN takes from its page
STEP_FLASH = {"submit": "The registration was submitted.", "withdraw": "The submission was withdrawn: "
              "the registration is a draft again.", "reopen": "A new draft was started."}
FILE_EXTENSIONS = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}


# --- template helpers -----------------------------------------------------------------------------------

def may(endpoint: str, form: dict | None = None, **view_args) -> bool:
    """Whether the signed-in user may use ``endpoint`` with these URL parameters (and, for a
    change, these form fields): the guard's own rule and resolver, asked with these explicit
    arguments (``guard.permitted``)."""
    return guard.permitted(guard.current_principal(), endpoint, view_args, form)


def may_each(endpoint: str, field: str, values, **view_args) -> dict[str, bool]:
    """``may`` for each of ``values`` as the form field ``field`` (value -> allowed), asked
    together (``routes.permitted_each``: one read for all, where the resolver allows it)."""
    from .routes import permitted_each

    return permitted_each(guard.current_principal(), endpoint, field, list(values), view_args)


local_time, uk_time = formatting.local_time, formatting.uk_time   # registered by the app factory


@bp.app_context_processor
def inject() -> dict:
    return {"may": may, "may_each": may_each, "stage_titles": reg.STAGE_TITLES, "cd_processes": reg.CD_PROCESSES}


# --- finding the objects of the URL ---------------------------------------------------------------------

def _id_or_404(value: int, what: str) -> int:
    if not 0 < value <= guard.MAX_ID:
        abort(404, description=f"There is no {what} with id {value}.")
    return value


def _active_pcn(rnd: RegistrationRound, pcn_id: int) -> Pcn:
    pcn = pages.active_pcn(rnd, _id_or_404(pcn_id, "PCN"))
    if pcn is None:
        abort(404, description=f"There is no PCN with id {pcn_id} in the current configuration of {rnd.name}.")
    return pcn


def _round_pcn(rnd: RegistrationRound, pcn_id: int) -> Pcn:
    """A PCN of the round, current or retired (its submissions stay readable)."""
    pcn = db.session.get(Pcn, _id_or_404(pcn_id, "PCN"))
    if pcn is None or pcn.round_id != rnd.id:
        abort(404, description=f"There is no PCN with id {pcn_id} in {rnd.name}.")
    return pcn


# --- a PCN's registration page --------------------------------------------------------------------------

@dataclass
class MemberView:
    code: str
    name: str
    list_size: int | None
    confirmation: MemberConfirmation | None
    core: AgreementSignature | None
    schedule1: AgreementSignature | None
    may_confirm: bool


@dataclass
class BlockingView:
    finding: object
    key: str
    requests: list[ExceptionRequest]
    form: rforms.ExceptionRequestForm


@dataclass
class PageForms:
    """The forms of the page; the one that failed carries its errors (``failed``)."""

    sign: rforms.SignForm
    payee: rforms.PayeeForm
    cd: rforms.ClinicalDirectorForm
    step: rforms.TransitionForm
    allow_late: rforms.AllowLateForm
    failed: object | None = None


def _new_forms(row) -> PageForms:
    """The page's forms, filled with what is recorded."""
    sign = rforms.SignForm(formdata=None)
    payee = rforms.PayeeForm(formdata=None, payee=row.payee_practice_code or "", reference=row.payee_reference or "")
    cd = rforms.ClinicalDirectorForm(
        formdata=None, cd_name=row.cd_name or "", cd_profession=row.cd_profession or "",
        cd_practice=row.cd_practice_code or "", cd_process=row.cd_process or "",
        process_details=row.cd_process_details or "", deputy_name=row.deputy_cd_name or "",
        deputy_practice=row.deputy_cd_practice_code or "")
    return PageForms(sign, payee, cd, rforms.TransitionForm(formdata=None), rforms.AllowLateForm(formdata=None))


def _set_choices(forms: PageForms, choices: list[tuple[str, str]]) -> None:
    for select in (forms.sign.practice, forms.payee.payee, forms.cd.cd_practice, forms.cd.deputy_practice):
        select.choices = [("", rforms.MEMBER_SELECTS[select.name])] + choices


def _render_page(rnd: RegistrationRound, pcn: Pcn, failed=None, status: int = 200):
    """The registration page; ``failed``: the submitted form that was refused (status 400)."""
    data = rounds_svc.build_configuration(rnd)
    key = str(pcn.id)
    if key not in data.pcns:
        abort(404, description=f"There is no PCN with id {pcn.id} in the current configuration of {rnd.name}.")
    row = reg_svc.registration(rnd, pcn)
    state = reg_svc.status(data, pcn)
    ids = {"round_id": rnd.id, "pcn_id": pcn.id}
    practice_rows = pages.practice_rows(data, pcn=key)
    confirmations = reg_svc.confirmations(rnd, pcn)
    signatures = reg_svc.signatures(rnd, pcn)
    codes = [m.code for m in practice_rows]
    may_confirm = may_each("registration.confirm", "practice", [c for c in codes if c not in confirmations], **ids)
    members = [MemberView(m.code, m.name, m.list_size, confirmations.get(m.code), signatures.get((m.code, "core")),
                          signatures.get((m.code, "schedule1")), may_confirm.get(m.code, False))
               for m in practice_rows]
    forms = _new_forms(row)
    for name in ("sign", "payee", "cd", "step", "allow_late"):
        if isinstance(failed, type(getattr(forms, name))):
            setattr(forms, name, failed)
    _set_choices(forms, rforms.member_choices(practice_rows))
    may_sign = may_each("registration.sign", "practice", codes, **ids)
    signable = [m for m in practice_rows if may_sign[m.code]]
    forms.sign.practice.choices = [("", rforms.MEMBER_SELECTS["practice"])] + rforms.member_choices(signable)
    if len(signable) == 1 and not forms.sign.practice.data:
        forms.sign.practice.data = signable[0].code        # a practice's representative signs for it alone
    forms.failed = failed

    requests = reg_svc.exception_requests(rnd, pcn)
    blocking = []
    for i, finding in enumerate(reg_svc.blocking_findings(data, key)):
        fkey = reg.finding_key(finding)
        form = failed if isinstance(failed, rforms.ExceptionRequestForm) and failed.finding.data == fkey \
            else rforms.ExceptionRequestForm(formdata=None, finding=fkey)
        form.reason.id = f"exception-{i}-reason"
        blocking.append(BlockingView(finding, fkey, [r for r in requests
                                                     if reg.request_key(r.rule, r.subject_ref) == fkey], form))
    facts = reg_svc.facts(rnd, row, now=clock.now(), missing=state.missing)
    frozen = workflow.before_go_live(facts)
    editable = row.state in workflow.EDITABLE and frozen is None
    # only the steps the state allows now (a draft missing something is not offered "submit")
    steps = [t for t in workflow.available(row.state)
             if t.name in PCN_STEPS and frozen is None and not workflow.refusals(t.name, facts)
             and may(f"registration.{t.name}", **ids)]
    return render_template(
        "registration/pcn.html", rnd=rnd, pcn=pcn, key=key, data=data, row=row, status=state, members=members,
        forms=forms, blocking=blocking, steps=steps, editable=editable, frozen=frozen,
        submissions=reg_svc.submissions(rnd, pcn), total=data.pcn_total(key),
        may_prepare=may("registration.payee", **ids), may_allow_late=may("registration.allow_late", **ids),
        commissioner_names=pages.commissioner_names(rnd)), status


@bp.get("/rounds/<int:round_id>/pcns/<int:pcn_id>/registration")
def page(round_id: int, pcn_id: int):
    rnd = round_or_404(round_id)
    return _render_page(rnd, _active_pcn(rnd, pcn_id))


def _done(rnd: RegistrationRound, pcn: Pcn, message: str, anchor: str | None = None):
    flash(message, "success")
    return redirect(url_for("registration.page", round_id=rnd.id, pcn_id=pcn.id, _anchor=anchor))


def _change(round_id: int, pcn_id: int, form_class, call, message, anchor: str | None = None):
    """The shape of every change: validate the form, call the service, redirect; or re-render
    the page with the errors (400). ``call(rnd, pcn, form)`` does the one service call;
    ``message(form, result)`` is the flash."""
    rnd = round_or_404(round_id)
    pcn = _active_pcn(rnd, pcn_id)
    form = form_class()
    selects = [f for f in form if isinstance(f, rforms.Choice) and f.name in rforms.MEMBER_SELECTS]
    if selects:
        choices = rforms.member_choices(pages.practice_rows(rounds_svc.build_configuration(rnd), pcn=str(pcn.id)))
        for select in selects:
            select.choices = [("", rforms.MEMBER_SELECTS[select.name])] + choices
    if form.validate_on_submit():
        try:
            result = call(rnd, pcn, form)
        except reg_svc.RegistrationError as exc:
            form.add_service_error(exc)
        else:
            return _done(rnd, pcn, message(form, result), anchor)
    return _render_page(rnd, pcn, failed=form, status=400)


def _named(field, code: str) -> str:
    """A practice as its select offered it ("Ashfield House (C84067)"), else by its name from the
    configuration, else its code."""
    offered = dict(getattr(field, "choices", None) or [])
    return offered.get(code) or pages.practice_label(code)


@bp.post("/rounds/<int:round_id>/pcns/<int:pcn_id>/registration/confirm")
def confirm(round_id: int, pcn_id: int):
    return _change(round_id, pcn_id, rforms.ConfirmForm,
                   lambda rnd, pcn, f: reg_svc.confirm_member(rnd, pcn, f.practice.data),
                   lambda f, row: f"{_named(f.practice, row.practice_code)} confirmed its membership.", "members")


@bp.post("/rounds/<int:round_id>/pcns/<int:pcn_id>/registration/sign")
def sign(round_id: int, pcn_id: int):
    def call(rnd, pcn, f):
        upload = f.file.data
        return reg_svc.sign_agreement(rnd, pcn, f.practice.data, stage=f.stage.data, signed_on=f.signed_on.data,
                                      signatory=f.signatory.data, file_name=upload.filename or "agreement",
                                      content=upload.read(reg_svc.MAX_AGREEMENT_BYTES + 1))

    return _change(round_id, pcn_id, rforms.SignForm, call,
                   lambda f, s: f"The signature of {_named(f.practice, s.practice_code)} ({reg.STAGE_TITLES[s.stage]}) "
                                 "was recorded.",
                   "members")


@bp.post("/rounds/<int:round_id>/pcns/<int:pcn_id>/registration/payee")
def payee(round_id: int, pcn_id: int):
    return _change(round_id, pcn_id, rforms.PayeeForm,
                   lambda rnd, pcn, f: reg_svc.set_payee(rnd, pcn, f.payee.data, f.reference.data or ""),
                   lambda f, row: f"{_named(f.payee, row.payee_practice_code)} is the nominated payee.", "payee")


@bp.post("/rounds/<int:round_id>/pcns/<int:pcn_id>/registration/clinical-director")
def clinical_director(round_id: int, pcn_id: int):
    def call(rnd, pcn, f):
        return reg_svc.set_clinical_director(
            rnd, pcn, name=f.cd_name.data or "", practice_code=f.cd_practice.data or "",
            profession=f.cd_profession.data or "", process=f.cd_process.data or "",
            process_details=f.process_details.data or "", deputy_name=f.deputy_name.data or "",
            deputy_practice_code=f.deputy_practice.data or "")

    return _change(round_id, pcn_id, rforms.ClinicalDirectorForm, call,
                   lambda f, row: f"{row.cd_name} is recorded as the Clinical Director.", "clinical-director")


@bp.post("/rounds/<int:round_id>/pcns/<int:pcn_id>/registration/exception-request")
def exception_request(round_id: int, pcn_id: int):
    return _change(round_id, pcn_id, rforms.ExceptionRequestForm,
                   lambda rnd, pcn, f: reg_svc.request_exception(rnd, pcn, f.finding.data, f.reason.data),
                   lambda f, r: "The exception request was recorded.", "exceptions")


def _step(name: str, round_id: int, pcn_id: int):
    call = {"submit": reg_svc.submit, "withdraw": reg_svc.withdraw, "reopen": reg_svc.reopen}[name]
    return _change(round_id, pcn_id, rforms.TransitionForm, lambda rnd, pcn, f: call(rnd, pcn),
                   lambda f, result: STEP_FLASH[name])


@bp.post("/rounds/<int:round_id>/pcns/<int:pcn_id>/registration/submit")
def submit(round_id: int, pcn_id: int):
    return _step("submit", round_id, pcn_id)


@bp.post("/rounds/<int:round_id>/pcns/<int:pcn_id>/registration/withdraw")
def withdraw(round_id: int, pcn_id: int):
    return _step("withdraw", round_id, pcn_id)


@bp.post("/rounds/<int:round_id>/pcns/<int:pcn_id>/registration/reopen")
def reopen(round_id: int, pcn_id: int):
    return _step("reopen", round_id, pcn_id)


@bp.post("/rounds/<int:round_id>/pcns/<int:pcn_id>/registration/allow-late")
def allow_late(round_id: int, pcn_id: int):
    return _change(round_id, pcn_id, rforms.AllowLateForm,
                   lambda rnd, pcn, f: reg_svc.allow_late(rnd, pcn, f.reason.data),
                   lambda f, row: "A late submission is now accepted from this PCN.", "late")


# --- submissions and agreement files ---------------------------------------------------------------------

@bp.get("/rounds/<int:round_id>/pcns/<int:pcn_id>/submissions/<int:number>")
def submission(round_id: int, pcn_id: int, number: int):
    rnd = round_or_404(round_id)
    pcn = _round_pcn(rnd, pcn_id)
    sub = reg_svc.get_submission(rnd, pcn, _id_or_404(number, "submission"))
    if sub is None:
        abort(404, description=f"{pcn.name} has no submission {number} in {rnd.name}.")
    try:
        snap, problem = reg_svc.snapshot_of(sub), None
    except reg_svc.RegistrationError as exc:
        snap, problem = None, exc.messages[0]
    return render_template("registration/submission.html", rnd=rnd, pcn=pcn, sub=sub, snap=snap,
                           problem=problem), 409 if problem else 200


@bp.get("/rounds/<int:round_id>/pcns/<int:pcn_id>/files/<int:file_id>")
def agreement_file(round_id: int, pcn_id: int, file_id: int):
    rnd = round_or_404(round_id)
    pcn = _round_pcn(rnd, pcn_id)
    stored = reg_svc.agreement_file(rnd, pcn, _id_or_404(file_id, "file"))
    if stored is None:
        abort(404, description=f"{pcn.name} has no agreement file with id {file_id}.")
    extension = FILE_EXTENSIONS.get(stored.content_type, "")
    name = secure_filename(stored.name) or "agreement"
    if extension and not name.lower().endswith((extension, ".jpeg" if extension == ".jpg" else extension)):
        name += extension
    return Response(stored.content, mimetype=stored.content_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store"})


# --- the round: status, chase list, confirmation, go-live, funding ----------------------------------------

@bp.get("/rounds/<int:round_id>/registrations")
def round_status(round_id: int):
    rnd = round_or_404(round_id)
    form = rforms.StatusFilterForm()
    rows = reg_svc.round_status(rnd)
    shown = [r for r in rows if (not form.state.data or r.state == form.state.data)
             and (not form.deadline.data or r.deadline.kind == form.deadline.data)] if form.validate() else []
    return render_template("registration/round.html", rnd=rnd, form=form, rows=shown, total=len(rows),
                           filtered=bool(form.state.data or form.deadline.data)), 400 if form.has_errors else 200


@bp.get("/rounds/<int:round_id>/chase")
def chase(round_id: int):
    rnd = round_or_404(round_id)
    groups = reg_svc.chase_list(rnd)
    return render_template("registration/chase.html", rnd=rnd, groups=groups,
                           commissioner_ids=reminders.commissioner_ids(rnd),
                           reminded=reminders.last_sent(rnd), email_on=mailer.configured(),
                           form=rforms.ReminderForm(formdata=None))


@bp.post("/rounds/<int:round_id>/chase/<int:commissioner_id>/remind")
def remind(round_id: int, commissioner_id: int):
    """E-mail the practices the commissioner's part of the chase list names (issue #16 item 10)."""
    rnd = round_or_404(round_id)
    commissioner = reminders.commissioner_of(rnd, commissioner_id)
    if commissioner is None:
        abort(404, description=f"There is no commissioner with id {commissioner_id} in {rnd.name}.")
    form = rforms.ReminderForm()
    if not form.validate_on_submit():
        flash("The reminders were not sent: the form had expired. Send them again.", "error")
        return redirect(url_for("registration.chase", round_id=rnd.id))
    try:
        report = reminders.send(rnd, commissioner)
    except reminders.ReminderError as exc:
        flash(str(exc), "error")
        return redirect(url_for("registration.chase", round_id=rnd.id))

    def named(items):
        return ", ".join(f"{r.name} ({r.code})" for r in items)
    if report.sent:
        flash(f"Reminders e-mailed to {len(report.sent)} practice(s) of {commissioner.name}: "
              f"{named(report.sent)}.", "success")
    if report.no_address:
        flash(f"No representative's e-mail address for {named(report.no_address)}: not reminded.", "warning")
    for reminder, reason in report.failed:
        flash(f"{reminder.name} ({reminder.code}) was not reminded: {reason}", "error")
    if not (report.sent or report.no_address or report.failed):
        flash(f"The chase list names no practice of {commissioner.name}: nothing to send.", "success")
    return redirect(url_for("registration.chase", round_id=rnd.id))


CHASE_COLUMNS = ["commissioner_code", "commissioner_name", "pcn", "state", "deadline", "practice_code", "missing"]


def chase_rows(groups: list[reg_svc.ChaseGroup]) -> list[list]:
    """One row per missing item of a PCN, one per practice in no PCN."""
    rows = []
    for group in groups:
        for pcn in group.pcns:
            items = [*pcn.missing, *pcn.schedule1_missing]
            if not items:
                rows.append([group.commissioner_code, group.commissioner_name, pcn.name, pcn.state_title,
                             pcn.deadline.text, None, "Not submitted"])
            for item in items:
                rows.append([group.commissioner_code, group.commissioner_name, pcn.name, pcn.state_title,
                             pcn.deadline.text, item.practice, item.message])
        for code, name in group.unassigned:
            rows.append([group.commissioner_code, group.commissioner_name, None, None, None, code,
                         f"{name} is not in any PCN"])
    return rows


@bp.get("/rounds/<int:round_id>/chase.csv")
def chase_csv(round_id: int):
    rnd = round_or_404(round_id)
    text = write_csv(chase_rows(reg_svc.chase_list(rnd)), CHASE_COLUMNS)
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{pages.slug(rnd.name)}-chase-list.csv"'})


def _render_confirmation(rnd: RegistrationRound, errors: list[str] | None = None, status: int = 200):
    views = reg_svc.confirmation_view(rnd)
    return render_template("registration/confirmation.html", rnd=rnd, views=views, errors=errors or [],
                           form=rforms.TransitionForm(formdata=None),
                           may_go_live=may("registration.go_live", round_id=rnd.id),
                           go_live_waits=reg_svc.go_live_waits(rnd)), status


@bp.get("/rounds/<int:round_id>/confirmation")
def confirmation(round_id: int):
    return _render_confirmation(round_or_404(round_id))


@bp.post("/rounds/<int:round_id>/confirmation/<int:commissioner_id>")
def confirm_coverage(round_id: int, commissioner_id: int):
    rnd = round_or_404(round_id)
    commissioner = db.session.get(Commissioner, _id_or_404(commissioner_id, "commissioner"))
    if commissioner is None or commissioner.system_id != rnd.system_id:
        abort(404, description=f"There is no commissioner with id {commissioner_id} in {rnd.system.name}.")
    form = rforms.TransitionForm()
    if not form.validate_on_submit():
        return _render_confirmation(rnd, [i["text"] for i in form.error_list()], 400)
    try:
        reg_svc.confirm_coverage(rnd, commissioner)
    except reg_svc.RegistrationError as exc:
        return _render_confirmation(rnd, exc.messages, 400)
    flash(f"{commissioner.name} confirmed 100% coverage: its approved PCNs are confirmed.", "success")
    return redirect(url_for("registration.confirmation", round_id=rnd.id))


@bp.post("/rounds/<int:round_id>/go-live")
def go_live(round_id: int):
    rnd = round_or_404(round_id)
    form = rforms.TransitionForm()
    if not form.validate_on_submit():
        return _render_confirmation(rnd, [i["text"] for i in form.error_list()], 400)
    try:
        result = reg_svc.go_live(rnd)
    except reg_svc.RegistrationError as exc:
        return _render_confirmation(rnd, exc.messages, 400)
    message = f"Now live: {', '.join(result.live)}."
    if result.not_live:
        message += f" Not live: {'; '.join(result.not_live)}."
    flash(message, "success")
    return redirect(url_for("registration.confirmation", round_id=rnd.id))


@bp.get("/rounds/<int:round_id>/funding")
def funding(round_id: int):
    from ..services import funding as funding_svc

    rnd = round_or_404(round_id)
    table = funding_svc.entitlements(rnd)
    return render_template("registration/funding.html", rnd=rnd, table=table,
                           year=funding_svc.year_table(rnd) if table.notice else None)
