"""The pages: a round's dashboard, practices, PCNs and their edits, findings, versions, exports.

Views are thin: parse a form, call one service function, render. Rounds are chosen by id in
the URL. Every page works without JavaScript: filters are GET forms, changes are POST forms
(with a CSRF token) followed by a redirect. Unknown ids give the 404 page; invalid input
re-renders the form with status 400 and the NHS error summary.
"""
from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy.exc import SQLAlchemyError

from ..domain.rules import RULE_TITLES
from ..services import configuration as config_svc
from ..services import pages
from ..services import rounds as rounds_svc
from ..services.rounds import NotFound
from . import formatting, forms, fragments
from .common import pcn_key_or_404, round_or_404

bp = Blueprint("main", __name__)


# --- template helpers -----------------------------------------------------------------------------

# Dates, times and numbers: one module, registered by the app factory (views/formatting.py).
thousands, longdate = formatting.thousands, formatting.longdate


@bp.app_template_global("rule_title")
def rule_title(rule: str) -> str:
    return RULE_TITLES.get(rule, rule)


NAV = [
    ("Dashboard", "main.dashboard", {"main.dashboard", "main.pcn", "main.create_pcn", "main.rename_pcn",
                                     "main.merge_pcn", "main.split_pcn", "main.record_exception", "maps.pcn"}),
    ("Map", "maps.configuration", {"maps.configuration"}),
    ("Practices", "main.practices", {"main.practices", "main.move"}),
    ("Findings", "main.findings", {"main.findings"}),
    ("Versions", "main.versions", {"main.versions", "main.compare", "main.restore", "epcn.import_workbook"}),
    ("Registration", "registration.round_status", {"registration."}),
    ("Committee", "committee.meetings", {"committee."}),
    ("Elections", "elections.elections", {"elections."}),
]


def _current(endpoint: str, names: set[str]) -> bool:
    """Whether ``endpoint`` is one of ``names`` (a name ending in "." stands for a blueprint)."""
    return endpoint in names or any(n.endswith(".") and endpoint.startswith(n) for n in names)


def nav_items() -> list[dict]:
    """The header's menu: nothing for a visitor (every link would bounce to sign-in); a round's
    pages for who may read it; Import only for who may import something."""
    from flask_login import current_user

    from .guard import current_principal, permitted

    if not current_user.is_authenticated:
        return []
    try:
        rnd = pages.round_or_none((request.view_args or {}).get("round_id"))
    except SQLAlchemyError:  # pragma: no cover - a page about a broken database still renders
        rnd = None
    endpoint = request.endpoint or ""
    if rnd is None:
        items = [{"href": url_for("main.index"), "text": "Your tasks", "current": endpoint == "main.index"}]
    else:
        items = [{"href": url_for(target, round_id=rnd.id), "text": text, "current": _current(endpoint, current)}
                 for text, target, current in NAV]
    items.insert(0, {"href": url_for("rounds.index"), "text": "Rounds", "current": endpoint.startswith("rounds.")})
    if permitted(current_principal(), "imports.upload"):
        items.append({"href": url_for("imports.upload"), "text": "Import", "current": endpoint == "imports.upload"})
    return items


@bp.app_context_processor
def inject() -> dict:
    return {"nav_items": nav_items}


# The error pages are in views/errors.py.


# --- helpers --------------------------------------------------------------------------------------------

def _status(form: forms.PageForm) -> int:
    return 400 if form.has_errors else 200


def _saved(version, text: str) -> None:
    flash(f"Saved as version {version.number}: {text}", "success")


# --- round pages ------------------------------------------------------------------------------------------

@bp.get("/")
def index():
    """The home page: a visitor's (sign in, the public election results), or the signed-in user's
    tasks in the current round, one section per role (services/home.py)."""
    from flask_login import current_user

    from ..services import home
    from .guard import current_principal

    if not current_user.is_authenticated:
        return render_template("home_public.html", results=home.public_results())
    if not rounds_svc.list_rounds():
        return render_template("no_round.html")
    return render_template("home.html", sections=home.tasks(current_principal()))


@bp.get("/about")
def about():
    return render_template("about.html")


