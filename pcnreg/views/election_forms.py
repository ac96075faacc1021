"""The forms of the election pages (views/elections.py).

Each change is its own small POST form with a CSRF token (the public ballot too). The forms check
what a form can (required fields, lengths, real dates and times); ``services.elections`` checks
the rest and refuses with an ``ElectionError``, whose messages ``PageForm.add_service_error`` shows in the
NHS error summary (on a field when the message names it).

Times are UK local time: a date (the NHS.UK date input) and a time ("09:00") make an aware
datetime in Europe/London, so the summer-time offset is the zone's, not the server's.
"""
from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..domain import elections as dom
from .committee import DateParts
from .forms import Choice, PageForm, strip, strip_text

UK = ZoneInfo("Europe/London")
TIME = re.compile(r"^([01]?[0-9]|2[0-3])[:.]([0-5][0-9])$")
DEFAULT_ELIGIBILITY = "A practising clinician at a member practice of the PCN"
STEPS = {"open_nominations", "close_nominations", "start_panel", "close_voting", "reopen_nominations", "cancel"}


def _text(label: str, max_length: int, required: str | None = None):
    checks = [DataRequired(required)] if required else [Optional()]
    return StringField(label, filters=[strip], validators=[
        *checks, Length(max=max_length, message=f"{label} must be {max_length:,} characters or fewer")])


def _long_text(label: str, required: str | None = None, max_length: int = 5000):
    checks = [DataRequired(required)] if required else [Optional()]
    return TextAreaField(label, filters=[strip_text], validators=[
        *checks, Length(max=max_length, message=f"{label} must be {max_length:,} characters or fewer")])


def _time(label: str, required: str):
    return StringField(label, filters=[strip], validators=[
        DataRequired(required), Length(max=5, message=f"{label} must be a time like 09:00")])


class _Years:
    """A date between 2000 and 2100 (anything else is a typing mistake, and far years overflow)."""

    def __call__(self, form, field):
        if field.data is not None and not 2000 <= field.data.year <= 2100:
            raise ValidationError(f"{field.label.text} must be a real date between 2000 and 2100")


# --- set-up ------------------------------------------------------------------------------------------

INSTANTS = (("nominations_open", "Nominations open"), ("nominations_close", "Nominations close"),
            ("voting_open", "Voting opens"), ("voting_close", "Voting closes"))


class SetupForm(PageForm):
    pcn = Choice("PCN", invalid="Choose the PCN from the list")
    method = Choice("Voting method", choices=list(dom.METHODS.items()), invalid="Choose the voting method")
    tie_break = Choice("How a tie is broken", choices=list(dom.TIE_BREAKS.items()),
                       invalid="Choose how a tie will be broken")
    seed = _text("Seed of the draw", 100)
    eligibility = _long_text("Who is eligible to stand", "Enter who is eligible to stand", 2000)
    nominations_open_date = DateParts("Date nominations open", [_Years()], required="Enter the date nominations open")
    nominations_open_time = _time("Time nominations open", "Enter the time nominations open")
    nominations_close_date = DateParts("Date nominations close", [_Years()],
                                       required="Enter the date nominations close")
    nominations_close_time = _time("Time nominations close", "Enter the time nominations close")
    panel_from = DateParts("Panel assessment from", [_Years()])
    panel_to = DateParts("Panel assessment to", [_Years()])
    voting_open_date = DateParts("Date voting opens", [_Years()], required="Enter the date voting opens")
    voting_open_time = _time("Time voting opens", "Enter the time voting opens")
    voting_close_date = DateParts("Date voting closes", [_Years()], required="Enter the date voting closes")
    voting_close_time = _time("Time voting closes", "Enter the time voting closes")
    count_on = DateParts("Date of the count", [_Years()])
    declare_by = DateParts("Date of the declaration", [_Years()])

    def set_choices(self, pcns) -> SetupForm:
        self.pcn.choices = [("", "Choose a PCN")] + [(str(p.id), p.name) for p in pcns]
        return self

    def validate_pcn(self, field):
        if not field.data:
            raise ValidationError("Choose the PCN whose Clinical Director is elected")

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        for key, label in INSTANTS:
            time = self[f"{key}_time"]
            if time.data and not time.errors and not TIME.match(time.data):
                time.errors.append(f"Time {label.lower()} must be a time like 09:00 or 17:00")
                ok = False
        if self.tie_break.data == "seed" and not self.seed.data and not self.seed.errors:
            self.seed.errors.append("Enter the seed of the draw: it is published now, before any vote")
            ok = False
        return ok

    def instant(self, key: str) -> dt.datetime:
        """The UK local date and time of ``key`` as an aware datetime (after ``validate``)."""
        hours, minutes = TIME.match(self[f"{key}_time"].data).groups()
        return dt.datetime.combine(self[f"{key}_date"].data, dt.time(int(hours), int(minutes)), tzinfo=UK)

    def timetable(self) -> dom.Timetable:
        return dom.Timetable(self.instant("nominations_open"), self.instant("nominations_close"),
                             self.instant("voting_open"), self.instant("voting_close"),
                             self.panel_from.data, self.panel_to.data, self.count_on.data, self.declare_by.data)

    def field_for(self, message: str) -> str | None:
        lowered = message.lower()
        for needle, name in (("seed", "seed"), ("eligible", "eligibility"), ("method", "method"),
                             ("tie", "tie_break"), ("already has an election", "pcn"), ("not in this round", "pcn")):
            if needle in lowered:
                return name
        return None


