"""The role matrix: every route of the URL map, asked by every demo role and by nobody.

Every endpoint must have a rule in ``pcnreg.views.guard.ROUTE_RULES``: a new route without one
fails ``test_every_route_has_a_rule`` (and is refused to everybody meanwhile). What each
principal must get is written out below in EXPECTED, a literal table made from the roles' meaning
(README, ``pcnreg.domain.policy.ROLE_ACTIONS``) and NOT read from ROUTE_RULES, so a wrong rule
fails the matrix; a route without a row in EXPECTED fails it too. Each route is requested with
real parameters (the demo round, the Newark PCN, version 1, a real invite token...) with GET and,
where it takes one, POST with an empty form (CSRF is off in the test app).

Hard-coded spot checks follow, and a check that a refused change writes nothing.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from pcnreg.models import Commissioner, ConfigVersion, Membership, Pcn, Place, Practice, RegistrationRound, User
from pcnreg.services import accounts
from pcnreg.services.demo_users import create_demo_users
from pcnreg.views.guard import ROUTE_RULES

WHO = {"author": "Jo Bloggs", "reason": "Agreed at the committee"}

# --- the expected outcomes, written from the roles' meaning (README, pcnreg.domain.policy) -----------
#
# Not read from ROUTE_RULES: each endpoint's row says, for each principal of the matrix, what asking
# for it (GET, and POST where it takes one, with the matrix's parameters) must give:
#   A  allowed: 2xx, 3xx (not to sign-in), or 400 for an empty form
#   N  allowed, but 404: the demo has no such object (no geodata, no job, no count yet)
#   R  refused: 403
#   S  sent to sign in: 302 to /sign-in?next=... (pages), 401 (the API)
# A row is one string for every method, or {"GET": ..., "POST": ...} where they differ.
# The principals, in order (tests/conftest.py's demo users, in the demo round of Nottingham and
# Nottinghamshire; the parameters name Newark, a PCN led by 04H, so the 04K commissioner's scope
# does not reach it, nor the whole round; the practice representative's practice, C84067, is not
# one of Newark's):
PRINCIPALS = ("anonymous", "system_admin", "commissioner_04K", "commissioner_system", "pcn_lead",
              "practice_rep", "returning_officer", "committee_member", "viewer")

PUBLIC = "AAAAAAAAA"            # assets, information, signing in, the ballot and the declaration
SIGNED_IN = "SAAAAAAAA"         # any signed-in user
READ = "SAAAAAAAA"              # reading the round: every role scoped inside Nottinghamshire
INSTANCE = "SARRRRRRR"          # the whole instance: users, onboarding systems, a user's audit trail
SYSTEM_CHANGE = "SARARRRRR"     # the round's or the system's data: commissioners of the whole system
NEWARK_CHANGE = "SARARRRRR"     # Newark's configuration: 04H-led, beyond the 04K commissioner
AUDIT = "SARARRRRR"             # the audit trail of the round or of Newark
MANAGE_ROUND = "SARARRRRR"      # meetings, agendas, late submissions, coverage (04H), go-live
PREPARE_NEWARK = "SARAARRRR"    # Newark's registration: its lead and the commissioners over it
DECIDE = "SARRRRRAR"            # the committee's decisions
ELECTION = "SARRRRARR"          # the LMC's returning officer runs the elections
IMPORT = "SAAARRRRR"            # national files: the commissioners and the administrator
NO_GEODATA = "SNNNNNNNN"        # readable by all, but no geodata in the demo: 404
NO_GEODATA_CHANGE = "SNRNRRRRR"  # a change of Newark's area, no geodata: 404 where allowed

EXPECTED: dict[str, str | dict[str, str]] = {
    "static": PUBLIC, "assets.asset": "NNNNNNNNN", "assets.leaflet": "NNNNNNNNN",
    "main.about": PUBLIC, "main.index": PUBLIC, "committee.pack_css": PUBLIC,
    "auth.sign_in": PUBLIC, "auth.invite": PUBLIC,
    "api.openapi_document": PUBLIC, "api.unknown": "NNNNNNNNN",
    "elections.ballot": PUBLIC, "elections.ballot_link_page": PUBLIC, "elections.result": PUBLIC,
    "elections.public_ballots_csv": PUBLIC,     # anonymised, after the count (the matrix counts its election)
    "auth.sign_out": SIGNED_IN, "auth.password": SIGNED_IN, "api.practices": SIGNED_IN,
    "rounds.index": SIGNED_IN,                  # lists the rounds each user may read
    "api.rounds": INSTANCE,                     # the API's list is every round, unfiltered: a grant over all
    # reading the round
    "rounds.system": READ, "rounds.places": READ, "rounds.settings": READ,
    # the system's configuration on a date and a practice's history: the system's data, read by all
    "rounds.system_configuration": READ, "rounds.practice_history": READ,
    "main.dashboard": READ, "main.practices": READ, "main.findings": READ, "main.pcn": READ,
    "main.versions": READ, "main.compare": READ, "main.configuration_csv": READ, "main.findings_csv": READ,
    "maps.configuration": READ, "maps.pcn": READ,
    "maps.configuration_document": NO_GEODATA, "maps.pcn_document": NO_GEODATA,
    "maps.areas_geojson": NO_GEODATA, "maps.areas_gpkg": NO_GEODATA, "maps.map_png": NO_GEODATA,
    "api.round_detail": READ, "api.round_pcns": READ, "api.round_findings": READ,
    "api.round_registrations": READ, "api.pcn_submissions": READ, "api.pcn_submission": READ,
    "api.round_decisions": READ, "api.round_elections": READ,
    "neighbourhoods.page": READ,
    "neighbourhoods.map_document": NO_GEODATA, "neighbourhoods.catchments_geojson": NO_GEODATA,
    "epcn.workbook_xlsx": READ, "epcn.sheet_csv": READ,
    "registration.page": READ, "registration.submission": READ, "registration.agreement_file": READ,
    "registration.round_status": READ, "registration.chase": READ, "registration.chase_csv": READ,
    "registration.confirmation": READ, "registration.funding": READ,
    "committee.meetings": READ, "committee.meeting": READ, "committee.review": READ, "committee.pack": READ,
    "committee.meeting_map": NO_GEODATA,
    "elections.elections": READ, "elections.election": READ,
    "elections.ballots_csv": READ,              # after the count (the matrix counts its election)
    "elections.letters": "SNRRRRNRR",          # the returning officer's print view: 404 once counted
    # the whole instance
    "onboarding.start": INSTANCE, "onboarding.choose": INSTANCE, "onboarding.job": "SNRRRRRRR",
    "onboarding.job_list": INSTANCE,
    "auth.users": INSTANCE, "auth.new_user": INSTANCE, "auth.user": INSTANCE,
    "audit.user_audit": INSTANCE, "audit.user_audit_csv": INSTANCE,
    # the import page is the commissioners'; a file with no kind or round is about the whole
    # instance (national files): the administrator's
    "imports.upload": {"GET": IMPORT, "POST": INSTANCE},
    # the system's and the round's data
    "rounds.new": SYSTEM_CHANGE, "rounds.save_settings": MANAGE_ROUND,
    "rounds.add_place": SYSTEM_CHANGE, "rounds.place": SYSTEM_CHANGE, "rounds.add_committee": SYSTEM_CHANGE,
    # a commissioner creates PCNs and moves practices within its own area: the empty forms name
    # nothing outside it (an empty new-PCN POST names no lead commissioner: the system's)
    "main.create_pcn": {"GET": "SAAARRRRR", "POST": SYSTEM_CHANGE}, "main.move": "SAAARRRRR",
    "main.restore": SYSTEM_CHANGE,
    "main.merge_pcn": SYSTEM_CHANGE,
    "main.record_exception": NEWARK_CHANGE, "main.rename_pcn": NEWARK_CHANGE, "main.split_pcn": NEWARK_CHANGE,
    "maps.move_block": NO_GEODATA_CHANGE, "maps.upload_area": NO_GEODATA_CHANGE,
    "maps.revert_area": NO_GEODATA_CHANGE, "maps.record_adjacent": NO_GEODATA_CHANGE,
    "neighbourhoods.upload_registrations": SYSTEM_CHANGE, "neighbourhoods.upload_neighbourhoods": SYSTEM_CHANGE,
    "neighbourhoods.settings": SYSTEM_CHANGE, "epcn.import_workbook": SYSTEM_CHANGE,
    # grouping PCNs into neighbourhoods: the round's data, so its form too is for commissioners of the system
    "neighbourhoods.group": SYSTEM_CHANGE, "neighbourhoods.save_group": SYSTEM_CHANGE,
    "audit.round_audit": AUDIT, "audit.round_audit_csv": AUDIT, "audit.pcn_audit": AUDIT,
    "audit.pcn_audit_csv": AUDIT,
    # Newark's registration
    "registration.confirm": PREPARE_NEWARK, "registration.sign": PREPARE_NEWARK,
    "registration.payee": PREPARE_NEWARK, "registration.clinical_director": PREPARE_NEWARK,
    "registration.exception_request": PREPARE_NEWARK, "registration.submit": PREPARE_NEWARK,
    "registration.withdraw": PREPARE_NEWARK, "registration.reopen": PREPARE_NEWARK,
    "api.confirm_member": PREPARE_NEWARK, "api.sign_agreement": PREPARE_NEWARK, "api.set_payee": PREPARE_NEWARK,
    "api.set_clinical_director": PREPARE_NEWARK, "api.request_exception": PREPARE_NEWARK,
    "api.submit": PREPARE_NEWARK, "api.withdraw": PREPARE_NEWARK, "api.reopen": PREPARE_NEWARK,
    # running the round
    "registration.allow_late": MANAGE_ROUND, "registration.confirm_coverage": MANAGE_ROUND,
    "registration.go_live": MANAGE_ROUND,
    "registration.remind": MANAGE_ROUND,        # e-mail the practices the chase list names
    # in-year membership changes: read by all; notices from Newark's side (the empty form names no
    # practice: somewhere in the system); decisions, application, assignment and the ODS change
    # instruction are the commissioners' of the round
    "changes.page": READ, "changes.notice": "SAAAAARRR",
    "changes.decide": MANAGE_ROUND, "changes.apply": MANAGE_ROUND, "changes.assign": "SAAARRRRR",
    "changes.instruction_csv": MANAGE_ROUND,
    "payment.own_account": PREPARE_NEWARK,
    # the yearly cycle: reading it is reading the round; the round's dates are the whole system's
    # commissioners'; a practice opts out (a commissioner or its PCN lead on its behalf); Newark's
    # return is its lead's, reviewed by the commissioners over Newark (04H, not 04K)
    "cycle.page": READ, "cycle.annual_return": READ, "cycle.year_end": READ, "cycle.year_end_csv": READ,
    "cycle.settings": MANAGE_ROUND, "cycle.opt_out": "SAAAAARRR",
    "cycle.withdraw_opt_out": "SAAAAARRR",
    "cycle.add_change": PREPARE_NEWARK, "cycle.submit_return": PREPARE_NEWARK, "cycle.review_return": MANAGE_ROUND,
    "committee.create_meeting": MANAGE_ROUND, "committee.add_to_agenda": MANAGE_ROUND,
    "committee.condition_met": MANAGE_ROUND,
    "api.create_meeting": MANAGE_ROUND, "api.add_to_agenda": MANAGE_ROUND, "api.confirm_coverage": MANAGE_ROUND,
    "api.go_live": MANAGE_ROUND,
    "committee.decide": DECIDE, "committee.decide_exception": DECIDE, "api.decide": DECIDE,
    # the elections
    **{f"elections.{name}": ELECTION for name in (
        "create", "step", "nominate", "withdraw", "assess", "open_voting", "reissue", "count", "declare",
        "declare_unopposed", "agreement", "interim")},
}


@pytest.fixture
def demo(app, db, demo_round):
    """The demo round with its users; names for the matrix's parameters."""
    rows = create_demo_users("http://localhost")
    users = {email: accounts.find_user(email) for email, *_ in rows}
    rnd = db.session.scalar(select(RegistrationRound).order_by(RegistrationRound.id))
    invited = accounts.create_user("invited@nhs.example", "Invited", [], created_by="test")
    token = accounts.invite(invited, created_by="test")
    newark = db.session.scalar(select(Pcn).where(Pcn.name == "Newark", Pcn.round_id == rnd.id))
    admin = users["admin@demo.pcnreg.example"]
    params = {"round_id": rnd.id, "pcn_id": newark.id, "number": 1, "user_id": admin.id, "token": token,
              "filename": "pcnreg.css", "anything": "nothing-here", "system_id": rnd.system_id, "job_id": 1,
              "place_id": db.session.scalar(select(Place.id).where(Place.system_id == rnd.system_id).order_by(Place.id))}
    # -- registration params --
    import datetime as dt  # Newark's registration, submitted in time:
    from zoneinfo import ZoneInfo  # submission 1 and its agreement files

    from pcnreg.services import registration as reg_svc
    app.config["PCNREG_NOW"] = dt.datetime(2019, 5, 10, 12, tzinfo=ZoneInfo("Europe/London"))
    members = sorted(db.session.scalars(select(Practice.code).join(Membership).where(Membership.pcn_id == newark.id)))
    for code in members:
        reg_svc.confirm_member(rnd, newark, code)
        reg_svc.sign_agreement(rnd, newark, code, stage="core", signed_on=dt.date(2019, 5, 2), signatory="Dr A",
                               file_name="agreement.pdf", content=b"%PDF-1.4 signed")
    reg_svc.set_payee(rnd, newark, members[0])
    reg_svc.set_clinical_director(rnd, newark, name="Dr B", practice_code=members[0], profession="GP",
                                  process="agreement")
    reg_svc.submit(rnd, newark)
    app.config.pop("PCNREG_NOW")
    params["file_id"] = next(iter(reg_svc.signatures(rnd, newark).values())).file_id
    params["practice_code"] = members[0]          # a practice of the system (its history page)
    params["commissioner_id"] = db.session.scalar(select(Commissioner.id).where(Commissioner.code == "04H"))
    # -- committee params --
    from test_committee import committee_objects  # a meeting with Newark on its agenda
    params.update(committee_objects(app, rnd, newark))
    # -- election params --
    from test_election_pages import election_objects  # City PCN 3's election, voting, one link unused
    params.update(election_objects(app, rnd))
    # A second system with a round of its own: every rule is checked with two systems loaded.
    import datetime as dt2

    from pcnreg.models import System
    other = System(code="E54000015", name="Leicester, Leicestershire and Rutland", kind="stp")
    db.session.add(other)
    db.session.flush()
    db.session.add(RegistrationRound(name="LLR 2019/20", system_id=other.id, reference_date=dt2.date(2019, 1, 1),
                                     contract_year="2019/20"))
    db.session.commit()
    by_role = {"anonymous": None}
    for email, role, scope, _link in rows:
        key = role if role != "commissioner" else ("commissioner_04K" if "04K" in scope else "commissioner_system")
        by_role[key] = users[email]
    by_role = {who: by_role[who] for who in PRINCIPALS}
    return {"round": rnd, "params": params, "users": by_role, "newark": newark}


