"""Committee review: meetings of a round's committee, their agendas of submitted PCNs, the
committee's decisions (on each registration and on each exception request) and the pack.

A PCN goes on an agenda through the workflow's ``table`` step (submitted → under review); the
committee decides it through ``approve`` / ``approve_with_conditions`` / ``defer`` / ``reject``,
whose checks (on this meeting's agenda, a rationale, conditions with due dates) live in
``domain.workflow``. The committee reviews the submission's immutable snapshot, never the live
configuration: the review says when the configuration has changed since.

Every change is one transaction with its audit event; a refusal raises
``registration.RegistrationError`` with messages for the user and writes nothing.
"""
from __future__ import annotations

import base64
import datetime as dt
import functools
import io
import json
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ..domain import labels, workflow
from ..domain.dates import uk_date
from ..extensions import db
from ..models import (
    AgendaItem,
    Committee,
    Decision,
    DecisionCondition,
    ExceptionRequest,
    Meeting,
    Pcn,
    Registration,
    RegistrationRound,
)
from . import audit, clock, neighbourhoods, registration
from . import rounds as rounds_svc
from .registration import CONCURRENT, RegistrationError
from .transactions import one_transaction

_commit = one_transaction(lambda: RegistrationError(CONCURRENT))

EXCEPTION_OUTCOMES = workflow.EXCEPTION_OUTCOMES
MAX_CONDITIONS = 3
MAX_TEXT = 5000


# --- reading ------------------------------------------------------------------------------------

def committees(rnd: RegistrationRound) -> list[Committee]:
    """The committees of the round's system, by name."""
    return list(db.session.scalars(select(Committee).where(Committee.system_id == rnd.system_id)
                                   .order_by(Committee.name)))


def meetings(rnd: RegistrationRound) -> list[Meeting]:
    """The round's meetings, the latest first."""
    return list(db.session.scalars(select(Meeting).where(Meeting.round_id == rnd.id)
                                   .order_by(Meeting.held_on.desc(), Meeting.id.desc())))


def get_meeting(rnd: RegistrationRound, meeting_id: int) -> Meeting | None:
    meeting = db.session.get(Meeting, meeting_id)
    return meeting if meeting is not None and meeting.round_id == rnd.id else None


def get_pcn(rnd: RegistrationRound, pcn_id: int) -> Pcn | None:
    pcn = db.session.get(Pcn, pcn_id)
    return pcn if pcn is not None and pcn.round_id == rnd.id else None


def decisions(meeting: Meeting) -> list[Decision]:
    """The meeting's decisions in the order they were taken."""
    return list(db.session.scalars(select(Decision).where(Decision.meeting_id == meeting.id)
                                   .order_by(Decision.decided_at, Decision.id)))


def submitted_pcns(rnd: RegistrationRound) -> list[Pcn]:
    """Active PCNs of the round whose registration is submitted (ready for an agenda), by name."""
    return list(db.session.scalars(
        select(Pcn).join(Registration, (Registration.pcn_id == Pcn.id) & (Registration.round_id == rnd.id))
        .where(Pcn.round_id == rnd.id, Pcn.active.is_(True), Registration.state == "submitted")
        .order_by(Pcn.name)))


def members_present(meeting: Meeting) -> list[str]:
    return [line for line in (meeting.members_present or "").splitlines() if line.strip()]


# --- meetings and agendas -----------------------------------------------------------------------

def _lines(text: str) -> str:
    """One name a line, spaces tidied, empty lines dropped."""
    return "\n".join(" ".join(line.split()) for line in (text or "").splitlines() if line.strip())


