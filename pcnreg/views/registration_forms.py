"""The forms of the registration pages (views/registration.py).

Each change is its own small POST form with a CSRF token. The forms check what a form can
(required fields, lengths the database columns hold, a real date, a chosen file); the service
(``services.registration``) checks the rest and refuses with a ``RegistrationError``, whose
messages ``PageForm.add_service_error`` puts on the field they concern or in the error summary.
"""
from __future__ import annotations

import datetime as dt

from flask_wtf.file import FileField, FileRequired
from wtforms import Field, HiddenField, StringField, TextAreaField
from wtforms.utils import unset_value
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..domain import registration as reg
from ..domain import workflow
from .forms import Choice, GetForm, PageForm, strip, strip_text


def _text(label: str, max_length: int, required: str | None = None):
    checks = [DataRequired(required)] if required else [Optional()]
    return StringField(label, filters=[strip], validators=[
        *checks, Length(max=max_length, message=f"{label} must be {max_length:,} characters or fewer")])


def _long_text(label: str, required: str | None = None, max_length: int = 2000, **kwargs):
    checks = [DataRequired(required)] if required else [Optional()]
    return TextAreaField(label, filters=[strip_text], validators=[
        *checks, Length(max=max_length, message=f"{label} must be {max_length:,} characters or fewer")], **kwargs)


# The selects of member practices, with the text of their empty choice.
MEMBER_SELECTS = {"practice": "Choose a practice", "payee": "Choose a practice", "cd_practice": "Choose a practice",
                  "deputy_practice": "No deputy, or not known"}


def member_choices(members) -> list[tuple[str, str]]:
    """(code, "Name (CODE)") of the member practices (``pages.PracticeRow``)."""
    return [(m.code, f"{m.name} ({m.code})") for m in members]


class DatePartsField(Field):
    """A date typed as day, month and year (the NHS.UK date input: ``name[day]`` and so on)."""

    PARTS = ("day", "month", "year")

    def __init__(self, label=None, validators=None, required: str = "Enter the date", **kwargs):
        super().__init__(label, validators, **kwargs)
        self.required = required
        self.parts = {p: "" for p in self.PARTS}

    def process(self, formdata, data=unset_value, extra_filters=None):
        self.process_errors = []
        self.data = None if data is unset_value else data
        if formdata is not None:
            self.parts = {p: (formdata.get(f"{self.name}[{p}]") or "").strip() for p in self.PARTS}
            self.raw_data = list(self.parts.values())

    def pre_validate(self, form):
        if not any(self.parts.values()):
            self.data = None
            raise ValidationError(self.required)
        missing = [p for p in self.PARTS if not self.parts[p]]
        if missing:
            raise ValidationError(f"{self.label.text} must include a {' and a '.join(missing)}")
        numbers = []
        for part in self.PARTS:
            text = self.parts[part]
            if not (text.isascii() and text.isdigit() and len(text) <= 4):
                raise ValidationError(f"{self.label.text} must be a real date, in numbers")
            numbers.append(int(text))
        day, month, year = numbers
        try:
            self.data = dt.date(year, month, day)
        except ValueError:
            raise ValidationError(f"{self.label.text} must be a real date") from None
        if year < 1990:
            raise ValidationError(f"{self.label.text} must be a real date, with a 4-digit year")


# --- a PCN's draft --------------------------------------------------------------------------------------

class ConfirmForm(PageForm):
    """A member practice confirms its membership (one button per practice)."""

    practice = StringField("Practice", filters=[strip], validators=[
        DataRequired("Choose the practice that confirms its membership"),
        Length(max=20, message="Choose a member practice")])
    service_field = "practice"


class SignForm(PageForm):
    practice = Choice("Practice", invalid="Choose the member practice that signed")
    stage = Choice("Which part was signed", choices=list(reg.STAGE_TITLES.items()),
                   invalid="Choose which part of the Network Agreement was signed")
    signed_on = DatePartsField("Date signed", required="Enter the date the agreement was signed")
    signatory = _text("Signed by", 200, "Enter the name of the person who signed for the practice")
    file = FileField("Signed agreement (PDF, PNG or JPEG)",
                     validators=[FileRequired("Choose the signed agreement file to upload")])

    def field_for(self, message: str) -> str | None:
        lowered = message.lower()
        if "date" in lowered:
            return "signed_on"
        if "file" in lowered or "pdf" in lowered:
            return "file"
        if "person who signed" in lowered:
            return "signatory"
        if "part of the network agreement" in lowered:
            return "stage"
        return "practice" if "member practice" in lowered else None


class PayeeForm(PageForm):
    payee = Choice("Nominated payee", invalid="Choose the member practice that will be paid")
    reference = _text("Payment reference (optional)", 100)
    service_field = "payee"


class ClinicalDirectorForm(PageForm):
    cd_name = _text("Clinical Director's name", 200, "Enter the Clinical Director's name")
    cd_profession = _text("Profession", 100)
    cd_practice = Choice("Member practice where they practise",
                         invalid="Choose the member practice where the Clinical Director practises")
    cd_process = Choice("How the Clinical Director was chosen",
                        choices=[(k, reg.CD_PROCESSES[k]) for k in ("agreement", "election")],
                        invalid="Choose how the Clinical Director was chosen")
    process_details = _long_text("Details of the appointment")
    deputy_name = _text("Deputy's name (optional)", 200)
    deputy_practice = Choice("Deputy's member practice (optional)", invalid="Choose a member practice, or none")

    def field_for(self, message: str) -> str | None:
        lowered = message.lower()
        if "deputy" in lowered:
            return "deputy_practice"
        if "name" in lowered:
            return "cd_name"
        if "member practice" in lowered:
            return "cd_practice"
        if "chosen" in lowered or "election" in lowered:
            return "cd_process"
        return None


class ExceptionRequestForm(PageForm):
    finding = HiddenField("Blocking error", filters=[strip], validators=[
        DataRequired("Choose the blocking error the exception is for"),
        Length(max=200, message="Choose one of this PCN's blocking errors")])
    reason = _long_text("Reason for the exception",
                        "Enter the reason for the exception (rural or exceptional circumstances)")
    service_field = "reason"


class TransitionForm(PageForm):
    """Submit, withdraw, start a new draft, confirm coverage, go live: a button (CSRF only)."""


class AllowLateForm(PageForm):
    reason = _long_text("Why the late submission is accepted", "Enter why a late submission is accepted",
                        id="late-reason")
    service_field = "reason"


# --- the round's status table ---------------------------------------------------------------------------

DEADLINE_FILTERS = [("", "Any deadline status"), ("due", "Due"), ("overdue", "Overdue"),
                    ("late", "Submitted late"), ("none", "Submitted in time or no deadline")]


class ReminderForm(PageForm):
    """The chase page's "e-mail reminders" button (its CSRF token only)."""


class StatusFilterForm(GetForm):
    state = Choice("State", choices=[("", "Any state")] + list(workflow.STATE_TITLES.items()),
                   invalid="Choose a state from the list")
    deadline = Choice("Deadline status", choices=DEADLINE_FILTERS, invalid="Choose a deadline status from the list")
