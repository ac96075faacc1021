"""The JSON API's write operations (pcnreg/api/write.py, its bodies in pcnreg/api/schemas.py): the 2019
Nottinghamshire demo's Newark and Sherwood walked from draft to live through the API alone,
each step by the role that takes it, the read endpoints showing every state; and the
refusals: not JSON (415), malformed (400), not signed in (401), no role (403), unknown objects
(404) and steps the workflow refuses (409), none of which writes anything. Every documented
response of every POST operation is exercised and validated against the OpenAPI document.
"""
from __future__ import annotations

import base64

import pytest
from sqlalchemy import func, select
from test_api import check_response
from workflow_helpers import PDF, uk

from pcnreg.models import Commissioner, Committee, Pcn
from pcnreg.services.rounds import get_round

API = "/api/v1"
PCN = "/rounds/{round_id}/pcns/{pcn_id}/registration"
SUBMIT_DAY = uk(2019, 5, 10, 12, 0)
MEETING_DAY = uk(2019, 5, 23, 14, 0)
CONFIRM_DAY = uk(2019, 5, 31, 10, 0)
GO_LIVE = uk(2019, 7, 1, 0, 0)


# --- fixtures and helpers ---------------------------------------------------------------------

@pytest.fixture
def demo(app, db, demo_round):
    app.config["PCNREG_NOW"] = SUBMIT_DAY
    rnd = get_round()
    pcns = {name: db.session.scalar(select(Pcn).where(Pcn.round_id == rnd.id, Pcn.name == name))
            for name in ("Newark", "Sherwood")}
    return {"round_id": rnd.id, "pcns": pcns,
            "committee_id": db.session.scalar(select(Committee.id)),
            "ccg_id": db.session.scalar(select(Commissioner.id).where(Commissioner.code == "04H"))}


@pytest.fixture
def spec(client) -> dict:
    return client.get(f"{API}/openapi.json").get_json()


def table_counts(db) -> dict[str, int]:
    db.session.expire_all()
    return {t.name: db.session.scalar(select(func.count()).select_from(t))
            for t in db.metadata.sorted_tables if t.name != "sign_in_attempt"}


def url(path: str, **ids) -> str:
    for name, value in ids.items():
        path = path.replace("{" + name + "}", str(value))
    return API + path


class Api:
    """Posts to documented paths and validates each answer against the document; remembers
    which (path, status) were seen."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.seen: set[tuple[str, str]] = set()

    def post(self, who, path: str, body=None, status: int = 200, **ids):
        response = who.post(url(path, **ids), json={} if body is None else body)
        return self.check(path, response, status)

    def check(self, path: str, response, status: int):
        self.seen.add((path, str(status)))
        return check_response(self.spec, path, response, status, method="post")


def pcn_json(client, rid: int, name: str) -> dict:
    return next(p for p in client.get(url("/rounds/{round_id}/pcns", round_id=rid)).get_json() if p["name"] == name)


def registration_of(client, rid: int, pcn_id: int) -> dict:
    body = client.get(url("/rounds/{round_id}/registrations", round_id=rid)).get_json()
    return next(p for p in body["pcns"] if p["pcn_id"] == pcn_id)


def finding_key(finding: dict) -> str:
    """The key an exception request names a finding by, from the API's finding."""
    subject = finding["subject"]
    ref = f"pcn:{subject['key']}" if subject["type"] == "pcn" else f"{subject['type']}:{subject['code']}"
    return f"{finding['rule']}|{ref}"