# --- running it ------------------------------------------------------------------------------------------

class StepForm(PageForm):
    step = Choice("Step", choices=[(s, dom.BY_NAME[s].title) for s in sorted(STEPS)], invalid="Choose a step")
    reason = _long_text("Reason", max_length=2000)

    def field_for(self, message: str) -> str | None:
        return "reason" if "reason" in message.lower() else None


class NominationForm(PageForm):
    name = _text("Candidate's name", 200, "Enter the candidate's name")
    register = Choice("Professional register", choices=[("", "Choose a register")] +
                      [(r, r) for r in dom.REGISTRATION_FORMATS], invalid="Choose the professional register")
    number = _text("Registration number", 10, "Enter the registration number")
    practice = Choice("Member practice", invalid="Choose the candidate's member practice")
    role = _text("Role", 100, "Enter the candidate's role (e.g. GP partner)")
    statement = _long_text("Statement", "Enter the candidate's statement", 10000)
    conflicts = _long_text("Declared conflicts of interest", max_length=5000)

    def set_choices(self, members) -> NominationForm:
        self.practice.choices = [("", "Choose a practice")] + [(c, f"{n} ({c})") for c, n in members]
        return self

    def validate_register(self, field):
        if not field.data:
            raise ValidationError("Choose the professional register")

    def validate_practice(self, field):
        if not field.data:
            raise ValidationError("Choose the candidate's member practice")

    def field_for(self, message: str) -> str | None:
        lowered = message.lower()
        for needle, name in (("registration number", "number"), ("register", "register"),
                             ("member practice", "practice"), ("role", "role"), ("statement", "statement"),
                             ("already nominated", "name"), ("name", "name")):
            if needle in lowered:
                return name
        return None


class CandidateForm(PageForm):
    """A form about one candidate (the ``candidate`` field carries its id)."""

    candidate = HiddenField("Candidate", filters=[strip])

    def candidate_id(self) -> int:
        text = self.candidate.data or ""
        return int(text) if text.isascii() and text.isdigit() and len(text) <= 10 else 0


class WithdrawForm(CandidateForm):
    reason = _long_text("Reason for the withdrawal", "Enter the reason for the withdrawal", 2000)


class AssessForm(CandidateForm):
    shortlisted = Choice("Shortlisted", choices=[("yes", "Yes, eligible to stand"), ("no", "No, not shortlisted")],
                         invalid="Choose whether the panel shortlisted the candidate")
    reason = _long_text("The panel's reasons", "Enter the panel's reasons", 5000)
    panel_members = _long_text("Members of the panel", "Enter the members of the panel", 2000)


