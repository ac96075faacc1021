"""The registration pages (views/registration.py) driven as their users drive them: a PCN lead
completes Newark's draft and submits it, a practice representative confirms its own practice,
a commissioner accepts a late submission and confirms coverage; refusals answer 400 (or 403
from the guard) and write nothing. The clock is injected (``PCNREG_NOW``, UK local time)."""
from __future__ import annotations

import datetime as dt
import io
import re
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from pcnreg.models import (
    AgreementSignature,
    CoverageConfirmation,
    ExceptionRequest,
    MemberConfirmation,
    Membership,
    Pcn,
    Practice,
    Registration,
    RegistrationRound,
    StoredFile,
    Submission,
)

LONDON = ZoneInfo("Europe/London")
BEFORE_DEADLINE = dt.datetime(2019, 5, 10, 12, tzinfo=LONDON)
AFTER_DEADLINE = dt.datetime(2019, 5, 16, 0, 0, 1, tzinfo=LONDON)
AFTER_GO_LIVE = dt.datetime(2019, 7, 1, 9, tzinfo=LONDON)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def newark(app, db, demo_round):
    """The demo round at 10 May 2019 (before the deadline); Newark and its member codes."""
    app.config["PCNREG_NOW"] = BEFORE_DEADLINE
    rnd = db.session.scalar(select(RegistrationRound))
    pcn = db.session.scalar(select(Pcn).where(Pcn.name == "Newark", Pcn.round_id == rnd.id))
    members = sorted(db.session.scalars(select(Practice.code).join(Membership, Membership.practice_id == Practice.id)
                                        .where(Membership.pcn_id == pcn.id, Membership.round_id == rnd.id)))
    base = f"/rounds/{rnd.id}/pcns/{pcn.id}"
    return {"round": rnd, "pcn": pcn, "members": members, "base": base, "page": f"{base}/registration"}


@pytest.fixture
def lead(client_as, newark):
    return client_as("pcn_lead", f"pcn:{newark['pcn'].id}")