def complete_draft(api: Api, who, rid: int, pcn_id: int, pcn: dict) -> None:
    """Everything a draft needs, through the API: confirmations, core signatures, payee, CD,
    exception requests for the blocking errors."""
    ids = {"round_id": rid, "pcn_id": pcn_id}
    members = [m["code"] for m in pcn["members"]]
    for code in members:
        api.post(who, f"{PCN}/confirmations", {"practice": code}, **ids)
        api.post(who, f"{PCN}/signatures", {
            "practice": code, "stage": "core", "signed_on": "2019-05-01", "signatory": f"Partner of {code}",
            "file_name": f"agreement-{code}.pdf",
            "file_base64": base64.b64encode(PDF + code.encode()).decode("ascii")}, **ids)
    api.post(who, f"{PCN}/payee", {"practice": members[0].lower(), "reference": "PCN finance lead"}, **ids)
    status = api.post(who, f"{PCN}/clinical-director", {
        "name": "Dr Alex Example", "practice": members[0], "profession": "GP", "process": "agreement",
        "details": "Agreed at the PCN meeting\non 1 May", "deputy_name": "", "deputy_practice": ""}, **ids)
    for finding in pcn["findings"]:
        if finding["severity"] == "error":
            status = api.post(who, f"{PCN}/exception-requests",
                              {"finding": finding_key(finding), "reason": "Rural area: agreed with the CCG"}, **ids)
    assert status["missing"] == [] and status["state"] == "draft"


# --- the walk ---------------------------------------------------------------------------------