def outcome(response) -> str:
    """The response as a letter of the table (A, N, R, S), or what else it was."""
    status = response.status_code
    location = response.headers.get("Location", "")
    if status == 401 or (status == 302 and location.startswith("/sign-in?next=")):
        return "S"
    if status == 403:
        return "R"
    if status == 404:
        return "N"
    if 200 <= status < 400 or status == 400:
        return "A"
    return f"unexpected {status}"


def client_for(app, user):
    return app.test_client(anonymous=True) if user is None else app.test_client(user=user)


def table_counts(db) -> dict[str, int]:
    """Every table's row count but the sign-in attempts' (a refused sign-in records one)."""
    from test_fuzz_forms import fingerprint

    return fingerprint(db)


def test_every_route_has_a_rule(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules()}
    missing = sorted(endpoints - set(ROUTE_RULES))
    assert not missing, f"routes without an access rule in pcnreg.views.guard.ROUTE_RULES: {missing}"


def test_a_route_without_a_rule_is_refused_to_everybody(app, client, anon_client):
    app.add_url_rule("/brand-new", "brand_new", lambda: "secret")
    assert client.get("/brand-new").status_code == 403            # even a system administrator
    assert anon_client.get("/brand-new").status_code == 403
    assert "brand_new" not in ROUTE_RULES


