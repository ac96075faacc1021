"""WTForms for the pages. Every change form asks for the "Reason for the change", stored with the
configuration version; who made it is the signed-in user (``signed_in_name``), never typed in.
GET forms (filters, the choice of a move) have no CSRF token; POST forms have one (Flask-WTF).

Messages name the field, in the NHS.UK style ("Enter ...", "Choose ..."). ``error_list`` gives
the items of the NHS error summary, each linking to its field.
"""
from __future__ import annotations

import re

from flask import request
from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..domain.codes import split_codes
from ..domain.rules import RULE_TITLES
from ..domain.types import SEVERITIES

PRACTICE_CODE = re.compile(r"^[A-Z0-9]{3,10}$")


def strip(value):
    return " ".join(value.split()) if isinstance(value, str) else value


def strip_text(value):
    return value.strip() if isinstance(value, str) else value


class Choice(SelectField):
    """A select (or radios) whose invalid value gets a message naming the field."""

    def __init__(self, label=None, validators=None, invalid: str = "Choose a valid option", **kwargs):
        kwargs.setdefault("coerce", str)
        kwargs.setdefault("default", "")
        choices = kwargs.pop("choices", None)
        super().__init__(label, validators, **kwargs)
        self.choices = choices  # (value, text) pairs, set after construction: the pages render them
        self.invalid = invalid

    def pre_validate(self, form):
        value = "" if self.data is None else str(self.data)
        if not any(str(c[0]) == value for c in (self.choices or [])):
            raise ValidationError(self.invalid)


class MultiChoice(SelectMultipleField):
    """Checkboxes; ``validate_choice=False`` leaves the check of the values to the service."""

    def __init__(self, label=None, validators=None, invalid: str = "Choose from the list", **kwargs):
        kwargs.setdefault("coerce", str)
        super().__init__(label, validators, **kwargs)
        self.invalid = invalid

    def pre_validate(self, form):
        if not self.validate_choice or not self.data:
            return
        allowed = {str(c[0]) for c in (self.choices or [])}
        if any(str(d) not in allowed for d in self.data):
            raise ValidationError(self.invalid)


class AtLeastOne:
    def __init__(self, message: str):
        self.message = message

    def __call__(self, form, field):
        if not field.data:
            raise ValidationError(self.message)


def signed_in_name() -> str:
    """Who makes a change, as recorded with a configuration version: the signed-in user."""
    from flask_login import current_user

    if getattr(current_user, "is_authenticated", False):
        return (current_user.name or current_user.email)[:200]
    return "anonymous"


def _reason(label="Reason for the change"):
    return TextAreaField(label, filters=[strip_text], validators=[
        DataRequired(f"Enter the {label[0].lower()}{label[1:]}"),
        Length(max=2000, message=f"{label} must be 2,000 characters or fewer")])


def _pcn_name(label="PCN name", required=True):
    checks = [DataRequired("Enter a name for the PCN")] if required else [Optional()]
    return StringField(label, filters=[strip], validators=[
        *checks, Length(max=200, message="The PCN name must be 200 characters or fewer")])


class PageForm(FlaskForm):
    """A form with an error summary. ``service_field`` names the field a service's message
    belongs to (None: the message is shown in the summary only)."""

    service_field: str | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.general_errors: list[str] = []

    def add_service_error(self, exc: Exception) -> None:
        """Put a service's refusal on the form: each message of a ``ServiceError`` on the field it
        names, else on the field ``field_for`` chooses, else in the error summary (once). Any other
        exception (a domain ``EditError``): its text, the same way."""
        problems = getattr(exc, "problems", None) or [(getattr(exc, "field", None), str(exc))]
        for name, message in problems:
            if name not in self._fields:
                name = self.field_for(message)
            if name and name in self._fields:
                self._fields[name].errors = [*self._fields[name].errors, message]
            elif message not in self.general_errors:
                self.general_errors.append(message)

    def field_for(self, message: str) -> str | None:
        return self.service_field

    def error_list(self) -> list[dict]:
        items = [{"text": field.errors[0], "href": f"#{field.id}"}
                 for field in self if field.errors and field.type != "CSRFTokenField"]
        csrf = self._fields.get("csrf_token")
        if csrf is not None and csrf.errors:
            items.append({"text": "The form has expired: reload the page and try again"})
        items += [{"text": m} for m in self.general_errors]
        return items

    @property
    def has_errors(self) -> bool:
        return bool(self.error_list())


