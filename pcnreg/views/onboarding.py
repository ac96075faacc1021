"""Onboarding in the browser (a system administrator): choose the organisation file, then the
systems from its list, the year, the round's name and the other files (each picked from the
configured data folder or uploaded), and follow the job the task queue runs (``services.jobs``)."""
from __future__ import annotations

import secrets
from pathlib import Path

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.utils import secure_filename
from wtforms import SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length

from ..importers.csvio import ImportFailed, decode
from ..importers.organisations import read_organisations
from ..services import contract_years, jobs

bp = Blueprint("onboarding", __name__)

#: option -> (label, file name endings offered from the data folder, required)
FILES = {
    "organisations": ("Organisation lookup (commissioner to system)", (".csv",), True),
    "areas": ("LSOA lookup (LSOA to commissioner to local authority)", (".csv",), True),
    "practices": ("Practices (ODS epraccur)", (".csv",), True),
    "list_sizes": ("List sizes (Patients Registered at a GP Practice)", (".csv",), True),
    "configuration": ("PCN configuration (ePCN workbook or practice map)", (".xlsx", ".csv"), True),
    "blocks": ("LSOA boundaries, for maps (optional)", (".geojson", ".geojson.gz"), False),
    "local_authorities": ("Local authority boundaries (optional, 2019/20)", (".geojson",), False),
}


def data_folder() -> Path | None:
    folder = current_app.config.get("GEODATA_PATH")
    return Path(folder) if folder and Path(folder).is_dir() else None


def folder_choices(endings: tuple[str, ...]) -> list[tuple[str, str]]:
    folder = data_folder()
    names = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(endings)) if folder else []
    return [("", "Choose a file" if names else "No file in the data folder")] + [(n, n) for n in names]


def _save_upload(storage) -> str:
    """Keep an uploaded file where the worker can read it; its path."""
    folder = Path(current_app.config["UPLOAD_FOLDER"]) / secrets.token_hex(8)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (secure_filename(storage.filename or "") or "upload")
    storage.save(path)
    if path.stat().st_size > current_app.config["MAX_IMPORT_BYTES"]:
        path.unlink()
        raise ValueError("the file is larger than the import limit")
    return str(path)


def _chosen(form: FlaskForm, option: str) -> str | None:
    """The path of the file given for ``option``: an upload, else a file of the data folder."""
    upload = request.files.get(f"{option}_upload")
    if upload is not None and upload.filename:
        return _save_upload(upload)
    name = getattr(form, option).data
    folder = data_folder()
    if name and folder is not None and name in {c for c, _ in getattr(form, option).choices}:
        return str(folder / name)
    return None


class OrganisationsForm(FlaskForm):
    organisations = SelectField(FILES["organisations"][0], validate_choice=False)


class OnboardForm(FlaskForm):
    organisations = StringField()      # carried from the first step (a data-folder name or an upload's path)
    systems = SelectMultipleField("Systems", validate_choice=False)
    year = SelectField("Contract year")
    round = StringField("Name of the round", validators=[
        DataRequired("Enter a name for the round"), Length(max=200, message="The name must be 200 characters or fewer")])
    areas = SelectField(FILES["areas"][0], validate_choice=False)
    practices = SelectField(FILES["practices"][0], validate_choice=False)
    list_sizes = SelectField(FILES["list_sizes"][0], validate_choice=False)
    configuration = SelectField(FILES["configuration"][0], validate_choice=False)
    blocks = SelectField(FILES["blocks"][0], validate_choice=False)
    local_authorities = SelectField(FILES["local_authorities"][0], validate_choice=False)
    areas_upload = FileField()
    practices_upload = FileField()
    list_sizes_upload = FileField()
    configuration_upload = FileField()
    blocks_upload = FileField()
    local_authorities_upload = FileField()