class ConfirmForm(PageForm):
    """A button with nothing more to say (open voting, declare, declare unopposed)."""


class ReissueForm(PageForm):
    practice = Choice("Practice", invalid="Choose the practice from the list")
    channel = Choice("Sent by", choices=[("letter", "Letter"), ("email", "Email")], invalid="Choose letter or email")
    address = _text("Address or email address", 500)

    def set_choices(self, members) -> ReissueForm:
        self.practice.choices = [("", "Choose a practice")] + [(c, f"{n} ({c})") for c, n in members]
        return self

    def validate_practice(self, field):
        if not field.data:
            raise ValidationError("Choose the practice that needs a new link")


class CountForm(PageForm):
    """The count; with a drawing of lots, the order drawn (``lot_1``, ``lot_2``…: candidate ids),
    who drew and who witnessed."""

    performed_by = _text("Lots drawn by", 200)
    witness = _text("Witness", 200)

    def lots_order(self, formdata, n: int) -> list[str]:
        return [(formdata.get(f"lot_{i}") or "").strip()[:12] for i in range(1, n + 1)]

    def check_lots(self, order: list[str], standing: set[str]) -> bool:
        ok = True
        if not self.performed_by.data:
            self.performed_by.errors.append("Enter who drew the lots")
            ok = False
        if not self.witness.data:
            self.witness.errors.append("Enter who witnessed the drawing of lots")
            ok = False
        elif self.performed_by.data and self.witness.data.casefold() == self.performed_by.data.casefold():
            self.witness.errors.append("The witness must be someone other than who drew the lots")
            ok = False
        if sorted(order) != sorted(standing):
            self.general_errors.append("Choose each candidate once, in the order the lots were drawn")
            ok = False
        return ok


class AgreementForm(PageForm):
    held_on = DateParts("Date of the PCN meeting", [_Years()], required="Enter the date of the PCN meeting")
    practices_present = _long_text("Practices present", "Enter the practices present", 5000)
    outcome = _long_text("Outcome", "Enter the outcome (who was appointed)", 5000)


class InterimForm(PageForm):
    name = _text("Interim lead's name", 200, "Enter the interim lead's name")


class BallotCodeForm(PageForm):
    """The ballot code (the token of the link), posted by the ballot page's script from the link's
    fragment, or typed by the voter."""

    token = StringField("Ballot code", filters=[strip], validators=[Length(max=100)])


class BallotForm(PageForm):
    """The ballot: ``candidate`` (radios) for plurality and weighted; ``pref_<id>`` (a number per
    candidate) for the alternative vote. ``preferences`` turns either into candidate ids in order."""

    candidate = StringField("Your vote", filters=[strip])

    def preferences(self, formdata, candidates, method: str) -> list[str] | None:
        """Candidate ids in preference order ("" for a skipped number), or None with the errors added."""
        if method != "irv":
            choice = (self.candidate.data or "")[:12]
            if not choice:
                self.candidate.errors.append("Choose a candidate")
                return None
            return [choice]
        n = len(candidates)
        slots = [""] * n
        for c in candidates:
            value = (formdata.get(f"pref_{c.id}") or "").strip()
            if not value:
                continue
            if not (value.isascii() and value.isdigit() and 1 <= int(value[:3]) <= n and len(value) <= 3):
                self.general_errors.append(f"Give {c.name} a preference from 1 to {n}, or leave it blank")
                return None
            slot = int(value) - 1
            if slots[slot]:
                self.general_errors.append(f"Preference {value} is given to more than one candidate: "
                                           "give each number to one candidate only")
                return None
            slots[slot] = str(c.id)
        if not any(slots):
            self.general_errors.append("Choose a candidate: give your first choice the number 1")
            return None
        last = max(i for i, s in enumerate(slots) if s)
        if any(not s for s in slots[:last]):
            self.general_errors.append("Preferences must be numbered 1, 2, 3… without gaps")
            return None
        return slots[:last + 1]
