"""Accounts: signing in and out, argon2 hashes, one-time invites, password changes, lock-outs,
safe redirects, cookie flags, the users CLI and the demo users."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from conftest import make_user
from sqlalchemy import func, select

from pcnreg import create_app
from pcnreg.models import AuditEvent, Invite, SignInAttempt, User
from pcnreg.services import accounts

PASSWORD = "correct horse battery 9"
EMAIL = "jo.bloggs@nhs.example"


@pytest.fixture
def clock(monkeypatch):
    """accounts.now, under the test's control: ``clock.advance(minutes=...)``."""

    class Clock:
        moment = dt.datetime(2024, 3, 1, 9, 0, 0)

        def advance(self, **kwargs):
            self.moment += dt.timedelta(**kwargs)

    c = Clock()
    monkeypatch.setattr(accounts, "now", lambda: c.moment)
    return c


@pytest.fixture
def jo(app, db):
    return make_user(EMAIL, [("viewer", "all", None)], name="Jo Bloggs", password=PASSWORD)


def sign_in(client, email=EMAIL, password=PASSWORD, **extra):
    return client.post("/sign-in", data={"email": email, "password": password, **extra})


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def signed_in(client) -> bool:
    return client.get("/account/password").status_code == 200


# --- signing in and out ----------------------------------------------------------------------------------

def test_sign_in_then_sign_out(anon_client, jo):
    assert not signed_in(anon_client)
    response = sign_in(anon_client)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert signed_in(anon_client)
    page = anon_client.get("/about")
    assert "Jo Bloggs" in text(page) and "Sign out" in text(page)
    assert anon_client.get("/sign-out").status_code == 200          # a confirmation with a form
    response = anon_client.post("/sign-out")
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in")
    assert not signed_in(anon_client)
    assert "Sign in" in text(anon_client.get("/about"))


def test_email_is_not_case_sensitive_and_success_is_recorded(anon_client, jo, db):
    assert sign_in(anon_client, email="  JO.Bloggs@NHS.example ").status_code == 302
    attempt = db.session.scalar(select(SignInAttempt).order_by(SignInAttempt.id.desc()))
    assert attempt.success and attempt.email == EMAIL and attempt.address == "127.0.0.1"
    assert db.session.get(User, jo.id).last_sign_in_at is not None


def test_anonymous_pages_go_to_sign_in_and_come_back(anon_client, jo):
    response = anon_client.get("/import")
    assert response.status_code == 302
    assert response.headers["Location"] in ("/sign-in?next=/import", "/sign-in?next=%2Fimport")
    response = sign_in(anon_client, next="/import")
    assert response.headers["Location"] == "/import"


def test_anonymous_api_calls_get_json_401(anon_client):
    response = anon_client.get("/api/v1/rounds")
    assert response.status_code == 401
    assert response.get_json() == {"error": {"status": 401, "message": "Sign in to use this part of the API."}} or \
        response.get_json()["error"]["status"] == 401
    assert anon_client.get("/api/v1/openapi.json").status_code == 200      # the API's description is public


@pytest.mark.parametrize("target", ["https://evil.example", "//evil.example/x", "/\\evil.example", "http:/x",
                                    "javascript:alert(1)", "/%0d%0aLocation: x", "evil.example"])
def test_next_must_be_a_local_path(anon_client, jo, target):
    response = sign_in(anon_client, next=target)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location == "/" or (location.startswith("/") and not location.startswith("//")
                                and "evil" not in location and "\n" not in location)
    assert location == "/" or target.startswith("/%0d")


def test_next_to_a_local_page_is_followed(anon_client, jo):
    assert sign_in(anon_client, next="/about?x=1").headers["Location"] == "/about?x=1"


# --- hashes ---------------------------------------------------------------------------------------------

