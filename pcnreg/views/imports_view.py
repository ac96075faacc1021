"""The import page: upload an official NHS file or a configuration CSV (one transaction each)."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional, ValidationError

from ..importers.csvio import ImportFailed
from ..services import upload as upload_svc

bp = Blueprint("imports", __name__)

KINDS = [
    ("practices", "Practices (NHS ODS epraccur.csv, headerless, 27 columns)"),
    ("list-sizes", "List sizes (NHS Digital gp-reg-pat-prac-all.csv)"),
    ("configuration", "Configuration of a round (practice_code, pcn_name, place)"),
]


class ImportForm(FlaskForm):
    kind = RadioField("What is in the file?", default="practices")
    file = FileField("File", validators=[FileRequired("Choose a file to import")])
    commissioners = StringField("Commissioner codes (practices only, optional)", validators=[Optional(), Length(max=200)],
                                description="Separate codes with spaces, for example 04K 04L. "
                                            "Leave empty for every commissioner of this instance.")
    round = SelectField("Round (configuration only)", validate_choice=False)
    author = StringField("Your name (configuration only)", validators=[Length(max=200)])
    reason = TextAreaField("Reason for the change (configuration only)", validators=[Length(max=2000)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Choices are set after construction (WTForms 3.3 deprecates tuples in the constructor).
        self.kind.choices = KINDS
        self.round.choices = upload_svc.round_choices()

    def validate_author(self, field):
        if self.kind.data == "configuration" and not (field.data or "").strip():
            raise ValidationError("Enter your name")

    def validate_reason(self, field):
        if self.kind.data == "configuration" and not (field.data or "").strip():
            raise ValidationError("Enter the reason for the change")


@bp.route("/import", methods=["GET", "POST"])
def upload():
    form = ImportForm()
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("import.html", form=form, title="Import"), status
    upload = form.file.data
    try:
        summary = upload_svc.import_upload(
            form.kind.data, upload.read(), source=upload.filename or "upload",
            commissioners=(form.commissioners.data or "").upper().split(),
            round_id=form.round.data, author=form.author.data or "", reason=form.reason.data or "")
    except ImportFailed as exc:
        return render_template("import.html", form=form, title="Import", failure=exc), 400
    return render_template("import.html", form=ImportForm(formdata=None), title="Import", summary=summary)
