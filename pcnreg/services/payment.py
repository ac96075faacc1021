"""How a PCN is paid (``domain.payment``): the contract year's rule, read from its file, and the
PCN lead's choice of its own account. Naming a payee practice stays
``services.registration.set_payee`` (a payee named after the own account was chosen replaces
it). One transaction, audited; a refusal raises ``RegistrationError`` and writes nothing."""
from __future__ import annotations

import json
from functools import lru_cache

from ..domain import payment
from ..domain.contract_years import file_name
from ..models import Pcn, Registration, RegistrationRound
from . import audit, clock, contract_years
from .registration import RegistrationError, _commit, _open_draft


@lru_cache(maxsize=32)
def _rule(year: str) -> payment.PaymentRule:
    path = contract_years.FOLDER / file_name(year)
    if not path.is_file():
        return payment.NO_RULE
    return payment.parse_rule(json.loads(path.read_text(encoding="utf-8")).get("payment"), path.name)


def rule_for(rnd: RegistrationRound) -> payment.PaymentRule:
    """The payment rule of the round's contract year (no year: a nominated payee)."""
    return _rule(rnd.contract_year) if rnd.contract_year else payment.NO_RULE


def paid_into(row: Registration) -> str | None:
    """"own_account", "payee" or None (nothing chosen yet)."""
    if row.paid_into == payment.OWN_ACCOUNT and not row.payee_practice_code:
        return payment.OWN_ACCOUNT
    return payment.PAYEE if row.payee_practice_code else None


@_commit
def choose_own_account(rnd: RegistrationRound, pcn: Pcn) -> Registration:
    """The PCN is paid into its own account (no payee practice; no bank details are stored)."""
    refusal = payment.own_account_refusal(rule_for(rnd), rnd.contract_year)
    if refusal:
        raise RegistrationError(refusal, "payee")
    row = _open_draft(rnd, pcn, clock.now())
    before = {"paid_into": paid_into(row), "payee": row.payee_practice_code, "reference": row.payee_reference}
    row.paid_into, row.payee_practice_code, row.payee_reference = payment.OWN_ACCOUNT, None, None
    audit.record(action="registration.own_account", object_type="pcn", object_id=str(pcn.id), before=before,
                 after={"paid_into": payment.OWN_ACCOUNT}, round_id=rnd.id, pcn_id=pcn.id)
    return row