def test_newark_and_sherwood_from_draft_to_live_through_the_api(app, db, client, demo, client_as, spec):
    api = Api(spec)
    rid, newark, sherwood = demo["round_id"], demo["pcns"]["Newark"], demo["pcns"]["Sherwood"]
    lead = client_as("pcn_lead", f"pcn:{newark.id}")
    ccg = client_as("commissioner", "commissioner:04H")             # Newark and Sherwood's CCG
    system = client_as("commissioner", "system:E54000014")          # meetings, agendas, go-live
    member = client_as("committee_member", f"committee:{demo['committee_id']}")

    # 10 May: the drafts, Newark's by its PCN lead, Sherwood's by the commissioner.
    before = registration_of(lead, rid, newark.id)
    assert before["state"] == "draft" and before["deadline_status"] == "due"
    assert {m["item"] for m in before["missing"]} >= {"confirmation", "agreement_core", "payee", "clinical_director"}
    complete_draft(api, lead, rid, newark.id, pcn_json(lead, rid, "Newark"))
    complete_draft(api, ccg, rid, sherwood.id, pcn_json(ccg, rid, "Sherwood"))
    assert registration_of(lead, rid, newark.id)["missing"] == []
    assert lead.post(url(f"{PCN}/payee", round_id=rid, pcn_id=sherwood.id),
                     json={"practice": "C84009", "reference": ""}).status_code == 403   # not the lead's PCN

    for who, pcn in ((lead, newark), (ccg, sherwood)):
        status = api.post(who, f"{PCN}/submit", round_id=rid, pcn_id=pcn.id)
        assert status["state"] == "submitted" and status["submissions"] == 1
        assert status["deadline_status"] == "none" and status["last_submitted_at"] == "2019-05-10T11:00:00+00:00"   # 12:00 BST
    # withdraw and submit again: submission 2 is the one reviewed
    assert api.post(lead, f"{PCN}/withdraw", round_id=rid, pcn_id=newark.id)["state"] == "draft"
    assert api.post(lead, f"{PCN}/submit", round_id=rid, pcn_id=newark.id)["submissions"] == 2
    subs = lead.get(url("/rounds/{round_id}/pcns/{pcn_id}/submissions", round_id=rid, pcn_id=newark.id)).get_json()
    assert [s["number"] for s in subs] == [2, 1]
    snapshot = lead.get(url("/rounds/{round_id}/pcns/{pcn_id}/submissions/2", round_id=rid, pcn_id=newark.id))
    snap = snapshot.get_json()["snapshot"]
    assert snap["payee"]["practice"] == snap["members"][0]["code"]
    assert snap["clinical_director"]["name"] == "Dr Alex Example"
    assert all(m["confirmed_by"] == lead.user.email for m in snap["members"])

    # 23 May: the committee meets; the commissioner sets the agenda, the committee decides.
    app.config["PCNREG_NOW"] = MEETING_DAY
    body = {"committee_id": demo["committee_id"], "held_on": "2019-05-23",
            "members_present": ["Chair (lay member)", "GP member", "Director of Primary Care"]}
    assert ccg.post(url("/rounds/{round_id}/meetings", round_id=rid), json=body).status_code == 403  # one CCG's
    meeting = api.post(system, "/rounds/{round_id}/meetings", body, 201, round_id=rid)
    assert meeting["members_present"][0] == "Chair (lay member)" and meeting["held_on"] == "2019-05-23"
    ids = {"round_id": rid, "meeting_id": meeting["id"]}
    assert lead.post(url("/rounds/{round_id}/meetings/{meeting_id}/agenda", **ids),
                     json={"pcn_id": newark.id}).status_code == 403           # a PCN lead sets no agenda
    for pcn in (newark, sherwood):
        assert api.post(system, "/rounds/{round_id}/meetings/{meeting_id}/agenda", {"pcn_id": pcn.id},
                        **ids)["state"] == "under_review"
    decision = {"pcn_id": newark.id, "outcome": "approved_with_conditions", "rationale": "Meets the requirements",
                "conditions": [{"text": "Schedule 1 signed by every member", "due_on": "2019-06-30"}]}
    assert system.post(url("/rounds/{round_id}/meetings/{meeting_id}/decisions", **ids),
                    json=decision).status_code == 403                        # a commissioner does not decide
    assert api.post(member, "/rounds/{round_id}/meetings/{meeting_id}/decisions", decision,
                    **ids)["state"] == "approved_with_conditions"
    assert api.post(member, "/rounds/{round_id}/meetings/{meeting_id}/decisions",
                    {"pcn_id": sherwood.id, "outcome": "approved", "rationale": "Meets the requirements",
                     "conditions": []}, **ids)["state"] == "approved"
    decisions = member.get(url("/rounds/{round_id}/decisions", round_id=rid)).get_json()
    assert [(d["pcn_name"], d["outcome"], d["submission"]) for d in decisions] == [
        ("Newark", "approved_with_conditions", 2), ("Sherwood", "approved", 1)]
    assert decisions[0]["conditions"] == [{"text": "Schedule 1 signed by every member", "due_on": "2019-06-30",
                                           "met_on": None}]
    assert decisions[0]["decided_by"] == member.user.email

    # 31 May: the commissioner confirms coverage; 1 July 00:00 UK: go-live.
    app.config["PCNREG_NOW"] = CONFIRM_DAY
    confirmed = api.post(ccg, "/rounds/{round_id}/confirmations/{commissioner_id}",
                         round_id=rid, commissioner_id=demo["ccg_id"])
    assert confirmed["commissioner"]["code"] == "04H" and confirmed["confirmed_by"] == ccg.user.email
    assert {registration_of(ccg, rid, p.id)["state"] for p in (newark, sherwood)} == {"confirmed"}

    app.config["PCNREG_NOW"] = uk(2019, 6, 30, 23, 59, 59)
    counts = table_counts(db)
    refused = api.post(system, "/rounds/{round_id}/go-live", status=409, round_id=rid)
    assert "not before" in refused["error"]["message"] and table_counts(db) == counts
    app.config["PCNREG_NOW"] = GO_LIVE
    assert ccg.post(url("/rounds/{round_id}/go-live", round_id=rid), json={}).status_code == 403
    result = api.post(system, "/rounds/{round_id}/go-live", round_id=rid)
    assert result["live"] == ["Newark", "Sherwood"] and len(result["not_live"]) == 20
    states = {p["name"]: p["state"] for p in ccg.get(url("/rounds/{round_id}/registrations", round_id=rid))
              .get_json()["pcns"]}
    assert states["Newark"] == states["Sherwood"] == "live"
    assert sum(s == "draft" for s in states.values()) == 20

    # every POST operation's success response was met on the way (but two: the next test's)
    assert successes(spec) - set(DEFERRED_WALK) <= api.seen, successes(spec) - api.seen


