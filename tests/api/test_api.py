"""The JSON API against its OpenAPI document and against the demo's published facts.

Every documented path and response status is called for real and its JSON validated against
the document's schema (JSON Schema 2020-12, OpenAPI 3.1); every /api/v1 route must be
documented and every documented operation routed.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections import Counter
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlalchemy import select
from workflow_helpers import submitted

from pcnreg.api import UNDOCUMENTED
from pcnreg.services.demo import DEMO_DATA, load_demo
from pcnreg.services.rounds import get_round

SPEC_URI = "urn:pcnreg:openapi"
API = "/api/v1"


# --- fixtures and helpers ---------------------------------------------------------------------

@pytest.fixture
def round_id(app, demo_round) -> int:
    """The demo round, loaded from the published paper only (no geodata)."""
    return get_round().id


@pytest.fixture(params=["paper", "geodata"])
def loaded_round_id(request, app) -> int:
    """The demo round without and with geodata (postcodes, locations, local authorities), so
    the schemas meet both the null and the filled-in values."""
    load_demo(request.getfixturevalue("geodata") if request.param == "geodata" else None)
    return get_round().id


@pytest.fixture
def spec(client) -> dict:
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def schema_validator(spec: dict, pointer: str) -> Draft202012Validator:
    """A validator for the schema at ``pointer`` of the document, its $refs resolved in it."""
    registry = Registry().with_resource(SPEC_URI, Resource(spec, DRAFT202012))
    return Draft202012Validator({"$ref": f"{SPEC_URI}#{pointer}"}, registry=registry,
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def check_response(spec: dict, path: str, response, status: int | None = None, method: str = "get") -> object:
    """Assert the response has a documented status (``status`` if given) and that its JSON
    validates against the document's schema for that path, method and status. Returns the JSON."""
    if status is not None:
        assert response.status_code == status, response.get_data(as_text=True)[:500]
    responses = spec["paths"][path][method]["responses"]
    code = str(response.status_code)
    assert code in responses, f"{path} answered {code}, which is not documented"
    assert response.mimetype == "application/json"
    pointer = "/".join(["", "paths", _escape(path), method, "responses", code, "content",
                        _escape("application/json"), "schema"])
    body = response.get_json()
    errors = sorted(schema_validator(spec, pointer).iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])
    return body