def test_the_table_has_a_row_of_every_principal_for_every_route(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules()}
    missing = sorted(endpoints - set(EXPECTED))
    assert not missing, f"routes without a row in this test's EXPECTED table: {missing}"
    assert not sorted(set(EXPECTED) - endpoints), "rows of EXPECTED for no route"
    rows = [(e, r) for e, row in EXPECTED.items() for r in (row.values() if isinstance(row, dict) else [row])]
    bad = [(e, r) for e, r in rows if len(r) != len(PRINCIPALS) or set(r) - set("ANRS")]
    assert not bad, bad


def test_role_matrix(app, db, demo, capsys):
    """Every route, asked by every principal, answers as the literal table says."""
    params, users = demo["params"], demo["users"]
    assert tuple(users) == PRINCIPALS
    rules = [r for r in app.url_map.iter_rules() if r.endpoint != "static"]
    mismatches, requests, counts = [], 0, {}
    for rule in rules:
        row = EXPECTED.get(rule.endpoint)
        if row is None:
            mismatches.append(f"{rule.endpoint}: no row in EXPECTED")
            continue
        _, path = rule.build({k: params[k] for k in rule.arguments if k in params or k not in (rule.defaults or {})})
        for method in [m for m in ("GET", "POST") if m in rule.methods]:
            for (who, user), want in zip(users.items(), row[method] if isinstance(row, dict) else row):
                before = table_counts(db) if method == "POST" and want in "RS" else None
                response = getattr(client_for(app, user), method.lower())(path, data={} if method == "POST" else None)
                got = outcome(response)
                requests += 1
                counts[got] = counts.get(got, 0) + 1
                if got != want:
                    mismatches.append(f"{rule.endpoint:36} {who:20} {method:4} {path:45} expected {want}, got {got} "
                                      f"({response.status_code} {response.headers.get('Location', '')})")
                if before is not None:
                    db.session.expire_all()
                    assert table_counts(db) == before, f"{who} {method} {path} wrote something"
    with capsys.disabled():
        print(f"\nrole matrix: {len(rules)} routes ({len({r.endpoint for r in rules})} endpoints), "
              f"{len(users)} principals, {requests} requests: {counts}")
    assert not mismatches, "\n".join(mismatches)