def successes(spec: dict) -> set[tuple[str, str]]:
    return {(path, code) for path, item in spec["paths"].items() if "post" in item
            for code in item["post"]["responses"] if code.startswith("2")}


DEFERRED_WALK = [(f"{PCN}/exception-requests", "200"), (f"{PCN}/reopen", "200")]


def test_a_below_band_pcn_asks_for_an_exception_is_deferred_and_starts_again(app, client_as, demo, spec):
    """A PCN below the band (a blocking error) asks for an exception, is deferred by the
    committee and starts a new draft: the operations the Newark and Sherwood walk does not need."""
    api = Api(spec)
    rid = demo["round_id"]
    system = client_as("commissioner", "system:E54000014")
    member = client_as("committee_member", f"committee:{demo['committee_id']}")
    from test_committee import below_band  # the demo has none: Nottingham City PCN 8 made so

    pcn_id = below_band(get_round(rid)).id
    low = next(p for p in system.get(url("/rounds/{round_id}/pcns", round_id=rid)).get_json()
               if p["key"] == str(pcn_id))
    assert [f["rule"] for f in low["findings"] if f["severity"] == "error"]
    assert any(m["item"] == "exception_request" for m in registration_of(system, rid, pcn_id)["missing"])
    complete_draft(api, system, rid, pcn_id, low)
    api.post(system, f"{PCN}/submit", round_id=rid, pcn_id=pcn_id)
    app.config["PCNREG_NOW"] = MEETING_DAY
    meeting = api.post(system, "/rounds/{round_id}/meetings", {
        "committee_id": demo["committee_id"], "held_on": "2019-05-23", "members_present": ["Chair"]}, 201,
        round_id=rid)
    ids = {"round_id": rid, "meeting_id": meeting["id"]}
    api.post(system, "/rounds/{round_id}/meetings/{meeting_id}/agenda", {"pcn_id": pcn_id}, **ids)
    deferred = api.post(member, "/rounds/{round_id}/meetings/{meeting_id}/decisions", {
        "pcn_id": pcn_id, "outcome": "deferred", "rationale": "Bring a merger plan", "conditions": []}, **ids)
    assert deferred["state"] == "deferred"
    assert api.post(system, f"{PCN}/reopen", round_id=rid, pcn_id=pcn_id)["state"] == "draft"
    assert set(DEFERRED_WALK) <= api.seen


# --- refusals -----------------------------------------------------------------------------------

def valid_bodies(demo) -> dict[str, dict]:
    """A well-formed body for every POST operation (the demo's Newark, 04H, its committee)."""
    code = "C84009"
    return {
        f"{PCN}/confirmations": {"practice": code},
        f"{PCN}/signatures": {"practice": code, "stage": "core", "signed_on": "2019-05-01", "signatory": "Dr A",
                              "file_name": "a.pdf", "file_base64": base64.b64encode(PDF).decode("ascii")},
        f"{PCN}/payee": {"practice": code, "reference": ""},
        f"{PCN}/clinical-director": {"name": "Dr A", "practice": code, "profession": "GP", "process": "agreement",
                                     "details": "", "deputy_name": "", "deputy_practice": ""},
        f"{PCN}/exception-requests": {"finding": "list_size_band|pcn:1", "reason": "Rural"},
        f"{PCN}/submit": {}, f"{PCN}/withdraw": {}, f"{PCN}/reopen": {},
        "/rounds/{round_id}/meetings": {"committee_id": demo["committee_id"], "held_on": "2019-05-23",
                                        "members_present": ["Chair"]},
        "/rounds/{round_id}/meetings/{meeting_id}/agenda": {"pcn_id": demo["pcns"]["Newark"].id},
        "/rounds/{round_id}/meetings/{meeting_id}/decisions": {"pcn_id": demo["pcns"]["Newark"].id,
                                                               "outcome": "approved", "rationale": "Fine",
                                                               "conditions": []},
        "/rounds/{round_id}/confirmations/{commissioner_id}": {},
        "/rounds/{round_id}/go-live": {},
    }


