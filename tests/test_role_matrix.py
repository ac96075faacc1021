"""The role matrix: every route of the URL map, asked by every demo role and by nobody.

Every endpoint must have a rule in ``pcnreg.views.guard.ROUTE_RULES``: a new route without one
fails ``test_every_route_has_a_rule`` (and is refused to everybody meanwhile). Each route is
requested with real parameters (the demo round, the Newark PCN, version 1, a real invite
token...) with GET and, where it takes one, POST with an empty form (CSRF is off in the test
app): the response must fall in the class the policy predicts, computed from the route's rule
and ``policy``:

- allowed: 2xx or 3xx (not to the sign-in page), or 400 for an invalid form (404 only where
  the demo has no geodata, or for an asset that is not installed);
- refused: 403;
- sent to sign-in: 302 to /sign-in?next=... for pages, 401 for /api/.

Hard-coded spot checks follow, which do not read ROUTE_RULES, and a check that a refused
change writes nothing.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select
from werkzeug.exceptions import HTTPException

from pcnreg.extensions import db as _db
from pcnreg.models import Commissioner, ConfigVersion, Membership, Pcn, Place, Practice, RegistrationRound, User
from pcnreg.services import accounts
from pcnreg.services.demo import load_demo
from pcnreg.services.demo_users import create_demo_users
from pcnreg.views.guard import ROUTE_RULES

WHO = {"author": "Jo Bloggs", "reason": "Agreed at the committee"}

# Endpoints that answer 404 when allowed, in this matrix: no geodata in the demo (maps and area
# changes), no front-end assets in a bare checkout, the API's catch-all.
MAY_BE_404 = {"maps.configuration_document", "maps.pcn_document", "maps.areas_geojson", "maps.areas_gpkg",
              "maps.map_png", "maps.move_block", "maps.upload_area", "maps.revert_area", "maps.record_adjacent",
              "assets.asset", "assets.leaflet", "api.unknown", "static",
              "api.pcn_submission", "onboarding.job",  # no job in the demo; Newark's submission 1, unless the fixture has submitted it
              "neighbourhoods.map_document", "neighbourhoods.catchments_geojson"}   # no geodata / no LSOA file


@pytest.fixture
def demo(app, db):
    """The demo round with its users; names for the matrix's parameters."""
    load_demo(None)
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
    import datetime as dt                                   # Newark's registration, submitted in time:
    from zoneinfo import ZoneInfo                           # submission 1 and its agreement files

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
    params["commissioner_id"] = db.session.scalar(select(Commissioner.id).where(Commissioner.code == "04H"))
    # -- committee params --
    from test_committee import committee_objects          # a meeting with Newark on its agenda
    params.update(committee_objects(app, rnd, newark))
    MAY_BE_404.add("committee.meeting_map")               # a map document: 404 without geodata
    # -- election params --
    from test_election_pages import election_objects      # City PCN 3's election, voting, one link unused
    params.update(election_objects(app, rnd))
    MAY_BE_404.update({"elections.ballots_csv", "elections.public_ballots_csv",   # after the count only
                       "elections.letters"})                                    # while voting is open only
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
    return {"round": rnd, "params": params, "users": by_role, "newark": newark}


def outcome(response) -> str:
    status = response.status_code
    location = response.headers.get("Location", "")
    if status == 401 or (status == 302 and location.startswith("/sign-in?next=")):
        return "sign_in"
    if status == 403:
        return "refused"
    if 200 <= status < 400 or status in (400, 404):
        return "allowed" if status != 404 else "allowed_404"
    return f"unexpected {status}"


def expected(app, rule_endpoint: str, user, method: str, path: str, data: dict) -> str:
    rule = ROUTE_RULES[rule_endpoint]
    if rule.public:
        return "allowed"
    principal = accounts.principal(user)
    if not principal.authenticated:
        return "sign_in"
    with app.test_request_context(path, method=method, data=data):
        try:
            return "allowed" if rule.permits(principal) else "refused"
        except HTTPException as exc:           # pragma: no cover - the parameters are real
            return f"error {exc.code}"


def client_for(app, user):
    return app.test_client(anonymous=True) if user is None else app.test_client(user=user)


def table_counts(db) -> dict[str, int]:
    return {t.name: db.session.scalar(select(func.count()).select_from(t))
            for t in db.metadata.sorted_tables if t.name != "sign_in_attempt"}


def test_every_route_has_a_rule(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules()}
    missing = sorted(endpoints - set(ROUTE_RULES))
    assert not missing, f"routes without an access rule in pcnreg.views.guard.ROUTE_RULES: {missing}"


def test_a_route_without_a_rule_is_refused_to_everybody(app, client, anon_client):
    app.add_url_rule("/brand-new", "brand_new", lambda: "secret")
    assert client.get("/brand-new").status_code == 403            # even a system administrator
    assert anon_client.get("/brand-new").status_code == 403
    assert "brand_new" not in ROUTE_RULES


def test_role_matrix(app, db, demo, capsys):
    params, users = demo["params"], demo["users"]
    rules = [r for r in app.url_map.iter_rules() if r.endpoint != "static"]
    mismatches, requests, counts = [], 0, {}
    for rule in rules:
        _, path = rule.build({k: params[k] for k in rule.arguments if k in params or k not in (rule.defaults or {})})
        methods = [m for m in ("GET", "POST") if m in rule.methods]
        for method in methods:
            for who, user in users.items():
                want = expected(app, rule.endpoint, user, method, path, {})
                before = table_counts(db) if method == "POST" and want != "allowed" else None
                response = getattr(client_for(app, user), method.lower())(path, data={} if method == "POST" else None)
                got = outcome(response)
                requests += 1
                counts[got] = counts.get(got, 0) + 1
                if got == "allowed_404" and rule.endpoint in MAY_BE_404:
                    got = "allowed"
                if got != want:
                    mismatches.append(f"{who:20} {method:4} {path:45} expected {want}, got {got} "
                                      f"({response.status_code} {response.headers.get('Location', '')})")
                if before is not None:
                    db.session.expire_all()
                    assert table_counts(db) == before, f"{who} {method} {path} wrote something"
    with capsys.disabled():
        print(f"\nrole matrix: {len(rules)} routes ({len({r.endpoint for r in rules})} endpoints), "
              f"{len(users)} principals, {requests} requests: {counts}")
    assert not mismatches, "\n".join(mismatches)
    assert counts.get("refused") and counts.get("sign_in") and counts.get("allowed")


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
            assert outcome(response) in ("refused", "sign_in"), (who, path, response.status_code)
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
