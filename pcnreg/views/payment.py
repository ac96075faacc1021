"""A PCN paid into its own account (from 2023/24) instead of a nominated payee practice: one button
on the registration page (``templates/registration/pcn.html``), the same change shape as the
other steps of the registration (``views.registration._change``)."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint

from ..services import payment as payment_svc
from . import registration as reg_views
from . import registration_forms as rforms

bp = Blueprint("payment", __name__)


@dataclass(frozen=True)
class PaymentView:
    own_account_allowed: bool
    source: str | None
    paid_into: str | None


def payment_of(rnd, row) -> PaymentView:
    rule = payment_svc.rule_for(rnd)
    return PaymentView(rule.own_account_allowed, rule.source, payment_svc.paid_into(row))


@bp.app_context_processor
def inject() -> dict:
    return {"payment_of": payment_of}


@bp.post("/rounds/<int:round_id>/pcns/<int:pcn_id>/registration/own-account")
def own_account(round_id: int, pcn_id: int):
    return reg_views._change(round_id, pcn_id, rforms.TransitionForm,
                             lambda rnd, pcn, f: payment_svc.choose_own_account(rnd, pcn),
                             lambda f, row: "The PCN is paid into its own account.", "nominated-payee")
