"""Committee review pages: a round's meetings, each meeting's agenda and decisions with the
round's map coloured by registration state, the review of one agenda PCN (its submitted
snapshot, findings, exception requests, agreement) with the decision forms, and the printable
committee pack.

Thin views: each parses a form, calls one function of ``services.committee`` and redirects with
a message, or shows the page again with status 400, the NHS error summary and nothing written.
Reading needs ``view``; meetings, agendas and conditions met need ``manage_round``; decisions
need ``decide`` on the meeting's committee (``services.access.meeting_target``). Dates are NHS.UK date
inputs (day, month and year boxes). The pack's print styles are served at /committee/pack.css
(the pages' Content-Security-Policy allows no inline style).
"""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from werkzeug.routing import BuildError
from wtforms import Field, TextAreaField
from wtforms.utils import unset_value
from wtforms.validators import Length, ValidationError

from ..domain import labels, workflow
from ..domain.registration import CD_PROCESSES, STAGE_TITLES
from ..services import areas, clock, pages
from ..services import committee as committee_svc
from ..services.registration import RegistrationError
from . import formatting, guard
from .common import round_or_404
from .forms import Choice, PageForm, strip_text
from .maps import NO_GEODATA, _map_document

bp = Blueprint("committee", __name__)


@bp.errorhandler(RegistrationError)
def snapshot_broken(exc: RegistrationError):
    """A refusal that reaches here is not the user's: a stored snapshot no longer matches its
    recorded hash (the database was changed outside pcnreg). Say so, with a 409, not a 500."""
    from .errors import _respond

    return _respond(409, "A stored submission does not match its record", " ".join(exc.messages))

PACK_CSS = """/* The committee pack: printed with a page per PCN, without the service's header and links. */
.pcnreg-pack-map { display: block; max-width: 100%; width: 22rem; border: 1px solid #d8dde0; margin-bottom: 16px; }
@media print {
  .nhsuk-header, .nhsuk-footer, .nhsuk-back-link, .pcnreg-flash, .pcnreg-no-print, form { display: none !important; }
  .pcnreg-pack-pcn, .pcnreg-pack-minutes { break-before: page; page-break-before: always; }
  .pcnreg-pack-pcn table, .pcnreg-pack-minutes li { break-inside: avoid; page-break-inside: avoid; }
  a[href]::after { content: none; }
  body { font-size: 11pt; }
}
"""


# --- dates: the NHS.UK date input -------------------------------------------------------------------

PARTS = ("day", "month", "year")