def check_error(spec: dict, response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    body = response.get_json()
    errors = list(schema_validator(spec, "/components/schemas/Error").iter_errors(body))
    assert not errors, errors
    assert body["error"]["status"] == status
    return body


def url(spec_path: str, rid: int, query: str = "", pcn_id: int = 1, number: int = 1) -> str:
    path = spec_path.replace("{round_id}", str(rid)).replace("{pcn_id}", str(pcn_id)).replace("{number}", str(number))
    return API + path + (f"?{query}" if query else "")


def read_csv(name: str) -> list[dict[str, str]]:
    with open(DEMO_DATA / name, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# --- (1) the document -------------------------------------------------------------------------

def test_openapi_document_is_valid(spec):
    validate_spec(spec)
    assert spec["openapi"].startswith("3.1")
    schemas = spec["components"]["schemas"]
    for name in ("Round", "RoundSummary", "Summary", "Pcn", "Member", "Finding", "Subject",
                 "Practice", "ListSize", "Error", "PracticePage"):
        assert name in schemas


def test_schemas_are_strict(spec):
    """Every object schema (bar the free-form figures) lists all its properties as required
    and forbids others, so drift in either direction fails the response checks."""
    found = []

    def walk(node, where):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                found.append(where)
                assert node.get("additionalProperties") is False, where
                assert sorted(node["required"]) == sorted(node["properties"]), where
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    walk(spec["components"]["schemas"], "#/components/schemas")
    assert len(found) >= 11


# --- (2) every documented path and status, validated against real responses -------------------

def cases(rid: int) -> list[tuple[str, str, int]]:
    """(documented path, query string, expected status): together every documented response."""
    return [
        ("/rounds", "", 200),
        ("/rounds/{round_id}", "", 200),
        ("/rounds/{round_id}/pcns", "", 200),
        ("/rounds/{round_id}/findings", "", 200),
        ("/rounds/{round_id}/findings", "severity=warning", 200),
        ("/rounds/{round_id}/findings", "severity=error&rule=coverage", 200),
        ("/rounds/{round_id}/findings", "rule=list_size_band&place=Nottingham+City", 200),
        ("/rounds/{round_id}/findings", "severity=&rule=&place=", 200),
        ("/rounds/{round_id}/registrations", "", 200),
        ("/rounds/{round_id}/pcns/{pcn_id}/submissions", "", 200),
        ("/rounds/{round_id}/pcns/{pcn_id}/submissions/{number}", "", 200),
        ("/rounds/{round_id}/decisions", "", 200),
        ("/rounds/{round_id}/elections", "", 200),
        ("/practices", "", 200),
        ("/practices", "commissioner=04K&limit=5&offset=3", 200),
        ("/practices", "q=surgery", 200),
        ("/practices", "limit=0", 200),
        ("/practices", "offset=100000", 200),
        ("/openapi.json", "", 200),
        ("/rounds/{round_id}", "", 404),
        ("/rounds/{round_id}/pcns", "", 404),
        ("/rounds/{round_id}/findings", "", 404),
        ("/rounds/{round_id}/registrations", "", 404),
        ("/rounds/{round_id}/pcns/{pcn_id}/submissions", "", 404),
        ("/rounds/{round_id}/pcns/{pcn_id}/submissions/{number}", "", 404),
        ("/rounds/{round_id}/decisions", "", 404),
        ("/rounds/{round_id}/elections", "", 404),
        ("/rounds/{round_id}/findings", "severity=bogus", 400),
        ("/rounds/{round_id}/findings", "rule=bogus", 400),
        ("/practices", "limit=abc", 400),
        ("/practices", "offset=-1", 400),
        ("/rounds", "", 401), ("/rounds/{round_id}", "", 401), ("/rounds/{round_id}/pcns", "", 401),
        ("/rounds/{round_id}/findings", "", 401), ("/practices", "", 401),
        ("/rounds", "", 403), ("/rounds/{round_id}", "", 403), ("/rounds/{round_id}/pcns", "", 403),
        ("/rounds/{round_id}/findings", "", 403),
    ] + [(path, "", status) for path in WORKFLOW_PATHS for status in (401, 403)]


WORKFLOW_PATHS = ("/rounds/{round_id}/registrations", "/rounds/{round_id}/pcns/{pcn_id}/submissions",
                  "/rounds/{round_id}/pcns/{pcn_id}/submissions/{number}", "/rounds/{round_id}/decisions",
                  "/rounds/{round_id}/elections")


def decided(app) -> int:
    """Newark submitted and approved at a committee meeting (rows written as the committee's
    service would); returns Newark's id."""
    from pcnreg.extensions import db
    from pcnreg.models import AgendaItem, Committee, Decision, DecisionCondition, Meeting

    rnd, pcn, sub = submitted(app)
    committee = db.session.scalar(select(Committee))
    meeting = Meeting(round_id=rnd.id, committee_id=committee.id, held_on=dt.date(2019, 5, 23),
                      members_present="Chair; GP member", created_by="test")
    db.session.add(meeting)
    db.session.flush()
    db.session.add(AgendaItem(meeting_id=meeting.id, pcn_id=pcn.id, submission_id=sub.id))
    decision = Decision(meeting_id=meeting.id, pcn_id=pcn.id, submission_id=sub.id,
                        subject_key=f"registration:{pcn.id}", outcome="approved_with_conditions",
                        rationale="Meets the requirements", decided_by="chair@nhs.example")
    decision.conditions.append(DecisionCondition(text="Schedule 1 signed", due_on=dt.date(2019, 6, 30)))
    db.session.add(decision)
    db.session.commit()
    from workflow_helpers import uk

    from pcnreg.domain.elections import Timetable
    from pcnreg.services import elections

    elections.create(rnd, pcn, method="irv", tie_break="seed", seed="published", eligibility="A clinician",
                     tt=Timetable(uk(2019, 5, 1, 9), uk(2019, 5, 8, 17), uk(2019, 5, 9, 9), uk(2019, 5, 14, 17)))
    return pcn.id


def outsider_client(app, db):
    """A committee member of a committee of another system: signed in, no role in the round's."""
    from conftest import make_user

    from pcnreg.models import Committee, System

    other = System(code="E54000099", name="Another system")
    db.session.add(other)
    db.session.flush()
    committee = Committee(system_id=other.id, name="Another committee")
    db.session.add(committee)
    db.session.commit()
    return app.test_client(user=make_user("outsider@nhs.example", [("committee_member", "committee", committee.id)]))


def test_every_documented_response_matches_its_schema(app, db, client, anon_client, spec, loaded_round_id):
    exercised = set()
    outsider = outsider_client(app, db)     # a role outside the round's system
    pcn_id = decided(app)
    for path, query, status in cases(loaded_round_id):
        rid = loaded_round_id if status != 404 else 987654
        who = {401: anon_client, 403: outsider}.get(status, client)
        body = check_response(spec, path, who.get(url(path, rid, query, pcn_id)), status)
        if status == 200 and path != "/openapi.json":
            assert body, f"{path}?{query} is empty: the check proves little"
        exercised.add((path, str(status)))
    documented = {(path, code) for path, item in spec["paths"].items() if "get" in item
                  for code in item["get"]["responses"]}
    assert documented == exercised, "documented responses not exercised (or the reverse)"
    # (the POST operations' responses: tests/api/test_api_write.py)


# --- (3) routes and document agree ------------------------------------------------------------

def test_every_api_route_is_documented_and_every_operation_routed(app, spec):
    prefix = spec["servers"][0]["url"]
    assert prefix == API
    routed = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API) or rule.endpoint in UNDOCUMENTED:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule[len(prefix):])
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routed.add((path, method.lower()))
            documented_params = {p["name"] for p in spec["paths"].get(path, {}).get(method.lower(), {})
                                 .get("parameters", []) if p["in"] == "path"}
            assert documented_params == set(rule.arguments), (path, method)
    documented = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert routed == documented