@bp.get("/rounds/<int:round_id>")
def dashboard(round_id: int):
    rnd = round_or_404(round_id)
    data = rounds_svc.build_configuration(rnd)
    tables = fragments.per_state(data.state, "dashboard tables", lambda: render_template(
        "_dashboard_tables.html", rnd=rnd, data=data, groups=pages.pcns_by_place(data),
        commissioner_names=pages.commissioner_names(rnd)))
    return render_template("dashboard.html", rnd=rnd, data=data, tables=tables)


@bp.get("/rounds/<int:round_id>/practices")
def practices(round_id: int):
    rnd = round_or_404(round_id)
    data = rounds_svc.build_configuration(rnd)
    form = forms.PracticeFilterForm().set_choices(data)
    rows = pages.practice_rows(data, **form.filters()) if form.validate() else []
    page, sort, direction = pages.sort_and_page(rows, request.args.get("sort"), request.args.get("dir"),
                                                request.args.get("page"))
    query = {k: v for k, v in form.filters().items() if v}
    if request.args.get("to"):
        query["to"] = request.args.get("to")
    filtered = any(form.filters().values())
    # Tick boxes only for someone who may move practices in this round.
    from .guard import current_principal, permitted

    can_move = permitted(current_principal(), "main.move", {"round_id": rnd.id}, None)
    # The table of the whole list's pages is the same for every request of the state (and page,
    # order, move target and whether it has tick boxes): rendered once; a search's results every time.
    table_key = None if filtered or form.has_errors else (
        "practice table", page.number, sort, direction, request.args.get("to", ""), can_move)
    return render_template("practices.html", rnd=rnd, data=data, form=form, rows=page.rows, page=page,
                           sort=sort, direction=direction, query=query,
                           move_to=request.args.get("to", ""), table_key=table_key, can_move=can_move,
                           filtered=filtered), _status(form)


@bp.get("/rounds/<int:round_id>/findings")
def findings(round_id: int):
    rnd = round_or_404(round_id)
    data = rounds_svc.build_configuration(rnd)
    form = forms.FindingsFilterForm().set_choices(rnd)
    shown = rounds_svc.filter_findings(data.findings, **form.filters(), config=data.config) if form.validate() else []
    return render_template("findings.html", rnd=rnd, data=data, form=form, findings=shown,
                           query=request.args.to_dict(flat=True)), _status(form)


# --- PCN page and edits ------------------------------------------------------------------------------------

def _render_pcn(data: rounds_svc.RoundData, key: str, exception_form: forms.ExceptionForm, status: int = 200):
    return render_template(
        "pcn.html", rnd=data.round, data=data, key=key, pcn=data.pcn_data(key), model=data.pcns[key],
        row=pages.pcn_row(data, key), members=pages.practice_rows(data, pcn=key),
        findings=data.findings_for_pcn(key), exception=data.config.exceptions.get(key),
        exception_form=exception_form, targets=[p for p in data.config.pcns if p.key != key],
        commissioner_names=lambda: pages.commissioner_names(data.round)), status


@bp.get("/rounds/<int:round_id>/pcns/<int:pcn_id>")
def pcn(round_id: int, pcn_id: int):
    rnd = round_or_404(round_id)
    data = rounds_svc.build_configuration(rnd)
    return _render_pcn(data, pcn_key_or_404(data, pcn_id), forms.ExceptionForm())


@bp.post("/rounds/<int:round_id>/pcns/<int:pcn_id>/exception")
def record_exception(round_id: int, pcn_id: int):
    rnd = round_or_404(round_id)
    if pages.active_pcn(rnd, pcn_id) is None:
        abort(404, description=f"There is no PCN with id {pcn_id} in the current configuration of {rnd.name}.")
    form = forms.ExceptionForm()
    if form.validate_on_submit():
        try:
            rounds_svc.record_exception(rnd, str(pcn_id), form.reason.data, form.recorded_by.data)
        except NotFound:
            abort(404, description=f"There is no PCN with id {pcn_id} in {rnd.name}.")
        except ValueError as exc:
            form.add_service_error(exc)
        else:
            flash("The band exception was recorded.", "success")
            return redirect(url_for("main.pcn", round_id=rnd.id, pcn_id=pcn_id))
    data = rounds_svc.build_configuration(rnd)
    return _render_pcn(data, pcn_key_or_404(data, pcn_id), form, 400)


