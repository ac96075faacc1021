"""The new-round form: system, contract year, name, the year's dates and band (editable; a value
the year does not set is left empty, "not set"), and optionally a round to start from."""
from __future__ import annotations

from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange

from ..domain.contract_years import DATE_FIELDS, FIELD_TITLES, ContractYear
from ..services.round_setup import RoundValues
from .forms import Choice, PageForm, strip
from .registration_forms import DatePartsField


class OptionalDate(DatePartsField):
    """A date that may be left empty (not set); prefilled from ``data``."""

    def process(self, formdata, data=None, extra_filters=None):
        super().process(formdata, data if data is not None else None)
        if formdata is None and self.data is not None:
            self.parts = {"day": str(self.data.day), "month": str(self.data.month), "year": str(self.data.year)}

    def pre_validate(self, form):
        if not any(self.parts.values()):
            self.data = None
            return
        super().pre_validate(form)


def _date(name: str):
    return OptionalDate(FIELD_TITLES[name])


class RoundDatesForm(PageForm):
    """A round's dates and band (the year's values, editable; an empty date is "not set")."""

    reference_date = _date("reference_date")
    opens = _date("opens")
    submission_deadline = _date("submission_deadline")
    committee_date = _date("committee_date")
    confirmation_date = _date("confirmation_date")
    schedule1_deadline = _date("schedule1_deadline")
    go_live = _date("go_live")
    band_min = IntegerField(FIELD_TITLES["band_min"], validators=[
        DataRequired("Enter the band minimum"), NumberRange(0, 10_000_000, "Enter a number of patients")])
    band_max = IntegerField(FIELD_TITLES["band_max"], validators=[
        DataRequired("Enter the band maximum"), NumberRange(0, 10_000_000, "Enter a number of patients")])

    date_fields = DATE_FIELDS

    def round_values(self, name: str) -> RoundValues:
        return RoundValues(name, *(self[n].data for n in DATE_FIELDS), self.band_min.data, self.band_max.data)


class NewRoundForm(RoundDatesForm):
    system = Choice("System", invalid="Choose a system")
    year = Choice("Contract year", invalid="Choose a contract year")
    name = StringField("Name of the round", filters=[strip], validators=[
        DataRequired("Enter a name for the round"), Length(max=200, message="The name must be 200 characters or fewer")])
    from_round = Choice("Start from the latest configuration of", invalid="Choose a round of the system")

    def set_choices(self, systems, years, rounds) -> NewRoundForm:
        self.system.choices = [("", "Choose a system")] + [(str(s.id), f"{s.name} ({s.code})") for s in systems]
        self.year.choices = [(y, y) for y in years]
        self.from_round.choices = [("", "Start empty")] + [(str(r.id), f"{r.name} ({r.system.name})") for r in rounds]
        return self

    def prefill(self, spec: ContractYear, system_id: str) -> None:
        self.year.data = spec.year
        if system_id and any(v == system_id for v, _ in self.system.choices):
            self.system.data = system_id
        for name in DATE_FIELDS:
            self[name].process(None, spec.value(name))
        self.band_min.data, self.band_max.data = spec.value("band_min"), spec.value("band_max")

    def values(self) -> RoundValues:
        return self.round_values(self.name.data)


class SettingsForm(RoundDatesForm):
    """A round's dates and band, editable until it opens."""

    def prefill(self, rnd) -> None:
        for name in DATE_FIELDS:
            self[name].process(None, getattr(rnd, name))
        self.band_min.data, self.band_max.data = rnd.band_min, rnd.band_max

    def values(self, name: str) -> RoundValues:
        return self.round_values(name)
