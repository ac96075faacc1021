"""Rounds as first-class objects: the list of rounds a user may read (the national overview for a
national viewer), a new round for a system and contract year, and a system's organisations."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from ..domain import policy
from ..domain.contract_years import FIELD_TITLES
from ..extensions import db
from ..models import RegistrationRound, System
from ..services import contract_years, overview, round_setup
from ..services import places as places_svc
from . import guard
from .formatting import UK
from .round_forms import NewRoundForm, SettingsForm

bp = Blueprint("rounds", __name__)


@bp.get("/rounds")
def index():
    principal = guard.current_principal()
    system = request.args.get("system", "")[:16]
    year = request.args.get("year", "")[:7]
    sort = request.args.get("sort", "system")
    sort = sort if sort in overview.SORTS else "system"
    descending = request.args.get("dir") == "desc"
    page = request.args.get("page", "1")
    page = int(page) if page.isascii() and page.isdigit() and len(page) < 6 else 1
    rows, pages, totals = overview.listing(principal, system=system, year=year, sort=sort, descending=descending,
                                           page=page)
    visible = overview.visible_rounds(principal)
    systems = sorted({(r.system.code, r.system.name) for r in visible}, key=lambda s: s[1])
    years = sorted({r.contract_year for r in visible if r.contract_year})
    may_create = any(guard.decide(principal, policy.MANAGE_ROUND, policy.Target(system_id=s.id))
                     for s in db.session.scalars(select(System)))
    return render_template("rounds/index.html", rows=rows, pages=pages, page=min(max(page, 1), pages),
                           totals=totals, systems=systems, years=years, system=system, year=year, sort=sort,
                           descending=descending, may_create=may_create)


@bp.route("/rounds/new", methods=["GET", "POST"])
def new():
    principal = guard.current_principal()
    systems = [s for s in db.session.scalars(select(System).order_by(System.name))
               if guard.decide(principal, policy.MANAGE_ROUND, policy.Target(system_id=s.id))]
    if not systems:      # the guard lets through only who may run a whole system's round
        abort(403)
    years = contract_years.available()
    year = request.values.get("year") if request.values.get("year") in years else years[-1]
    spec = contract_years.load(year)
    form = NewRoundForm()
    form.set_choices(systems, years, db.session.scalars(select(RegistrationRound).where(
        RegistrationRound.system_id.in_([s.id for s in systems])).order_by(RegistrationRound.name)))
    if request.method == "GET":
        form.prefill(spec, request.args.get("system", ""))
    elif form.validate_on_submit():
        try:
            rnd = round_setup.create_round(int(form.system.data), form.year.data, form.values(),
                                           from_round_id=int(form.from_round.data) if form.from_round.data else None,
                                           author=current_user.name)
        except round_setup.SetupError as exc:
            form.add_service_error(exc)
        else:
            return redirect(url_for("main.dashboard", round_id=rnd.id))
    return render_template("rounds/new.html", form=form, spec=spec, titles=FIELD_TITLES, years=years)


@bp.get("/systems/<int:system_id>")
def system(system_id: int):
    found = db.session.get(System, system_id)
    if found is None:
        abort(404)
    rounds = list(db.session.scalars(select(RegistrationRound).where(RegistrationRound.system_id == found.id)
                                     .order_by(RegistrationRound.name)))
    from ..services import lineage

    codes = {found.code} | {c.code for c in found.commissioners}
    came_from, went_to = lineage.of_codes(codes)
    return render_template("rounds/system.html", system=found, rounds=rounds, came_from=came_from, went_to=went_to,
                           relations=lineage.RELATION_TITLES)


# --- dated memberships and practices' history -------------------------------------------------------------

@bp.get("/systems/<int:system_id>/configuration")
def system_configuration(system_id: int):
    """The system's configuration on a date (``?date=YYYY-MM-DD``, default today)."""
    from ..services import clock, memberships

    found = _system_or_404(system_id)
    text = (request.args.get("date") or "").strip()
    problem = None
    day = clock.now().astimezone(ZoneInfo(UK)).date()
    if text:
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            problem = f"{text[:40]!r} is not a date: enter it as YYYY-MM-DD, for example 2020-06-01"
    page = memberships.configuration_page(found, day)
    return render_template("rounds/configuration_on.html", system=found, page=page, problem=problem,
                           text=text or day.isoformat()), 400 if problem else 200


@bp.get("/systems/<int:system_id>/practices/<practice_code>/history")
def practice_history(system_id: int, practice_code: str):
    """A practice's commissioners and PCN memberships over time."""
    from ..services import memberships

    found = _system_or_404(system_id)
    if not memberships.practice_of_system(found, practice_code):
        abort(404)
    return render_template("rounds/practice_history.html", system=found,
                           history=memberships.practice_history(practice_code))


# --- places and committees of a system (the commissioner's data) -----------------------------------------

def _system_or_404(system_id: int) -> System:
    found = db.session.get(System, system_id)
    if found is None:
        abort(404)
    return found


def _may_edit(system: System) -> bool:
    return guard.permitted(guard.current_principal(), "rounds.add_place", {"system_id": system.id})


