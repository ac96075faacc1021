"""Every request and response shape of the JSON API, defined once, as pydantic models.

The views parse requests with these models (``parse``: a bad value is ``ApiError(400)`` naming
the field), build their responses from them (``dump``), and ``api.openapi`` generates the OpenAPI
document's ``components/schemas`` from them. Every object is strict in the document: all its
properties are required and no others are allowed (``extra="forbid"``, no defaults), so a test
comparing real responses with the document catches drift either way. Nullable values are
``X | None``; the only free-form objects are a finding's ``figures``, a submission's
``snapshot`` and an election's ``result``.
"""
import base64
import binascii
import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    WithJsonSchema,
)

from ..domain.registration import CD_PROCESSES, STAGES
from ..domain.rules import RULE_TITLES, RULES
from ..domain.types import SEVERITIES
from ..domain.workflow import DECISIONS, STATES
from ..models import DECISION_OUTCOMES, ELECTION_STATES
from ..services.committee import MAX_CONDITIONS
from ..services.committee import MAX_TEXT as COMMITTEE_MAX_TEXT
from ..services.registration import MAX_AGREEMENT_BYTES
from .errors import ApiError

DEFAULT_LIMIT = 500
MAX_LIMIT = 5000
MAX_OFFSET = 2_147_483_647        # fits every database's integer
MAX_ID = 2_147_483_647            # larger ids cannot exist (and overflow SQLite)
MAX_QUERY_LENGTH = 200
MAX_NAME = 200                    # names (Clinical Director, signatory, members present)
MAX_CODE = 10                     # an ODS code (the service checks membership)
MAX_SHORT = 100                   # profession, payee reference, file name (cut to 255 by the service)
MAX_TEXT = COMMITTEE_MAX_TEXT     # rationales, reasons, details, conditions
MAX_MEMBERS_PRESENT = 50