# --- spot checks that do not read ROUTE_RULES ----------------------------------------------------------------

def _practice_in_a_04k_pcn(db, rnd):
    """(a 04K practice in a 04K-led PCN, another 04K-led PCN)."""
    ccg = db.session.scalar(select(Commissioner).where(Commissioner.code == "04K"))
    row = db.session.execute(
        select(Practice.code, Pcn.id).join(Membership, Membership.practice_id == Practice.id)
        .join(Pcn, Pcn.id == Membership.pcn_id)
        .where(Membership.round_id == rnd.id, Practice.commissioner_id == ccg.id, Pcn.lead_commissioner_id == ccg.id)
    ).first()
    other = db.session.scalar(select(Pcn.id).where(Pcn.round_id == rnd.id, Pcn.lead_commissioner_id == ccg.id,
                                                   Pcn.id != row[1], Pcn.active.is_(True)))
    return row[0], other


def versions(db) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(ConfigVersion.id)))


def test_spot_checks(app, db, demo):
    rnd, users, newark = demo["round"], demo["users"], demo["newark"]
    rid = rnd.id
    as_ = {who: client_for(app, user) for who, user in users.items()}

    # the other system: refused to every Nottinghamshire role, read by the administrator
    other = db.session.scalar(select(RegistrationRound).where(RegistrationRound.name == "LLR 2019/20"))
    for who in ("commissioner_04K", "commissioner_system", "pcn_lead", "practice_rep", "returning_officer"):
        assert as_[who].get(f"/rounds/{other.id}").status_code == 403, who
        assert as_[who].get(f"/systems/{other.system_id}").status_code == 403, who
        assert as_[who].post(f"/systems/{other.system_id}/places", data={"name": "x"}).status_code == 403, who
    assert as_["system_admin"].get(f"/rounds/{other.id}").status_code == 200

    # reading
    anon = as_["anonymous"]
    response = anon.get(f"/rounds/{rid}")
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in?next=")
    assert anon.get("/about").status_code == 200
    assert anon.get("/api/v1/openapi.json").status_code == 200
    assert anon.get(f"/api/v1/rounds/{rid}").status_code == 401
    for who in ("system_admin", "commissioner_04K", "commissioner_system", "pcn_lead", "practice_rep",
                "returning_officer", "viewer"):
        assert as_[who].get(f"/rounds/{rid}").status_code == 200, who
        assert as_[who].get(f"/api/v1/rounds/{rid}/pcns").status_code == 200, who
    assert as_["committee_member"].get(f"/rounds/{rid}").status_code == 200   # its committee's system
    # users
    assert as_["system_admin"].get("/users").status_code == 200
    for who in ("commissioner_system", "pcn_lead", "viewer"):
        assert as_[who].get("/users").status_code == 403, who
        assert as_[who].post("/users/new", data={"email": "x@nhs.example", "name": "X", "role": "system_admin",
                                                 "scope": "all"}).status_code == 403, who
    assert accounts.find_user("x@nhs.example") is None

    # moving practices
    code, other_04k = _practice_in_a_04k_pcn(db, rnd)
    start = versions(db)
    viewer_move = as_["viewer"].post(f"/rounds/{rid}/move", data={"codes": code, "to": str(other_04k), **WHO})
    assert viewer_move.status_code == 403
    into_newark = as_["commissioner_04K"].post(f"/rounds/{rid}/move",
                                               data={"codes": code, "to": str(newark.id), **WHO})
    assert into_newark.status_code == 403
    assert as_["commissioner_04K"].get(f"/rounds/{rid}/move",
                                       query_string={"codes": code, "to": str(newark.id)}).status_code == 403
    assert versions(db) == start
    within = as_["commissioner_04K"].post(f"/rounds/{rid}/move", data={"codes": code, "to": str(other_04k), **WHO})
    assert within.status_code == 302
    assert versions(db) == start + 1

    # editing the Newark PCN (04H): the whole-system commissioner may, the 04K one may not
    rename = {"name": "Newark Town", **WHO}
    assert as_["commissioner_04K"].post(f"/rounds/{rid}/pcns/{newark.id}/rename", data=rename).status_code == 403
    assert as_["pcn_lead"].post(f"/rounds/{rid}/pcns/{newark.id}/rename", data=rename).status_code == 403
    assert as_["commissioner_system"].post(f"/rounds/{rid}/pcns/{newark.id}/rename", data=rename).status_code == 302
    assert versions(db) == start + 2

    # unknown objects: the view's 404 for who could reach any such object, 403 for the rest
    assert as_["system_admin"].get("/rounds/99999").status_code == 404
    assert as_["viewer"].get("/rounds/99999").status_code == 403
    assert as_["system_admin"].get("/api/v1/rounds/99999999999999999999").status_code == 404
    assert as_["commissioner_system"].post(f"/rounds/{rid}/pcns/99999/rename", data=rename).status_code == 404
    assert as_["commissioner_04K"].post(f"/rounds/{rid}/pcns/99999/rename", data=rename).status_code == 403

    # imports
    assert as_["practice_rep"].get("/import").status_code == 403
    assert as_["commissioner_04K"].get("/import").status_code == 200
    assert as_["system_admin"].get("/import").status_code == 200


