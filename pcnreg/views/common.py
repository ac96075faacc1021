"""Small helpers every blueprint uses to turn URL ids into objects or a 404."""
from __future__ import annotations

from flask import abort

from ..services import rounds as rounds_svc


def round_or_404(round_id: int):
    try:
        return rounds_svc.get_round(round_id)
    except rounds_svc.NotFound:
        abort(404, description=f"There is no registration round with id {round_id}.")


def pcn_key_or_404(data: rounds_svc.RoundData, pcn_id: int) -> str:
    key = str(pcn_id)
    if key not in data.pcns:
        abort(404, description=f"There is no PCN with id {pcn_id} in the current configuration of "
                               f"{data.round.name}. It may have been merged or never existed.")
    return key
