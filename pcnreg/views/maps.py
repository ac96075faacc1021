"""The maps: a round's configuration map and a PCN's map, each in an NHS page beside a table
with the same facts; on a PCN's map page, moving a block to a neighbouring PCN, replacing the
PCN's area with an uploaded polygon (and going back to its blocks) and treating two blocks as
adjacent; the exports of PCN areas.

Thin views: the maps, tables and exports are built by ``services.maps`` (see there for the
simplification, the cache and why no other host is contacted); changes are made by one function
of ``services.areas`` each. A change is a POST with a CSRF token, redirected to the page with a
message when it is made; when it cannot be made the page is shown again with status 400 and the
reason, and nothing is written. Without geodata the pages say plainly that maps are unavailable
and keep their tables; the map documents, the geographic exports and the changes are 404.

The uploaded-area form has no "Your name" or "Reason" fields: ``areas.upload_area`` does not
record them, and a field whose value is thrown away would mislead.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_wtf.file import FileField, FileRequired
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from ..importers.csvio import ImportFailed
from ..services import areas, maps, pages
from ..services import rounds as rounds_svc
from .common import pcn_key_or_404, round_or_404
from .forms import Choice, PageForm, strip, strip_text

bp = Blueprint("maps", __name__)

NO_GEODATA = "Maps are unavailable: no geodata is installed. Run `pcnreg geodata install`."


class BlockMoveForm(PageForm):
    """Move one block of this PCN to a neighbouring PCN (with a CSRF token)."""

    block = Choice("Block to move", invalid="Choose a block of this PCN from the list")
    to = Choice("Move it to", invalid="Choose a neighbouring PCN from the list")

    def set_choices(self, facts: maps.PcnMapFacts | None) -> BlockMoveForm:
        blocks = facts.blocks if facts else []
        neighbours = facts.neighbours if facts else []
        self.block.choices = [("", "Choose a block")] + [(b.code, f"{b.code} {b.name}") for b in blocks]
        self.to.choices = [("", "Choose a neighbouring PCN")] + [(n.key, n.name) for n in neighbours]
        return self

    def validate_block(self, field):
        if not field.data:
            raise ValidationError("Choose a block to move")

    def validate_to(self, field):
        if not field.data:
            raise ValidationError("Choose the neighbouring PCN to move the block to")


class AreaUploadForm(PageForm):
    """Replace the PCN's area with the polygon of an uploaded file (with a CSRF token)."""

    area_file = FileField("Replace this PCN's area with an uploaded polygon",
                          validators=[FileRequired("Choose a file with the PCN's area")])
    service_field = "area_file"

    def add_import_failure(self, exc: ImportFailed, filename: str) -> None:
        """Every problem of a refused file, on the file field (the summary lists them all)."""
        source = exc.source or filename
        self.area_file.errors = [*self.area_file.errors, *(f"{source}: {p}" for p in exc.problems)]

    def error_list(self) -> list[dict]:
        items = [{"text": e, "href": f"#{self.area_file.id}"} for e in self.area_file.errors]
        return items + [i for i in super().error_list() if i.get("href") != f"#{self.area_file.id}"]


class RevertAreaForm(PageForm):
    """Go back from an uploaded area to the area made of the PCN's blocks (a CSRF token only)."""


def _block_code(value):
    return value.strip().upper() if isinstance(value, str) else value


def _code_field(label: str, which: str) -> StringField:
    return StringField(label, filters=[_block_code], validators=[
        DataRequired(f"Enter the code of the {which} block"),
        Length(max=20, message=f"The code of the {which} block must be 20 characters or fewer")])


class AdjacentForm(PageForm):
    """Treat two blocks as adjacent (across a river or an estuary, to an island)."""

    block_a = _code_field("First block", "first")
    block_b = _code_field("Second block", "second")
    reason = TextAreaField("Why they are treated as adjacent", filters=[strip_text], validators=[
        DataRequired("Enter why the blocks are treated as adjacent"),
        Length(max=2000, message="Why they are treated as adjacent must be 2,000 characters or fewer")])
    recorded_by = StringField("Who agreed it", filters=[strip], validators=[
        DataRequired("Enter who agreed that the blocks are treated as adjacent"),
        Length(max=200, message="Who agreed it must be 200 characters or fewer")])

    def validate_block_b(self, field):
        if field.data and field.data == self.block_a.data:
            raise ValidationError("Enter two different blocks")

    def field_for(self, message: str) -> str | None:
        if self.block_a.data and self.block_a.data in message.split():
            return "block_a"
        if self.block_b.data and self.block_b.data in message.split():
            return "block_b"
        return None


# --- helpers --------------------------------------------------------------------------------------