def refused_bodies(demo, bodies: dict[str, dict]) -> dict[str, dict]:
    """Bodies the workflow refuses (409) at the start: Newark is a draft, nothing is approved."""
    return {**bodies,
            f"{PCN}/confirmations": {"practice": "Y99999"},                     # not a member
            f"{PCN}/signatures": {**bodies[f"{PCN}/signatures"],
                                  "file_base64": base64.b64encode(b"plain text").decode("ascii")},
            f"{PCN}/payee": {"practice": "Y99999", "reference": ""},
            f"{PCN}/clinical-director": {**bodies[f"{PCN}/clinical-director"], "practice": "Y99999"},
            f"{PCN}/exception-requests": {"finding": "no|such", "reason": "Rural"},
            "/rounds/{round_id}/meetings": {**bodies["/rounds/{round_id}/meetings"], "committee_id": 987654}}


def test_every_refusal_is_documented_json_and_writes_nothing(app, db, client, anon_client, client_as, demo, spec):
    api = Api(spec)
    rid, newark = demo["round_id"], demo["pcns"]["Newark"]
    member = next(m for m in pcn_json(client, rid, "Newark")["members"])["code"]
    bodies = valid_bodies(demo)
    bodies[f"{PCN}/confirmations"]["practice"] = member
    meeting = api.post(client, "/rounds/{round_id}/meetings", bodies["/rounds/{round_id}/meetings"], 201,
                       round_id=rid)
    ids = {"round_id": rid, "pcn_id": newark.id, "meeting_id": meeting["id"], "commissioner_id": demo["ccg_id"]}
    viewer = client_as("viewer", "system:E54000014")
    refusing = refused_bodies(demo, bodies)
    counts = table_counts(db)
    posts = [path for path, item in spec["paths"].items() if "post" in item]
    assert len(posts) == 13
    for path in posts:
        body = bodies[path]
        where = url(path, **ids)
        api.check(path, anon_client.post(where, json=body), 401)
        api.check(path, viewer.post(where, json=body), 403)
        api.check(path, client.post(url(path, **{**ids, "round_id": 987654}), json=body), 404)
        form = client.post(where, data={k: str(v) for k, v in body.items()} or {"confirm": "yes"})
        assert "application/json" in api.check(path, form, 415)["error"]["message"]
        api.check(path, client.post(where, data="{", content_type="application/json"), 400)
        reasons = api.check(path, client.post(where, json=refusing[path]), 409)["error"]["message"]
        assert reasons.startswith("Refused: ") and len(reasons) > 20, (path, reasons)
        assert table_counts(db) == counts, f"a refused POST {path} wrote something"

    # the request size limit: 413, as JSON
    app.config["MAX_CONTENT_LENGTH"] = 1000
    big = {**bodies[f"{PCN}/signatures"], "file_base64": base64.b64encode(PDF + b"x" * 2000).decode("ascii")}
    api.check(f"{PCN}/signatures", client.post(url(f"{PCN}/signatures", **ids), json=big), 413)
    assert table_counts(db) == counts

    documented = {(path, code) for path, item in spec["paths"].items() if "post" in item
                  for code in item["post"]["responses"] if not code.startswith("2")}
    assert documented == api.seen - {("/rounds/{round_id}/meetings", "201")}