@_commit
def create_meeting(rnd: RegistrationRound, committee_id: int | None, held_on: dt.date | None,
                   members_present: str) -> Meeting:
    """A meeting of one of the system's committees on ``held_on``, with the members present."""
    committee = db.session.get(Committee, committee_id) if committee_id else None
    if committee is None or committee.system_id != rnd.system_id:
        raise RegistrationError(f"Choose a committee of {rnd.system.name}", "committee")
    if held_on is None:
        raise RegistrationError("Enter the date of the meeting", "held_on")
    present = _lines(members_present)
    if not present:
        raise RegistrationError("Enter the members present, one a line", "members_present")
    if len(present) > MAX_TEXT:
        raise RegistrationError("The members present must be 5,000 characters or fewer", "members_present")
    meeting = Meeting(round_id=rnd.id, committee_id=committee.id, held_on=held_on, members_present=present,
                      created_by=registration.actor(), created_at=clock.to_utc_naive(clock.now()))
    db.session.add(meeting)
    db.session.flush()
    audit.record(action="committee.meeting", object_type="meeting", object_id=str(meeting.id),
                 after={"committee": committee.name, "held_on": held_on, "members_present": present.splitlines()},
                 round_id=rnd.id)
    return meeting


def _same_round(rnd: RegistrationRound, meeting: Meeting) -> None:
    if meeting.round_id != rnd.id:
        raise RegistrationError(f"That meeting belongs to another round, not {rnd.name}")


@_commit
def add_to_agenda(rnd: RegistrationRound, meeting: Meeting, pcn: Pcn) -> AgendaItem:
    """Put a submitted PCN on the meeting's agenda: its latest submission is what is reviewed."""
    _same_round(rnd, meeting)
    if pcn.round_id != rnd.id:
        raise RegistrationError(f"{pcn.name} is not a PCN of {rnd.name}", "pcn")
    if registration.on_agenda(meeting, pcn) is not None:
        raise RegistrationError(f"{pcn.name} is already on the agenda of this meeting", "pcn")
    state = registration.registration(rnd, pcn).state
    if state != "submitted":
        raise RegistrationError(f"{pcn.name} is {workflow.STATE_TITLES[state].lower()}: only a submitted "
                                "registration can go on the agenda", "pcn")
    submission = registration.latest_submission(rnd, pcn.id)
    if submission is None:       # pragma: no cover - a submitted registration has a submission
        raise RegistrationError(f"{pcn.name} has no submission to review", "pcn")
    registration.transition(rnd, pcn, "table")
    item = AgendaItem(meeting_id=meeting.id, pcn_id=pcn.id, submission_id=submission.id)
    db.session.add(item)
    db.session.flush()
    audit.record(action="committee.agenda", object_type="meeting", object_id=str(meeting.id),
                 after={"pcn": pcn.name, "submission": submission.number}, round_id=rnd.id, pcn_id=pcn.id)
    return item


# --- decisions -------------------------------------------------------------------------------------

def _text(value: str | None) -> str:
    return (value or "").strip()


@_commit
def decide(rnd: RegistrationRound, meeting: Meeting, pcn: Pcn, outcome: str, rationale: str,
           conditions: list[tuple[str, dt.date | None]] | tuple = ()) -> Decision:
    """The committee's decision on a PCN's registration at this meeting. The workflow's checks
    decide whether it may be taken (on this meeting's agenda, under review, a rationale, and for
    an approval with conditions at least one condition, each with its due date)."""
    _same_round(rnd, meeting)
    if outcome not in workflow.DECISIONS:
        raise RegistrationError("Choose the decision", "outcome")
    rationale = _text(rationale)
    if len(rationale) > MAX_TEXT:
        raise RegistrationError("The rationale must be 5,000 characters or fewer", "rationale")
    wanted = tuple(workflow.Condition(_text(text), due) for text, due in conditions
                   if _text(text) or due is not None)
    if wanted and outcome != "approved_with_conditions":
        raise RegistrationError("Conditions go with an approval with conditions: choose that decision or "
                                "clear the conditions", "outcome")
    if len(wanted) > MAX_CONDITIONS:
        raise RegistrationError(f"Enter at most {MAX_CONDITIONS} conditions")
    if any(c.due_on is not None and c.due_on < meeting.held_on for c in wanted):
        raise RegistrationError("A condition cannot be due before the meeting")
    if any(len(c.text) > MAX_TEXT for c in wanted):
        raise RegistrationError("A condition must be 5,000 characters or fewer")
    item = registration.on_agenda(meeting, pcn)
    registration.transition(rnd, pcn, workflow.DECISION_TRANSITION[outcome], on_agenda=item is not None,
                            rationale=rationale, conditions=wanted)
    if item is None:             # pragma: no cover - the workflow refuses a PCN not on the agenda
        raise RegistrationError(f"{pcn.name} is not on the agenda of this meeting")
    now = clock.now()
    decision = Decision(meeting_id=meeting.id, pcn_id=pcn.id, submission_id=item.submission_id,
                        subject_key=f"registration:{pcn.id}", outcome=outcome, rationale=rationale,
                        decided_by=registration.actor(), decided_at=clock.to_utc_naive(now))
    decision.conditions = [DecisionCondition(text=c.text, due_on=c.due_on) for c in wanted]
    db.session.add(decision)
    db.session.flush()
    audit.record(action="committee.decision", object_type="pcn", object_id=str(pcn.id),
                 after={"meeting": meeting.id, "outcome": outcome, "rationale": rationale,
                        "conditions": [{"text": c.text, "due_on": c.due_on} for c in wanted]},
                 round_id=rnd.id, pcn_id=pcn.id)
    return decision


