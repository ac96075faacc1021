"""Catchments and neighbourhoods of a round (issue #14): the page with its tables beside the map,
the map document, the catchments' GeoJSON, and three changes (the LSOA registrations file, the
neighbourhoods CSV, the round's settings), each one call of ``services.neighbourhoods``."""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_wtf.file import FileField
from wtforms import DecimalField, IntegerField, StringField
from wtforms.validators import InputRequired, NumberRange, ValidationError

from ..domain import catchments as cm
from ..importers.csvio import ImportFailed
from ..services import maps, pages
from ..services import neighbourhoods as nb
from ..services import rounds as rounds_svc
from . import guard
from .common import round_or_404
from .forms import Choice, MultiChoice, PageForm, strip

bp = Blueprint("neighbourhoods", __name__)


def _has_file(form, field):
    if not getattr(field.data, "filename", None):
        raise ValidationError("Choose a file to import")


class _FileForm(PageForm):
    @property
    def file(self):
        return self._fields[self.service_field]

    def add_import_failure(self, exc: ImportFailed, filename: str) -> None:
        source = exc.source or filename
        self.file.errors = [*self.file.errors, *(f"{source}: {p}" for p in exc.problems[:50])]


class RegistrationsForm(_FileForm):
    """The LSOA registrations file (Patients Registered at a GP Practice by LSOA)."""

    registrations_file = FileField("LSOA registrations file (gp-reg-pat-prac-lsoa-all.csv)", validators=[_has_file])
    service_field = "registrations_file"


class NeighbourhoodsForm(_FileForm):
    """The neighbourhoods: a CSV (lsoa_code, neighbourhood, kind) or a polygon layer (GeoJSON,
    GeoPackage, zipped shapefile) with name and kind columns."""

    neighbourhoods_file = FileField("Neighbourhoods (CSV, GeoJSON, GeoPackage or zipped shapefile)",
                                    validators=[_has_file])
    service_field = "neighbourhoods_file"


def _percent(label: str, what: str):
    return DecimalField(label, places=None, validators=[
        InputRequired(f"Enter {what} as a percentage"),
        NumberRange(min=1, max=100, message=f"{what[0].upper()}{what[1:]} must be between 1%% and 100%%")])


def _size(label: str, what: str):
    return IntegerField(label, validators=[
        InputRequired(f"Enter {what} as a whole number"),
        NumberRange(min=1, max=10_000_000, message=f"{what[0].upper()}{what[1:]} must be between 1 and 10,000,000")])


class SettingsForm(PageForm):
    method = Choice("How catchments are drawn", invalid="Choose how catchments are drawn",
                    choices=[("threshold", "LSOAs where the PCN holds at least the share below"),
                             ("largest", "Each LSOA to the PCN with the largest share")])
    threshold = _percent("Catchment share (%)", "the catchment share")
    alignment = _percent("Alignment threshold (%)", "the alignment threshold")
    single_size = _size("Single-neighbourhood size (people)", "the single-neighbourhood size")
    multi_size = _size("Multi-neighbourhood size (people)", "the multi-neighbourhood size")

    def fill(self, s: cm.Settings) -> SettingsForm:
        self.method.data, self.threshold.data = s.method, round(100 * s.threshold, 2)
        self.alignment.data = round(100 * s.alignment_threshold, 2)
        self.single_size.data, self.multi_size.data = s.single_size, s.multi_size
        return self


def _render(rnd, failed: PageForm | None = None, status: int | None = None):
    data = rounds_svc.build_configuration(rnd)
    facts = nb.page_facts(data)
    forms = {"registrations_form": RegistrationsForm(formdata=None), "neighbourhoods_form": NeighbourhoodsForm(formdata=None),
             "settings_form": SettingsForm(formdata=None).fill(facts.settings)}
    for name, form in forms.items():
        if failed is not None and type(failed) is type(form):
            forms[name] = failed
    names = {r.key: r.name for r in facts.rows}
    principal, args = guard.current_principal(), {"round_id": rnd.id}
    may_group = guard.permitted(principal, "neighbourhoods.save_group", args)
    may_load = guard.permitted(principal, "neighbourhoods.upload_neighbourhoods", args)
    may_set = guard.permitted(principal, "neighbourhoods.settings", args)
    return render_template("neighbourhoods.html", rnd=rnd, facts=facts, names=names, failed=failed,
                           kinds=cm.KINDS, overlap_rule=nb.OVERLAP_RULE, may_group=may_group,
                           may_load=may_load, may_set=may_set,
                           **forms), status or (400 if failed is not None else 200)


@bp.get("/rounds/<int:round_id>/neighbourhoods")
def page(round_id: int):
    return _render(round_or_404(round_id))


@bp.get("/rounds/<int:round_id>/neighbourhoods/map.html")
def map_document(round_id: int):
    rnd = round_or_404(round_id)
    try:
        html = nb.catchment_map(rnd)
    except maps.MapUnavailable:
        abort(404, description="Maps are unavailable: no geodata is installed.")
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = maps.map_response_csp()
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/rounds/<int:round_id>/catchments.geojson")
def catchments_geojson(round_id: int):
    rnd = round_or_404(round_id)
    try:
        content = nb.catchments_geojson(rnd)
    except LookupError:
        abort(404, description="No catchments: load the LSOA registrations file (and geodata) first.")
    return Response(content, mimetype="application/geo+json", headers={
        "Content-Disposition": f'attachment; filename="{pages.slug(rnd.name)}-catchments.geojson"'})


