"""The maps: a round's configuration map and a PCN's map, each in an NHS page beside a table
with the same facts; moving a block to a neighbouring PCN; the exports of PCN areas.

Thin views: the maps, tables and exports are built by ``services.maps`` (see there for the
simplification, the cache and why no other host is contacted). Without geodata the pages say
plainly that maps are unavailable and keep their tables; the map documents and the geographic
exports are 404.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from wtforms.validators import ValidationError

from ..services import areas, maps, pages
from ..services import rounds as rounds_svc
from ..services.rounds import NotFound
from .forms import Choice, PageForm

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


# --- helpers --------------------------------------------------------------------------------------

def _round(round_id: int):
    try:
        return rounds_svc.get_round(round_id)
    except NotFound:
        abort(404, description=f"There is no registration round with id {round_id}.")


def _pcn_key(data: rounds_svc.RoundData, pcn_id: int) -> str:
    key = str(pcn_id)
    if key not in data.pcns:
        abort(404, description=f"There is no PCN with id {pcn_id} in the current configuration of "
                               f"{data.round.name}. It may have been merged or never existed.")
    return key


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
    rnd = _round(round_id)
    data = rounds_svc.build_configuration(rnd)
    return render_template("map.html", rnd=rnd, data=data, rows=maps.map_rows(data),
                           geodata=areas.has_geodata(rnd), no_geodata=NO_GEODATA)


@bp.get("/rounds/<int:round_id>/map.html")
def configuration_document(round_id: int):
    rnd = _round(round_id)
    return _map_document(lambda: maps.configuration_map_with_key(rnd))


# --- a PCN's map and its block moves ----------------------------------------------------------------------

def _render_pcn(rnd, data, key: str, form: BlockMoveForm | None = None, status: int = 200):
    geodata = areas.has_geodata(rnd)
    facts = maps.pcn_facts(data, key) if geodata else None
    form = (form or BlockMoveForm(formdata=None)).set_choices(facts)
    row = facts.row if facts else next(r for r in maps.map_rows(data) if r.key == key)
    members = pages.practice_rows(data, pcn=key)
    return render_template("pcn_map.html", rnd=rnd, data=data, key=key, row=row, facts=facts, members=members,
                           form=form, geodata=geodata, no_geodata=NO_GEODATA), status


@bp.get("/rounds/<int:round_id>/pcns/<int:pcn_id>/map")
def pcn(round_id: int, pcn_id: int):
    rnd = _round(round_id)
    data = rounds_svc.build_configuration(rnd)
    return _render_pcn(rnd, data, _pcn_key(data, pcn_id))


@bp.get("/rounds/<int:round_id>/pcns/<int:pcn_id>/map.html")
def pcn_document(round_id: int, pcn_id: int):
    rnd = _round(round_id)
    if pages.active_pcn(rnd, pcn_id) is None:
        abort(404, description=f"There is no PCN with id {pcn_id} in the current configuration of {rnd.name}.")
    return _map_document(lambda: maps.pcn_map_with_key(rnd, str(pcn_id)))


@bp.post("/rounds/<int:round_id>/pcns/<int:pcn_id>/blocks/move")
def move_block(round_id: int, pcn_id: int):
    rnd = _round(round_id)
    data = rounds_svc.build_configuration(rnd)
    key = _pcn_key(data, pcn_id)
    if not areas.has_geodata(rnd):
        abort(404, description=NO_GEODATA)
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
            return redirect(url_for("maps.pcn", round_id=rnd.id, pcn_id=pcn_id))
    return _render_pcn(rnd, data, key, form, 400)


# --- exports ---------------------------------------------------------------------------------------------

@bp.get("/rounds/<int:round_id>/areas.geojson")
def areas_geojson(round_id: int):
    return _download(maps.export_geojson, _round(round_id), "geojson", "application/geo+json")


@bp.get("/rounds/<int:round_id>/areas.gpkg")
def areas_gpkg(round_id: int):
    return _download(maps.export_gpkg, _round(round_id), "gpkg", "application/geopackage+sqlite3")


@bp.get("/rounds/<int:round_id>/map.png")
def map_png(round_id: int):
    rnd = _round(round_id)
    try:
        content = maps.export_png(rnd)
    except maps.MapUnavailable:
        abort(404, description=NO_GEODATA)
    return Response(content, mimetype="image/png", headers={
        "Content-Disposition": f'attachment; filename="{pages.slug(rnd.name)}-map.png"'})
