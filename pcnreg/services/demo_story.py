"""The live demo: the 2019/20 round's history, and a current round with work for every role.

``load_history()`` writes what happened in the 2019/20 Nottingham and Nottinghamshire round
through the same services the pages use, each step at its own moment (the injected clock,
``PCNREG_NOW``): members' confirmations and signatures, payee and Clinical Director, submission
by 15 May 2019, the committees' decisions of 23 May, each commissioner's confirmation of
coverage by 31 May and go-live on 1 July 2019. The Clinical Directors are those of
``notts-cd-status-2019.csv`` (the ICS Board paper of 9 May 2019): where the paper names one,
that name; where it shows a process still running (a panel review, an affirmation, a contested
election), the registration says so and names nobody. What the paper does not publish (who
signed, the payee, the CD's practice) is written as an explicit stand-in, never as a fact.

``load_current_round()`` rolls that round forward (``round_setup.create_round``) into the
2026/27 contract year with dates around the day it is loaded (opened three weeks ago,
submissions due in three weeks, the committee a week later, go-live after that) and puts its
PCNs in a spread of states: drafts with items missing (the demo PCN lead's Newark and the demo
practice representative's PCN among them), submitted ones, one on the committee's agenda and
one Clinical Director election taking nominations.

Both are idempotent: a round with registrations (or a current round of that name) is left as it is.
"""
from __future__ import annotations

import contextlib
import csv
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select

from ..domain import elections as election_dom
from ..extensions import db
from ..models import Commissioner, Committee, Pcn, Registration, RegistrationRound
from . import audit, clock, committee, elections, registration, round_setup
from . import rounds as rounds_svc
from .demo import DEMO_DATA
from .transactions import one_transaction

UK = ZoneInfo("Europe/London")
HISTORY_ROUND = "Nottingham and Nottinghamshire 2019/20"
CURRENT_ROUND = "Nottingham and Nottinghamshire 2026/27"
CURRENT_YEAR = "2026/27"
ACTOR = "pcnreg demo"
PAPER = "ICS Board paper of 9 May 2019"
# A stand-in for a signed agreement file: the signed agreements of 2019 are not published.
STAND_IN_PDF = (b"%PDF-1.4\n% pcnreg demo: stand-in for a signed Network Agreement. The signed agreements of "
                b"2019 are not published.\n%%EOF\n")

# The current round's PCNs by their role in the story (names as in the 2019 round).
LEAD_PCN = "Newark"                         # the demo PCN lead's: a draft with items missing
REP_PCN = "Ashfield South"                  # holds C84067, the demo practice representative's practice
REP_PRACTICE = "C84067"
AGENDA_PCN = "Sherwood"                     # submitted and on the committee's agenda
ELECTION_PCN = "Mansfield North"            # a CD election with nominations open
SUBMITTED_PCNS = ("Ashfield North", "Mansfield South", "Rushcliffe South", "Nottingham City PCN 4")


@contextlib.contextmanager
def at(moment: dt.datetime) -> Iterator[None]:
    """Run the block with the clock at ``moment`` (the services read ``clock.now()``)."""
    config = current_app.config
    had, before = "PCNREG_NOW" in config, config.get("PCNREG_NOW")
    config["PCNREG_NOW"] = moment
    try:
        yield
    finally:
        if had:
            config["PCNREG_NOW"] = before
        else:
            config.pop("PCNREG_NOW", None)


def _local(day: dt.date, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), UK)


@dataclass
class StoryReport:
    history: bool = False
    current: bool = False
    lines_: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return self.lines_


def _pcns(rnd: RegistrationRound) -> dict[str, Pcn]:
    return {p.name: p for p in db.session.scalars(select(Pcn).where(Pcn.round_id == rnd.id, Pcn.active.is_(True))
                                                   .order_by(Pcn.name))}