def _requested(meeting: Meeting, request_id: int) -> tuple[AgendaItem, dict] | None:
    """The agenda item whose snapshot includes exception request ``request_id``, with the request."""
    for item in meeting.items:
        for req in registration.snapshot_of(item.submission).get("exception_requests", []):
            if req.get("id") == request_id:
                return item, req
    return None


@_commit
def decide_exception(rnd: RegistrationRound, meeting: Meeting, request_id: int, outcome: str,
                     rationale: str) -> Decision:
    """The committee's decision on one exception request of a submission on this agenda."""
    _same_round(rnd, meeting)
    found = _requested(meeting, request_id)
    if found is None:
        raise RegistrationError("That exception request is not part of a submission on the agenda of this meeting")
    item, req = found
    problems = []
    if outcome not in EXCEPTION_OUTCOMES:
        problems.append(("Choose whether the exception is agreed or refused", "outcome"))
    rationale = _text(rationale)
    if not rationale:
        problems.append(("Enter the rationale for the decision", "rationale"))
    elif len(rationale) > MAX_TEXT:
        problems.append(("The rationale must be 5,000 characters or fewer", "rationale"))
    if problems:
        raise RegistrationError([m for m, _ in problems], problems[0][1] if len(problems) == 1 else None)
    key = f"exception:{request_id}"
    if db.session.scalar(select(Decision.id).where(Decision.meeting_id == meeting.id,
                                                   Decision.subject_key == key)) is not None:
        raise RegistrationError("The committee has already decided this exception request at this meeting")
    row = db.session.get(ExceptionRequest, request_id)
    decision = Decision(meeting_id=meeting.id, pcn_id=item.pcn_id, submission_id=item.submission_id,
                        exception_request_id=row.id if row is not None else None, subject_key=key,
                        outcome=outcome, rationale=rationale, decided_by=registration.actor(),
                        decided_at=clock.to_utc_naive(clock.now()))
    db.session.add(decision)
    db.session.flush()
    audit.record(action="committee.exception_decision", object_type="exception_request", object_id=str(request_id),
                 after={"meeting": meeting.id, "rule": req.get("rule"), "subject": req.get("subject"),
                        "outcome": outcome, "rationale": rationale}, round_id=rnd.id, pcn_id=item.pcn_id)
    return decision


@dataclass
class ConditionContext:
    condition: DecisionCondition
    decision: Decision
    meeting: Meeting
    pcn: Pcn


def condition_context(rnd: RegistrationRound, condition_id: int) -> ConditionContext | None:
    """A condition of a decision taken at a meeting of this round, with where it belongs."""
    condition = db.session.get(DecisionCondition, condition_id)
    if condition is None:
        return None
    decision = condition.decision
    meeting = db.session.get(Meeting, decision.meeting_id)
    if meeting is None or meeting.round_id != rnd.id:
        return None
    return ConditionContext(condition, decision, meeting, db.session.get(Pcn, decision.pcn_id))


