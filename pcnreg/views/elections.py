"""Clinical Director elections run by the LMC: the returning officer's pages (set up an election,
take it through its timetable, nominations, the panel, voting, count and declaration) and the
public pages (the ballot reached by a one-time link, and the declaration).

Thin views: each parses a form, calls one function of ``services.elections`` and redirects with a
message (POST-redirect-GET), or shows the page again with status 400, the NHS error summary and
nothing written. Two answers are pages, not redirects, because what they show exists once: the
ballot links of ``open_voting`` and of a re-issue (only their hashes are stored).

Access (``routes.ROUTE_RULES``): reading needs ``view`` on the round; every change needs
``run_election`` (the LMC's returning officer, scoped to a system). The ballot, the declaration
and the published ballots are public. Ballot pages carry their token in the URL: they are sent
with ``Referrer-Policy: no-referrer`` and ``Cache-Control: no-store``, and any refusal (a used,
re-issued or forged link, a vote outside the window) is a 400 page with the service's message,
which says no more than that the link cannot be used.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from ..domain import elections as dom
from ..services import clock, mailer
from ..services import elections as el
from . import guard
from .common import round_or_404
from .election_forms import (
    DEFAULT_ELIGIBILITY,
    AgreementForm,
    AssessForm,
    BallotCodeForm,
    BallotForm,
    ConfirmForm,
    CountForm,
    InterimForm,
    NominationForm,
    ReissueForm,
    SetupForm,
    StepForm,
    WithdrawForm,
)

bp = Blueprint("elections", __name__)


@bp.before_app_request
def _close_due_elections() -> None:
    """The first request after an election's closing time records the close (so that a clock
    moved back never reopens voting). Assets skip it; a failure here never breaks the request."""
    import logging

    from flask import request
    from sqlalchemy.exc import SQLAlchemyError

    from ..extensions import db

    if request.endpoint in (None, "static") or (request.endpoint or "").startswith("assets."):
        return
    try:
        el.close_due()
    except (SQLAlchemyError, el.ElectionError):
        db.session.rollback()
        logging.getLogger("pcnreg.errors").warning("closing due elections failed", exc_info=True)

NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
SECRET_PAGES = {"elections.ballot", "elections.ballot_link_page", "elections.open_voting", "elections.reissue",
                "elections.letters"}


def ballot_link(token: str) -> str:
    """A practice's ballot link: the token in the URL's fragment, which a browser never sends to
    the server (so no request line, access log or request log holds it); the ballot page's script
    posts it."""
    return url_for("elections.ballot", _external=True) + "#" + token


@bp.after_request
def secret_headers(response: Response) -> Response:
    """Pages that carry or show ballot tokens: no referrer, no cache."""
    if request.endpoint in SECRET_PAGES:
        response.headers.update(NO_STORE)
    return response


# --- helpers --------------------------------------------------------------------------------------------

def _status(*forms) -> int:
    return 400 if any(f is not None and f.has_errors for f in forms) else 200


def _election_or_404(rnd, election_id: int):
    e = el.get(election_id)
    if e is None or (rnd is not None and e.round_id != rnd.id):
        where = f" in {rnd.name}" if rnd is not None else ""
        abort(404, description=f"There is no election with id {election_id}{where}.")
    return e


def _may_run(rnd) -> bool:
    return guard.permitted(guard.current_principal(), "elections.create", {"round_id": rnd.id})


# --- the round's elections and the set-up ------------------------------------------------------------------

def _render_list(rnd, form: SetupForm):
    rows = [(e, el.state(e)) for e in el.for_round(rnd)]
    return render_template("elections/list.html", rnd=rnd, rows=rows, form=form, methods=dom.METHODS,
                           may_run=_may_run(rnd)), _status(form)


@bp.get("/rounds/<int:round_id>/elections")
def elections(round_id: int):
    rnd = round_or_404(round_id)
    form = SetupForm(formdata=None, eligibility=DEFAULT_ELIGIBILITY, method="plurality", tie_break="seed")
    return _render_list(rnd, form.set_choices(el.round_pcns(rnd)))


@bp.post("/rounds/<int:round_id>/elections")
def create(round_id: int):
    rnd = round_or_404(round_id)
    form = SetupForm().set_choices(el.round_pcns(rnd))
    if form.validate_on_submit():
        pcn = el.pcn_in_round(rnd, guard.as_id(form.pcn.data))
        if pcn is None:
            form.pcn.errors.append("Choose the PCN from the list")
        else:
            try:
                e = el.create(rnd, pcn, method=form.method.data, tie_break=form.tie_break.data,
                              seed=form.seed.data or "", eligibility=form.eligibility.data or "",
                              tt=form.timetable())
            except el.ElectionError as exc:
                form.add_service_error(exc)
            else:
                flash(f"The election for {pcn.name} was set up. Open nominations when their time comes.", "success")
                return redirect(url_for("elections.election", round_id=rnd.id, election_id=e.id))
    return _render_list(rnd, form)


# --- one election -------------------------------------------------------------------------------------------

def _steps(state: str) -> list[dom.Transition]:
    """The simple steps the election may take from ``state`` (the page's buttons)."""
    names = ("open_nominations", "close_nominations", "start_panel", "close_voting", "reopen_nominations", "cancel")
    return [dom.BY_NAME[n] for n in names if state in dom.BY_NAME[n].sources]


def _render_election(rnd, e, status: int = 200, lots_needed: bool = False, **forms):
    state = el.state(e)
    members = el.member_names(e)
    defaults = {
        "step": StepForm(formdata=None),
        "nominate": NominationForm(formdata=None).set_choices(members),
        "withdraw": None, "assess": None,
        "open_voting": ConfirmForm(formdata=None),
        "reissue": ReissueForm(formdata=None, channel="letter").set_choices(members),
        "count": CountForm(formdata=None),
        "declare": ConfirmForm(formdata=None),
        "agreement": AgreementForm(formdata=None),
        "interim": InterimForm(formdata=None),
    }
    defaults.update(forms)
    failed = next((f for f in forms.values() if f is not None and f.has_errors), None)
    candidates = sorted(e.candidates, key=lambda c: c.id)
    steps = _steps(state)
    show_turnout = state in ("voting_open", "voting_closed", "counted", "declared")
    return render_template(
        "elections/election.html", rnd=rnd, e=e, state=state, steps=steps, forms=defaults,
        waiting=el.waiting_steps(e, [t.name for t in steps], clock.now()),
        failed=failed, candidates=candidates, standing=[c for c in candidates if c.status == "shortlisted"],
        names=dict(members), methods=dom.METHODS, tie_breaks=dom.TIE_BREAKS,
        turnout=el.turnout(e) if show_turnout else None, result=el.result(e),
        failed_candidate=request.form.get("candidate", "") if failed is not None else "",
        may_run=_may_run(rnd), before_voting=state in dom.BEFORE_VOTING, lots_needed=lots_needed,
        unopposed=state == "panel" and el.may_declare_unopposed(e),
        contested=len(el.eligible(e)) >= 2), status


@bp.get("/rounds/<int:round_id>/elections/<int:election_id>")
def election(round_id: int, election_id: int):
    rnd = round_or_404(round_id)
    return _render_election(rnd, _election_or_404(rnd, election_id))


def _done(rnd, e, message: str):
    flash(message, "success")
    return redirect(url_for("elections.election", round_id=rnd.id, election_id=e.id))


@bp.post("/rounds/<int:round_id>/elections/<int:election_id>/step")
def step(round_id: int, election_id: int):
    rnd = round_or_404(round_id)
    e = _election_or_404(rnd, election_id)
    form = StepForm()
    if form.validate_on_submit():
        try:
            state = el.step(e, form.step.data, reason=form.reason.data or "")
        except el.ElectionError as exc:
            form.add_service_error(exc)
        else:
            return _done(rnd, e, f"Done: {dom.BY_NAME[form.step.data].title.lower()}. The election is now "
                                 f"{dom.STATE_TITLES[state].lower()}.")
    return _render_election(rnd, e, 400, step=form)


@bp.post("/rounds/<int:round_id>/elections/<int:election_id>/nominate")
def nominate(round_id: int, election_id: int):
    rnd = round_or_404(round_id)
    e = _election_or_404(rnd, election_id)
    form = NominationForm().set_choices(el.member_names(e))
    if form.validate_on_submit():
        try:
            c = el.nominate(e, name=form.name.data, register=form.register.data, number=form.number.data,
                            practice_code=form.practice.data, role=form.role.data, statement=form.statement.data,
                            conflicts=form.conflicts.data or "")
        except el.ElectionError as exc:
            form.add_service_error(exc)
        else:
            return _done(rnd, e, f"{c.name} is nominated.")
    return _render_election(rnd, e, 400, nominate=form)


@bp.post("/rounds/<int:round_id>/elections/<int:election_id>/withdraw")
def withdraw(round_id: int, election_id: int):
    rnd = round_or_404(round_id)
    e = _election_or_404(rnd, election_id)
    form = WithdrawForm()
    if form.validate_on_submit():
        try:
            c = el.withdraw(e, form.candidate_id(), form.reason.data)
        except el.ElectionError as exc:
            form.add_service_error(exc)
        else:
            return _done(rnd, e, f"{c.name} has withdrawn.")
    return _render_election(rnd, e, 400, withdraw=form)


@bp.post("/rounds/<int:round_id>/elections/<int:election_id>/assess")
def assess(round_id: int, election_id: int):
    rnd = round_or_404(round_id)
    e = _election_or_404(rnd, election_id)
    form = AssessForm()
    if form.validate_on_submit():
        try:
            c = el.assess(e, form.candidate_id(), shortlisted=form.shortlisted.data == "yes",
                          reason=form.reason.data, panel_members=form.panel_members.data)
        except el.ElectionError as exc:
            form.add_service_error(exc)
        else:
            outcome = "shortlisted" if c.status == "shortlisted" else "not shortlisted"
            return _done(rnd, e, f"The panel's assessment of {c.name} is recorded: {outcome}.")
    return _render_election(rnd, e, 400, assess=form)


@bp.post("/rounds/<int:round_id>/elections/<int:election_id>/open-voting")
def open_voting(round_id: int, election_id: int):
    """Open voting and show the ballot links, once, as printable letters."""
    rnd = round_or_404(round_id)
    e = _election_or_404(rnd, election_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            issued = el.open_voting(e)
        except el.ElectionError as exc:
            form.add_service_error(exc)
        else:
            return _letters(rnd, e, issued, reissued=False)
    return _render_election(rnd, e, 400, open_voting=form)


@bp.get("/rounds/<int:round_id>/elections/<int:election_id>/letters")
def letters(round_id: int, election_id: int):
    """The returning officer's print view of the ballot letters, while voting is open: one letter
    per practice that has not voted (a used or replaced link is never printed)."""
    rnd = round_or_404(round_id)
    e = _election_or_404(rnd, election_id)
    try:
        issued = el.letters(e)
    except el.ElectionError as exc:
        abort(404, description=" ".join(exc.messages))
    el.record_letters_printed(e, len(issued))
    return _letters(rnd, e, issued, reissued=False, reprint=True)


def _letters(rnd, e, issued, *, reissued: bool, reprint: bool = False):
    names = dict(el.member_names(e))
    letters = [{"code": t.practice_code, "name": names.get(t.practice_code, t.practice_code),
                "url": ballot_link(t.token), "token": t.token} for t in issued]
    return render_template("elections/letters.html", rnd=rnd, e=e, letters=letters, reissued=reissued, reprint=reprint,
                           timetable=el.timetable(e), standing=[c for c in e.candidates if c.status == "shortlisted"])


@bp.post("/rounds/<int:round_id>/elections/<int:election_id>/reissue")
def reissue(round_id: int, election_id: int):
    rnd = round_or_404(round_id)
    e = _election_or_404(rnd, election_id)
    form = ReissueForm().set_choices(el.member_names(e))
    if form.validate_on_submit():
        try:
            if form.channel.data == "email" and mailer.configured():
                el.email_ballot(e, form.practice.data, form.address.data or "",
                                ballot_link)
                flash(f"A new ballot link was e-mailed to {form.address.data}: the earlier link no longer works.",
                      "success")
                return redirect(url_for("elections.election", round_id=rnd.id, election_id=e.id))
            issued = el.reissue(e, form.practice.data, channel=form.channel.data, address=form.address.data or "")
        except el.ElectionError as exc:
            form.add_service_error(exc)
        else:
            return _letters(rnd, e, [issued], reissued=True)
    return _render_election(rnd, e, 400, reissue=form)


@bp.post("/rounds/<int:round_id>/elections/<int:election_id>/count")
def count(round_id: int, election_id: int):
    """The count; with lots as the tie-break, the drawing of lots is asked for only when the count
    meets a tie (the page comes back with the draw's fields and the tied names)."""
    rnd = round_or_404(round_id)
    e = _election_or_404(rnd, election_id)
    form = CountForm()
    lots_needed = False
    if form.validate_on_submit():
        standing = {str(c.id) for c in el.eligible(e)}
        order = form.lots_order(request.form, len(standing))
        drawing = e.tie_break == "lots" and (any(order) or form.performed_by.data or form.witness.data)
        lots_needed = bool(drawing)
        if not drawing or form.check_lots(order, standing):
            try:
                el.count(e, lots_order=order if drawing else None,
                         performed_by=form.performed_by.data or "", witness=form.witness.data or "")
            except el.LotsNeeded as exc:
                lots_needed = True
                form.add_service_error(exc)
            except el.ElectionError as exc:
                form.add_service_error(exc)
            except ValueError as exc:        # counting's refusals (no ballots, a bad draw): not a 500
                form.general_errors.append(f"The votes cannot be counted: {exc}")
            else:
                return _done(rnd, e, "The votes are counted. Check the result, then declare it.")
    return _render_election(rnd, e, 400, count=form, lots_needed=lots_needed)


def _confirmed(rnd, e, action, message):
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            c = action(e)
        except el.ElectionError as exc:
            form.add_service_error(exc)
        else:
            return _done(rnd, e, message.format(name=c.name))
    return _render_election(rnd, e, 400, declare=form)


@bp.post("/rounds/<int:round_id>/elections/<int:election_id>/declare")
def declare(round_id: int, election_id: int):
    rnd = round_or_404(round_id)
    return _confirmed(rnd, _election_or_404(rnd, election_id), el.declare,
                      "{name} is declared elected as the PCN's Clinical Director.")


@bp.post("/rounds/<int:round_id>/elections/<int:election_id>/declare-unopposed")
def declare_unopposed(round_id: int, election_id: int):
    rnd = round_or_404(round_id)
    return _confirmed(rnd, _election_or_404(rnd, election_id), el.declare_unopposed,
                      "{name} is declared elected unopposed as the PCN's Clinical Director.")


@bp.post("/rounds/<int:round_id>/elections/<int:election_id>/agreement")
def agreement(round_id: int, election_id: int):
    rnd = round_or_404(round_id)
    e = _election_or_404(rnd, election_id)
    form = AgreementForm()
    if form.validate_on_submit():
        try:
            el.record_agreement(e, held_on=form.held_on.data, practices_present=form.practices_present.data,
                                outcome=form.outcome.data)
        except el.ElectionError as exc:
            form.add_service_error(exc)
        else:
            return _done(rnd, e, "The appointment by agreement is recorded.")
    return _render_election(rnd, e, 400, agreement=form)


@bp.post("/rounds/<int:round_id>/elections/<int:election_id>/interim")
def interim(round_id: int, election_id: int):
    rnd = round_or_404(round_id)
    e = _election_or_404(rnd, election_id)
    form = InterimForm()
    if form.validate_on_submit():
        try:
            el.record_interim(e, form.name.data)
        except el.ElectionError as exc:
            form.add_service_error(exc)
        else:
            return _done(rnd, e, f"{form.name.data} is recorded as the interim lead.")
    return _render_election(rnd, e, 400, interim=form)


def _ballots_csv(e) -> Response:
    try:
        text = el.ballot_export(e)
    except el.ElectionError:
        abort(404, description="The ballots are published after the count.")
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="election-{e.id}-ballots.csv"'})


@bp.get("/rounds/<int:round_id>/elections/<int:election_id>/ballots.csv")
def ballots_csv(round_id: int, election_id: int):
    rnd = round_or_404(round_id)
    return _ballots_csv(_election_or_404(rnd, election_id))


# --- public: the ballot and the declaration ------------------------------------------------------------------

def _refused(message: str):
    return render_template("elections/ballot_refused.html", message=message), 400


@bp.get("/ballot/<ballot_token>")
def ballot_link_page(ballot_token: str):
    """A link of the old form (the token in the path, issued before 0008): the page moves the
    token to the fragment and opens the ballot. The request log never writes this path's token
    (``security.log_path``)."""
    return redirect(url_for("elections.ballot") + "#" + ballot_token[:100], 303)


@bp.route("/ballot", methods=["GET", "POST"])
def ballot():
    """GET: the page of the ballot link; its script posts the token from the URL's fragment (without
    JavaScript the voter types or pastes the ballot code from the letter). POST ``token``: the
    ballot; POST ``token`` with ``cast``: the vote."""
    if request.method == "GET":
        return render_template("elections/ballot_code.html", form=BallotCodeForm(formdata=None))
    code_form = BallotCodeForm()
    ballot_token = (request.form.get("token") or "").strip()[:100]
    if not code_form.validate_on_submit() or not ballot_token:
        return render_template("elections/ballot_code.html", form=code_form,
                               problem="Enter the ballot code from your letter or e-mail"), 400
    found = el.ballot_for(ballot_token)
    if found is None:
        return _refused(el.BAD_TOKEN)
    e, candidates = found
    why = dom.may_vote(e.state, el.timetable(e), clock.now())
    if why:
        return _refused(why)
    casting = request.form.get("cast") == "1"
    changing = request.form.get("change") == "1"
    form = BallotForm() if casting or changing else BallotForm(formdata=None)
    if casting and form.validate_on_submit():
        preferences = form.preferences(request.form, candidates, e.method)
        if preferences is not None and request.form.get("confirm") != "1":
            return _check_answers(e, candidates, preferences, ballot_token)
        if preferences is not None:
            try:
                receipt = el.cast(ballot_token, preferences)
            except el.ElectionError as exc:
                if el.ballot_for(ballot_token) is None or dom.may_vote(e.state, el.timetable(e), clock.now()):
                    return _refused(" ".join(exc.messages))
                form.add_service_error(exc)
            else:
                return render_template("elections/voted.html", e=e, receipt=receipt)
    status = 400 if casting else 200
    chosen = {c.id: (request.form.get(f"pref_{c.id}") or "") for c in candidates} if casting or changing else {}
    return render_template("elections/ballot.html", e=e, candidates=candidates, form=form, chosen=chosen,
                           timetable=el.timetable(e), methods=dom.METHODS, token=ballot_token), status


def _check_answers(e, candidates, preferences: list[str], ballot_token: str):
    """The GOV.UK "check your answers" step: the vote as it will be cast, with a way back to change
    it; nothing is cast until the voter confirms (the choices travel in hidden fields)."""
    by_id = {str(c.id): c for c in candidates}
    ranked = [by_id[p] for p in preferences if p in by_id]
    if e.method == "irv":
        fields = {f"pref_{c.id}": str(n) for n, c in enumerate(ranked, 1)}
    else:
        fields = {"candidate": str(ranked[0].id)} if ranked else {}
    return render_template("elections/ballot_check.html", e=e, ranked=ranked, fields=fields,
                           form=BallotForm(formdata=None), timetable=el.timetable(e), token=ballot_token)


@bp.get("/elections/<int:election_id>/result")
def result(election_id: int):
    e = _election_or_404(None, election_id)
    stored = el.result(e)
    names = {str(c.id): c.name for c in e.candidates}
    elected = next((c for c in e.candidates if c.id == e.elected_candidate_id), None) \
        if e.state == "declared" else None
    return render_template("elections/result.html", e=e, result=stored, names=names, elected=elected,
                           receipts=el.receipts(e), state=el.state(e), methods=dom.METHODS,
                           tie_breaks=dom.TIE_BREAKS)


@bp.get("/elections/<int:election_id>/ballots.csv")
def public_ballots_csv(election_id: int):
    """The anonymised ballots, published with the result (anyone can recount)."""
    return _ballots_csv(_election_or_404(None, election_id))
