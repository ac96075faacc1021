"""The JSON API's write operations: a PCN's registration from draft to live, on the API
blueprint ``api.bp`` (imported at the bottom of ``views.api``). Access rules: guard.ROUTE_RULES.

Each view reads the JSON body and makes ONE call into ``services.api_actions``, which calls the
service function the pages call. The views are exempt from Flask-WTF's CSRF token (an API
client has none); instead the body must be ``Content-Type: application/json`` (415 otherwise),
which a cross-site HTML form cannot send without a CORS preflight, and pcnreg sends no CORS
headers. Authentication is the signed-in session cookie, as for the read operations.
"""
from __future__ import annotations

from flask import jsonify, request

from ..extensions import csrf
from ..services import api_actions as actions
from .api import bp

PCN = "/rounds/<int:round_id>/pcns/<int:pcn_id>/registration"


def _body() -> dict:
    return actions.parse_body(request.mimetype, request.get_data(cache=False))


@bp.post(f"{PCN}/confirmations")
@csrf.exempt
def confirm_member(round_id: int, pcn_id: int):
    return jsonify(actions.confirm_member(round_id, pcn_id, _body()))


@bp.post(f"{PCN}/signatures")
@csrf.exempt
def sign_agreement(round_id: int, pcn_id: int):
    return jsonify(actions.sign_agreement(round_id, pcn_id, _body()))


@bp.post(f"{PCN}/payee")
@csrf.exempt
def set_payee(round_id: int, pcn_id: int):
    return jsonify(actions.set_payee(round_id, pcn_id, _body()))


@bp.post(f"{PCN}/clinical-director")
@csrf.exempt
def set_clinical_director(round_id: int, pcn_id: int):
    return jsonify(actions.set_clinical_director(round_id, pcn_id, _body()))


@bp.post(f"{PCN}/exception-requests")
@csrf.exempt
def request_exception(round_id: int, pcn_id: int):
    return jsonify(actions.request_exception(round_id, pcn_id, _body()))


@bp.post(f"{PCN}/submit")
@csrf.exempt
def submit(round_id: int, pcn_id: int):
    return jsonify(actions.step("submit", round_id, pcn_id, _body()))


@bp.post(f"{PCN}/withdraw")
@csrf.exempt
def withdraw(round_id: int, pcn_id: int):
    return jsonify(actions.step("withdraw", round_id, pcn_id, _body()))


@bp.post(f"{PCN}/reopen")
@csrf.exempt
def reopen(round_id: int, pcn_id: int):
    return jsonify(actions.step("reopen", round_id, pcn_id, _body()))


@bp.post("/rounds/<int:round_id>/meetings")
@csrf.exempt
def create_meeting(round_id: int):
    return jsonify(actions.create_meeting(round_id, _body())), 201


@bp.post("/rounds/<int:round_id>/meetings/<int:meeting_id>/agenda")
@csrf.exempt
def add_to_agenda(round_id: int, meeting_id: int):
    return jsonify(actions.add_to_agenda(round_id, meeting_id, _body()))


@bp.post("/rounds/<int:round_id>/meetings/<int:meeting_id>/decisions")
@csrf.exempt
def decide(round_id: int, meeting_id: int):
    return jsonify(actions.decide(round_id, meeting_id, _body()))


@bp.post("/rounds/<int:round_id>/confirmations/<int:commissioner_id>")
@csrf.exempt
def confirm_coverage(round_id: int, commissioner_id: int):
    return jsonify(actions.confirm_coverage(round_id, commissioner_id, _body()))


@bp.post("/rounds/<int:round_id>/go-live")
@csrf.exempt
def go_live(round_id: int):
    return jsonify(actions.go_live(round_id, _body()))