# --- (4) the demo's facts -----------------------------------------------------------------

def test_pcns_of_the_demo_round(client, spec, round_id):
    pcns = check_response(spec, "/rounds/{round_id}/pcns", client.get(url("/rounds/{round_id}/pcns", round_id)), 200)
    assert len(pcns) == 22
    newark = next(p for p in pcns if p["name"] == "Newark")
    assert newark["total"] == 75817
    assert newark["band_status"] == "above"
    assert [f["rule"] for f in newark["findings"]] == ["list_size_band"]
    assert newark["findings"][0]["figures"]["total"] == 75817

    paper_total = sum(int(r["list_size"]) for r in read_csv("notts-pcn-config-2019.csv"))
    assert paper_total == 1_092_110
    assert sum(p["total"] for p in pcns) == paper_total
    assert sum(m["list_size"] for p in pcns for m in p["members"]) == paper_total
    for p in pcns:
        assert p["member_count"] == len(p["members"])
        assert p["total"] == sum(m["list_size"] or 0 for m in p["members"])
        expected = "below" if p["total"] < 30000 else "above" if p["total"] > 50000 else "in_band"
        assert p["band_status"] == expected
        assert bool(p["findings"]) == (expected != "in_band"), p["name"]

    rnd = client.get(url("/rounds/{round_id}", round_id)).get_json()
    assert rnd["summary"]["system"]["pcns"] == 22
    assert rnd["summary"]["system"]["pcns_above"] == sum(p["band_status"] == "above" for p in pcns)
    assert rnd["summary"]["system"]["patients_covered"] == paper_total
    assert rnd["head_version"] == 1
    assert rnd["dates"]["go_live"] == "2019-07-01"
    assert client.get(f"{API}/rounds").get_json() == [rnd]