def test_the_application_hashes_with_argon2_defaults():
    """The suite hashes with argon2's smallest cost (conftest ``_cheap_password_hashes``); the
    application's own hasher is argon2id with argon2-cffi's defaults (RFC 9106, low memory)."""
    import conftest
    from argon2 import Type
    from argon2.profiles import RFC_9106_LOW_MEMORY

    real = conftest.PRODUCTION_HASHER
    assert real is not None and real is not accounts.hasher
    assert real.type is Type.ID
    assert (real.time_cost, real.memory_cost, real.parallelism, real.hash_len, real.salt_len) == (
        RFC_9106_LOW_MEMORY.time_cost, RFC_9106_LOW_MEMORY.memory_cost, RFC_9106_LOW_MEMORY.parallelism,
        RFC_9106_LOW_MEMORY.hash_len, RFC_9106_LOW_MEMORY.salt_len)
    assert real.hash("x").startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_only_an_argon2_hash_is_stored_never_the_password(app, db, client):
    user = accounts.create_user("new.person@nhs.example", "New Person", [("viewer", "all", None)],
                                created_by="test")
    token = accounts.invite(user, created_by="test")
    accounts.accept_invite(token, PASSWORD)
    stored = db.session.get(User, user.id).password_hash
    assert stored.startswith("$argon2")
    assert PASSWORD not in stored
    # nor in the audit trail, nor the invite token anywhere
    trail = " ".join(f"{e.before} {e.after}" for e in db.session.scalars(select(AuditEvent)))
    assert PASSWORD not in trail and token not in trail
    assert {e.action for e in db.session.scalars(select(AuditEvent))} >= {
        "user.create", "user.roles_grant", "user.invite", "user.invite_accept"}
    invite = db.session.scalar(select(Invite).where(Invite.user_id == user.id))
    assert invite.token_hash != token and len(invite.token_hash) == 64


def test_password_rules():
    assert accounts.password_problems("short1A", "a@b.example")
    assert accounts.password_problems("alllowercaseletters", "a@b.example")       # one kind only
    assert accounts.password_problems("123456789012", "a@b.example")
    assert accounts.password_problems("jo.bloggs@nhs.example", "jo.bloggs@nhs.example")
    assert accounts.password_problems("Jo.Bloggs1234", "jo.bloggs1234@nhs.example")  # the e-mail's name
    assert accounts.password_problems(PASSWORD, EMAIL) == []
    assert accounts.password_problems("Tr0ub4dour&3x", EMAIL) == []


# --- invites -----------------------------------------------------------------------------------------------

def test_invite_link_sets_the_password_once(app, db, anon_client, clock):
    user = accounts.create_user("sam@nhs.example", "Sam", [("viewer", "all", None)], created_by="test")
    token = accounts.invite(user, created_by="test")
    page = anon_client.get(f"/invite/{token}")
    assert page.status_code == 200 and "Set your password" in text(page)
    assert page.headers["Cache-Control"] == "no-store"
    weak = anon_client.post(f"/invite/{token}", data={"password": "short", "confirm": "short"})
    assert weak.status_code == 400 and "at least 12 characters" in text(weak)
    mismatch = anon_client.post(f"/invite/{token}", data={"password": PASSWORD, "confirm": PASSWORD + "x"})
    assert mismatch.status_code == 400 and "do not match" in text(mismatch)
    done = anon_client.post(f"/invite/{token}", data={"password": PASSWORD, "confirm": PASSWORD})
    assert done.status_code == 302
    assert signed_in(anon_client)
    again = anon_client.get(f"/invite/{token}")
    assert again.status_code == 410 and "already been used" in text(again)
    assert anon_client.post(f"/invite/{token}", data={"password": "Another pass 1", "confirm": "Another pass 1"}
                            ).status_code == 410
    assert anon_client.get("/invite/not-a-token").status_code == 404


