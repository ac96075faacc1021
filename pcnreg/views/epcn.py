"""The ePCN workbook pages: download a round's configuration in NHS Digital's layout (XLSX, or
one sheet as CSV), and upload a workbook as a new version of the round."""
from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from ..importers.csvio import ImportFailed
from ..services import epcn as epcn_svc
from ..services import pages
from .common import round_or_404
from .forms import PageForm, strip_text

bp = Blueprint("epcn", __name__)


class EpcnImportForm(PageForm):
    file = FileField("ePCN workbook (.xlsx)", validators=[FileRequired("Choose the workbook to import")])
    reason = TextAreaField("Reason for the change", filters=[strip_text], validators=[
        DataRequired("Enter the reason for the change"),
        Length(max=2000, message="Reason for the change must be 2,000 characters or fewer")])


def _download(body, mimetype: str, filename: str) -> Response:
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/rounds/<int:round_id>/epcn.xlsx")
def workbook_xlsx(round_id: int):
    rnd = round_or_404(round_id)
    return _download(epcn_svc.export_xlsx(rnd), epcn_svc.XLSX_MIMETYPE, f"{pages.slug(rnd.name)}-epcn.xlsx")


@bp.get("/rounds/<int:round_id>/epcn-details.csv", defaults={"sheet": "details"})
@bp.get("/rounds/<int:round_id>/epcn-partners.csv", defaults={"sheet": "partners"})
def sheet_csv(round_id: int, sheet: str):
    rnd = round_or_404(round_id)
    return _download(epcn_svc.export_csv(rnd, sheet), "text/csv", f"{pages.slug(rnd.name)}-epcn-{sheet}.csv")


@bp.route("/rounds/<int:round_id>/epcn/import", methods=["GET", "POST"])
def import_workbook(round_id: int):
    rnd = round_or_404(round_id)
    form = EpcnImportForm()
    if not form.validate_on_submit():
        return render_template("epcn_import.html", rnd=rnd, form=form), 400 if form.is_submitted() else 200
    upload = form.file.data
    try:
        summary = epcn_svc.import_workbook(rnd, upload.read(), author=current_user.name or current_user.email,
                                           reason=form.reason.data, source=upload.filename or "upload")
    except ImportFailed as exc:
        return render_template("epcn_import.html", rnd=rnd, form=form, failure=exc), 400
    flash("; ".join(line.strip() for line in summary.lines()), "success")
    return redirect(url_for("main.versions", round_id=rnd.id))