def test_unknown_objects_in_the_url_are_404(client, demo, spec):
    api = Api(spec)
    rid = demo["round_id"]
    bodies = valid_bodies(demo)
    ids = {"round_id": rid, "pcn_id": 987654, "meeting_id": 987654, "commissioner_id": 987654}
    for path in (f"{PCN}/submit", "/rounds/{round_id}/meetings/{meeting_id}/agenda",
                 "/rounds/{round_id}/meetings/{meeting_id}/decisions",
                 "/rounds/{round_id}/confirmations/{commissioner_id}"):
        assert "987654" in api.post(client, path, bodies[path], 404, **ids)["error"]["message"]
    # a PCN in the body that is not the round's: 400 naming the field
    meeting = api.post(client, "/rounds/{round_id}/meetings", bodies["/rounds/{round_id}/meetings"], 201,
                       round_id=rid)
    message = api.post(client, "/rounds/{round_id}/meetings/{meeting_id}/agenda", {"pcn_id": 987654}, 400,
                       round_id=rid, meeting_id=meeting["id"])["error"]["message"]
    assert message.startswith("pcn_id")


@pytest.mark.parametrize("body, field", [
    ({"practice": "C84009", "extra": 1}, "extra"),
    ({}, "practice"),
    ({"practice": 84009}, "practice"),
    ({"practice": None}, "practice"),
    ({"practice": "C84\x00009"}, "practice"),
    ({"practice": "\ud800"}, "practice"),
    ({"practice": "C" * 11}, "practice"),
])
def test_malformed_bodies_are_400_naming_the_field(db, client, demo, spec, body, field):
    api = Api(spec)
    ids = {"round_id": demo["round_id"], "pcn_id": demo["pcns"]["Newark"].id}
    counts = table_counts(db)
    response = client.post(url(f"{PCN}/confirmations", **ids), json=body)
    assert field in api.check(f"{PCN}/confirmations", response, 400)["error"]["message"]
    assert table_counts(db) == counts


def test_malformed_values_of_each_kind(db, client, demo, spec):
    api = Api(spec)
    rid, pid = demo["round_id"], demo["pcns"]["Newark"].id
    sign = valid_bodies(demo)[f"{PCN}/signatures"]
    cases = [
        (f"{PCN}/signatures", {**sign, "file_base64": "not base64!"}, "file_base64"),
        (f"{PCN}/signatures", {**sign, "file_base64": "JVBERi0=\n"}, "file_base64"),
        (f"{PCN}/signatures", {**sign, "signed_on": "1 May 2019"}, "signed_on"),
        (f"{PCN}/signatures", {**sign, "signed_on": "2019-02-30"}, "signed_on"),
        (f"{PCN}/signatures", {**sign, "stage": "schedule2"}, "stage"),
        (f"{PCN}/signatures", {**sign, "file_base64": "A" * (14 * 1024 * 1024)}, "file_base64"),
        (f"{PCN}/submit", {"confirm": True}, "confirm"),
        (f"{PCN}/submit", [], "JSON object"),
        ("/rounds/{round_id}/meetings", {"committee_id": True, "held_on": "2019-05-23", "members_present": ["A"]},
         "committee_id"),
        ("/rounds/{round_id}/meetings", {"committee_id": 1, "held_on": "2019-05-23", "members_present": "A"},
         "members_present"),
        ("/rounds/{round_id}/meetings", {"committee_id": 1, "held_on": "2019-05-23", "members_present": ["A\nB"]},
         "members_present[0]"),
        ("/rounds/{round_id}/meetings/{meeting_id}/decisions",
         {"pcn_id": pid, "outcome": "approved", "rationale": "x", "conditions": [{"text": "x"}]}, "conditions[0]"),
        ("/rounds/{round_id}/meetings/{meeting_id}/decisions",
         {"pcn_id": pid, "outcome": "maybe", "rationale": "x", "conditions": []}, "outcome"),
        ("/rounds/{round_id}/meetings/{meeting_id}/decisions",
         {"pcn_id": 2 ** 40, "outcome": "approved", "rationale": "x", "conditions": []}, "pcn_id"),
    ]
    counts = table_counts(db)
    for path, body, field in cases:
        response = client.post(url(path, round_id=rid, pcn_id=pid, meeting_id=1), json=body)
        assert field in api.check(path, response, 400)["error"]["message"], (path, body)
    for raw in (b"NaN", b"[" * 100000, b'{"practice": 1e999999}', b"\xff\xfe", b'{"a": 1}garbage'):
        response = client.post(url(f"{PCN}/confirmations", round_id=rid, pcn_id=pid), data=raw,
                               content_type="application/json")
        api.check(f"{PCN}/confirmations", response, 400)
    # no body and no content type at all: 400 (a body is required); any other type: 415
    response = client.post(url(f"{PCN}/submit", round_id=rid, pcn_id=pid))
    assert "Content-Type: application/json" in api.check(f"{PCN}/submit", response, 400)["error"]["message"]
    for content_type in ("text/plain", "multipart/form-data; boundary=x", "application/json-patch+json"):
        response = client.post(url(f"{PCN}/submit", round_id=rid, pcn_id=pid), data="{}", content_type=content_type)
        api.check(f"{PCN}/submit", response, 415)
    assert table_counts(db) == counts


