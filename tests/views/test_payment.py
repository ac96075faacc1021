"""Payee or own account (issue 13, item 6): the contract-year rule as data, what is missing for
submission, the PCN lead's choice on the registration page, refusals that write nothing."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from pcnreg.domain import payment
from pcnreg.domain import registration as reg
from pcnreg.extensions import db as _db
from pcnreg.models import AuditEvent, Registration
from pcnreg.services import contract_years
from pcnreg.services import payment as payment_svc
from pcnreg.services import registration as reg_svc
from pcnreg.services import rounds as rounds_svc
from pcnreg.services.demo import load_demo
from pcnreg.services.round_setup import RoundValues, create_round

SOURCE = "ODS reference data catalogue, Primary Care Network"


@pytest.mark.parametrize("year, allowed", [("2019/20", False), ("2020/21", False), ("2022/23", False),
                                           ("2023/24", True), ("2024/25", True), ("2026/27", True)])
def test_the_year_files_say_whether_a_pcn_may_use_its_own_account(year, allowed):
    raw = json.loads((contract_years.FOLDER / (year.replace("/", "-") + ".json")).read_text())
    assert raw["payment"]["own_account_allowed"]["value"] is allowed
    assert raw["payment"]["own_account_allowed"]["source"].startswith(SOURCE)
    contract_years.load(year)                              # the year file still loads


def test_the_rule_parser_refuses_a_rule_without_a_source():
    assert payment.parse_rule(None, "x") == payment.NO_RULE
    assert payment.parse_rule({"own_account_allowed": {"value": True, "source": "S"}}, "x") == \
        payment.PaymentRule(True, "S")
    for bad in ({"own_account_allowed": {"value": True}}, {"own_account_allowed": {"value": "yes", "source": "S"}},
                {"own_account_allowed": True}, []):
        with pytest.raises(payment.PaymentRuleError):
            payment.parse_rule(bad, "x")


def _items(draft) -> list[str]:
    return [m.message for m in reg.missing(draft) if m.item == "payee"]


def test_what_is_missing_depends_on_the_year():
    base = {"pcn_key": "1", "pcn_name": "P", "members": ("A1", "B2")}
    assert _items(reg.Draft(**base)) == ["No nominated payee"]
    assert _items(reg.Draft(**base, own_account_allowed=True)) == [
        "No nominated payee practice and no own account: name a payee practice or say the PCN is paid into its own "
        "account"]
    assert _items(reg.Draft(**base, own_account=True, own_account_allowed=True)) == []
    assert _items(reg.Draft(**base, own_account=True, own_account_allowed=False)) == [
        "This contract year needs a nominated payee practice, not the PCN's own account"]
    assert _items(reg.Draft(**base, payee="A1")) == []
    assert "is not a member practice" in _items(reg.Draft(**base, payee="Z9", own_account_allowed=True))[0]


@pytest.fixture
def rounds(app, db):
    """(the demo 2019/20 round, a 2023/24 round rolled forward from it, Newark in each)."""
    load_demo(None)
    old = rounds_svc.get_round(None)
    values = RoundValues(name="Notts 2023/24", reference_date=dt.date(2023, 1, 1), opens=None, submission_deadline=None,
                         committee_date=None, confirmation_date=None, schedule1_deadline=None, go_live=None,
                         band_min=30000, band_max=50000)
    new = create_round(old.system_id, "2023/24", values, from_round_id=old.id, author="Test")
    return old, new, rounds_svc.get_pcn(old, "Newark"), rounds_svc.get_pcn(new, "Newark")


def counts():
    _db.session.expire_all()
    return (_db.session.scalar(select(func.count()).select_from(AuditEvent)),
            _db.session.scalar(select(func.count()).select_from(Registration)))


def test_own_account_is_refused_in_2019_and_recorded_in_2023(rounds):
    old, new, old_newark, newark = rounds
    before = counts()
    with pytest.raises(reg_svc.RegistrationError, match="nominated payee practice"):
        payment_svc.choose_own_account(old, old_newark)
    assert counts() == before
    row = payment_svc.choose_own_account(new, newark)
    assert (row.paid_into, row.payee_practice_code, payment_svc.paid_into(row)) == ("own_account", None, "own_account")
    status = reg_svc.status(rounds_svc.build_configuration(new), newark)
    assert not [m for m in status.missing if m.item == "payee"]
    event = _db.session.scalar(select(AuditEvent).where(AuditEvent.action == "registration.own_account"))
    assert event is not None and event.pcn_id == newark.id
    # naming a payee practice afterwards replaces the own account
    member = rounds_svc.build_configuration(new).pcn_data(str(newark.id)).members[0]
    row = reg_svc.set_payee(new, newark, member)
    assert payment_svc.paid_into(row) == "payee"


def test_the_registration_page_offers_the_own_account_from_2023(rounds, client_as):
    old, new, old_newark, newark = rounds
    lead = client_as("pcn_lead", f"pcn:{newark.id}")
    page = lead.get(f"/rounds/{new.id}/pcns/{newark.id}/registration")
    assert page.status_code == 200 and "Payee or own account" in page.text and SOURCE in page.text
    assert "Paid into the PCN&#39;s own account instead" in page.text or "Paid into the PCN's own account instead" in page.text
    done = lead.post(f"/rounds/{new.id}/pcns/{newark.id}/registration/own-account", follow_redirects=True)
    assert done.status_code == 200 and "The PCN is paid into its own account." in done.text
    assert client_as("pcn_lead", f"pcn:{old_newark.id}").post(
        f"/rounds/{new.id}/pcns/{newark.id}/registration/own-account").status_code == 403
    old_lead = client_as("pcn_lead", f"pcn:{old_newark.id}")
    old_page = old_lead.get(f"/rounds/{old.id}/pcns/{old_newark.id}/registration")
    assert "Nominated payee" in old_page.text and "own account instead" not in old_page.text
    before = counts()
    refused = old_lead.post(f"/rounds/{old.id}/pcns/{old_newark.id}/registration/own-account")
    assert refused.status_code == 400 and "a PCN&#39;s own account is allowed from 2023/24" in refused.text
    assert counts() == before