@bp.route("/rounds/<int:round_id>/pcns/new", methods=["GET", "POST"])
def create_pcn(round_id: int):
    rnd = round_or_404(round_id)
    form = forms.CreatePcnForm().set_choices(rnd)
    if form.validate_on_submit():
        try:
            version = config_svc.create_pcn(
                rnd, form.name.data, place_id=form.place_id(), lead_commissioner_id=form.lead_commissioner_id(),
                author=forms.signed_in_name(), reason=form.reason.data)
        except ValueError as exc:
            form.add_service_error(exc)
        else:
            _saved(version, f"created {form.name.data}. Add practices to it from the practice list.")
            return redirect(url_for("main.pcn", round_id=rnd.id, pcn_id=pages.created_pcn_key(version)))
    return render_template("pcn_form_create.html", rnd=rnd, form=form), _status(form)


@bp.route("/rounds/<int:round_id>/pcns/<int:pcn_id>/rename", methods=["GET", "POST"])
def rename_pcn(round_id: int, pcn_id: int):
    rnd = round_or_404(round_id)
    data = rounds_svc.build_configuration(rnd)
    key = pcn_key_or_404(data, pcn_id)
    old_name = data.pcn_data(key).name
    form = forms.RenamePcnForm()
    if form.validate_on_submit():
        try:
            version = config_svc.rename_pcn(rnd, key, form.name.data, author=forms.signed_in_name(),
                                            reason=form.reason.data)
        except ValueError as exc:
            form.add_service_error(exc)
        else:
            _saved(version, f"renamed {old_name} to {form.name.data}.")
            return redirect(url_for("main.pcn", round_id=rnd.id, pcn_id=pcn_id))
    elif request.method == "GET":
        form.name.data = old_name
    return render_template("pcn_form_rename.html", rnd=rnd, data=data, key=key, pcn=data.pcn_data(key),
                           form=form), _status(form)


def _fingerprint(*parts) -> str:
    """The choice a preview showed (the save must be of the same choice, else it is previewed again)."""
    return "|".join(",".join(sorted(p)) if isinstance(p, (list, tuple)) else " ".join(str(p or "").split())
                    for p in parts)


def _confirmed(fingerprint: str) -> bool:
    return request.form.get("confirm") == "1" and request.form.get("previewed") == fingerprint


def _checked(form) -> tuple[bool, bool]:
    """(may preview, may save): the form's checks, except that a preview needs no reason (the
    reason is asked for the save, as in the move's preview); a save without one shows the
    preview again with the reason asked for."""
    if form.validate_on_submit():
        return True, True
    only_reason = form.reason.errors and not form.general_errors and \
        not any(f.errors for name, f in form._fields.items() if name != "reason")
    if only_reason and request.form.get("confirm") != "1":
        form.reason.errors = []
    return bool(only_reason), False


def merge_choices(rows, here) -> tuple[list, dict[str, str]]:
    """The PCNs to merge: those of the same place first, then the others, each with a hint."""
    same = [r for r in rows if r.place == here.place]
    other = [r for r in rows if r.place != here.place]
    hints = {r.key: f"{r.members} practices, {r.total:,} registered patients" for r in same}
    hints.update({r.key: f"Another place ({r.place or 'no place'}): {r.members} practices, {r.total:,} registered "
                  "patients" for r in other})
    return [(r.key, r.name) for r in same + other], hints