def _map_document(build) -> Response:
    """A map's HTML with its cache validator and a policy that allows this host only."""
    try:
        html, key = build()
    except maps.MapUnavailable:
        abort(404, description=NO_GEODATA)
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = maps.map_response_csp()
    response.headers["Cache-Control"] = "no-cache"
    response.set_etag(key)
    return response.make_conditional(request)


def _download(build, rnd, suffix: str, mimetype: str) -> Response:
    try:
        content = build(rnd)
    except maps.MapUnavailable:
        abort(404, description=NO_GEODATA)
    return Response(content, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{pages.slug(rnd.name)}-pcn-areas.{suffix}"'})


# --- the configuration map -----------------------------------------------------------------------------

@bp.get("/rounds/<int:round_id>/map")
def configuration(round_id: int):
    rnd = round_or_404(round_id)
    data = rounds_svc.build_configuration(rnd)
    return render_template("map.html", rnd=rnd, data=data, rows=maps.map_rows(data),
                           geodata=areas.has_geodata(rnd), no_geodata=NO_GEODATA)


@bp.get("/rounds/<int:round_id>/map.html")
def configuration_document(round_id: int):
    rnd = round_or_404(round_id)
    return _map_document(lambda: maps.configuration_map_with_key(rnd))


# --- a PCN's map and its block moves ----------------------------------------------------------------------

def _render_pcn(rnd, data, key: str, failed: PageForm | None = None):
    """The PCN's map page; with ``failed`` (the form that was sent and refused) status 400 and
    that form's errors, the other forms empty."""
    geodata = areas.has_geodata(rnd)
    facts = maps.pcn_facts(data, key) if geodata else None
    forms = {"form": BlockMoveForm(formdata=None), "upload_form": AreaUploadForm(formdata=None),
             "revert_form": RevertAreaForm(formdata=None), "adjacent_form": AdjacentForm(formdata=None)}
    for name, form in forms.items():
        if failed is not None and type(failed) is type(form):
            forms[name] = failed
    forms["form"].set_choices(facts)
    row = facts.row if facts else next(r for r in maps.map_rows(data) if r.key == key)
    members = pages.practice_rows(data, pcn=key)
    pairs = maps.adjacent_pairs(rnd, key) if geodata else []
    return render_template("pcn_map.html", rnd=rnd, data=data, key=key, row=row, facts=facts, members=members,
                           pairs=pairs, failed=failed, geodata=geodata, no_geodata=NO_GEODATA,
                           **forms), 400 if failed is not None else 200


def _geo_pcn(round_id: int, pcn_id: int):
    """(round, its head configuration, the PCN's key) for a change on the PCN's map page; 404
    for an unknown round or PCN, or without geodata."""
    rnd = round_or_404(round_id)
    data = rounds_svc.build_configuration(rnd)
    key = pcn_key_or_404(data, pcn_id)
    if not areas.has_geodata(rnd):
        abort(404, description=NO_GEODATA)
    return rnd, data, key


def _back(rnd, pcn_id: int):
    return redirect(url_for("maps.pcn", round_id=rnd.id, pcn_id=pcn_id))


@bp.get("/rounds/<int:round_id>/pcns/<int:pcn_id>/map")
def pcn(round_id: int, pcn_id: int):
    rnd = round_or_404(round_id)
    data = rounds_svc.build_configuration(rnd)
    return _render_pcn(rnd, data, pcn_key_or_404(data, pcn_id))


@bp.get("/rounds/<int:round_id>/pcns/<int:pcn_id>/map.html")
def pcn_document(round_id: int, pcn_id: int):
    rnd = round_or_404(round_id)
    if pages.active_pcn(rnd, pcn_id) is None:
        abort(404, description=f"There is no PCN with id {pcn_id} in the current configuration of {rnd.name}.")
    return _map_document(lambda: maps.pcn_map_with_key(rnd, str(pcn_id)))


@bp.post("/rounds/<int:round_id>/pcns/<int:pcn_id>/blocks/move")
def move_block(round_id: int, pcn_id: int):
    rnd, data, key = _geo_pcn(round_id, pcn_id)
    form = BlockMoveForm().set_choices(maps.pcn_facts(data, key))
    if form.validate_on_submit():
        block = dict(form.block.choices)[form.block.data]
        target = dict(form.to.choices)[form.to.data]
        try:
            areas.move_block(rnd, form.block.data, form.to.data)
        except areas.AreaError as exc:
            form.add_service_error(exc)
        else:
            flash(f"Moved block {block} from {data.pcn_data(key).name} to {target}. The areas and the "
                  "maps are updated.", "success")
            return _back(rnd, pcn_id)
    return _render_pcn(rnd, data, key, form)


# --- a PCN's uploaded area ----------------------------------------------------------------------------------

@bp.post("/rounds/<int:round_id>/pcns/<int:pcn_id>/area")
def upload_area(round_id: int, pcn_id: int):
    rnd, data, key = _geo_pcn(round_id, pcn_id)
    form = AreaUploadForm()
    if form.validate_on_submit():
        upload = form.area_file.data
        filename = upload.filename or "the file"
        try:
            repairs: list[str] = []
            area = areas.upload_area(rnd, key, upload.read(), filename, current_app.config["MAX_IMPORT_BYTES"],
                                     notes=repairs)
        except ImportFailed as exc:
            form.add_import_failure(exc, filename)
        except areas.AreaError as exc:
            form.add_service_error(exc)
        else:
            km2 = areas.from_wkb(area.geometry).area / 1e6
            flash(f"The area of {data.pcn_data(key).name} is now the polygon in {filename} ({km2:,.1f} km²). "
                  "The findings and the maps are updated: check the findings for overlaps with other PCNs' "
                  "areas.", "success")
            for note in repairs:
                flash(note, "warning")
            return _back(rnd, pcn_id)
    return _render_pcn(rnd, data, key, form)


@bp.post("/rounds/<int:round_id>/pcns/<int:pcn_id>/area/revert")
def revert_area(round_id: int, pcn_id: int):
    rnd, data, key = _geo_pcn(round_id, pcn_id)
    form = RevertAreaForm()
    name = data.pcn_data(key).name
    if form.validate_on_submit():
        geo = data.config.geography
        if geo is None or geo.pcn_area_source.get(key) != "upload":
            form.general_errors.append(f"The area of {name} is already made of its blocks: there is no "
                                       "uploaded area to go back from")
        else:
            areas.revert_area(rnd, key)
            flash(f"The area of {name} is made of its blocks again. The findings and the maps are updated.",
                  "success")
            return _back(rnd, pcn_id)
    return _render_pcn(rnd, data, key, form)


# --- blocks treated as adjacent ------------------------------------------------------------------------------

@bp.post("/rounds/<int:round_id>/pcns/<int:pcn_id>/adjacent")
def record_adjacent(round_id: int, pcn_id: int):
    rnd, data, key = _geo_pcn(round_id, pcn_id)
    form = AdjacentForm()
    if form.validate_on_submit():
        a, b = form.block_a.data, form.block_b.data
        unknown = maps.unknown_blocks(rnd, [a, b])      # the service looks in every system
        for code in unknown:
            field = form.block_a if code == a else form.block_b
            field.errors = [*field.errors, f"There is no block {code} in {rnd.system.name}"]
        if not unknown:
            try:
                areas.record_adjacent(a, b, reason=form.reason.data, recorded_by=form.recorded_by.data,
                                      system_id=rnd.system_id)
            except areas.AreaError as exc:
                form.add_service_error(exc)
            else:
                flash(f"Blocks {a} and {b} are now treated as adjacent. The findings and block moves take "
                      "the pair into account.", "success")
                return _back(rnd, pcn_id)
    return _render_pcn(rnd, data, key, form)


# --- exports ---------------------------------------------------------------------------------------------

@bp.get("/rounds/<int:round_id>/areas.geojson")
def areas_geojson(round_id: int):
    return _download(maps.export_geojson, round_or_404(round_id), "geojson", "application/geo+json")


@bp.get("/rounds/<int:round_id>/areas.gpkg")
def areas_gpkg(round_id: int):
    return _download(maps.export_gpkg, round_or_404(round_id), "gpkg", "application/geopackage+sqlite3")


@bp.get("/rounds/<int:round_id>/map.png")
def map_png(round_id: int):
    """The PNG of the round's map; ``?pcn=<id>``: of that PCN's map; ``?inline=1``: shown in the
    page (the picture without JavaScript) instead of downloaded."""
    rnd = round_or_404(round_id)
    pcn_arg = request.args.get("pcn")
    key = None
    name = pages.slug(rnd.name)
    if pcn_arg is not None:
        if not pcn_arg.isdigit() or len(pcn_arg) > 9 or pages.active_pcn(rnd, int(pcn_arg)) is None:
            abort(404, description=f"There is no PCN with id {pcn_arg} in the current configuration of {rnd.name}.")
        key = str(int(pcn_arg))
        name += f"-pcn-{key}"
    try:
        content = maps.export_png(rnd, key)
    except maps.MapUnavailable:
        abort(404, description=NO_GEODATA)
    disposition = "inline" if request.args.get("inline") else "attachment"
    return Response(content, mimetype="image/png", headers={
        "Content-Disposition": f'{disposition}; filename="{name}-map.png"'})