class GetForm(PageForm):
    """A form read from the query string (filters, choices before a preview): no CSRF."""

    class Meta:
        csrf = False

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formdata", request.args)
        super().__init__(*args, **kwargs)


def _name_message(message: str) -> bool:
    return message.startswith(("Enter a name", "PCN name", "A PCN called", "The new name"))


# --- PCN edits ------------------------------------------------------------------------------------

class CreatePcnForm(PageForm):
    name = _pcn_name()
    place = Choice("Place", invalid="Choose the place of the PCN")
    lead_commissioner = Choice("Lead commissioner", invalid="Choose the lead commissioner")
    reason = _reason()
    service_field = "name"

    def set_choices(self, rnd) -> CreatePcnForm:
        self.place.choices = [("", "Choose a place")] + [(str(p.id), p.name) for p in rnd.system.places]
        self.lead_commissioner.choices = [("", "Not set")] + [
            (str(c.id), f"{c.name} ({c.code})") for c in rnd.system.commissioners]
        return self

    def validate_place(self, field):
        if len(field.choices or []) > 1 and not field.data:
            raise ValidationError("Choose the place of the PCN")

    @staticmethod
    def _id(value):
        return int(value) if value else None

    def place_id(self):
        return self._id(self.place.data)

    def lead_commissioner_id(self):
        return self._id(self.lead_commissioner.data)


class RenamePcnForm(PageForm):
    name = _pcn_name("New name")
    reason = _reason()
    service_field = "name"


class MergePcnForm(PageForm):
    others = MultiChoice("PCNs to merge into this one", validators=[
        AtLeastOne("Choose at least one PCN to merge into this one")],
        invalid="Choose PCNs from the list")
    name = _pcn_name("Name of the merged PCN (optional)", required=False)
    reason = _reason()

    def field_for(self, message: str) -> str | None:
        return "name" if _name_message(message) else "others"


class SplitPcnForm(PageForm):
    members = MultiChoice("Practices that form the new PCN", validators=[
        AtLeastOne("Choose the practices that form the new PCN")],
        invalid="Choose practices from the members of this PCN")
    new_name = _pcn_name("Name of the new PCN")
    reason = _reason()

    def field_for(self, message: str) -> str | None:
        return "new_name" if _name_message(message) else "members"


class ExceptionForm(PageForm):
    reason = _reason("Reason for the exception")
    recorded_by = StringField("Who agreed the exception", filters=[strip], validators=[
        DataRequired("Enter who agreed the exception"),
        Length(max=200, message="Who agreed the exception must be 200 characters or fewer")])


class RestoreForm(PageForm):
    reason = _reason()


# --- moving practices ------------------------------------------------------------------------------

def _codes():
    return MultiChoice("Practices to move", validators=[AtLeastOne("Choose at least one practice to move")],
                       validate_choice=False, filters=[split_codes])


def _to():
    return StringField("Move to", filters=[strip], validators=[DataRequired("Choose where to move the practices")])


class _MoveChoice:
    def validate_codes(self, field):
        bad = [c for c in field.data if not PRACTICE_CODE.match(c)]
        if bad:
            raise ValidationError(f"{bad[0][:20]} is not a practice ODS code")

    def validate_to(self, field):
        if field.data != "none" and not (field.data.isascii() and field.data.isdigit() and len(field.data) <= 10):
            raise ValidationError("Choose a PCN of this round, or no PCN")

    def to_key(self) -> str | None:
        return None if self.to.data == "none" else self.to.data