def test_a_step_the_workflow_refuses_is_409_with_its_reasons(db, client_as, demo, spec):
    api = Api(spec)
    rid, newark = demo["round_id"], demo["pcns"]["Newark"]
    lead = client_as("pcn_lead", f"pcn:{newark.id}")
    counts = table_counts(db)
    message = api.post(lead, f"{PCN}/submit", status=409, round_id=rid, pcn_id=newark.id)["error"]["message"]
    assert "confirm" in message.lower() and "payee" in message.lower()      # what the draft lacks
    message = api.post(lead, f"{PCN}/withdraw", status=409, round_id=rid, pcn_id=newark.id)["error"]["message"]
    assert message.startswith("Refused: ")
    assert table_counts(db) == counts
    assert registration_of(lead, rid, newark.id)["state"] == "draft"


def test_json_posts_need_no_csrf_token_but_forms_are_still_refused(app, db, client, demo, spec):
    """With CSRF protection on (as in production), a JSON POST is served (the API's views are
    exempt: the content type is the defence) and a form POST is a 415, not a CSRF error."""
    app.config["WTF_CSRF_ENABLED"] = True
    api = Api(spec)
    rid, newark = demo["round_id"], demo["pcns"]["Newark"]
    code = pcn_json(client, rid, "Newark")["members"][0]["code"]
    ids = {"round_id": rid, "pcn_id": newark.id}
    counts = table_counts(db)
    api.check(f"{PCN}/confirmations", client.post(url(f"{PCN}/confirmations", **ids), data={"practice": code}), 415)
    assert table_counts(db) == counts
    api.post(client, f"{PCN}/confirmations", {"practice": code}, **ids)
    assert table_counts(db)["member_confirmation"] == counts["member_confirmation"] + 1
    # the pages keep their token
    assert client.post(f"/rounds/{rid}/pcns/{newark.id}/registration/confirm",
                       data={"practice": code}).status_code == 400


def test_a_practice_representative_confirms_only_their_own_practice(db, client_as, demo):
    from pcnreg.models import MemberConfirmation
    from pcnreg.services import rounds as rounds_svc

    rnd = rounds_svc.get_round(None)
    newark = rounds_svc.get_pcn(rnd, "Newark")
    own, other = rounds_svc.build_configuration(rnd).pcn_data(str(newark.id)).members[:2]
    rep = client_as("practice_rep", f"practice:{own}")
    path = f"/api/v1/rounds/{rnd.id}/pcns/{newark.id}/registration/confirmations"
    assert rep.post(path, json={"practice": other}).status_code == 403
    assert rep.post(path, json={"practice": own}).status_code == 200
    db.session.expire_all()
    assert [c.practice_code for c in db.session.scalars(select(MemberConfirmation))] == [own]
