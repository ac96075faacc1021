"""The import page: upload an official NHS file or a configuration CSV (one transaction each)."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional, ValidationError

from ..importers.csvio import ImportFailed
from ..services import upload as upload_svc
from ..services.configuration import ReplaceNeeded
from .forms import signed_in_name

bp = Blueprint("imports", __name__)

KINDS = [
    ("practices", "Practices (NHS ODS epraccur.csv, headerless, 27 columns)"),
    ("list-sizes", "List sizes (NHS Digital gp-reg-pat-prac-all.csv)"),
    ("configuration", "Configuration of a round (practice_code, pcn_name, place)"),
]


class ImportForm(FlaskForm):
    kind = RadioField("What is in the file?", default="practices")
    file = FileField("File")
    pending = HiddenField()             # a configuration file kept for its confirmation (services.upload)
    commissioners = StringField("Commissioner codes (practices only, optional)", validators=[Optional(), Length(max=200)],
                                description="Separate codes with spaces, for example 04K 04L. "
                                            "Leave empty for every commissioner of this instance.")
    round = SelectField("Round (configuration only)", validate_choice=False)
    reason = TextAreaField("Reason for the change (configuration only)", validators=[Length(max=2000)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Choices are set after construction (WTForms 3.3 deprecates tuples in the constructor).
        self.kind.choices = KINDS
        self.round.choices = upload_svc.round_choices()

    def validate_file(self, field):
        if self.kind.data == "configuration" and self.pending.data:
            return                       # the confirmation of a kept file
        if not getattr(field.data, "filename", None):
            raise ValidationError("Choose a file to import")

    def validate_reason(self, field):
        if self.kind.data == "configuration" and not (field.data or "").strip():
            raise ValidationError("Enter the reason for the change")


@bp.route("/import", methods=["GET", "POST"])
def upload():
    form = ImportForm()
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("import.html", form=form, title="Import"), status
    token = form.pending.data if form.kind.data == "configuration" else ""
    if token:
        kept = upload_svc.take_pending(token, form.round.data or "")
        if kept is None:
            form.file.errors = ["The file waiting for confirmation has expired: choose it again"]
            return render_template("import.html", form=form, title="Import"), 400
        data, source = kept
    else:
        data, source = form.file.data.read(), form.file.data.filename or "upload"
    try:
        summary = upload_svc.import_upload(
            form.kind.data, data, source=source,
            commissioners=(form.commissioners.data or "").upper().split(),
            round_id=form.round.data, author=signed_in_name(), reason=form.reason.data or "",
            replace=bool(token) and request.form.get("confirm") == "replace")
    except ReplaceNeeded as exc:
        # Nothing written: show what would go and ask to confirm (the file is kept for that).
        token = token or upload_svc.keep_pending(data, round_id=form.round.data or "", source=source)
        return render_template("import.html", form=form, title="Import", removals=exc.removals,
                               pending=token, source=source), 409
    except ImportFailed as exc:
        return render_template("import.html", form=form, title="Import", failure=exc), 400
    if token:
        upload_svc.drop_pending(token)
    return render_template("import.html", form=ImportForm(formdata=None), title="Import", summary=summary)
