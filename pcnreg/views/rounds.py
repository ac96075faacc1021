"""Rounds as first-class objects: the list of rounds a user may read (the national overview for a
national viewer), a new round for a system and contract year, and a system's organisations."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..domain import policy
from ..domain.contract_years import FIELD_TITLES
from ..extensions import db
from ..models import RegistrationRound, System
from ..services import contract_years, overview, round_setup
from . import guard
from .round_forms import NewRoundForm

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
    return render_template("rounds/system.html", system=found, rounds=rounds)