def _places_page(system: System, problems: list[str], values: dict | None = None, status: int = 200):
    return render_template("rounds/places.html", system=system, rows=places_svc.rows(system),
                           local_authorities=places_svc.local_authority_choices(system),
                           committees=places_svc.committees(system), problems=problems, values=values or {},
                           may_edit=_may_edit(system)), status


@bp.get("/systems/<int:system_id>/places")
def places(system_id: int):
    return _places_page(_system_or_404(system_id), [])


@bp.post("/systems/<int:system_id>/places")
def add_place(system_id: int):
    system = _system_or_404(system_id)
    form = FlaskForm()
    if not form.validate_on_submit():
        return _places_page(system, ["The form has expired: reload the page and try again"], status=400)
    values = {"name": request.form.get("name", "")[:300], "local_authorities": request.form.getlist("local_authorities"),
              "commissioners": request.form.getlist("commissioners")}
    try:
        place = places_svc.create_place(system, values["name"], values["local_authorities"], values["commissioners"])
    except places_svc.PlaceError as exc:
        return _places_page(system, [str(exc)], values, 400)
    flash(f"Place {place.name} added. The findings of every round of {system.name} follow it.", "success")
    return redirect(url_for("rounds.places", system_id=system.id))


@bp.route("/systems/<int:system_id>/places/<int:place_id>", methods=["GET", "POST"])
def place(system_id: int, place_id: int):
    system = _system_or_404(system_id)
    try:
        found = places_svc.get_place(system, place_id)
    except places_svc.PlaceError:
        abort(404)
    problems: list[str] = []
    values = {"name": found.name, "local_authorities": [la.code for la in found.local_authorities],
              "commissioners": [c.code for c in system.commissioners if c.place_id == found.id]}
    if request.method == "POST":
        if not FlaskForm().validate_on_submit():
            problems.append("The form has expired: reload the page and try again")
        elif request.form.get("action") == "remove":
            try:
                places_svc.remove_place(system, found)
            except places_svc.PlaceError as exc:
                problems.append(str(exc))
            else:
                flash(f"Place {values['name']} removed.", "success")
                return redirect(url_for("rounds.places", system_id=system.id))
        else:
            values = {"name": request.form.get("name", "")[:300],
                      "local_authorities": request.form.getlist("local_authorities"),
                      "commissioners": request.form.getlist("commissioners")}
            try:
                places_svc.update_place(system, found, values["name"], values["local_authorities"], values["commissioners"])
            except places_svc.PlaceError as exc:
                problems.append(str(exc))
            else:
                flash(f"Place {found.name} saved.", "success")
                return redirect(url_for("rounds.places", system_id=system.id))
    return render_template("rounds/place.html", system=system, place=found, values=values, problems=problems,
                           local_authorities=places_svc.local_authority_choices(system)), 400 if problems else 200


@bp.post("/systems/<int:system_id>/committees")
def add_committee(system_id: int):
    system = _system_or_404(system_id)
    if not FlaskForm().validate_on_submit():
        return _places_page(system, ["The form has expired: reload the page and try again"], status=400)
    try:
        committee = places_svc.add_committee(system, request.form.get("committee", "")[:300])
    except places_svc.PlaceError as exc:
        return _places_page(system, [str(exc)], status=400)
    flash(f"Committee {committee.name} added.", "success")
    return redirect(url_for("rounds.places", system_id=system.id))


def _settings_page(rnd: RegistrationRound, form: SettingsForm, editable: bool):
    spec = None
    if rnd.contract_year:
        try:
            spec = contract_years.load(rnd.contract_year)
        except ValueError:
            spec = None
    return render_template("rounds/settings.html", rnd=rnd, form=form, editable=editable, spec=spec,
                           titles=FIELD_TITLES), 400 if form.has_errors else 200


def _round_or_404(round_id: int) -> RegistrationRound:
    rnd = db.session.get(RegistrationRound, round_id)
    if rnd is None:
        abort(404)
    return rnd


@bp.get("/rounds/<int:round_id>/settings")
def settings(round_id: int):
    rnd = _round_or_404(round_id)
    editable = round_setup.may_change_settings(rnd, overview.today_for(rnd)) and guard.permitted(
        guard.current_principal(), "rounds.save_settings", {"round_id": rnd.id})
    form = SettingsForm()
    form.prefill(rnd)
    return _settings_page(rnd, form, editable)


@bp.post("/rounds/<int:round_id>/settings")
def save_settings(round_id: int):
    rnd = _round_or_404(round_id)
    form = SettingsForm()
    if form.validate_on_submit():
        try:
            round_setup.update_settings(rnd, form.values(rnd.name), overview.today_for(rnd))
        except round_setup.SetupError as exc:
            form.add_service_error(exc)
        else:
            flash("The round's settings are saved (recorded in the audit trail).", "success")
            return redirect(url_for("rounds.settings", round_id=rnd.id))
    return _settings_page(rnd, form, round_setup.may_change_settings(rnd, overview.today_for(rnd)))