def test_refused_changes_write_nothing(app, db, demo):
    """Complete, valid forms, sent by roles that may not: 403 and not a row written. The same
    forms from a system administrator do write (so they would have, had the guard let them)."""
    rnd, newark, users = demo["round"], demo["newark"], demo["users"]
    rid, pid = rnd.id, newark.id
    sherwood = db.session.scalar(select(Pcn.id).where(Pcn.name == "Sherwood", Pcn.round_id == rid))
    members = list(db.session.scalars(select(Practice.code).join(Membership).where(
        Membership.pcn_id == pid, Membership.round_id == rid)))[:2]
    place = db.session.scalar(select(Place.id).where(Place.name == "Mid Nottinghamshire"))
    n04h = db.session.scalar(select(Commissioner.id).where(Commissioner.code == "04H"))
    posts = [
        (f"/rounds/{rid}/pcns/{pid}/exception", {"reason": "Rural", "recorded_by": "CCG board"}),
        (f"/rounds/{rid}/pcns/new", {"name": "Newark North", "place": str(place), "lead_commissioner": str(n04h),
                                     **WHO}),
        (f"/rounds/{rid}/pcns/{pid}/rename", {"name": "Newark Town", **WHO}),
        (f"/rounds/{rid}/pcns/{pid}/split", {"members": members, "new_name": "Newark South", **WHO}),
        (f"/rounds/{rid}/pcns/{pid}/merge", {"others": [str(sherwood)], **WHO}),
        (f"/rounds/{rid}/move", {"codes": "C84067", "to": str(pid), **WHO}),
        ("/users/new", {"email": "new.user@nhs.example", "name": "New User", "role": "viewer", "scope": "all"}),
    ]
    refused_roles = ["anonymous", "commissioner_04K", "pcn_lead", "practice_rep", "returning_officer",
                     "committee_member", "viewer"]
    before = table_counts(db)
    for who in refused_roles:
        for path, data in posts:
            response = client_for(app, users[who]).post(path, data=data)
            assert outcome(response) in ("R", "S"), (who, path, response.status_code)
            db.session.expire_all()
            assert table_counts(db) == before, f"{who} POST {path} wrote something"
    admin = client_for(app, users["system_admin"])
    for path, data in posts:
        response = admin.post(path, data=data)
        assert response.status_code in (200, 302), (path, response.status_code)
    db.session.expire_all()
    after = table_counts(db)
    assert after["config_version"] > before["config_version"]
    assert after["user_account"] == before["user_account"] + 1
    assert db.session.scalar(select(func.count(User.id))) == after["user_account"]