@bp.route("/rounds/<int:round_id>/pcns/<int:pcn_id>/merge", methods=["GET", "POST"])
def merge_pcn(round_id: int, pcn_id: int):
    """Choose the PCNs → preview (before/after of every PCN touched, a warning across places) → save."""
    rnd = round_or_404(round_id)
    data = rounds_svc.build_configuration(rnd)
    key = pcn_key_or_404(data, pcn_id)
    here = pages.pcn_row(data, key)
    rows = [r for r in pages.pcn_rows(data) if r.key != key]
    form = forms.MergePcnForm()
    form.others.choices, hints = merge_choices(rows, here)
    view, warnings, fingerprint = None, [], ""
    may_preview, may_save = _checked(form)
    if may_preview:
        names = [data.pcn_data(k).name for k in form.others.data]
        fingerprint = _fingerprint(form.others.data, form.name.data)
        try:
            if may_save and _confirmed(fingerprint):
                version = config_svc.merge_pcns(rnd, form.others.data, key, name=form.name.data or None,
                                                author=forms.signed_in_name(), reason=form.reason.data)
                _saved(version, f"merged {', '.join(names)} into {form.name.data or data.pcn_data(key).name}.")
                return redirect(url_for("main.pcn", round_id=rnd.id, pcn_id=pcn_id))
            view = pages.describe_preview(config_svc.preview_merge(rnd, form.others.data, key, form.name.data or None))
        except ValueError as exc:
            form.add_service_error(exc)
        by_key = {r.key: r for r in rows}
        warnings = [f"{by_key[k].name} is in {by_key[k].place or 'no place'}, {here.name} in "
                    f"{here.place or 'no place'}: a PCN normally serves one place. Check with the places' "
                    "commissioners before merging across places."
                    for k in form.others.data if k in by_key and by_key[k].place != here.place]
    return render_template("pcn_form_merge.html", rnd=rnd, data=data, key=key, pcn=data.pcn_data(key),
                           row=here, rows=rows, form=form, hints=hints, view=view, warnings=warnings,
                           previewed=fingerprint), _status(form)


@bp.route("/rounds/<int:round_id>/pcns/<int:pcn_id>/split", methods=["GET", "POST"])
def split_pcn(round_id: int, pcn_id: int):
    """Choose the practices and the new name → preview (both PCNs before and after) → save."""
    rnd = round_or_404(round_id)
    data = rounds_svc.build_configuration(rnd)
    key = pcn_key_or_404(data, pcn_id)
    members = pages.practice_rows(data, pcn=key)
    form = forms.SplitPcnForm()
    form.members.choices = [(m.code, m.name) for m in members]
    view, fingerprint = None, ""
    may_preview, may_save = _checked(form)
    if may_preview:
        fingerprint = _fingerprint(form.members.data, form.new_name.data)
        try:
            if may_save and _confirmed(fingerprint):
                version = config_svc.split_pcn(rnd, key, form.members.data, form.new_name.data,
                                               author=forms.signed_in_name(), reason=form.reason.data)
                _saved(version, f"split {len(form.members.data)} practices from {data.pcn_data(key).name} "
                                f"into the new PCN {form.new_name.data}.")
                return redirect(url_for("main.pcn", round_id=rnd.id, pcn_id=pages.created_pcn_key(version)))
            view = pages.describe_preview(config_svc.preview_split(rnd, key, form.members.data,
                                                                   form.new_name.data))
        except ValueError as exc:
            form.add_service_error(exc)
    return render_template("pcn_form_split.html", rnd=rnd, data=data, key=key, pcn=data.pcn_data(key),
                           row=pages.pcn_row(data, key), members=members, form=form, view=view,
                           previewed=fingerprint), _status(form)


# --- moving practices: choose -> preview (writes nothing) -> confirm (POST) -----------------------------------

def _preview(rnd, form) -> pages.PreviewView | None:
    """The preview of the move chosen in ``form``, or None (with the reason added to the form)."""
    if form.codes.errors or form.to.errors or not form.codes.data or not form.to.data:
        return None
    try:
        return pages.describe_preview(config_svc.preview_move(rnd, form.codes.data, form.to_key()))
    except ValueError as exc:
        if str(exc) not in form.general_errors:
            form.add_service_error(exc)
        return None