_WHOLE_NUMBER = re.compile(r"[0-9]{1,10}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Shape(BaseModel):
    """A response object: every field required, no other field allowed."""

    model_config = ConfigDict(extra="forbid")


class Body(BaseModel):
    """A request body: exactly these fields, each of its JSON type (no coercion)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Query(BaseModel):
    """Query parameters: strings from the URL; unknown parameters are ignored."""

    model_config = ConfigDict(extra="ignore")


# --- value types ----------------------------------------------------------------------------------------

def _utc_text(value: dt.datetime) -> str:
    """ISO 8601 with its offset; a naive value is UTC (as the database keeps it): ``Z``."""
    return value.isoformat() + "Z" if value.tzinfo is None else value.isoformat()


DateTime = Annotated[dt.datetime, PlainSerializer(_utc_text, return_type=str),
                     WithJsonSchema({"type": "string", "format": "date-time"})]
Count = Annotated[int, Field(ge=0)]
Id = Annotated[int, Field(ge=1)]
OdsCode = Annotated[str, Field(pattern=r"^[A-Z0-9]{3,6}$")]
GssCode = Annotated[str, Field(pattern=r"^[EWSN][0-9]{8}$")]
BandStatus = Literal["in_band", "below", "above"]
OpenClosed = Literal["open", "closed"]


def _no_control(multiline: bool):
    pattern = _CONTROL_MULTILINE if multiline else _CONTROL

    def check(value: str) -> str:
        if pattern.search(value):
            raise ValueError("contains control characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("is not valid Unicode text") from None
        return value
    return check


def Text(max_length: int, *, multiline: bool = False, description: str | None = None):  # noqa: N802
    """A request string: bounded, without control characters (newlines where ``multiline``)."""
    return Annotated[str, Field(max_length=max_length, description=description),
                     AfterValidator(_no_control(multiline))]


def _date(value: object) -> dt.date:
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("must be a date as YYYY-MM-DD")


RequestDate = Annotated[dt.date, PlainValidator(_date), WithJsonSchema({"type": "string", "format": "date"})]
RequestId = Annotated[int, Field(ge=1, le=MAX_ID)]


def _file_content(value: object) -> bytes:
    """Strict base64 (RFC 4648 alphabet with padding), at most the service's size once decoded."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if len(value) > (MAX_AGREEMENT_BYTES + 2) // 3 * 4:
        raise ValueError(f"is larger than {MAX_AGREEMENT_BYTES // (1024 * 1024)} MB once decoded")
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise ValueError("is not valid base64") from None


FileContent = Annotated[bytes, PlainValidator(_file_content), WithJsonSchema({
    "type": "string", "contentEncoding": "base64", "maxLength": (MAX_AGREEMENT_BYTES + 2) // 3 * 4,
    "description": "The signed agreement (PDF, PNG or JPEG, at most "
                   f"{MAX_AGREEMENT_BYTES // (1024 * 1024)} MB), standard base64 with padding."})]


# --- parsing --------------------------------------------------------------------------------------------

def _where(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(error: dict, fields: list[str]) -> str:
    where = _where(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        return (f"Unknown field {where[:60]!r}: the fields are "
                f"{', '.join(fields) if fields else 'none (send {})'}")
    if kind == "missing":
        return f"Missing field {where!r}"
    message = error["msg"].removeprefix("Value error, ")
    return f"{where} {message}" if message.startswith(("must", "is ", "contains")) else f"{where}: {message}"


def parse(model: type[BaseModel], data: object) -> BaseModel:
    """``data`` as ``model``, or ApiError 400 naming the (first) field that is wrong."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = sorted(exc.errors(), key=lambda e: (e["type"] != "extra_forbidden", e["type"] != "missing"))
        raise ApiError(400, _message(errors[0], list(model.model_fields))) from None


def dump(value: BaseModel | list[BaseModel]) -> object:
    """The JSON value of a response model (or a list of them)."""
    if isinstance(value, list):
        return [item.model_dump(mode="json") for item in value]
    return value.model_dump(mode="json")


# --- errors ---------------------------------------------------------------------------------------------

class ErrorDetail(Shape):
    status: Annotated[int, Field(ge=400, le=599)]
    message: str


class Error(Shape):
    """Every error of the API: its HTTP status and a message naming what was wrong."""

    error: ErrorDetail


# --- rounds, PCNs and findings --------------------------------------------------------------------------

class Summary(Shape):
    """Counts for one scope: the system, a place (ICP) or a commissioner (ODS code)."""

    scope: Literal["system", "place", "commissioner"]
    name: str
    practices: Count = Field(description="Open practices in scope.")
    practices_covered: Count = Field(description="Open practices in scope that are in a PCN.")
    patients: Count = Field(description="Registered patients of the open practices in scope.")
    patients_covered: Count
    pcns: Count
    pcns_in_band: Count
    pcns_below: Count
    pcns_above: Count
    errors: Count
    warnings: Count
    infos: Count
    coverage_pct: Annotated[float, Field(ge=0, le=100)]
    patients_covered_pct: Annotated[float, Field(ge=0, le=100)]
    complete: bool = Field(description="Every open practice covered and no errors.")


class RoundSummary(Shape):
    complete: bool
    system: Summary
    places: list[Summary]
    commissioners: list[Summary]


class CodeName(Shape):
    code: str
    name: str


class Band(Shape):
    """The list-size band (both bounds inclusive)."""

    min: Count
    max: Count


class RoundDates(Shape):
    opens: dt.date | None
    submission_deadline: dt.date | None
    committee_date: dt.date | None
    confirmation_date: dt.date | None
    go_live: dt.date | None


class RoundRef(Shape):
    id: Id
    name: str


class Round(Shape):
    """A registration round with the summary of its head configuration."""

    id: Id
    name: str
    system: CodeName
    reference_date: dt.date = Field(description="List sizes on or after this date count.")
    band: Band
    dates: RoundDates
    head_version: Id | None = Field(description="Number of the configuration version in force.")
    summary: RoundSummary


class Subject(Shape):
    type: Literal["pcn", "practice", "round"]
    code: str | None
    name: str
    key: str | None = Field(description="The PCN key where type is pcn.")


class Finding(Shape):
    rule: Literal[tuple(RULES)] = Field(description="; ".join(f"{k}: {v}" for k, v in RULE_TITLES.items()))
    severity: Literal[tuple(SEVERITIES)]
    subject: Subject
    message: str
    figures: dict[str, Any] = Field(description="The rule's figures (free-form, per rule).")


class Member(Shape):
    code: OdsCode
    name: str
    list_size: Count | None = Field(description="The list size that counts for the round.")
    list_size_date: dt.date | None
    commissioner: OdsCode = Field(description="Commissioner ODS code.")
    status: OpenClosed


class Pcn(Shape):
    key: str = Field(pattern=r"^[0-9]+$", description="Stable identifier of the PCN within the round.")
    name: str
    code: str | None = Field(description="PCN ODS code, when known.")
    place: str | None
    lead_commissioner: str | None = Field(description="Commissioner ODS code.")
    members: list[Member]
    member_count: Count
    total: Count = Field(description="Sum of the members' list sizes (missing counts 0).")
    band_status: BandStatus
    findings: list[Finding] = Field(description="Findings about the PCN and its member practices.")


class FindingsReport(Shape):
    round: RoundRef
    summary: RoundSummary
    findings: list[Finding]


def _whole_number(value: object) -> object:
    if isinstance(value, str) and not _WHOLE_NUMBER.fullmatch(value):
        raise ValueError(f"must be a whole number, not {value[:40]!r}")
    return value


def _strip(value: object) -> object:
    return (value.strip() or None) if isinstance(value, str) else value


QueryText = Annotated[Text(MAX_QUERY_LENGTH) | None, BeforeValidator(_strip)]


class FindingsQuery(Query):
    severity: Literal[tuple(SEVERITIES)] | None = Field(
        None, description="Only findings of this severity (unknown: 400).")
    rule: Literal[tuple(RULES)] | None = Field(None, description="Only findings of this rule (unknown: 400).")
    place: QueryText = Field(None, description="Only findings about a PCN or practice of this place (ICP), by name.")


# --- practices ------------------------------------------------------------------------------------------

class ListSize(Shape):
    as_of: dt.date
    size: Count
    source: str


class LocalAuthority(Shape):
    code: GssCode
    name: str


class Practice(Shape):
    code: OdsCode
    name: str
    postcode: str | None
    commissioner: CodeName
    status: OpenClosed
    ods_status_code: str | None = Field(description="A, C, D or P as published.")
    latitude: Annotated[float, Field(ge=-90, le=90)] | None
    longitude: Annotated[float, Field(ge=-180, le=180)] | None
    local_authority: LocalAuthority | None
    list_sizes: list[ListSize] = Field(description="Every recorded list size, oldest first.")


class PracticePage(Shape):
    total: Count = Field(description="Practices matching the filters, on every page.")
    limit: Annotated[int, Field(ge=0, le=MAX_LIMIT)]
    offset: Annotated[int, Field(ge=0, le=MAX_OFFSET)]
    items: list[Practice]


class PracticesQuery(Query):
    commissioner: QueryText = Field(None, description="Only practices of this commissioner (ODS code, e.g. 04K).")
    q: QueryText = Field(None, description="Part of the practice's name or ODS code, any case.")
    limit: Annotated[int, Field(ge=0, le=MAX_LIMIT), BeforeValidator(_whole_number)] = Field(
        DEFAULT_LIMIT, description=f"Practices per page (default {DEFAULT_LIMIT}).")
    offset: Annotated[int, Field(ge=0, le=MAX_OFFSET), BeforeValidator(_whole_number)] = Field(
        0, description="Practices to skip.")


# --- the registration workflow (read) -------------------------------------------------------------------

class Missing(Shape):
    """Something a PCN's registration still lacks."""

    item: Literal["members", "confirmation", "agreement_core", "agreement_schedule1", "payee",
                  "clinical_director", "exception_request"]
    practice: str | None = Field(description="The practice it concerns, if one.")
    message: str


class RegistrationStatus(Shape):
    pcn_id: Id
    name: str
    code: str | None
    lead_commissioner: str | None
    state: Literal[tuple(STATES)]
    deadline_status: Literal["due", "late", "overdue", "none"] = Field(description=(
        "due: not submitted, deadline ahead; overdue: not submitted, deadline passed; late: submitted "
        "after the deadline; none: submitted in time or no deadline."))
    deadline_text: str
    days_left: Count | None
    list_size: Count
    band: BandStatus
    submissions: Count
    last_submitted_at: DateTime | None
    late_override: bool
    missing: list[Missing] = Field(description="What the draft lacks for submission (empty once submitted).")


class Registrations(Shape):
    round: RoundRef
    as_of: DateTime
    pcns: list[RegistrationStatus]


class SubmissionSummary(Shape):
    number: Id
    submitted_at: DateTime
    submitted_by: str
    late: bool
    config_version: Id | None
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


SNAPSHOT_KEYS = ["schema", "round", "pcn", "members", "list_size", "band", "agreement", "payee",
                 "clinical_director", "findings", "exception_requests", "submitted"]


class Submission(SubmissionSummary):
    snapshot: dict[str, Any] = Field(json_schema_extra={"required": SNAPSHOT_KEYS}, description=(
        "The frozen registration: members with list sizes and confirmations, total and band, area (GeoJSON, "
        "EPSG:4326, or null without geodata), Network Agreement signatures (file names and SHA-256), payee, "
        "Clinical Director and deputy, findings and exception requests at that moment, and the configuration "
        "version it was made from."))


class DecisionMeeting(Shape):
    id: Id
    held_on: dt.date
    committee: str


class Condition(Shape):
    text: str
    due_on: dt.date
    met_on: dt.date | None


class Decision(Shape):
    meeting: DecisionMeeting
    pcn_id: Id
    pcn_name: str
    submission: Id
    subject: Literal["registration", "exception"]
    exception_request_id: int | None
    outcome: Literal[tuple(DECISION_OUTCOMES)]
    rationale: str
    decided_by: str
    decided_at: DateTime
    conditions: list[Condition]


class Timetable(Shape):
    nominations_open: DateTime
    nominations_close: DateTime
    voting_open: DateTime
    voting_close: DateTime


class Candidate(Shape):
    id: Id
    name: str
    practice: OdsCode
    status: Literal["nominated", "shortlisted", "not_shortlisted", "withdrawn"]


class Turnout(Shape):
    """How many member practices have voted, never how."""

    voted: Count
    electorate: Count


class Election(Shape):
    """A Clinical Director election run by the LMC. Individual ballots are never served."""

    id: Id
    pcn_id: Id
    pcn_name: str
    state: Literal[tuple(ELECTION_STATES)]
    state_title: str
    method: Literal["plurality", "weighted", "irv"]
    tie_break: Literal["lots", "seed"]
    tie_break_seed: str | None = Field(description="Published before any vote.")
    timetable: Timetable
    candidates: list[Candidate]
    turnout: Turnout
    result: dict[str, Any] | None = Field(description=(
        "The count once voting has closed and the votes are counted: every round's tallies (candidate "
        "ids), eliminations and tie-break decisions, the winner, exhausted ballots and turnout. Null "
        "before: nobody sees a tally earlier."))


# --- the workflow's write operations: bodies and results ------------------------------------------------

WriteCode = Text(MAX_CODE, description="An ODS code of a member practice.")


class ConfirmationRequest(Body):
    practice: Text(MAX_CODE, description="The member practice confirming.")


class SignatureRequest(Body):
    practice: Text(MAX_CODE, description="The member practice that signed.")
    stage: Literal[tuple(STAGES)]
    signed_on: RequestDate
    signatory: Text(MAX_NAME)
    file_name: Text(MAX_SHORT)
    file_base64: FileContent


class PayeeRequest(Body):
    practice: WriteCode
    reference: Text(MAX_SHORT, description="A name for the payment, never bank details.")


class ClinicalDirectorRequest(Body):
    name: Text(MAX_NAME)
    practice: WriteCode
    profession: Text(MAX_SHORT)
    process: Literal[tuple(CD_PROCESSES)]
    details: Text(MAX_TEXT, multiline=True, description="How the Clinical Director was chosen (may be empty).")
    deputy_name: Text(MAX_NAME, description="Empty: no deputy.")
    deputy_practice: Text(MAX_CODE, description="The deputy's member practice (empty: none).")


class ExceptionRequestRequest(Body):
    finding: Text(MAX_SHORT, description="The blocking finding: `<rule>|pcn:<pcn key>` or "
                                         "`<rule>|practice:<ODS code>`.")
    reason: Text(MAX_TEXT, multiline=True)


class Empty(Body):
    """An empty JSON object: {}"""

    model_config = ConfigDict(json_schema_extra={"required": []})


class MeetingRequest(Body):
    committee_id: RequestId
    held_on: RequestDate
    members_present: Annotated[list[Text(MAX_NAME)], Field(min_length=1, max_length=MAX_MEMBERS_PRESENT)]


class CommitteeRef(Shape):
    id: Id
    name: str


class Meeting(Shape):
    id: Id
    round_id: Id
    committee: CommitteeRef
    held_on: dt.date
    members_present: list[str]


class AgendaRequest(Body):
    pcn_id: RequestId


class ConditionRequest(Body):
    text: Text(MAX_TEXT, multiline=True)
    due_on: RequestDate


class DecisionRequest(Body):
    pcn_id: RequestId
    outcome: Literal[tuple(DECISIONS)]
    rationale: Text(MAX_TEXT, multiline=True)
    conditions: Annotated[list[ConditionRequest], Field(max_length=MAX_CONDITIONS)] = Field(
        description="Only with approved_with_conditions (then at least one).")


class CommissionerRef(Shape):
    id: Id
    code: str
    name: str


class CoverageConfirmation(Shape):
    commissioner: CommissionerRef
    confirmed_by: str
    confirmed_at: DateTime


class GoLiveResult(Shape):
    live: list[str] = Field(description="The PCNs that went live now.")
    not_live: list[str] = Field(description="Others, as `<PCN>: <state>`.")


RESPONSES: tuple[type[BaseModel], ...] = (
    Error, Round, RoundSummary, Summary, Pcn, Member, Finding, Subject, FindingsReport, ListSize, Practice,
    PracticePage, Missing, RegistrationStatus, Registrations, SubmissionSummary, Submission, Decision,
    Election, Meeting, CoverageConfirmation, GoLiveResult)
REQUESTS: tuple[type[BaseModel], ...] = (
    ConfirmationRequest, SignatureRequest, PayeeRequest, ClinicalDirectorRequest, ExceptionRequestRequest,
    Empty, MeetingRequest, AgendaRequest, DecisionRequest)
