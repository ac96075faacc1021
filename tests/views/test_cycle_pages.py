"""The yearly cycle in the browser, on the demo story's 2026/27 round: a practice opts out inside the
window (and is refused outside it), the year-end membership check lists it, and Newark's annual
return goes from its lead's changes through the commissioner's review into the ODS change
instruction, checked column by column against rows written out here and the ePCN 2025 header read
from the real workbook."""
from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import func, select

from pcnreg.extensions import db as _db
from pcnreg.models import AnnualReturn, AuditEvent, Commissioner, ListSize, Membership, OptOut, Pcn, Practice

WINDOW_OPEN = "2026-05-10T10:00:00+01:00"
AFTER_WINDOW = "2026-06-01T10:00:00+01:00"
BEFORE_WINDOW = "2026-04-29T10:00:00+01:00"
REP_PRACTICE = "C84067"                                   # the demo practice representative's (Ashfield South)
RETURN_SOURCE = "annual return, accepted by the commissioner"


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).replace("&#39;", "'")


def parse(body: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body)))


def counts() -> tuple[int, int, int]:
    _db.session.expire_all()
    return tuple(_db.session.scalar(select(func.count()).select_from(m)) for m in (OptOut, AnnualReturn, AuditEvent))


def members(rnd, pcn) -> list[str]:
    return sorted(_db.session.scalars(select(Practice.code).join(Membership, Membership.practice_id == Practice.id)
                                      .where(Membership.round_id == rnd.id, Membership.pcn_id == pcn.id)))


def pcn(rnd, name) -> Pcn:
    return _db.session.scalar(select(Pcn).where(Pcn.round_id == rnd.id, Pcn.name == name))


@pytest.fixture
def current(app, story):
    return story[1]


def test_a_practice_opts_out_only_inside_the_window(app, current, client_as):
    rnd = current
    rep = client_as("practice_rep", f"practice:{REP_PRACTICE}")
    form = {"practice": REP_PRACTICE, "reason": "The partners cannot staff the extended hours this year"}
    for moment, why in ((BEFORE_WINDOW, "opens on 30 April 2026"), (AFTER_WINDOW, "closed on 31 May 2026")):
        app.config["PCNREG_NOW"] = moment
        before = counts()
        refused = rep.post(f"/rounds/{rnd.id}/cycle/opt-out", data=form)
        assert refused.status_code == 400 and why in text(refused)
        assert counts() == before                                        # nothing written
    app.config["PCNREG_NOW"] = WINDOW_OPEN
    assert rep.get(f"/rounds/{rnd.id}/cycle/opt-out").status_code == 200
    done = rep.post(f"/rounds/{rnd.id}/cycle/opt-out", data=form)
    assert done.status_code == 302
    again = rep.post(f"/rounds/{rnd.id}/cycle/opt-out", data=form)
    assert again.status_code == 400 and "has already opted out" in text(again)
    # another practice's representative cannot opt this one out
    other = client_as("practice_rep", "practice:C84074")
    assert other.post(f"/rounds/{rnd.id}/cycle/opt-out", data=form).status_code == 403

    # the commissioner sees who opted out, and the practice no longer counts as taking part
    commissioner = client_as("commissioner", "system:E54000014")
    page = text(commissioner.get(f"/rounds/{rnd.id}/cycle"))
    in_pcns = _db.session.scalar(select(func.count()).select_from(Membership).where(Membership.round_id == rnd.id))
    assert f"{in_pcns - 1} of the {in_pcns} practices in a PCN take part; 1 opted out" in page
    assert REP_PRACTICE in page and "cannot staff the extended hours" in page
    assert "Source: Pulse PCN" in page and "not set" in page           # the return deadline: no source

    # the year-end check: every member with its list size, the opted-out practice marked
    year_end = commissioner.get(f"/rounds/{rnd.id}/year-end.csv")
    assert year_end.status_code == 200 and year_end.mimetype == "text/csv"
    rows = parse(year_end.text)
    want = {}
    for code, pcn_name, pcn_code, size in _db.session.execute(
            select(Practice.code, Pcn.name, Pcn.code, ListSize.size)
            .join(Membership, Membership.practice_id == Practice.id).join(Pcn, Pcn.id == Membership.pcn_id)
            .join(ListSize, ListSize.practice_id == Practice.id).where(Membership.round_id == rnd.id)):
        assert code not in want, "the demo has one list size per practice"
        want[code] = {"PCN Code": pcn_code or "", "PCN Name": pcn_name, "Registered list size": str(size),
                      "Taking part": "no (opted out)" if code == REP_PRACTICE else "yes"}
    got = {r["Practice Code"]: {k: r[k] for k in ("PCN Code", "PCN Name", "Registered list size", "Taking part")}
           for r in rows}
    assert got == want
    assert "Opted out" in text(commissioner.get(f"/rounds/{rnd.id}/year-end"))