def test_invite_expires_after_72_hours_and_a_new_one_voids_the_old(app, db, anon_client, clock):
    user = accounts.create_user("kim@nhs.example", "Kim", [("viewer", "all", None)], created_by="test")
    first = accounts.invite(user, created_by="test")
    second = accounts.invite(user, created_by="test")
    assert "expired or has been replaced" in text(anon_client.get(f"/invite/{first}"))
    assert anon_client.get(f"/invite/{second}").status_code == 200
    clock.advance(hours=71, minutes=59)
    assert anon_client.get(f"/invite/{second}").status_code == 200
    clock.advance(minutes=2)
    response = anon_client.get(f"/invite/{second}")
    assert response.status_code == 410 and "expired" in text(response)
    with pytest.raises(accounts.InviteInvalid):
        accounts.accept_invite(second, PASSWORD)
    assert db.session.get(User, user.id).password_hash is None


# --- password change ------------------------------------------------------------------------------------------

def test_change_password(anon_client, jo, db, app):
    other = app.test_client(anonymous=True)
    sign_in(anon_client)
    sign_in(other)
    assert signed_in(other)
    wrong = anon_client.post("/account/password", data={"current": "nope", "password": "New password 42",
                                                         "confirm": "New password 42"})
    assert wrong.status_code == 400 and "current password is not correct" in text(wrong)
    weak = anon_client.post("/account/password", data={"current": PASSWORD, "password": "aaaaaaaaaaaaaaa",
                                                        "confirm": "aaaaaaaaaaaaaaa"})
    assert weak.status_code == 400 and "two kinds" in text(weak)
    ok = anon_client.post("/account/password", data={"current": PASSWORD, "password": "New password 42",
                                                      "confirm": "New password 42"})
    assert ok.status_code == 302
    assert signed_in(anon_client)                   # this session goes on
    assert not signed_in(other)                     # the other session ended with the old password
    fresh = app.test_client(anonymous=True)
    assert sign_in(fresh).status_code == 400
    assert sign_in(fresh, password="New password 42").status_code == 302
    assert "user.password_change" in {e.action for e in db.session.scalars(select(AuditEvent))}


def test_deactivated_user_is_signed_out_and_cannot_sign_in(anon_client, jo, db):
    sign_in(anon_client)
    accounts.set_active(db.session.get(User, jo.id), False)
    assert not signed_in(anon_client)
    response = sign_in(anon_client)
    assert response.status_code == 400 and accounts.GENERIC_FAILURE in text(response)


# --- brute force -------------------------------------------------------------------------------------------------

def test_unknown_email_and_wrong_password_get_the_same_message(anon_client, jo):
    unknown = sign_in(anon_client, email="nobody@nhs.example")
    wrong = sign_in(anon_client, password="wrong password 1")
    assert unknown.status_code == wrong.status_code == 400
    assert accounts.GENERIC_FAILURE in text(unknown) and accounts.GENERIC_FAILURE in text(wrong)
    strip = lambda r: text(r).replace("nobody@nhs.example", "").replace(EMAIL, "")  # noqa: E731
    assert strip(unknown) == strip(wrong)


def test_fifth_failure_locks_the_account_for_15_minutes(anon_client, jo, db, clock):
    for n in range(1, 5):
        response = sign_in(anon_client, password=f"wrong {n}")
        assert response.status_code == 400, n
        assert accounts.GENERIC_FAILURE in text(response)
    fifth = sign_in(anon_client, password="wrong 5")
    assert fifth.status_code == 429
    assert "locked" in text(fifth) and "09:15 on 1 March 2024 (UK time)" in text(fifth)
    assert fifth.headers["Retry-After"]
    sixth = sign_in(anon_client)                   # the RIGHT password, still refused
    assert sixth.status_code == 429 and "locked" in text(sixth)
    assert not signed_in(anon_client)
    clock.advance(minutes=14, seconds=59)
    assert sign_in(anon_client).status_code == 429
    clock.advance(seconds=2)
    assert sign_in(anon_client).status_code == 302
    assert signed_in(anon_client)
    user = db.session.get(User, jo.id)
    assert user.failed_sign_ins == 0 and user.locked_until is None
    assert "user.lock" in {e.action for e in db.session.scalars(select(AuditEvent))}


