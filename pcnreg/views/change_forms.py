"""The forms of the in-year membership change pages (views/changes.py). Each is a small POST
form with a CSRF token; the forms check what a form can (lengths, a real date, a choice from the
list) and ``services.change_requests`` the rest, each message on its field."""
from __future__ import annotations

from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from .forms import Choice, PageForm, strip, strip_text
from .registration_forms import DatePartsField


class OptionalDateField(DatePartsField):
    """A date that may be left empty (None)."""

    def pre_validate(self, form):
        if not any(self.parts.values()):
            self.data = None
            return
        super().pre_validate(form)


def _text(label: str, max_length: int = 2000, required: str | None = None):
    checks = [DataRequired(required)] if required else [Optional()]
    return TextAreaField(label, filters=[strip_text], validators=[
        *checks, Length(max=max_length, message=f"{label} must be {max_length:,} characters or fewer")])


def _practice():
    return StringField("Practice ODS code", filters=[strip], validators=[
        Length(max=20, message="Enter the practice's ODS code (a few letters and digits)")])


class ProblemsForm(PageForm):
    def add_problems(self, exc) -> None:
        """Each problem of a ``ChangeRequestError`` on its field, or in the summary."""
        for problem in exc.problems:
            field = self._fields.get(problem.field) if problem.field else None
            if field is not None:
                field.errors = [*field.errors, problem.message]
            else:
                self.general_errors.append(problem.message)


class NoticeForm(ProblemsForm):
    practice = _practice()
    to_pcn = Choice("PCN the practice moves to", invalid="Choose the PCN the practice moves to")
    effective_from = OptionalDateField("Date the change takes effect (optional)")
    reason = _text("Reason for the change")

    def pcn_choices(self, pcns) -> NoticeForm:
        self.to_pcn.choices = [("", "Choose a PCN")] + [(str(p.id), p.name) for p in pcns]
        return self


class AssignForm(NoticeForm):
    effective_from = DatePartsField("Date the assignment takes effect",
                                    required="Enter the date the assignment takes effect")
    lmc_on = DatePartsField("Date the LMC was engaged", required="Enter the date the LMC was engaged")
    lmc_summary = _text("Summary of the LMC's engagement")
    reason = None


DECISIONS = [("approve", "Approve"), ("refuse", "Refuse")]


class DecideForm(ProblemsForm):
    change = HiddenField()
    decision = Choice("Decision", choices=DECISIONS, invalid="Choose whether to approve or refuse the change")
    note = _text("Reason for the decision (required to refuse)")

    def validate_change(self, field):
        text = (field.data or "").strip()
        if not (text.isascii() and text.isdigit() and 0 < len(text) <= 10 and 0 < int(text) <= 2_147_483_647):
            raise ValidationError("Choose a change from the list")

    def change_id(self) -> int:
        return int(self.change.data)


class ApplyForm(PageForm):
    """The button that applies the approved changes whose date has come."""