def test_an_opt_out_is_withdrawn_inside_the_window_only(app, current, client_as):
    rnd = current
    rep = client_as("practice_rep", f"practice:{REP_PRACTICE}")
    withdraw = f"/rounds/{rnd.id}/cycle/opt-out/withdraw"
    app.config["PCNREG_NOW"] = WINDOW_OPEN
    reason = "The partners cannot staff the extended hours this year"
    assert rep.post(f"/rounds/{rnd.id}/cycle/opt-out", data={"practice": REP_PRACTICE, "reason": reason}
                    ).status_code == 302
    page = rep.get(f"/rounds/{rnd.id}/cycle")
    assert f"Withdraw {REP_PRACTICE}&#39;s opt-out" in page.get_data(as_text=True)
    # another practice's representative may not withdraw it; a practice that did not opt out is refused
    before = counts()
    assert client_as("practice_rep", "practice:C84074").post(withdraw, data={"practice": REP_PRACTICE}
                                                              ).status_code == 403
    commissioner = client_as("commissioner", "system:E54000014")
    refused = commissioner.post(withdraw, data={"practice": "C84074"})
    assert refused.status_code == 400 and "C84074 has not opted out of 2026/27" in text(refused)
    # after the window the year's membership is settled
    app.config["PCNREG_NOW"] = AFTER_WINDOW
    late = rep.post(withdraw, data={"practice": REP_PRACTICE})
    assert late.status_code == 400 and "closed on 31 May 2026" in text(late)
    assert counts() == before                                               # nothing written by a refusal
    # inside it the practice takes part again; the audit trail keeps what was withdrawn
    app.config["PCNREG_NOW"] = WINDOW_OPEN
    done = rep.post(withdraw, data={"practice": REP_PRACTICE})
    assert done.status_code == 302
    _db.session.expire_all()
    assert _db.session.scalar(select(func.count()).select_from(OptOut).where(OptOut.round_id == rnd.id)) == 0
    event = _db.session.scalar(select(AuditEvent).where(AuditEvent.action == "cycle.opt_out_withdrawn"))
    assert event.object_id == REP_PRACTICE and reason in str(event.before)
    in_pcns = _db.session.scalar(select(func.count()).select_from(Membership).where(Membership.round_id == rnd.id))
    assert f"{in_pcns} of the {in_pcns} practices in a PCN take part; 0 opted out" in text(
        commissioner.get(f"/rounds/{rnd.id}/cycle"))


def test_a_2019_round_has_no_cycle(app, story, client_as):
    history = story[0]
    page = client_as("commissioner", "system:E54000014").get(f"/rounds/{history.id}/cycle")
    assert page.status_code == 200 and "applies from the 2020/21 contract year" in text(page)
    app.config["PCNREG_NOW"] = "2019-05-10T10:00:00+01:00"
    refused = client_as("practice_rep", f"practice:{REP_PRACTICE}").post(
        f"/rounds/{history.id}/cycle/opt-out", data={"practice": REP_PRACTICE, "reason": "x"})
    assert refused.status_code == 400 and "opt out of the contract from 2020/21" in text(refused)