def _organisations_path(value: str) -> Path | None:
    """The organisation file of the first step: a data-folder file offered in the list, or a file
    under the uploads folder; anything else (another path, a name too long for the file system)
    is None."""
    if not value or len(value) > 500 or "\x00" in value:
        return None
    folder = data_folder()
    if folder is not None and value in {name for name, _ in folder_choices(FILES["organisations"][1]) if name}:
        return folder / value
    try:
        uploads = Path(current_app.config["UPLOAD_FOLDER"]).resolve()
        path = Path(value).resolve()
        return path if uploads in path.parents and path.is_file() else None
    except (OSError, ValueError, RuntimeError):
        return None


@bp.route("/onboard", methods=["GET", "POST"])
def start():
    first = OrganisationsForm()
    first.organisations.choices = folder_choices(FILES["organisations"][1])
    problems: list[str] = []
    if request.method == "POST" and "systems" not in request.form:      # the first step
        if first.validate_on_submit():
            upload = request.files.get("organisations_upload")
            try:
                chosen = _save_upload(upload) if upload is not None and upload.filename else (
                    first.organisations.data if first.organisations.data in {c for c, _ in first.organisations.choices} else "")
            except ValueError as exc:
                chosen, problems = "", [str(exc)]
            if chosen:
                return redirect(url_for("onboarding.choose", organisations=chosen))
            problems = problems or ["Choose the organisation lookup, or upload it"]
    return render_template("onboarding/start.html", form=first, problems=problems, folder=data_folder())


@bp.route("/onboard/systems", methods=["GET", "POST"])
def choose():
    value = request.values.get("organisations", "")
    path = _organisations_path(value)
    if path is None:
        return redirect(url_for("onboarding.start"))
    problems: list[str] = []
    try:
        organisations = read_organisations(decode(path.read_bytes(), current_app.config["MAX_IMPORT_BYTES"], header=True))
    except ImportFailed as exc:
        return render_template("onboarding/start.html", form=OrganisationsForm(formdata=None), folder=data_folder(),
                               problems=[f"{path.name}: {p}" for p in exc.problems[:20]]), 400
    form = OnboardForm()
    form.organisations.data = value
    systems = sorted(organisations.systems.values(), key=lambda s: s.name)
    form.systems.choices = [("all", f"All {len(systems)} systems")] + [
        (s.code, f"{s.name} ({s.code}{', ' + s.ods_code if s.ods_code else ''})") for s in systems]
    form.year.choices = [(y, y) for y in contract_years.available()]
    for option, (_label, endings, _required) in FILES.items():
        if option != "organisations":
            getattr(form, option).choices = folder_choices(endings)
    if request.method == "POST":
        if form.validate_on_submit():
            codes = [c for c in form.systems.data if c in {v for v, _ in form.systems.choices}]
            if not codes:
                problems.append("Choose one or more systems")
            if form.year.data not in contract_years.available():
                problems.append("Choose a contract year")
            try:
                files = {"organisations": str(path),
                         **{option: _chosen(form, option) for option in FILES if option != "organisations"}}
            except ValueError as exc:
                files, problems = {}, problems + [str(exc)]
            problems += [f"Choose the {FILES[o][0][0].lower() + FILES[o][0][1:]}, or upload it"
                         for o, (_l, _e, required) in FILES.items() if required and files and not files.get(o)]
            if not problems:
                job = jobs.start_onboarding(codes=["all"] if "all" in codes else codes, year=form.year.data,
                                            round_pattern=form.round.data.strip(), files=files,
                                            created_by=current_user.email)
                return redirect(url_for("onboarding.job", job_id=job.id))
        problems += [error for errors in form.errors.values() for error in errors]
    return render_template("onboarding/systems.html", form=form, path=path, era=organisations.era,
                           problems=problems, folder=data_folder()), 400 if problems else 200


@bp.get("/jobs")
def job_list():
    return render_template("onboarding/jobs.html", jobs=jobs.recent())


@bp.get("/jobs/<int:job_id>")
def job(job_id: int):
    found = jobs.get(job_id)
    if found is None:
        abort(404)
    return render_template("onboarding/job.html", job=found)
