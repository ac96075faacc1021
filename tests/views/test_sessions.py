"""Sessions end on the server: at sign-out, when an administrator ends them, and after the idle
and absolute timeouts (issue #12, item 3)."""
from __future__ import annotations

import pytest
from conftest import make_user
from sqlalchemy import select
from test_auth import EMAIL, PASSWORD, clock, sign_in, signed_in  # noqa: F401  (fixtures)

from pcnreg.models import AuditEvent


@pytest.fixture
def jo(app, db):
    return make_user(EMAIL, [("viewer", "all", None)], name="Jo Bloggs", password=PASSWORD)


def _cookie(client) -> str:
    return client.get_cookie("session").value


def test_a_cookie_kept_from_before_sign_out_no_longer_signs_in(app, anon_client, jo):
    assert sign_in(anon_client).status_code == 302
    kept = _cookie(anon_client)
    assert anon_client.post("/sign-out").status_code == 302
    assert not signed_in(anon_client)
    replay = app.test_client(anonymous=True)
    replay.set_cookie("session", kept)
    assert not signed_in(replay)
    assert sign_in(anon_client).status_code == 302 and signed_in(anon_client)      # signing in again works


def test_an_admin_ends_all_sessions_of_a_user(app, db, anon_client, client, jo):
    other = app.test_client(anonymous=True)
    sign_in(anon_client)
    sign_in(other)
    assert signed_in(anon_client) and signed_in(other)
    page = client.get(f"/users/{jo.id}")
    assert "End all sessions" in page.get_data(as_text=True)
    response = client.post(f"/users/{jo.id}", data={"do": "end_sessions"})
    assert response.status_code == 302
    assert not signed_in(anon_client) and not signed_in(other)
    assert signed_in(client)                              # the administrator's own session goes on
    assert "user.end_sessions" in {e.action for e in db.session.scalars(select(AuditEvent))}


def test_cli_end_sessions(app, db, runner, anon_client, jo):
    sign_in(anon_client)
    assert signed_in(anon_client)
    result = runner.invoke(args=["users", "end-sessions", EMAIL.upper()])
    assert result.exit_code == 0, result.output
    assert "ended" in result.output
    assert not signed_in(anon_client)
    missing = runner.invoke(args=["users", "end-sessions", "nobody@example.org"])
    assert missing.exit_code == 1 and "There is no user" in missing.output


def test_idle_timeout(app, anon_client, jo, clock):  # noqa: F811
    sign_in(anon_client)
    clock.advance(minutes=29)
    assert signed_in(anon_client)                # a request: the idle time starts again
    clock.advance(minutes=29)
    assert signed_in(anon_client)
    clock.advance(minutes=31)
    assert not signed_in(anon_client)
    assert anon_client.get("/account/password").status_code == 302


def test_absolute_timeout(app, anon_client, jo, clock):  # noqa: F811
    sign_in(anon_client)
    for _ in range(12 * 3):                      # busy all day: never idle for 30 minutes
        clock.advance(minutes=20)
        assert signed_in(anon_client)
    clock.advance(minutes=20)                    # 12 h 20 min after signing in, 20 minutes idle
    assert not signed_in(anon_client)


def test_absolute_timeout_while_busy(app, anon_client, jo, clock):  # noqa: F811
    app.config["SESSION_MAX_HOURS"] = 1
    sign_in(anon_client)
    clock.advance(minutes=25)
    assert signed_in(anon_client)
    clock.advance(minutes=25)
    assert signed_in(anon_client)
    clock.advance(minutes=11)                     # 61 minutes after signing in, 11 idle
    assert not signed_in(anon_client)


def test_timeouts_are_settings(monkeypatch, tmp_path, migrated_url):
    from pcnreg import create_app

    monkeypatch.setenv("PCNREG_INSTANCE", str(tmp_path / "i"))
    monkeypatch.setenv("PCNREG_SESSION_IDLE_MINUTES", "5")
    monkeypatch.setenv("PCNREG_SESSION_MAX_HOURS", "2")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": migrated_url})
    assert app.config["SESSION_IDLE_MINUTES"] == 5 and app.config["SESSION_MAX_HOURS"] == 2
    monkeypatch.setenv("PCNREG_SESSION_IDLE_MINUTES", "soon")
    with pytest.raises(ValueError, match="PCNREG_SESSION_IDLE_MINUTES"):
        create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": migrated_url})