class DateParts(Field):
    """A date typed in three boxes named ``<name>[day]``, ``<name>[month]`` and ``<name>[year]``
    (the NHS.UK date input, named as on the registration pages), optional unless ``required``.

    ``data`` is a ``datetime.date`` or None; ``parts`` keeps what was typed. A partly filled or
    impossible date is an error ("... must include a month", "... must be a real date");
    ``required`` is the message for an empty one."""

    def __init__(self, label=None, validators=None, required: str | None = None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.required = required
        self.parts = {p: "" for p in PARTS}

    def process(self, formdata, data=unset_value, extra_filters=None):
        self.process_errors = []
        self.parts = {p: "" for p in PARTS}
        self.data = None if data is unset_value else data
        if isinstance(self.data, dt.date):
            self.parts = {"day": str(self.data.day), "month": str(self.data.month), "year": str(self.data.year)}
        if formdata is None:
            return
        typed = {p: (formdata.get(f"{self.name}[{p}]") or "").strip()[:20] for p in PARTS}
        self.parts, self.data = typed, None
        self.raw_data = [typed[p] for p in PARTS]
        label = self.label.text
        empty = [p for p in PARTS if not typed[p]]
        if len(empty) == len(PARTS):
            return
        if empty:
            self.process_errors.append(f"{label} must include a {empty[0]}")
            return
        day, month, year = (typed[p] for p in PARTS)
        if not all(v.isascii() and v.isdigit() and len(v) <= 4 for v in (day, month, year)):
            self.process_errors.append(f"{label} must be a real date, in numbers")
            return
        if len(year) != 4:
            self.process_errors.append(f"{label} must be a real date, with a 4-digit year")
            return
        try:
            self.data = dt.date(int(year), int(month), int(day))
        except (ValueError, OverflowError):
            self.process_errors.append(f"{label} must be a real date")

    def pre_validate(self, form):
        if self.required and self.data is None and not self.process_errors:
            raise ValidationError(self.required)


def _rationale(label="Rationale"):
    return TextAreaField(label, filters=[strip_text], validators=[
        Length(max=5000, message=f"{label} must be 5,000 characters or fewer")])


class MeetingForm(PageForm):
    committee = Choice("Committee", invalid="Choose a committee from the list")
    held_on = DateParts("Date of the meeting", required="Enter the date of the meeting")
    members_present = TextAreaField("Members present", filters=[strip_text], validators=[
        Length(max=5000, message="Members present must be 5,000 characters or fewer")])

    def set_choices(self, committees) -> MeetingForm:
        self.committee.choices = [("", "Choose a committee")] + [(str(c.id), c.name) for c in committees]
        return self

    def validate_committee(self, field):
        if not field.data:
            raise ValidationError("Choose a committee")

    def validate_members_present(self, field):
        if not (field.data or "").strip():
            raise ValidationError("Enter the members present, one a line")


class AgendaForm(PageForm):
    pcn = Choice("PCN to add to the agenda", invalid="Choose a submitted PCN from the list")

    def set_choices(self, pcns) -> AgendaForm:
        self.pcn.choices = [("", "Choose a PCN")] + [(str(p.id), p.name) for p in pcns]
        return self

    def validate_pcn(self, field):
        if not field.data:
            raise ValidationError("Choose a submitted PCN to add to the agenda")


OUTCOME_CHOICES = [(o, labels.title(labels.OUTCOME, o)) for o in workflow.DECISIONS]
EXCEPTION_CHOICES = [(o, labels.title(labels.OUTCOME, o)) for o in committee_svc.EXCEPTION_OUTCOMES]


def _condition(n: int):
    return TextAreaField(f"Condition {n}", filters=[strip_text], validators=[
        Length(max=5000, message=f"Condition {n} must be 5,000 characters or fewer")])


class DecisionForm(PageForm):
    outcome = Choice("Decision", choices=OUTCOME_CHOICES, invalid="Choose the decision")
    rationale = _rationale()
    condition_1 = _condition(1)
    due_1 = DateParts("Due date of condition 1")
    condition_2 = _condition(2)
    due_2 = DateParts("Due date of condition 2")
    condition_3 = _condition(3)
    due_3 = DateParts("Due date of condition 3")

    def validate_rationale(self, field):
        if not field.data:
            raise ValidationError("Enter the rationale for the decision")

    def conditions(self) -> list[tuple[str, dt.date | None]]:
        out = []
        for n in range(1, committee_svc.MAX_CONDITIONS + 1):
            text, due = self[f"condition_{n}"].data or "", self[f"due_{n}"].data
            if text or due is not None:
                out.append((text, due))
        return out

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        for n in range(1, committee_svc.MAX_CONDITIONS + 1):
            text, due = self[f"condition_{n}"], self[f"due_{n}"]
            if text.data and due.data is None and not due.errors:
                due.errors.append(f"Enter the due date of condition {n}")
                ok = False
            elif due.data is not None and not text.data and not text.errors:
                text.errors.append(f"Enter condition {n}, or clear its due date")
                ok = False
        if self.outcome.data == "approved_with_conditions" and not self.conditions() and ok:
            self.condition_1.errors.append("Enter at least one condition with its due date")
            ok = False
        return ok


class ExceptionDecisionForm(PageForm):
    outcome = Choice("Decision on the exception", choices=EXCEPTION_CHOICES,
                     invalid="Choose whether the exception is agreed or refused")
    rationale = _rationale()

    def validate_rationale(self, field):
        if not field.data:
            raise ValidationError("Enter the rationale for the decision")


class ConditionMetForm(PageForm):
    met_on = DateParts("Date the condition was met", required="Enter the date the condition was met")


# --- helpers ----------------------------------------------------------------------------------------

def _status(*forms) -> int:
    return 400 if any(f is not None and f.has_errors for f in forms) else 200


def _meeting_or_404(rnd, meeting_id: int):
    meeting = committee_svc.get_meeting(rnd, meeting_id) if meeting_id <= guard.MAX_ID else None
    if meeting is None:
        abort(404, description=f"There is no meeting with id {meeting_id} in {rnd.name}.")
    return meeting


def _may(endpoint: str, rnd, meeting=None) -> bool:
    """Whether the signed-in user may use ``endpoint`` in this round (at this meeting): the route's
    own rule and resolver, asked with explicit arguments (to show or hide a form)."""
    view_args = {"round_id": rnd.id, **({"meeting_id": meeting.id} if meeting is not None else {})}
    return guard.permitted(guard.current_principal(), endpoint, view_args)


def file_url(rnd, pcn_id: int, file_id) -> str | None:
    """The link to a signed agreement file, when the registration pages serve them."""
    try:
        return url_for("registration.agreement_file", round_id=rnd.id, pcn_id=pcn_id, file_id=file_id)
    except BuildError:
        return None


iso_longdate, uk_time = formatting.iso_longdate, formatting.uk_time   # registered by the app factory


def _id_from(value) -> int | None:
    return guard.as_id(value) if value else None


# --- meetings ---------------------------------------------------------------------------------------------

def _render_meetings(rnd, form: MeetingForm):
    return render_template("committee/meetings.html", rnd=rnd, meetings=committee_svc.meetings(rnd), form=form,
                           may_manage=_may("committee.create_meeting", rnd)), _status(form)


@bp.get("/rounds/<int:round_id>/meetings")
def meetings(round_id: int):
    rnd = round_or_404(round_id)
    committees = committee_svc.committees(rnd)
    only = str(committees[0].id) if len(committees) == 1 else ""
    return _render_meetings(rnd, MeetingForm(formdata=None, committee=only).set_choices(committees))


@bp.post("/rounds/<int:round_id>/meetings")
def create_meeting(round_id: int):
    rnd = round_or_404(round_id)
    form = MeetingForm().set_choices(committee_svc.committees(rnd))
    if form.validate_on_submit():
        try:
            meeting = committee_svc.create_meeting(rnd, _id_from(form.committee.data), form.held_on.data,
                                                   form.members_present.data)
        except RegistrationError as exc:
            form.add_service_error(exc)
        else:
            flash(f"The meeting of {meeting.held_on.day} {meeting.held_on:%B %Y} was created. Add submitted PCNs "
                  "to its agenda.", "success")
            return redirect(url_for("committee.meeting", round_id=rnd.id, meeting_id=meeting.id))
    return _render_meetings(rnd, form)


# --- one meeting ------------------------------------------------------------------------------------------------

def _render_meeting(rnd, meeting, agenda_form: AgendaForm | None = None):
    view = committee_svc.meeting_view(rnd, meeting)
    agenda_form = agenda_form or AgendaForm(formdata=None)
    agenda_form.set_choices(view.waiting)
    return render_template(
        "committee/meeting.html", rnd=rnd, meeting=meeting, view=view, agenda_form=agenda_form,
        geodata=areas.has_geodata(rnd), no_geodata=NO_GEODATA, states=workflow.STATES,
        state_colours=labels.MAP_FILLS,
        may_manage=_may("committee.create_meeting", rnd),
        may_decide=_may("committee.decide", rnd, meeting)), _status(agenda_form)


@bp.get("/rounds/<int:round_id>/meetings/<int:meeting_id>")
def meeting(round_id: int, meeting_id: int):
    rnd = round_or_404(round_id)
    return _render_meeting(rnd, _meeting_or_404(rnd, meeting_id))


@bp.post("/rounds/<int:round_id>/meetings/<int:meeting_id>/agenda")
def add_to_agenda(round_id: int, meeting_id: int):
    rnd = round_or_404(round_id)
    meeting = _meeting_or_404(rnd, meeting_id)
    form = AgendaForm().set_choices(committee_svc.submitted_pcns(rnd))
    if form.validate_on_submit():
        pcn = committee_svc.get_pcn(rnd, int(form.pcn.data))
        try:
            if pcn is None:              # pragma: no cover - the choices are the round's PCNs
                raise RegistrationError("Choose a submitted PCN from the list", "pcn")
            committee_svc.add_to_agenda(rnd, meeting, pcn)
        except RegistrationError as exc:
            form.add_service_error(exc)
        else:
            flash(f"{pcn.name} was added to the agenda: its registration is now under review.", "success")
            return redirect(url_for("committee.meeting", round_id=rnd.id, meeting_id=meeting.id))
    return _render_meeting(rnd, meeting, form)


@bp.get("/rounds/<int:round_id>/meetings/<int:meeting_id>/map")
def meeting_map(round_id: int, meeting_id: int):
    rnd = round_or_404(round_id)
    meeting = _meeting_or_404(rnd, meeting_id)
    return _map_document(lambda: committee_svc.meeting_map(rnd, meeting))


# --- reviewing one PCN on the agenda --------------------------------------------------------------------------

def _agenda_row_or_404(rnd, meeting, pcn_id: int):
    view = committee_svc.meeting_view(rnd, meeting)
    row = view.row(pcn_id)
    if row is None:
        abort(404, description=f"There is no PCN with id {pcn_id} on the agenda of this meeting.")
    return view, row


def _render_review(rnd, meeting, pcn_id: int, *, found=None, decision_form=None, exception_forms=None,
                   condition_forms=None):
    view, row = found or _agenda_row_or_404(rnd, meeting, pcn_id)
    decision_form = decision_form or DecisionForm(formdata=None)
    exception_forms = dict(exception_forms or {})
    for req in row.requests:
        exception_forms.setdefault(req.id, ExceptionDecisionForm(formdata=None, prefix=f"exception-{req.id}"))
    condition_forms = dict(condition_forms or {})
    for condition in (row.decision.conditions if row.decision else []):
        condition_forms.setdefault(condition.id, ConditionMetForm(formdata=None, prefix=f"condition-{condition.id}"))
    forms = [decision_form, *exception_forms.values(), *condition_forms.values()]
    return render_template(
        "committee/review.html", rnd=rnd, meeting=meeting, view=view, row=row, snap=row.snapshot,
        commissioners=pages.commissioner_names(rnd),
        decision_form=decision_form, exception_forms=exception_forms, condition_forms=condition_forms,
        error_forms=[f for f in forms if f.has_errors], stage_titles=STAGE_TITLES, cd_processes=CD_PROCESSES,
        file_url=lambda file_id: file_url(rnd, row.pcn.id, file_id),
        may_manage=_may("committee.create_meeting", rnd),
        may_decide=_may("committee.decide", rnd, meeting)), _status(*forms)


@bp.get("/rounds/<int:round_id>/meetings/<int:meeting_id>/pcns/<int:pcn_id>")
def review(round_id: int, meeting_id: int, pcn_id: int):
    rnd = round_or_404(round_id)
    return _render_review(rnd, _meeting_or_404(rnd, meeting_id), pcn_id)


@bp.post("/rounds/<int:round_id>/meetings/<int:meeting_id>/pcns/<int:pcn_id>")
def decide(round_id: int, meeting_id: int, pcn_id: int):
    rnd = round_or_404(round_id)
    meeting = _meeting_or_404(rnd, meeting_id)
    found = _agenda_row_or_404(rnd, meeting, pcn_id)
    row = found[1]
    form = DecisionForm()
    if form.validate_on_submit():
        try:
            committee_svc.decide(rnd, meeting, row.pcn, form.outcome.data, form.rationale.data, form.conditions())
        except RegistrationError as exc:
            form.add_service_error(exc)
        else:
            outcome = labels.title(labels.OUTCOME, form.outcome.data).lower()
            flash(f"Decision recorded for {row.name}: {outcome}.", "success")
            return redirect(url_for("committee.review", round_id=rnd.id, meeting_id=meeting.id, pcn_id=pcn_id))
    return _render_review(rnd, meeting, pcn_id, found=found, decision_form=form)


@bp.post("/rounds/<int:round_id>/meetings/<int:meeting_id>/exceptions/<int:request_id>")
def decide_exception(round_id: int, meeting_id: int, request_id: int):
    rnd = round_or_404(round_id)
    meeting = _meeting_or_404(rnd, meeting_id)
    view = committee_svc.meeting_view(rnd, meeting)
    row = next((r for r in view.rows if any(q.id == request_id for q in r.requests)), None)
    if row is None:
        abort(404, description=f"There is no exception request {request_id} in a submission on the agenda "
                               "of this meeting.")
    form = ExceptionDecisionForm(prefix=f"exception-{request_id}")
    if form.validate_on_submit():
        try:
            committee_svc.decide_exception(rnd, meeting, request_id, form.outcome.data, form.rationale.data)
        except RegistrationError as exc:
            form.add_service_error(exc)
        else:
            outcome = labels.title(labels.OUTCOME, form.outcome.data).lower()
            flash(f"Decision on the exception request of {row.name}: {outcome}.", "success")
            return redirect(url_for("committee.review", round_id=rnd.id, meeting_id=meeting.id, pcn_id=row.pcn.id)
                            + f"#exception-{request_id}")
    return _render_review(rnd, meeting, row.pcn.id, found=(view, row), exception_forms={request_id: form})


@bp.post("/rounds/<int:round_id>/conditions/<int:condition_id>/met")
def condition_met(round_id: int, condition_id: int):
    rnd = round_or_404(round_id)
    found = committee_svc.condition_context(rnd, condition_id) if condition_id <= guard.MAX_ID else None
    if found is None:
        abort(404, description=f"There is no condition with id {condition_id} in {rnd.name}.")
    form = ConditionMetForm(prefix=f"condition-{condition_id}")
    if form.validate_on_submit():
        try:
            committee_svc.condition_met(rnd, condition_id, form.met_on.data)
        except RegistrationError as exc:
            form.add_service_error(exc)
        else:
            flash(f"The condition was recorded as met on {form.met_on.data.day} {form.met_on.data:%B %Y}.", "success")
            return redirect(url_for("committee.review", round_id=rnd.id, meeting_id=found.meeting.id,
                                    pcn_id=found.pcn.id) + f"#condition-{condition_id}")
    return _render_review(rnd, found.meeting, found.pcn.id, condition_forms={condition_id: form})


# --- the pack ---------------------------------------------------------------------------------------------------

@bp.get("/rounds/<int:round_id>/meetings/<int:meeting_id>/pack")
def pack(round_id: int, meeting_id: int):
    rnd = round_or_404(round_id)
    meeting = _meeting_or_404(rnd, meeting_id)
    view, rows = committee_svc.pack(rnd, meeting)
    from ..services import audit as audit_svc

    return render_template("committee/pack.html", rnd=rnd, meeting=meeting, view=view, rows=rows,
                           geodata=areas.has_geodata(rnd), audit_head=audit_svc.head(),
                           commissioners=pages.commissioner_names(rnd), produced=clock.now())


@bp.get("/committee/pack.css")
def pack_css():
    """The pack's print styles (the pages' policy allows stylesheets from this host only)."""
    response = Response(PACK_CSS, mimetype="text/css")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