def test_practices_by_commissioner_match_the_paper(client, spec, round_id):
    """Practice counts per commissioner, computed from the paper and its crosswalk."""
    spec_round = json.loads((DEMO_DATA / "notts-round-2019.json").read_text(encoding="utf-8"))
    ccg_code = {c["paper_name"]: c["code"] for c in spec_round["commissioners"]}
    crosswalk = {(r["ccg"], r["pcn_label"], r["practice_seq"]): r
                 for r in read_csv("notts-practice-crosswalk-2019.csv")}
    expected: dict[str, set[str]] = {code: set() for code in ccg_code.values()}
    for row in read_csv("notts-pcn-config-2019.csv"):
        codes = crosswalk[(row["ccg"], row["pcn_label"], row["practice_seq"])]["ods_codes"]
        if codes:
            expected[ccg_code[row["ccg"]]].add(codes.split(";")[0])
    assert len(expected["04K"]) == 53  # Nottingham City, as computed above
    for code, practices in expected.items():
        page = check_response(spec, "/practices", client.get(f"{API}/practices?commissioner={code}"), 200)
        assert page["total"] == len(practices), code
        assert {p["code"] for p in page["items"]} == practices
        assert {p["commissioner"]["code"] for p in page["items"]} == {code}
    lower = client.get(f"{API}/practices?commissioner=04k").get_json()
    assert lower["total"] == len(expected["04K"])
    assert client.get(f"{API}/practices?commissioner=XXX").get_json()["total"] == 0


def test_practices_paging_and_search(client, spec, round_id):
    everything = client.get(f"{API}/practices").get_json()
    assert everything["total"] == 135 == len(everything["items"])
    assert (everything["limit"], everything["offset"]) == (500, 0)
    codes = [p["code"] for p in everything["items"]]
    assert codes == sorted(codes)
    pages = []
    for offset in range(0, 135, 40):
        page = client.get(f"{API}/practices?limit=40&offset={offset}").get_json()
        assert page["total"] == 135 and (page["limit"], page["offset"]) == (40, offset)
        pages.extend(p["code"] for p in page["items"])
    assert pages == codes
    for p in everything["items"]:
        assert [s["size"] for s in p["list_sizes"]] and p["list_sizes"][0]["as_of"] == "2019-05-09"

    found = client.get(f"{API}/practices?q=c8401").get_json()
    assert found["total"] >= 1
    assert all("c8401" in p["code"].lower() or "c8401" in p["name"].lower() for p in found["items"])
    name = everything["items"][0]["name"]
    by_name = client.get(f"{API}/practices?q={quote(name.upper()[2:9])}").get_json()
    assert everything["items"][0]["code"] in {p["code"] for p in by_name["items"]}
    # LIKE wildcards are literal, not patterns.
    assert client.get(f"{API}/practices?q=%25").get_json()["total"] == 0
    assert client.get(f"{API}/practices?q=_").get_json()["total"] == 0


def test_findings_filters(client, spec, round_id):
    path = "/rounds/{round_id}/findings"
    everything = check_response(spec, path, client.get(url(path, round_id)), 200)
    assert everything["round"]["id"] == round_id
    severities = Counter(f["severity"] for f in everything["findings"])
    assert severities["warning"] == 9  # the nine PCNs above 50,000

    warnings = client.get(url(path, round_id, "severity=warning")).get_json()
    assert warnings["findings"] and {f["severity"] for f in warnings["findings"]} == {"warning"}
    assert len(warnings["findings"]) == severities["warning"]
    assert warnings["summary"] == everything["summary"]
    assert client.get(url(path, round_id, "severity=error")).get_json()["findings"] == [
        f for f in everything["findings"] if f["severity"] == "error"]

    by_rule = client.get(url(path, round_id, "rule=list_size_band")).get_json()["findings"]
    assert by_rule == [f for f in everything["findings"] if f["rule"] == "list_size_band"]

    pcns = {p["key"]: p for p in client.get(url("/rounds/{round_id}/pcns", round_id)).get_json()}
    city = client.get(url(path, round_id, "place=Nottingham+City")).get_json()["findings"]
    assert city and all(pcns[f["subject"]["key"]]["place"] == "Nottingham City" for f in city)
    assert client.get(url(path, round_id, "place=Atlantis")).get_json()["findings"] == []