@bp.route("/rounds/<int:round_id>/move", methods=["GET", "POST"])
def move(round_id: int):
    rnd = round_or_404(round_id)
    if request.method == "POST":
        form = forms.MoveConfirmForm()
        if form.validate_on_submit():
            try:
                version = config_svc.move_practices(rnd, form.codes.data, form.to_key(),
                                                    author=forms.signed_in_name(), reason=form.reason.data)
            except ValueError as exc:
                form.add_service_error(exc)
            else:
                _saved(version, pages.describe_version(version) + ".")
                if form.to_key():
                    return redirect(url_for("main.pcn", round_id=rnd.id, pcn_id=form.to_key()))
                return redirect(url_for("main.practices", round_id=rnd.id, assignment="unassigned"))
        return render_template("move_preview.html", rnd=rnd, view=_preview(rnd, form), form=form,
                               errors=form), 400
    choice = forms.MoveChoiceForm()
    view = _preview(rnd, choice) if choice.validate() else None
    confirm = forms.MoveConfirmForm(formdata=None, codes=choice.codes.data, to=choice.to.data)
    return render_template("move_preview.html", rnd=rnd, view=view, form=confirm, errors=choice), _status(choice)


# --- versions -------------------------------------------------------------------------------------------------

@bp.get("/rounds/<int:round_id>/versions")
def versions(round_id: int):
    rnd = round_or_404(round_id)
    items = config_svc.versions(rnd)
    head = next((v for v in items if v.id == rnd.head_version_id), None)
    form = forms.CompareForm(formdata=None, a=str(head.parent.number) if head and head.parent else "",
                             b=str(head.number) if head else "").set_choices(items)
    return render_template("versions.html", rnd=rnd, versions=items, form=form,
                           describe=pages.describe_version)


@bp.get("/rounds/<int:round_id>/compare")
def compare(round_id: int):
    from ..services import epcn as epcn_svc

    rnd = round_or_404(round_id)
    items = config_svc.versions(rnd)
    form = forms.CompareForm().set_choices(items)
    comparison = moved = pcn_changes = None
    if not request.args:
        return render_template("compare.html", rnd=rnd, form=form, comparison=None, moved=None, a=None, b=None,
                               restore=None)
    if form.validate():
        try:
            comparison, names = config_svc.compare_versions(rnd, int(form.a.data), int(form.b.data))
            pcn_changes = epcn_svc.describe_changes(rnd, int(form.a.data), int(form.b.data))
        except NotFound as exc:
            abort(404, description=str(exc))
        moved = pages.describe_comparison(comparison, names)
    return render_template("compare.html", rnd=rnd, form=form, comparison=comparison, moved=moved,
                           pcn_changes=pcn_changes, a=form.a.data, b=form.b.data, restore=None), _status(form)


@bp.route("/rounds/<int:round_id>/versions/<int:number>/restore", methods=["GET", "POST"])
def restore(round_id: int, number: int):
    rnd = round_or_404(round_id)
    form = forms.RestoreForm()
    if form.validate_on_submit():
        try:
            version = config_svc.undo_to(rnd, number, author=forms.signed_in_name(), reason=form.reason.data)
        except NotFound as exc:
            abort(404, description=str(exc))
        except ValueError as exc:
            form.add_service_error(exc)
        else:
            _saved(version, f"restored the configuration of version {number}.")
            return redirect(url_for("main.versions", round_id=rnd.id))
    head = rnd.head_version.number if rnd.head_version else None
    comparison = moved = None
    if head is not None:
        try:
            comparison, names = config_svc.compare_versions(rnd, head, number)
        except NotFound as exc:
            abort(404, description=str(exc))
        moved = pages.describe_comparison(comparison, names)
    return render_template("compare.html", rnd=rnd, form=None, comparison=comparison, moved=moved,
                           a=head, b=number, restore=form, is_head=head == number), _status(form)


# --- CSV exports ------------------------------------------------------------------------------------------

def _csv(text: str, filename: str) -> Response:
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/rounds/<int:round_id>/configuration.csv")
def configuration_csv(round_id: int):
    rnd = round_or_404(round_id)
    return _csv(config_svc.export_configuration(rnd), f"{pages.slug(rnd.name)}-configuration.csv")


@bp.get("/rounds/<int:round_id>/findings.csv")
def findings_csv(round_id: int):
    rnd = round_or_404(round_id)
    form = forms.FindingsFilterForm().set_choices(rnd)
    if not form.validate():
        abort(400, description="; ".join(item["text"] for item in form.error_list()))
    data = rounds_svc.build_configuration(rnd)
    shown = rounds_svc.filter_findings(data.findings, **form.filters(), config=data.config)
    return _csv(pages.findings_csv(shown), f"{pages.slug(rnd.name)}-findings.csv")