def test_a_success_resets_the_count(anon_client, jo, app, clock):
    for n in range(4):
        sign_in(anon_client, password=f"wrong {n}")
    assert sign_in(anon_client).status_code == 302
    fresh = app.test_client(anonymous=True)
    for n in range(4):
        assert sign_in(fresh, password=f"wrong {n}").status_code == 400


def test_twenty_failures_from_one_address_block_it_for_the_window(anon_client, jo, app, db, clock):
    for n in range(20):
        response = sign_in(anon_client, email=f"guess{n}@nhs.example", password="wrong password 1")
        assert response.status_code == 400, n
        clock.advance(seconds=10)
    blocked = sign_in(anon_client)                  # a real account, the right password
    assert blocked.status_code == 429 and "too many failed sign-ins from your network" in text(blocked)
    before = db.session.scalar(select(func.count(SignInAttempt.id)))
    assert sign_in(anon_client).status_code == 429
    assert db.session.scalar(select(func.count(SignInAttempt.id))) == before   # refusals are not recorded
    elsewhere = app.test_client(anonymous=True)
    elsewhere.environ_base["REMOTE_ADDR"] = "10.0.0.2"
    assert sign_in(elsewhere).status_code == 302   # another address is not blocked
    clock.advance(minutes=15)                      # the first failures leave the window
    assert sign_in(anon_client).status_code == 302


# --- cookies ------------------------------------------------------------------------------------------------------

def _session_cookie(response) -> str:
    return next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))


def test_session_cookie_is_httponly_and_samesite_lax(anon_client, jo, app):
    cookie = _session_cookie(sign_in(anon_client))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie                  # testing over http
    assert app.config["SESSION_COOKIE_SECURE"] is False


@pytest.mark.parametrize("value,secure", [("1", True), ("0", False)])
def test_secure_cookies_when_configured(tmp_path, migrated_url, monkeypatch, value, secure):
    monkeypatch.setenv("PCNREG_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("PCNREG_SECURE_COOKIES", value)
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": migrated_url, "WTF_CSRF_ENABLED": False})
    assert app.config["SESSION_COOKIE_SECURE"] is secure and app.config["REMEMBER_COOKIE_SECURE"] is secure
    with app.app_context():
        make_user(EMAIL, [("viewer", "all", None)], password=PASSWORD)
        client = app.test_client(anonymous=True)
        cookie = _session_cookie(sign_in(client))
        assert ("Secure" in cookie) is secure
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        from pcnreg.extensions import db as _db
        _db.session.remove()
        _db.engine.dispose()


def test_secure_cookies_are_the_default_outside_debug_and_testing(tmp_path, monkeypatch):
    monkeypatch.setenv("PCNREG_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.delenv("PCNREG_SECURE_COOKIES", raising=False)
    assert create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}).config["SESSION_COOKIE_SECURE"] is True
    assert create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"}).config["SESSION_COOKIE_SECURE"] is False


# --- the users pages -------------------------------------------------------------------------------------------------

def test_admin_creates_a_user_and_sees_the_link_once(client, app, db, demo_round):
    assert client.get("/users").status_code == 200
    bad = client.post("/users/new", data={"email": "x", "name": "", "role": "commissioner", "scope": "all"})
    assert bad.status_code == 400
    response = client.post("/users/new", data={"email": "ann@nhs.example", "name": "Ann Lee",
                                               "role": "commissioner", "scope": "commissioner:04K"})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    link = re.search(r"http://localhost/invite/[A-Za-z0-9_-]+", response.get_data(as_text=True)).group(0)
    user = accounts.find_user("ann@nhs.example")
    assert [(r.role, r.scope_type) for r in user.roles] == [("commissioner", "commissioner")]
    assert link.split("/")[-1] not in client.get(f"/users/{user.id}").get_data(as_text=True)   # shown once
    # a second role, then a fresh link (the first stops working), then deactivate
    assert client.post(f"/users/{user.id}", data={"do": "grant", "role": "viewer",
                                                  "scope": "system:E54000014"}).status_code == 302
    assert len(db.session.get(User, user.id).roles) == 2
    # the users list links each name to the user's page (a link, not its escaped markup)
    listed = client.get("/users").get_data(as_text=True)
    assert f'<a href="/users/{user.id}">Ann Lee</a>' in listed and "&lt;a href" not in listed
    again = client.post(f"/users/{user.id}", data={"do": "invite"})
    assert again.status_code == 200 and "/invite/" in again.get_data(as_text=True)
    anon = app.test_client(anonymous=True)
    assert anon.get(link.replace("http://localhost", "")).status_code == 410
    assert client.post(f"/users/{user.id}", data={"do": "deactivate"}).status_code == 302
    assert not db.session.get(User, user.id).active