@_commit
def condition_met(rnd: RegistrationRound, condition_id: int, met_on: dt.date | None) -> DecisionCondition:
    """The commissioner records that a condition was met on ``met_on``."""
    found = condition_context(rnd, condition_id)
    if found is None:
        raise RegistrationError(f"There is no condition {condition_id} in {rnd.name}")
    condition = found.condition
    today = clock.now().astimezone(ZoneInfo(rnd.timezone)).date()
    if condition.met_on is not None:
        raise RegistrationError(f"This condition was already recorded as met on {uk_date(condition.met_on)}")
    if met_on is None:
        raise RegistrationError("Enter the date the condition was met", "met_on")
    if met_on > today:
        raise RegistrationError("The date the condition was met cannot be in the future", "met_on")
    if met_on < found.meeting.held_on:
        raise RegistrationError("The date the condition was met cannot be before the meeting that set it", "met_on")
    condition.met_on, condition.met_by = met_on, registration.actor()
    audit.record(action="committee.condition_met", object_type="decision_condition", object_id=str(condition.id),
                 after={"text": condition.text, "due_on": condition.due_on, "met_on": met_on},
                 round_id=rnd.id, pcn_id=found.pcn.id)
    return condition


# --- the review ------------------------------------------------------------------------------------

@dataclass
class RequestRow:
    """An exception request as submitted, with the committee's decision at this meeting."""

    id: int
    rule: str
    subject: str
    message: str
    reason: str
    requested_by: str
    decision: Decision | None


@dataclass
class AgendaRow:
    """One PCN on the agenda: its submission's snapshot and where it stands now."""

    item: AgendaItem
    pcn: Pcn
    snapshot: dict
    state: str
    decision: Decision | None
    requests: list[RequestRow]
    added: list[str] = field(default_factory=list)       # members now that were not in the snapshot
    removed: list[str] = field(default_factory=list)     # members of the snapshot no longer in the PCN
    gone: bool = False                                   # the PCN is no longer in the configuration
    alignment: object | None = None                      # neighbourhoods.AlignmentFact now (None: no neighbourhoods)

    @property
    def name(self) -> str:
        return self.snapshot.get("pcn", {}).get("name") or self.pcn.name

    @property
    def submission(self):
        return self.item.submission

    @property
    def members(self) -> list[dict]:
        return self.snapshot.get("members", [])

    @property
    def total(self) -> int | None:
        return self.snapshot.get("list_size")

    @property
    def band(self) -> str:
        return self.snapshot.get("band", "")

    @property
    def findings(self) -> list[dict]:
        return self.snapshot.get("findings", [])

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.get("severity") == "error")

    @property
    def changed(self) -> bool:
        return self.gone or bool(self.added or self.removed)

    @property
    def state_title(self) -> str:
        return labels.title(labels.REGISTRATION, self.state)

    @property
    def state_tag(self) -> str:
        return labels.tag(labels.REGISTRATION, self.state)

    @property
    def can_decide(self) -> bool:
        return self.decision is None and self.state == "under_review"

    @property
    def has_area(self) -> bool:
        return bool((self.snapshot.get("area") or {}).get("geometry"))


@dataclass
class MeetingView:
    meeting: Meeting
    rows: list[AgendaRow]
    decisions: list[Decision]
    waiting: list[Pcn]                 # submitted PCNs that could go on the agenda

    @property
    def members_present(self) -> list[str]:
        return members_present(self.meeting)

    def row(self, pcn_id: int) -> AgendaRow | None:
        return next((r for r in self.rows if r.pcn.id == pcn_id), None)

    def subject(self, decision: Decision) -> tuple[str, str]:
        """(PCN name, what was decided) for the minutes."""
        row = self.row(decision.pcn_id)
        name = row.name if row else str(decision.pcn_id)
        if decision.exception_request_id is None and decision.subject_key.startswith("registration:"):
            return name, "Registration"
        req = next((q for q in (row.requests if row else []) if f"exception:{q.id}" == decision.subject_key), None)
        return name, f"Exception request: {req.message}" if req else "Exception request"