def test_an_annual_return_through_to_the_change_instruction(app, current, client_as, geodata):
    openpyxl = pytest.importorskip("openpyxl")
    rnd = current
    app.config["PCNREG_NOW"] = WINDOW_OPEN
    newark, sherwood = pcn(rnd, "Newark"), pcn(rnd, "Sherwood")
    lead = client_as("pcn_lead", f"pcn:{newark.id}")
    commissioner = client_as("commissioner", "system:E54000014")
    base = f"/rounds/{rnd.id}/pcns/{newark.id}/annual-return"

    # the deadline: no source gives it for 2026/27, so no return can be made until the commissioner sets it
    assert "not set" in text(lead.get(base))
    refused = lead.post(f"{base}/submit", data={"answer": "no_change"})
    assert refused.status_code == 400 and "deadline is not set" in text(refused)
    assert commissioner.post(f"/rounds/{rnd.id}/cycle/settings", data={
        "return_deadline[day]": "30", "return_deadline[month]": "6", "return_deadline[year]": "2026"}).status_code == 302
    assert "30 June 2026" in text(lead.get(base))

    ours, theirs = members(rnd, newark), members(rnd, sherwood)
    joining, leaving, payee = theirs[0], ours[0], ours[1]

    def add(**form):
        parts = {f"effective[{k}]": v for k, v in zip(("day", "month", "year"), form.pop("on"))}
        return lead.post(f"{base}/changes", data={**form, **parts})

    assert add(kind="join", practice=joining, on=("1", "7", "2026")).status_code == 302
    assert add(kind="leave", practice=leaving, on=("1", "7", "2026")).status_code == 302
    assert add(kind="payee", practice=payee, on=("1", "6", "2026")).status_code == 302
    assert add(kind="clinical_director", details="Dr Ada Lovelace", on=("1", "6", "2026")).status_code == 302
    assert add(kind="area", details="Add the village of Collingham", on=("1", "10", "2026")).status_code == 302
    bad = add(kind="leave", practice=joining, on=("1", "7", "2027"))        # not a member; outside the year
    assert bad.status_code == 400
    assert f"{joining} is not a member of the PCN" in text(bad) and "within the contract year" in text(bad)

    both = lead.post(f"{base}/submit", data={"answer": "no_change"})
    assert both.status_code == 400 and "not both" in text(both)
    assert lead.post(f"{base}/submit", data={"answer": "changes"}).status_code == 302
    # the commissioner asks for changes (a reason is needed), the lead drops the area change and resubmits
    no_reason = commissioner.post(f"{base}/review", data={"decision": "ask_changes", "note": ""})
    assert no_reason.status_code == 400 and "Enter what the PCN must change" in text(no_reason)
    assert commissioner.post(f"{base}/review", data={"decision": "ask_changes",
                                                     "note": "The area change goes through the map"}).status_code == 302
    assert "The area change goes through the map" in text(lead.get(base))
    area = _db.session.scalar(select(AnnualReturn).where(AnnualReturn.pcn_id == newark.id)).changes[-1]
    assert area.kind == "area"
    assert lead.post(f"{base}/changes", data={"remove": str(area.id)}).status_code == 302
    # the lead of another PCN cannot touch Newark's return
    assert client_as("pcn_lead", f"pcn:{sherwood.id}").post(f"{base}/submit", data={"answer": "changes"}
                                                            ).status_code == 403
    instruction = f"/rounds/{rnd.id}/changes/ods-change-instruction.csv"
    assert not [r for r in parse(commissioner.get(instruction).text) if r["Source"] == RETURN_SOURCE]
    assert lead.post(f"{base}/submit", data={"answer": "changes"}).status_code == 302
    assert lead.post(f"{base}/review", data={"decision": "accept"}).status_code == 403   # not the lead's
    assert commissioner.post(f"{base}/review", data={"decision": "accept"}).status_code == 302
    assert "Accepted" in text(commissioner.get(f"/rounds/{rnd.id}/cycle"))

    # the export: the ePCN 2025 Core Partner Details columns (read from the workbook), then each change
    response = commissioner.get(instruction)
    assert response.status_code == 200
    header = next(openpyxl.load_workbook(geodata / "ePCN-2025-01.xlsx", read_only=True)["PCN Core Partner Details"]
                  .iter_rows(max_row=1, values_only=True))
    epcn = [" ".join(str(h).split()) for h in header if h]
    columns = next(csv.reader(io.StringIO(response.text)))
    wanted = [c for c in epcn if c != "Practice Sub ICB Loc and PCN Sub ICB Loc Match"]
    assert [c for c in columns if c in epcn] == wanted                 # every one, in the ePCN's order
    assert {"Change", "Effective Date", "Details", "Source"} <= set(columns)

    parent = {code: (c, n) for code, c, n in _db.session.execute(
        select(Practice.code, Commissioner.code, Commissioner.name)
        .join(Commissioner, Commissioner.id == Practice.commissioner_id)
        .where(Practice.code.in_([joining, leaving, payee])))}
    name = dict(_db.session.execute(select(Practice.code, Practice.name)
                                    .where(Practice.code.in_([joining, leaving, payee]))).all())
    lead_ccg = _db.session.get(Commissioner, newark.lead_commissioner_id)

    def row(change, practice, effective, start="", end="", details=""):
        return {"Change": change, "Partner Organisation Code": practice or "",
                "Partner Name": name[practice] if practice else "",
                "Practice Parent Sub ICB Loc Code": parent[practice][0] if practice else "",
                "Practice Parent Sub ICB Loc Name": parent[practice][1] if practice else "",
                "PCN Code": newark.code or "", "PCN Name": "Newark",
                "PCN Parent Sub ICB Loc Code": lead_ccg.code, "PCN Parent Sub ICB Loc Name": lead_ccg.name,
                "Practice to PCN Relationship Start Date": start, "Practice to PCN Relationship End Date": end,
                "Effective Date": effective, "Details": details, "Source": RETURN_SOURCE}

    want = [row("payee", payee, "20260601", details="nominated payee practice"),
            row("Clinical Director", None, "20260601", details="Dr Ada Lovelace"),
            row("leave", leaving, "20260701", end="20260630"),
            row("join", joining, "20260701", start="20260701")]
    got = [r for r in parse(response.text) if r["Source"] == RETURN_SOURCE]
    assert len(got) == len(want)
    for column in columns:                                             # column by column
        assert [r[column] for r in got] == [r[column] for r in want], column

    # a return after the deadline is refused
    app.config["PCNREG_NOW"] = "2026-07-01T10:00:00+01:00"
    late = client_as("pcn_lead", f"pcn:{sherwood.id}").post(
        f"/rounds/{rnd.id}/pcns/{sherwood.id}/annual-return/submit", data={"answer": "no_change"})
    assert late.status_code == 400 and "due by 30 June 2026" in text(late)


def test_the_dates_a_year_file_gives_are_not_changed_on_the_round(app, current):
    import datetime as dt

    from pcnreg.services import cycle as cycle_svc

    with pytest.raises(cycle_svc.CycleError) as caught:
        cycle_svc.set_dates(current, {"opt_out_closes": dt.date(2026, 6, 30)})
    assert "given by the 2026/27 contract-year file" in str(caught.value)
    assert cycle_svc.dates(current)["opt_out_closes"].value == dt.date(2026, 5, 31)