def _read(name: str) -> list[dict[str, str]]:
    with open(DEMO_DATA / name, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def cd_status() -> dict[str, dict[str, str]]:
    """The paper's CD row of each PCN, by the PCN's name in the round (with the match's confidence)."""
    prefixes = {"Nottingham City": "Nottingham City "}
    names = {(r["ccg"], r["pcn_label"]): prefixes.get(r["ccg"], "") + r["board_paper_name"]
             for r in _read("notts-pcn-crosswalk-2019.csv")}
    by_cd_name = {}
    for r in _read("notts-pcn-label-map-2019.csv"):
        by_cd_name[r["cd_table_pcn_name"]] = (names[(r["ccg"], r["pcn_label"])], r["confidence"])
    out = {}
    for row in _read("notts-cd-status-2019.csv"):
        name, confidence = by_cd_name[row["pcn_name"]]
        out[name] = {**row, "match": confidence}
    return out


def _members(data: rounds_svc.RoundData, pcn: Pcn) -> list[str]:
    return list(data.pcn_data(str(pcn.id)).members)


def _largest(data: rounds_svc.RoundData, codes: list[str]) -> str:
    return max(codes, key=lambda c: (data.config.practices[c].list_size or 0, c))


def _prepare(rnd: RegistrationRound, data, pcn: Pcn, day: dt.date, *, confirm: list[str], sign: list[str],
             payee: bool, signed_on: dt.date) -> None:
    """Members' confirmations and core signatures (stand-ins), and the payee, on ``day``."""
    with at(_local(day, 9)):
        for code in confirm:
            registration.confirm_member(rnd, pcn, code)
        for code in sign:
            registration.sign_agreement(rnd, pcn, code, stage="core", signed_on=signed_on,
                                        signatory="Not published (demo stand-in)",
                                        file_name=f"network-agreement-{code}.pdf", content=STAND_IN_PDF)
        if payee:
            registration.set_payee(rnd, pcn, _largest(data, _members(data, pcn)),
                                   "Demo stand-in: the paper names no payee")


def _exceptions(rnd: RegistrationRound, data, pcn: Pcn, day: dt.date, reason: str) -> None:
    with at(_local(day, 9, 30)):
        for finding in registration.blocking_findings(data, str(pcn.id)):
            registration.request_exception(rnd, pcn, registration.reg.finding_key(finding), reason)


# --- 2019/20: the history ---------------------------------------------------------------------------

def _history_cd(rnd: RegistrationRound, data, pcn: Pcn, paper: dict[str, str] | None, day: dt.date) -> None:
    largest = _largest(data, _members(data, pcn))
    match = "" if not paper or paper["match"] not in ("guess",) else \
        " (which PCN this row of the paper is about is matched by position: see notts-pcn-label-map-2019.csv)"
    with at(_local(day, 11)):
        if paper and paper["clinical_director"]:
            details = (f"{PAPER}: {paper['process_status']}{match}. The paper does not say where the Clinical "
                       f"Director practises: the network's largest practice, {largest}, stands in.")
            registration.set_clinical_director(
                rnd, pcn, name=paper["clinical_director"], practice_code=largest, profession="GP",
                process="agreement", process_details=details, deputy_name=paper["deputy_clinical_director"],
                deputy_practice_code=largest if paper["deputy_clinical_director"] else "")
            return
        running = paper["status_derived"] if paper else "no row in the paper"
        details = f"{PAPER}: process still running ({running}){match}. The paper names nobody."
        name = "Not named in the paper (process still running)"
        if paper and paper["status_derived"].startswith("contested"):
            # An election run outside pcnreg: its declaration is what names the CD.
            one_transaction()(registration.record_elected_cd)(rnd, pcn, name=name, practice_code=largest,
                                                              profession="", details=details)
        else:
            registration.set_clinical_director(rnd, pcn, name=name, practice_code=largest, profession="",
                                               process="agreement", process_details=details)


def load_history() -> bool:
    """Write the 2019/20 round's history (False: it is already there, or there is no such round)."""
    rnd = db.session.scalar(select(RegistrationRound).where(RegistrationRound.name == HISTORY_ROUND))
    if rnd is None or db.session.scalar(select(func.count()).select_from(Registration)
                                        .where(Registration.round_id == rnd.id)):
        return False
    papers = cd_status()
    with audit.acting_as(f"{ACTOR} (history of the 2019/20 round)"):
        data = rounds_svc.build_configuration(rnd)
        pcns = _pcns(rnd)
        for i, (name, pcn) in enumerate(pcns.items()):
            members = _members(data, pcn)
            day = dt.date(2019, 5, 7 + i % 7)                # the week before the deadline
            _prepare(rnd, data, pcn, day, confirm=members, sign=members, payee=True, signed_on=day)
            _history_cd(rnd, data, pcn, papers.get(name), day)
            _exceptions(rnd, data, pcn, day, "Recorded for the demo: the committees accepted the configuration "
                        "of the paper of 9 May 2019")
            with at(_local(dt.date(2019, 5, 14), 12, i)):
                registration.submit(rnd, pcn)
        committee_id = db.session.scalar(select(Committee.id).where(Committee.system_id == rnd.system_id)
                                         .order_by(Committee.id))
        with at(_local(dt.date(2019, 5, 20), 9)):
            meeting = committee.create_meeting(rnd, committee_id, dt.date(2019, 5, 23),
                                               "Not published: the demo records no names")
            for pcn in pcns.values():
                committee.add_to_agenda(rnd, meeting, pcn)
        with at(_local(dt.date(2019, 5, 23), 14)):
            for pcn in pcns.values():
                committee.decide(rnd, meeting, pcn, "approved",
                                 "Demo history: approved at the meeting in common of 23 May 2019 (every PCN "
                                 "of the paper went live on 1 July 2019); the minutes are not reproduced here.")
        with at(_local(dt.date(2019, 5, 31), 12)):
            for c in db.session.scalars(select(Commissioner).where(Commissioner.system_id == rnd.system_id)
                                        .order_by(Commissioner.code)):
                registration.confirm_coverage(rnd, c)
        with at(_local(dt.date(2019, 7, 1), 9)):
            registration.go_live(rnd)
    return True


# --- 2026/27: the current round -----------------------------------------------------------------------

def current_dates(today: dt.date) -> dict[str, dt.date]:
    return {"reference_date": today.replace(day=1), "opens": today - dt.timedelta(days=21),
            "submission_deadline": today + dt.timedelta(days=21), "committee_date": today + dt.timedelta(days=28),
            "confirmation_date": today + dt.timedelta(days=35), "schedule1_deadline": today + dt.timedelta(days=56),
            "go_live": today + dt.timedelta(days=63)}


def load_current_round(today: dt.date | None = None) -> RegistrationRound | None:
    """Roll the history forward into a current round (None: it is already there)."""
    if db.session.scalar(select(RegistrationRound.id).where(RegistrationRound.name == CURRENT_ROUND)) is not None:
        return None
    source = db.session.scalar(select(RegistrationRound).where(RegistrationRound.name == HISTORY_ROUND))
    if source is None:
        return None
    now = clock.now()
    today = today or now.astimezone(UK).date()
    dates = current_dates(today)
    opened = dates["opens"]
    with audit.acting_as(f"{ACTOR} (the current round)"), at(_local(opened, 9)):
        rnd = round_setup.create_round(source.system_id, CURRENT_YEAR, round_setup.RoundValues(
            name=CURRENT_ROUND, band_min=source.band_min, band_max=source.band_max, **dates),
            from_round_id=source.id, author=ACTOR)
    with audit.acting_as(f"{ACTOR} (the current round)"):
        _spread(rnd, today)
    return rnd


def _spread(rnd: RegistrationRound, today: dt.date) -> None:
    data = rounds_svc.build_configuration(rnd)
    pcns = _pcns(rnd)
    days_ago = lambda n: today - dt.timedelta(days=n)      # noqa: E731
    ready = [pcns[n] for n in (*SUBMITTED_PCNS, AGENDA_PCN)]
    for i, pcn in enumerate(ready):                      # complete, then submitted a few days ago
        members = _members(data, pcn)
        _prepare(rnd, data, pcn, days_ago(14), confirm=members, sign=members, payee=True, signed_on=days_ago(14))
        with at(_local(days_ago(13), 10)):
            registration.set_clinical_director(
                rnd, pcn, name=f"Dr {pcn.name} Clinical Director (demo)", practice_code=_largest(data, members),
                profession="GP", process="agreement",
                process_details="Demo: appointed by agreement at a meeting of the member practices")
        _exceptions(rnd, data, pcn, days_ago(13), "Demo: the network serves a rural area (exceptional "
                    "circumstances); its members agree")
        with at(_local(days_ago(10 - i), 15)):
            registration.submit(rnd, pcn)
    committee_id = db.session.scalar(select(Committee.id).where(Committee.system_id == rnd.system_id)
                                     .order_by(Committee.id))
    with at(_local(days_ago(3), 11)):
        meeting = committee.create_meeting(rnd, committee_id, rnd.committee_date,
                                           "To be recorded at the meeting (demo)")
        committee.add_to_agenda(rnd, meeting, pcns[AGENDA_PCN])
    # Drafts with items missing: some members have confirmed and signed, no payee or CD yet.
    for name in (LEAD_PCN, REP_PCN, "Rushcliffe North", "Nottingham City PCN 1"):
        pcn = pcns[name]
        members = [c for c in _members(data, pcn) if c != REP_PRACTICE]
        half = members[: max(1, len(members) // 2)]
        _prepare(rnd, data, pcn, days_ago(7), confirm=half, sign=half[:1], payee=name != LEAD_PCN,
                 signed_on=days_ago(7))
    # A Clinical Director election taking nominations (opened two days ago, closes in five).
    pcn = pcns[ELECTION_PCN]
    start = _local(days_ago(2), 9)
    tt = election_dom.Timetable(
        nominations_open=start, nominations_close=_local(today + dt.timedelta(days=5), 17),
        voting_open=_local(today + dt.timedelta(days=9), 9), voting_close=_local(today + dt.timedelta(days=16), 17),
        panel_from=today + dt.timedelta(days=6), panel_to=today + dt.timedelta(days=8),
        count_on=today + dt.timedelta(days=17), declare_by=today + dt.timedelta(days=18))
    with at(start):
        e = elections.create(rnd, pcn, method="plurality", tie_break="seed", seed=f"pcnreg-demo-{today:%Y%m%d}",
                             eligibility="A clinician practising at a member practice of the network",
                             tt=tt, returning_officer="Demo LMC Returning Officer")
        elections.step(e, "open_nominations")
    with at(_local(days_ago(1), 14)):
        members = _members(data, pcn)
        elections.nominate(e, name="Dr Demo Candidate", register="GMC", number="7000001",
                           practice_code=members[0], role="GP partner",
                           statement="Demo nomination: I will lead the network's work on access and care homes.")


def load(today: dt.date | None = None) -> StoryReport:
    """Both parts, each only when missing. The report's lines say what was done."""
    report = StoryReport()
    report.history = load_history()
    report.lines_.append("Wrote the 2019/20 round's history (submitted by 15 May, approved 23 May, confirmed "
                         "31 May, live 1 July 2019)." if report.history else
                         "The 2019/20 round's history is already there; nothing changed.")
    rnd = load_current_round(today)
    report.current = rnd is not None
    if rnd is not None:
        report.lines_.append(f"Made {rnd.name}: opened {rnd.opens:%-d %B %Y}, submissions due "
                             f"{rnd.submission_deadline:%-d %B %Y}, committee {rnd.committee_date:%-d %B %Y}, "
                             f"go-live {rnd.go_live:%-d %B %Y}.")
    else:
        report.lines_.append(f"{CURRENT_ROUND} is already there; nothing changed.")
    return report
