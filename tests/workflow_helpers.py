"""Helpers for tests of the registration workflow: a PCN's draft completed through the
services, as a PCN lead would complete it through the pages."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from pcnreg.domain.registration import finding_key
from pcnreg.models import Pcn, RegistrationRound
from pcnreg.services import registration as reg_svc
from pcnreg.services import rounds as rounds_svc

UK = ZoneInfo("Europe/London")
BEFORE_DEADLINE = dt.datetime(2019, 5, 10, 12, 0, tzinfo=UK)
PDF = b"%PDF-1.4\n% a signed Network Agreement\n"


def uk(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UK)


def complete_draft(rnd: RegistrationRound, pcn: Pcn, *, signed_on: dt.date = dt.date(2019, 5, 1)) -> list[str]:
    """Confirm and sign for every member, name payee and CD, request exceptions for every
    blocking error. Returns the members."""
    data = rounds_svc.build_configuration(rnd)
    members = list(data.pcn_data(str(pcn.id)).members)
    for code in members:
        reg_svc.confirm_member(rnd, pcn, code)
        reg_svc.sign_agreement(rnd, pcn, code, stage="core", signed_on=signed_on, signatory=f"Partner of {code}",
                               file_name=f"agreement-{code}.pdf", content=PDF + code.encode())
    reg_svc.set_payee(rnd, pcn, members[0], "PCN finance lead")
    reg_svc.set_clinical_director(rnd, pcn, name="Dr Alex Example", practice_code=members[0], profession="GP",
                                  process="agreement", process_details="Agreed at the PCN meeting")
    for finding in reg_svc.blocking_findings(rounds_svc.build_configuration(rnd), str(pcn.id)):
        reg_svc.request_exception(rnd, pcn, finding_key(finding), "Rural area: agreed with the CCG")
    return members


def submitted(app, name: str = "Newark", now: dt.datetime = BEFORE_DEADLINE):
    """(round, pcn, submission): the demo PCN ``name`` completed and submitted at ``now``."""
    app.config["PCNREG_NOW"] = now
    rnd = rounds_svc.get_round(None)
    pcn = rounds_svc.get_pcn(rnd, name)
    complete_draft(rnd, pcn)
    return rnd, pcn, reg_svc.submit(rnd, pcn)