class MoveChoiceForm(_MoveChoice, GetForm):
    """The practices and the destination chosen on a PCN page or the practice list."""

    codes = _codes()
    to = _to()
    service_field = None

    def error_list(self) -> list[dict]:
        # The choice was made on another page: the messages link nowhere.
        return [{"text": item["text"]} for item in super().error_list()]


class MoveConfirmForm(_MoveChoice, PageForm):
    """The confirmation of a previewed move: the choice again (hidden) with name and reason."""

    codes = _codes()
    to = _to()
    reason = _reason()


# --- filters -------------------------------------------------------------------------------------------

ASSIGNMENTS = [("", "All practices"), ("unassigned", "Not in a PCN"), ("assigned", "In a PCN")]


class PracticeFilterForm(GetForm):
    q = StringField("Name, ODS code, postcode or town", filters=[strip], validators=[
        Length(max=100, message="The search must be 100 characters or fewer")])
    place = Choice("Place", invalid="Choose a place from the list")
    commissioner = Choice("Commissioner", invalid="Choose a commissioner from the list")
    pcn = Choice("PCN", invalid="Choose a PCN from the list")
    assignment = Choice("Show", choices=ASSIGNMENTS, invalid="Choose which practices to show")
    band = Choice("PCN's band", choices=[("", "Any band"), ("in_band", "PCN in band"), ("below", "PCN below band"),
                                         ("above", "PCN above band")], invalid="Choose a band from the list")
    status = Choice("Status", choices=[("", "Open and closed"), ("open", "Open"), ("closed", "Closed")],
                    invalid="Choose a status from the list")

    def set_choices(self, data) -> PracticeFilterForm:
        rnd = data.round
        self.place.choices = [("", "All places")] + [(p.name, p.name) for p in rnd.system.places]
        self.commissioner.choices = [("", "All commissioners")] + [
            (c.code, f"{c.name} ({c.code})") for c in rnd.system.commissioners]
        self.pcn.choices = [("", "All PCNs"), ("none", "No PCN")] + [(p.key, p.name) for p in data.config.pcns]
        return self

    def filters(self) -> dict:
        return {"q": self.q.data or "", "place": self.place.data or "", "commissioner": self.commissioner.data or "",
                "pcn": self.pcn.data or "", "assignment": self.assignment.data or "", "band": self.band.data or "",
                "status": self.status.data or ""}


class FindingsFilterForm(GetForm):
    severity = Choice("Severity", choices=[("", "All severities")] + [(s, s.capitalize()) for s in SEVERITIES],
                      invalid="Choose a severity from the list")
    rule = Choice("Rule", choices=[("", "All rules")] + list(RULE_TITLES.items()),
                  invalid="Choose a rule from the list")
    place = Choice("Place", invalid="Choose a place from the list")

    def set_choices(self, rnd) -> FindingsFilterForm:
        self.place.choices = [("", "All places")] + [(p.name, p.name) for p in rnd.system.places]
        return self

    def filters(self) -> dict:
        return {"severity": self.severity.data or None, "rule": self.rule.data or None,
                "place": self.place.data or None}


class CompareForm(GetForm):
    a = Choice("From version", invalid="Choose the version to compare from")
    b = Choice("To version", invalid="Choose the version to compare with")

    def set_choices(self, versions) -> CompareForm:
        choices = [(str(v.number), f"Version {v.number} ({v.kind})") for v in versions]
        self.a.choices = [("", "Choose a version")] + choices
        self.b.choices = [("", "Choose a version")] + choices
        return self

    def validate_a(self, field):
        if not field.data:
            raise ValidationError("Choose the version to compare from")

    def validate_b(self, field):
        if not field.data:
            raise ValidationError("Choose the version to compare with")
