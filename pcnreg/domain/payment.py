"""How a PCN is paid: into a nominated payee practice (one of its members) or, from 2023/24, into
its own account. No bank details are ever stored. Whether a contract year allows the PCN's own
account is data in the contract-year file ("payment.own_account_allowed", with its source)."""
from __future__ import annotations

from dataclasses import dataclass

PAYEE, OWN_ACCOUNT = "payee", "own_account"
PAID_INTO = (PAYEE, OWN_ACCOUNT)
TITLES = {PAYEE: "a nominated payee practice", OWN_ACCOUNT: "the PCN's own account"}


class PaymentRuleError(ValueError):
    pass


@dataclass(frozen=True)
class PaymentRule:
    own_account_allowed: bool
    source: str | None


NO_RULE = PaymentRule(False, None)          # a year whose file says nothing: a nominated payee


def parse_rule(data: object, where: str) -> PaymentRule:
    """The "payment" object of a contract-year file (absent: a nominated payee is required)."""
    if data is None:
        return NO_RULE
    item = data.get("own_account_allowed") if isinstance(data, dict) else None
    if not isinstance(item, dict) or not isinstance(item.get("value"), bool) \
            or not isinstance(item.get("source"), str) or not item["source"].strip():
        raise PaymentRuleError(f"{where}: payment.own_account_allowed must be an object with a true/false "
                               "value and its source")
    return PaymentRule(item["value"], item["source"].strip())


def own_account_refusal(rule: PaymentRule, year: str | None) -> str | None:
    """Why a PCN of this year cannot be paid into its own account, or None."""
    if rule.own_account_allowed:
        return None
    return (f"In {year or 'this contract year'} a PCN is paid through a nominated payee practice: choose one of "
            "its member practices (a PCN's own account is allowed from 2023/24)")