def _back(rnd):
    return redirect(url_for("neighbourhoods.page", round_id=rnd.id))


@bp.post("/rounds/<int:round_id>/neighbourhoods/registrations")
def upload_registrations(round_id: int):
    rnd = round_or_404(round_id)
    form = RegistrationsForm()
    if form.validate_on_submit():
        upload = form.file.data
        filename = (upload.filename or "upload")[:200]
        try:
            summary = nb.import_lsoa_registrations(rnd, upload.stream, source=filename)
        except ImportFailed as exc:
            form.add_import_failure(exc, filename)
        else:
            flash(" ".join(summary.lines()), "success")
            return _back(rnd)
    return _render(rnd, form)


@bp.post("/rounds/<int:round_id>/neighbourhoods/upload")
def upload_neighbourhoods(round_id: int):
    rnd = round_or_404(round_id)
    form = NeighbourhoodsForm()
    if form.validate_on_submit():
        upload = form.file.data
        filename = (upload.filename or "upload")[:200]
        try:
            summary = nb.import_neighbourhoods(rnd, upload.read(), source=filename,
                                               max_bytes=current_app.config["MAX_IMPORT_BYTES"])
        except ImportFailed as exc:
            form.add_import_failure(exc, filename)
        else:
            flash(" ".join([summary.lines()[0], *summary.notes]), "success")
            return _back(rnd)
    return _render(rnd, form)


@bp.post("/rounds/<int:round_id>/neighbourhoods/settings")
def settings(round_id: int):
    rnd = round_or_404(round_id)
    form = SettingsForm()
    if form.validate_on_submit():
        try:
            nb.save_settings(rnd, cm.Settings(float(form.threshold.data) / 100, form.method.data,
                                              float(form.alignment.data) / 100, form.single_size.data,
                                              form.multi_size.data))
        except nb.NeighbourhoodError as exc:
            form.add_service_error(exc)
        else:
            flash("The catchment and neighbourhood settings are saved; the findings are updated.", "success")
            return _back(rnd)
    return _render(rnd, form)


# --- grouping PCNs into a neighbourhood ----------------------------------------------------------------------------

class GroupForm(PageForm):
    """A neighbourhood made of the chosen PCNs' LSOAs (the service checks the choices)."""

    name = StringField("Neighbourhood name", filters=[strip])
    kind = Choice("Kind", invalid="Choose the kind of neighbourhood",
                  choices=[(k, t) for k, t in cm.KINDS.items()])
    basis = Choice("Make it of the chosen PCNs'", invalid="Choose whose LSOAs make the neighbourhood",
                   choices=list(nb.BASES.items()))
    pcns = MultiChoice("PCNs in the neighbourhood", validate_choice=False)
    service_field = None

    def offer(self, choices: nb.GroupingChoices) -> GroupForm:
        self.basis.choices = list(nb.BASES.items())       # an unavailable one: the service says why
        self.pcns.choices = [(k, name) for k, name, *_ in choices.pcns]
        return self


def _render_group(rnd, form: GroupForm, choices: nb.GroupingChoices, status: int = 200):
    hints = {k: f"{c} catchment LSOAs, {a} area LSOAs; now best matched to {now or 'no neighbourhood'}"
             for k, _, c, a, now in choices.pcns}
    basis_hints = {b: ("not available: no LSOA registrations are loaded" if b == "catchment"
                       else "not available: no geodata is installed") for b in nb.BASES if b not in choices.bases}
    return render_template("neighbourhood_group.html", rnd=rnd, form=form, choices=choices, hints=hints,
                           basis_hints=basis_hints,
                           kinds=cm.KINDS, settings=nb.settings_of(rnd)), status


@bp.get("/rounds/<int:round_id>/neighbourhoods/group")
def group(round_id: int):
    rnd = round_or_404(round_id)
    choices = nb.grouping_choices(rnd)
    form = GroupForm(formdata=None).offer(choices)
    name = (request.args.get("name") or "")[:200]
    form.basis.data = choices.bases[0] if choices.bases else "catchment"
    form.kind.data = "single"
    if name in choices.neighbourhoods:          # editing: its kind and the PCNs matched to it now
        form.name.data, form.kind.data = name, choices.neighbourhoods[name]
        form.pcns.data = choices.members.get(name, [])
    return _render_group(rnd, form, choices)


@bp.post("/rounds/<int:round_id>/neighbourhoods/group")
def save_group(round_id: int):
    rnd = round_or_404(round_id)
    choices = nb.grouping_choices(rnd)
    form = GroupForm().offer(choices)
    if form.validate_on_submit():
        try:
            result = nb.group_neighbourhood(rnd, form.name.data or "", form.kind.data, form.pcns.data or [],
                                            form.basis.data)
        except nb.NeighbourhoodError as exc:
            form.add_service_error(exc)
        else:
            flash(result.message(), "success")
            return redirect(url_for("neighbourhoods.page", round_id=rnd.id) + "#neighbourhoods")
    return _render_group(rnd, form, choices, 400)