# --- (5) errors -------------------------------------------------------------------------------

def test_errors_are_json(client, spec, round_id):
    assert "999" in check_error(spec, client.get(f"{API}/rounds/999"), 404)["error"]["message"]
    check_error(spec, client.get(f"{API}/rounds/999/pcns"), 404)
    check_error(spec, client.get(f"{API}/rounds/0/findings"), 404)
    check_error(spec, client.get(f"{API}/rounds/{10**30}"), 404)  # beyond any database integer
    check_error(spec, client.get(f"{API}/rounds/abc"), 404)

    assert "severity" in check_error(
        spec, client.get(f"{API}/rounds/{round_id}/findings?severity=bogus"), 400)["error"]["message"]
    assert "rule" in check_error(
        spec, client.get(f"{API}/rounds/{round_id}/findings?rule=bogus"), 400)["error"]["message"]
    # limit outside 0..5000 is refused, never clamped (as the document says).
    for query in ("limit=abc", "limit=-1", "limit=999999", "limit=1.5", "limit=5_000", "offset=x",
                  "offset=99999999999999999999"):
        name = query.split("=")[0]
        assert name in check_error(spec, client.get(f"{API}/practices?{query}"), 400)["error"]["message"]
    assert client.get(f"{API}/practices?limit=5000").status_code == 200
    check_error(spec, client.get(f"{API}/practices?q=a%00b"), 400)
    check_error(spec, client.get(f"{API}/practices?q={'x' * 201}"), 400)

    for unknown in ("/whatever", "/rounds/1/nothing", "", "/"):
        check_error(spec, client.get(f"{API}{unknown}"), 404)
    response = client.post(f"{API}/rounds")
    check_error(spec, response, 405)
    assert response.headers["Allow"] == "GET"
    check_error(spec, client.delete(f"{API}/rounds/{round_id}"), 405)
    check_error(spec, client.put(f"{API}/nothing/here"), 404)


def test_wrong_methods_get_405_even_with_csrf_on(app, client, spec, round_id):
    """With CSRF protection on (as in production) a POST still gets its JSON 405, not a
    "CSRF token missing" 400: the catch-all only ever answers with an error."""
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post(f"{API}/rounds/{round_id}/findings")
    check_error(spec, response, 405)
    assert response.headers["Allow"] == "GET"
    check_error(spec, client.patch(f"{API}/whatever"), 404)
    assert client.get(f"{API}/rounds").status_code == 200


def test_unknown_pages_outside_the_api_are_not_json(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype != "application/json"


# --- (6) fuzzing ------------------------------------------------------------------------------

PARAM_NAMES = st.sampled_from(["severity", "rule", "place", "commissioner", "q", "limit", "offset", "x"])
PARAM_VALUES = st.one_of(
    st.text(max_size=30),
    st.integers(min_value=-10**12, max_value=10**25).map(str),
    st.sampled_from(["", "error", "warning", "info", "coverage", "list_size_band", "04K", "Newark",
                     "Nottingham City", "%", "_", "\\", "'", "\x00", "5000", "5001", "0"]),
)
QUERIES = st.dictionaries(PARAM_NAMES, PARAM_VALUES, max_size=4)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=QUERIES, which=st.sampled_from(["/practices", "/rounds/{round_id}/findings"]))
def test_query_parameters_never_break_the_api(client, spec, round_id, query, which):
    response = client.get(url(which, round_id), query_string=query)
    assert response.status_code < 500
    check_response(spec, which, response)