def count(db, model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def registration_row(db, pcn) -> Registration | None:
    db.session.expire_all()
    return db.session.scalar(select(Registration).where(Registration.pcn_id == pcn.id))


def signature_form(practice: str, content: bytes = PDF, name: str = "agreement.pdf", stage: str = "core") -> dict:
    return {"practice": practice, "stage": stage, "signed_on[day]": "2", "signed_on[month]": "5",
            "signed_on[year]": "2019", "signatory": "Dr A Partner", "file": (io.BytesIO(content), name)}


def complete_draft(client, newark, *, reference: str = "Finance team A") -> None:
    """Everything Newark needs to submit, through the pages (every step answers 302)."""
    page = newark["page"]
    for code in newark["members"]:
        assert client.post(f"{page}/confirm", data={"practice": code}).status_code == 302, code
        response = client.post(f"{page}/sign", data=signature_form(code), content_type="multipart/form-data")
        assert response.status_code == 302, (code, response.get_data(as_text=True)[:500])
    payee = newark["members"][0]
    assert client.post(f"{page}/payee", data={"payee": payee, "reference": reference}).status_code == 302
    response = client.post(f"{page}/clinical-director", data={
        "cd_name": "Dr Jane Director", "cd_profession": "GP", "cd_practice": newark["members"][1],
        "cd_process": "agreement", "process_details": "Agreed by all members on 1 May 2019"})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def error_text(response) -> str:
    return response.get_data(as_text=True)


# --- the PCN lead's journey ------------------------------------------------------------------------------

def test_a_pcn_lead_completes_the_draft_and_submits(db, newark, lead):
    page = lead.get(newark["page"])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Registration of Newark" in html and "due in 5 days" in html
    # issue #16: a draft that misses something is not offered "submit" (its missing items are listed)
    assert "No nominated payee" in html and "Submit the registration" not in html
    assert "The button to submit the registration appears here when" in html

    complete_draft(lead, newark)
    html = lead.get(newark["page"]).get_data(as_text=True)
    assert "Nothing is missing: the registration can be submitted." in html
    assert count(db, MemberConfirmation) == len(newark["members"])
    assert count(db, AgreementSignature) == len(newark["members"])

    response = lead.post(f"{newark['page']}/submit")
    assert response.status_code == 302
    assert registration_row(db, newark["pcn"]).state == "submitted"
    sub = db.session.scalar(select(Submission).where(Submission.pcn_id == newark["pcn"].id))
    assert sub is not None and sub.number == 1 and not sub.late
    assert sub.submitted_by == lead.user.email
    html = lead.get(newark["page"]).get_data(as_text=True)
    assert "Submission 1" in html and "Withdraw the submission" in html and "Submit the registration" not in html
    assert "submitted in time" in html
    assert "10 May 2019 at 12:00" in html              # stored in UTC (11:00), shown in UK time (BST)


def test_a_missing_agreement_file_is_refused_and_nothing_written(db, newark, lead):
    data = signature_form(newark["members"][0])
    del data["file"]
    response = lead.post(f"{newark['page']}/sign", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "Choose the signed agreement file to upload" in error_text(response)
    assert "There is a problem" in error_text(response)
    assert count(db, AgreementSignature) == 0 and count(db, StoredFile) == 0

    # a file that is not a PDF, PNG or JPEG (checked by its content, not its name)
    response = lead.post(f"{newark['page']}/sign", data=signature_form(newark["members"][0], b"MZ\x90 not a pdf"),
                         content_type="multipart/form-data")
    assert response.status_code == 400
    assert "must be a PDF, PNG or JPEG" in error_text(response)
    # a date that is not a real date, and one in the future
    bad_date = {**signature_form(newark["members"][0]), "signed_on[day]": "31", "signed_on[month]": "2"}
    response = lead.post(f"{newark['page']}/sign", data=bad_date, content_type="multipart/form-data")
    assert response.status_code == 400 and "Date signed must be a real date" in error_text(response)
    future = {**signature_form(newark["members"][0]), "signed_on[day]": "11"}
    response = lead.post(f"{newark['page']}/sign", data=future, content_type="multipart/form-data")
    assert response.status_code == 400 and "cannot be in the future" in error_text(response)
    assert count(db, AgreementSignature) == 0 and count(db, StoredFile) == 0
    assert registration_row(db, newark["pcn"]) is None


def test_a_payee_outside_the_pcn_is_refused(db, newark, lead):
    page = newark["page"]
    assert lead.post(f"{page}/payee", data={"payee": newark["members"][0]}).status_code == 302
    response = lead.post(f"{page}/payee", data={"payee": "C84067", "reference": "x"})     # Ashfield South
    assert response.status_code == 400
    assert "Choose the member practice that will be paid" in error_text(response)
    assert registration_row(db, newark["pcn"]).payee_practice_code == newark["members"][0]
    # bank details are refused
    bank = {"payee": newark["members"][1], "reference": "Sort 12-34-56 acc 12345678"}
    response = lead.post(f"{page}/payee", data=bank)
    assert response.status_code == 400 and "Do not enter bank details" in error_text(response)
    assert registration_row(db, newark["pcn"]).payee_practice_code == newark["members"][0]


def test_an_election_needs_the_lmc_declaration(db, newark, lead):
    response = lead.post(f"{newark['page']}/clinical-director", data={
        "cd_name": "Dr Elected", "cd_practice": newark["members"][0], "cd_process": "election"})
    assert response.status_code == 400
    assert "No Clinical Director election of this PCN has been declared yet" in error_text(response)
    assert registration_row(db, newark["pcn"]) is None


def test_submitting_with_something_missing_lists_what(db, newark, lead):
    lead.post(f"{newark['page']}/confirm", data={"practice": newark["members"][0]})
    response = lead.post(f"{newark['page']}/submit")
    assert response.status_code == 400
    html = error_text(response)
    assert "The registration is not complete" in html
    assert f"({newark['members'][1]}) has not confirmed its membership" in html
    assert "No nominated payee" in html and "No named accountable Clinical Director" in html
    assert registration_row(db, newark["pcn"]).state == "draft"
    assert count(db, Submission) == 0


# --- practice representatives ----------------------------------------------------------------------------

def test_a_practice_rep_confirms_its_own_practice_only(db, newark, client_as):
    own, other = newark["members"][0], newark["members"][1]
    rep = client_as("practice_rep", f"practice:{own}")
    html = rep.get(newark["page"]).get_data(as_text=True)
    assert html.count("Confirm membership<span") == 1 and f'name="practice" value="{own}"' in html
    assert "Save the payee" not in html and "Submit the registration" not in html
    # the signature form offers the representative's own practice, already chosen
    assert re.search(rf'<option value="{own}"\s+selected', html), "own practice preselected"

    assert rep.post(f"{newark['page']}/confirm", data={"practice": other}).status_code == 403
    assert rep.post(f"{newark['page']}/confirm", data={"practice": f"{own} {other}"}).status_code == 403
    assert rep.post(f"{newark['page']}/sign", data=signature_form(other), content_type="multipart/form-data"
                    ).status_code == 403
    assert rep.post(f"{newark['page']}/payee", data={"payee": own}).status_code == 403
    assert rep.post(f"{newark['page']}/submit").status_code == 403
    assert count(db, MemberConfirmation) == 0 and count(db, AgreementSignature) == 0

    assert rep.post(f"{newark['page']}/confirm", data={"practice": own}).status_code == 302
    assert rep.post(f"{newark['page']}/sign", data=signature_form(own), content_type="multipart/form-data"
                    ).status_code == 302
    db.session.expire_all()
    assert [c.practice_code for c in db.session.scalars(select(MemberConfirmation))] == [own]
    assert [s.practice_code for s in db.session.scalars(select(AgreementSignature))] == [own]


def test_readers_see_no_forms_and_are_refused(db, newark, client_as):
    viewer = client_as("viewer", "system:E54000014")
    html = viewer.get(newark["page"]).get_data(as_text=True)
    assert "Registration of Newark" in html
    for text in ("Confirm membership", "Record the signature", "Save the payee", "Submit the registration",
                 "Accept a late submission"):
        assert text not in html, text
    assert viewer.post(f"{newark['page']}/payee", data={"payee": newark["members"][0]}).status_code == 403
    assert viewer.post(f"{newark['page']}/submit").status_code == 403
    assert registration_row(db, newark["pcn"]) is None


# --- the deadline and go-live ----------------------------------------------------------------------------

def test_a_late_submission_needs_the_commissioners_override(app, db, newark, lead, client_as):
    complete_draft(lead, newark)
    app.config["PCNREG_NOW"] = AFTER_DEADLINE
    html = lead.get(newark["page"]).get_data(as_text=True)
    assert "overdue" in html and "Accept a late submission" not in html
    response = lead.post(f"{newark['page']}/submit")
    assert response.status_code == 400
    assert "The submission deadline has passed" in error_text(response)
    assert count(db, Submission) == 0

    assert lead.post(f"{newark['page']}/allow-late", data={"reason": "IT failure"}).status_code == 403
    commissioner = client_as("commissioner", "commissioner:04H")
    html = commissioner.get(newark["page"]).get_data(as_text=True)
    assert "Accept a late submission" in html and 'id="late-reason"' in html
    response = commissioner.post(f"{newark['page']}/allow-late", data={"reason": ""})
    assert response.status_code == 400 and "Enter why a late submission is accepted" in error_text(response)
    response = commissioner.post(f"{newark['page']}/allow-late", data={"reason": "The practices' IT failed on the day"})
    assert response.status_code == 302

    assert lead.post(f"{newark['page']}/submit").status_code == 302
    sub = db.session.scalar(select(Submission))
    assert sub.late is True
    html = lead.get(f"{newark['base']}/submissions/1").get_data(as_text=True)
    assert "accepted by the commissioner" in html and "The practices&#39; IT failed on the day" in html
    assert "submitted after the deadline" in lead.get(newark["page"]).get_data(as_text=True)


def test_submitting_after_go_live_is_refused(app, db, newark, lead):
    complete_draft(lead, newark)
    app.config["PCNREG_NOW"] = AFTER_GO_LIVE
    response = lead.post(f"{newark['page']}/submit")
    assert response.status_code == 400
    assert "The round went live on 1 July 2019" in error_text(response)
    assert count(db, Submission) == 0 and registration_row(db, newark["pcn"]).state == "draft"
    html = lead.get(newark["page"]).get_data(as_text=True)
    assert "This registration can no longer be changed" in html and "Submit the registration" not in html


# --- submissions: frozen snapshots and files ---------------------------------------------------------------

def test_the_snapshot_is_unchanged_by_later_edits(db, newark, lead):
    complete_draft(lead, newark, reference="Finance team A")
    assert lead.post(f"{newark['page']}/submit").status_code == 302
    snapshot = f"{newark['base']}/submissions/1"
    html = lead.get(snapshot).get_data(as_text=True)
    assert "Finance team A" in html and "Dr Jane Director" in html and "cannot be changed" in html
    assert "agreement.pdf" in html and "Version " in html

    # editing the submitted registration starts a new draft; the snapshot stays as it was
    response = lead.post(f"{newark['page']}/payee", data={"payee": newark["members"][2], "reference": "Finance team B"})
    assert response.status_code == 302
    assert registration_row(db, newark["pcn"]).state == "draft"
    assert "Finance team B" in lead.get(newark["page"]).get_data(as_text=True)
    html = lead.get(snapshot).get_data(as_text=True)
    assert "Finance team A" in html and "Finance team B" not in html
    assert lead.get(f"{newark['base']}/submissions/2").status_code == 404
    assert lead.get(f"{newark['base']}/submissions/99999999999999999999").status_code == 404


def test_withdraw_and_submit_again(db, newark, lead):
    complete_draft(lead, newark)
    assert lead.post(f"{newark['page']}/submit").status_code == 302
    assert lead.post(f"{newark['page']}/reopen").status_code == 400          # only from deferred or rejected
    assert lead.post(f"{newark['page']}/withdraw").status_code == 302
    assert registration_row(db, newark["pcn"]).state == "draft"
    assert lead.post(f"{newark['page']}/submit").status_code == 302
    assert count(db, Submission) == 2


def test_an_agreement_file_downloads_with_its_content_type(db, newark, lead):
    code = newark["members"][0]
    response = lead.post(f"{newark['page']}/sign", data=signature_form(code, PNG, '../scan "1".exe'),
                         content_type="multipart/form-data")
    assert response.status_code == 302
    sig = db.session.scalar(select(AgreementSignature))
    response = lead.get(f"{newark['base']}/files/{sig.file_id}")
    assert response.status_code == 200
    assert response.data == PNG
    assert response.mimetype == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and disposition.endswith('.png"') and ".." not in disposition
    assert lead.get(f"{newark['base']}/files/{sig.file_id + 1000}").status_code == 404
    other = db.session.scalar(select(Pcn.id).where(Pcn.name == "Sherwood"))
    assert lead.get(f"/rounds/{newark['round'].id}/pcns/{other}/files/{sig.file_id}").status_code == 404


# --- exception requests ----------------------------------------------------------------------------------

def test_a_blocking_error_needs_an_exception_request(db, newark, lead):
    from pcnreg.services import configuration as config_svc

    # three practices leave Newark: it falls below the band (a blocking error)
    leaving = ["C84009", "C84019", "C84029"]
    config_svc.move_practices(newark["round"], leaving, None, author="Test", reason="Test")
    newark["members"] = [c for c in newark["members"] if c not in leaving]
    html = lead.get(newark["page"]).get_data(as_text=True)
    assert "Request an exception" in html and "below the minimum" in html
    complete_draft(lead, newark)
    response = lead.post(f"{newark['page']}/submit")
    assert response.status_code == 400 and "Blocking error without an exception request" in error_text(response)

    key = f"list_size_band|pcn:{newark['pcn'].id}"
    response = lead.post(f"{newark['page']}/exception-request", data={"finding": key, "reason": ""})
    assert response.status_code == 400 and "Enter the reason for the exception" in error_text(response)
    response = lead.post(f"{newark['page']}/exception-request", data={"finding": "coverage|practice:X", "reason": "R"})
    assert response.status_code == 400 and "not one of this PCN&#39;s blocking errors" in error_text(response)
    assert count(db, ExceptionRequest) == 0
    response = lead.post(f"{newark['page']}/exception-request", data={"finding": key, "reason": "Rural: the Trent"})
    assert response.status_code == 302
    assert "Rural: the Trent" in lead.get(newark["page"]).get_data(as_text=True)
    assert lead.post(f"{newark['page']}/submit").status_code == 302


# --- the round's pages -----------------------------------------------------------------------------------

def test_the_round_status_table_and_its_filters(db, newark, lead):
    rid = newark["round"].id
    complete_draft(lead, newark)
    lead.post(f"{newark['page']}/submit")
    html = lead.get(f"/rounds/{rid}/registrations").get_data(as_text=True)
    assert "Showing 22 of 22 PCNs" in html and "Sherwood" in html and "15 May 2019" in html and "1 July 2019" in html
    html = lead.get(f"/rounds/{rid}/registrations", query_string={"state": "submitted"}).get_data(as_text=True)
    assert "Showing 1 of 22 PCNs" in html and "Newark" in html and "Sherwood</a>" not in html
    html = lead.get(f"/rounds/{rid}/registrations", query_string={"deadline": "due"}).get_data(as_text=True)
    assert "Showing 21 of 22 PCNs" in html
    assert lead.get(f"/rounds/{rid}/registrations", query_string={"state": "bogus"}).status_code == 400


def test_the_chase_list_and_its_csv(db, newark, client_as):
    from pcnreg.services import configuration as config_svc

    rid = newark["round"].id
    # a practice in no PCN, whose name (from a national file) would be a spreadsheet formula
    config_svc.move_practices(newark["round"], ["C84660"], None, author="Test", reason="CSV test")
    db.session.scalar(select(Practice).where(Practice.code == "C84660")).name = "=HYPERLINK(1)"
    db.session.commit()
    commissioner = client_as("commissioner", "system:E54000014")
    html = commissioner.get(f"/rounds/{rid}/chase").get_data(as_text=True)
    assert "=HYPERLINK(1) (C84660)" in html and "Practices in no PCN" in html      # name, then code
    assert f"({newark['members'][0]}) has not confirmed its membership" in html
    assert "Sherwood" in html and "Nothing to chase" not in html
    response = commissioner.get(f"/rounds/{rid}/chase.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("commissioner_code,commissioner_name,pcn,state,deadline,practice_code,missing")
    assert f"Newark,Draft,due in 5 days,{newark['members'][0]}," in text
    assert ",C84660,'=HYPERLINK(1) is not in any PCN" in text
    assert ",=HYPERLINK" not in text


def test_the_confirmation_page_lists_blockers_and_refuses(app, db, newark, client_as):
    rid = newark["round"].id
    commissioner = client_as("commissioner", "system:E54000014")
    html = commissioner.get(f"/rounds/{rid}/confirmation").get_data(as_text=True)
    assert "Newark is draft, not approved" in html and "Confirm 100% coverage" not in html
    # before go-live the page says when, instead of a button that would be refused
    assert "Mark the round&#39;s PCNs live" not in html
    assert "The round&#39;s PCNs can be marked live from 1 July 2019" in html
    assert f'href="/rounds/{rid}"' in html                      # back to the round
    saved = app.config.get("PCNREG_NOW")
    app.config["PCNREG_NOW"] = "2019-07-01T09:00:00+01:00"
    assert "Mark the round&#39;s PCNs live" in commissioner.get(f"/rounds/{rid}/confirmation").get_data(as_text=True)
    app.config["PCNREG_NOW"] = saved
    from pcnreg.models import Commissioner

    ccg = db.session.scalar(select(Commissioner).where(Commissioner.code == "04H"))
    response = commissioner.post(f"/rounds/{rid}/confirmation/{ccg.id}")
    assert response.status_code == 400 and "Confirmation is blocked" in error_text(response)
    response = commissioner.post(f"/rounds/{rid}/go-live")
    assert response.status_code == 400 and "goes live on 1 July 2019, not before" in error_text(response)
    assert count(db, CoverageConfirmation) == 0
    assert commissioner.post(f"/rounds/{rid}/confirmation/99999").status_code == 404
    # the 04K commissioner may not confirm for 04H, nor mark the round live
    other = client_as("commissioner", "commissioner:04K")
    assert other.post(f"/rounds/{rid}/confirmation/{ccg.id}").status_code == 403
    assert other.post(f"/rounds/{rid}/go-live").status_code == 403
    app.config["PCNREG_NOW"] = "2019-07-01T09:00:00+01:00"
    assert "Mark the round&#39;s PCNs live" not in other.get(f"/rounds/{rid}/confirmation").get_data(as_text=True)


def test_the_funding_page_renders(db, newark, lead):
    pytest.importorskip("pcnreg.services.funding")
    response = lead.get(f"/rounds/{newark['round'].id}/funding")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Funding entitlement" in html and "Newark" in html and "£" in html


def test_the_pcn_page_links_to_its_registration(newark, lead):
    html = lead.get(newark["base"]).get_data(as_text=True)
    assert f'href="{newark["page"]}">Registration</a>' in html


def test_unknown_objects_are_404(newark, client):
    rid = newark["round"].id
    assert client.get(f"/rounds/{rid}/pcns/99999/registration").status_code == 404
    assert client.get(f"/rounds/{rid}/pcns/99999999999999999999/registration").status_code == 404
    assert client.get(f"{newark['base']}/files/99999999999999999999").status_code == 404
    assert client.post(f"/rounds/{rid}/pcns/99999/registration/submit").status_code == 404


# --- fuzzing the forms while they are open (tests/views/test_fuzz_forms.py runs after go-live: all refused) ----------

def test_fuzz_the_registration_forms_before_the_deadline(app, db, newark, client):
    """Every form of the registration page, with the page's own names and values or hostile
    ones, before the deadline (so that valid input writes): never a 5xx, and a 4xx writes nothing."""
    from hypothesis import given, settings
    from test_fuzz_forms import SETTINGS, FormParser, fingerprint, form_strategy, request_data

    # a blocking error, so that the exception request form is on the page too
    from pcnreg.services import configuration as config_svc
    config_svc.move_practices(newark["round"], ["C84009", "C84019", "C84029"], None, author="Test", reason="Test")
    parser = FormParser(newark["page"])
    parser.feed(client.get(newark["page"]).get_data(as_text=True))
    forms = {path: fields for path, fields in parser.forms.items() if path.startswith(newark["page"] + "/")}
    assert {p.rsplit("/", 1)[1] for p in forms} >= {"confirm", "sign", "payee", "clinical-director",
                                                     "exception-request"}
    # issue #16: "submit" is not offered while items are missing; it is fuzzed all the same
    assert f"{newark['page']}/submit" not in forms
    forms[f"{newark['page']}/submit"] = {}
    assert forms[f"{newark['page']}/sign"]["file"]["kind"] == "file"
    assert "signed_on[day]" in forms[f"{newark['page']}/sign"]
    statuses: dict[str, set[int]] = {}
    for path, fields in sorted(forms.items()):
        @settings(max_examples=25, **SETTINGS)
        @given(sent=form_strategy(fields))
        def fuzz(sent):
            form, extra = sent
            before = fingerprint(db)
            response = app.test_client().post(path, data=request_data(form, extra))
            statuses.setdefault(path, set()).add(response.status_code)
            assert response.status_code < 500, (path, form)
            if response.status_code >= 400:
                assert fingerprint(db) == before, (path, form, response.status_code)

        fuzz()
    assert all(codes <= {302, 400} for codes in statuses.values()), statuses