def test_the_last_system_admin_stays(client, db):
    client.get("/users")
    admin = accounts.find_user("test-admin@pcnreg.test")
    response = client.post(f"/users/{admin.id}", data={"do": "deactivate"})
    assert response.status_code == 400 and "only active system administrator" in text(response)
    response = client.post(f"/users/{admin.id}", data={"do": "revoke", "assignment": str(admin.roles[0].id)})
    assert response.status_code == 400


# --- the CLI and the demo users -------------------------------------------------------------------------------------

def test_cli_users_create_invite_list(runner, app, db, demo_round):
    result = runner.invoke(args=["users", "create", "Cli.User@nhs.example", "--name", "Cli User",
                                 "--role", "commissioner", "--scope", "commissioner:04K",
                                 "--role", "viewer", "--scope", "system:E54000014"])
    assert result.exit_code == 0, result.output
    assert re.search(r"http://127\.0\.0\.1:5000/invite/[A-Za-z0-9_-]{20,}", result.output)
    user = accounts.find_user("cli.user@nhs.example")
    assert sorted(r.role for r in user.roles) == ["commissioner", "viewer"]
    result = runner.invoke(args=["users", "invite", "cli.user@nhs.example", "--base-url", "https://pcn.example/"])
    assert result.exit_code == 0 and "https://pcn.example/invite/" in result.output
    result = runner.invoke(args=["users", "list"])
    assert "cli.user@nhs.example" in result.output and "invited" in result.output
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.create"))
    assert event.actor.startswith("cli:")
    bad = runner.invoke(args=["users", "create", "x@nhs.example", "--name", "X", "--role", "viewer",
                              "--scope", "commissioner:04K"])
    assert bad.exit_code != 0 and "applies to" in bad.output
    assert runner.invoke(args=["users", "invite", "nobody@nhs.example"]).exit_code != 0


def test_demo_users_one_per_role_idempotent(app, db, anon_client, demo_round):
    from pcnreg.domain import policy
    from pcnreg.services.demo_users import create_demo_users

    first = create_demo_users("http://127.0.0.1:5000")
    assert sorted(role for _e, role, _s, _l in first) == sorted(
        ["system_admin", "commissioner", "commissioner", "pcn_lead", "practice_rep", "returning_officer",
         "committee_member", "viewer"])
    assert set(policy.ROLES) <= {role for _e, role, _s, _l in first}
    second = create_demo_users("http://127.0.0.1:5000")
    assert [e for e, *_ in first] == [e for e, *_ in second]
    assert db.session.scalar(select(func.count(User.id)).where(User.email.like("%@demo.pcnreg.example"))) == 8
    old, new = first[0][3], second[0][3]
    assert old != new
    assert anon_client.get(old.replace("http://127.0.0.1:5000", "")).status_code == 410
    assert anon_client.get(new.replace("http://127.0.0.1:5000", "")).status_code == 200
    scopes = {e: s for e, _r, s, _l in second}
    assert "04K" in scopes["commissioner.04k@demo.pcnreg.example"]
    assert "Newark" in scopes["pcn.lead@demo.pcnreg.example"]
    assert "C84067" in scopes["practice.rep@demo.pcnreg.example"]