def meeting_view(rnd: RegistrationRound, meeting: Meeting) -> MeetingView:
    """The meeting's agenda with each PCN's snapshot, decisions and changes since submission."""
    data = rounds_svc.build_configuration(rnd)
    taken = decisions(meeting)
    by_subject = {d.subject_key: d for d in taken}
    rows = []
    alignment = neighbourhoods.alignment_facts(data, [str(item.pcn_id) for item in meeting.items])
    for item in meeting.items:
        pcn = item.pcn
        snap = registration.snapshot_of(item.submission)
        key = str(pcn.id)
        then = {m["code"] for m in snap.get("members", [])}
        now = set(data.pcn_data(key).members) if key in data.pcns else set()
        requests = [RequestRow(r["id"], r.get("rule", ""), r.get("subject", ""), r.get("message", ""),
                               r.get("reason", ""), r.get("requested_by", ""), by_subject.get(f"exception:{r['id']}"))
                    for r in snap.get("exception_requests", [])]
        rows.append(AgendaRow(item=item, pcn=pcn, snapshot=snap, state=registration.registration(rnd, pcn).state,
                              decision=by_subject.get(f"registration:{pcn.id}"), requests=requests,
                              added=sorted(now - then) if key in data.pcns else [],
                              removed=sorted(then - now) if key in data.pcns else [],
                              gone=key not in data.pcns, alignment=alignment.get(key)))
    rows.sort(key=lambda r: (r.name.casefold(), r.pcn.id))
    return MeetingView(meeting, rows, taken, submitted_pcns(rnd))


# --- the map and the pack ------------------------------------------------------------------------------

def states(rnd: RegistrationRound) -> dict[str, str]:
    """PCN key -> registration state, for every active PCN of the round (draft when none yet)."""
    found = dict(db.session.execute(select(Registration.pcn_id, Registration.state)
                                    .where(Registration.round_id == rnd.id)).all())
    pcns = db.session.scalars(select(Pcn.id).where(Pcn.round_id == rnd.id, Pcn.active.is_(True)))
    return {str(p): found.get(p, "draft") for p in pcns}


def meeting_map(rnd: RegistrationRound, meeting: Meeting) -> tuple[str, str]:
    """The round's map coloured by registration state, this agenda outlined (HTML, cache key).
    Raises ``maps.MapUnavailable`` without geodata."""
    from . import maps

    agenda = {str(item.pcn_id) for item in meeting.items}
    facts = neighbourhoods.alignment_facts(rounds_svc.build_configuration(rnd), agenda)
    if not facts:
        return maps.state_map_with_key(rnd, f"m{meeting.id}", states(rnd), agenda)
    texts = {k: (f"{100 * a.share:.1f}% in {a.best or 'no neighbourhood'} "
                 f"({'below' if a.below else 'at or above'} the {100 * a.threshold:.0f}% threshold)")
             for k, a in facts.items()}
    return maps.state_map_with_key(rnd, f"m{meeting.id}", states(rnd), agenda, alignment=texts,
                                   neighbourhoods=lambda: neighbourhoods.neighbourhood_geometries(rnd),
                                   neighbourhoods_key=neighbourhoods.neighbourhoods_key(rnd))


def area_png(snapshot: dict) -> bytes | None:
    """A small static map of the PCN's submitted area (None when the snapshot has none)."""
    geometry = (snapshot.get("area") or {}).get("geometry")
    if not geometry:
        return None
    return _area_png(json.dumps(geometry, sort_keys=True))


@functools.lru_cache(maxsize=64)
def _area_png(geometry_json: str) -> bytes:
    """The area (GeoJSON in EPSG:4326) drawn with matplotlib's Agg canvas (no pyplot)."""
    import geopandas as gpd
    import shapely
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    geom = shapely.geometry.shape(json.loads(geometry_json))
    fig = Figure(figsize=(4, 4), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.96))
    gpd.GeoSeries([geom], crs=4326).plot(ax=ax, color="#005eb8", alpha=0.35, edgecolor="#003087", linewidth=1.2)
    ax.set_axis_off()
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=110)
    return out.getvalue()


def data_uri(png: bytes | None) -> str | None:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii") if png else None


@dataclass
class PackRow:
    row: AgendaRow
    map_uri: str | None


def pack(rnd: RegistrationRound, meeting: Meeting) -> tuple[MeetingView, list[PackRow]]:
    """The printable pack: every agenda PCN with its map picture, then the minutes."""
    view = meeting_view(rnd, meeting)
    return view, [PackRow(r, data_uri(area_png(r.snapshot))) for r in view.rows]

